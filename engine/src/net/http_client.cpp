// make_http_transport: HTTP/1.1 over Boost.Beast, blocking the calling thread.
// Each operation runs asynchronously on a private io_context until it is done,
// so that beast::tcp_stream's deadlines bound it.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "lumbung/http.hpp"
#include "net/beast_util.hpp"
#include "net/host_port.hpp"
#include "protocol/wire.hpp"

namespace lumbung {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view kHttpScheme = "http://";
constexpr std::uint16_t kDefaultHttpPort = 80;

struct BaseUrl {
  std::string text;         // as given, for messages
  net::HostPort address;    // where to connect
  std::string host_header;  // "host:port", brackets kept
  std::string path_prefix;  // "" or "/prefix", put before every target
};

Result<BaseUrl> parse_base_url(const std::string& url) {
  const auto invalid = [&url](const std::string& why) {
    return Status(ErrorCode::kInvalidArgument, "server URL '" + url + "': " + why);
  };
  if (url.starts_with("https://")) {
    return invalid("https is not supported yet; use http://HOST:PORT");
  }
  if (!url.starts_with(kHttpScheme)) return invalid("expected http://HOST:PORT");
  const std::string_view rest = std::string_view(url).substr(kHttpScheme.size());
  if (rest.find_first_of("?#@") != std::string_view::npos) {
    return invalid("expected http://HOST:PORT, without user, query or fragment");
  }
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (path.ends_with('/')) path.remove_suffix(1);
  std::optional<net::HostPort> address = net::parse_host_port(authority, kDefaultHttpPort);
  if (!address) return invalid("expected http://HOST:PORT");
  return BaseUrl{url, std::move(*address), std::string(authority), std::string(path)};
}

// A long-polling pull may rightly stay unanswered for as long as it asks the
// server to wait; the deadline stretches by that much.
std::chrono::seconds long_poll_wait(const HttpRequest& request) {
  if (request.method != "POST" || request.target != "/v1/pull") return std::chrono::seconds(0);
  v1::PullRequest pull;
  if (!protocol::decode_body(request.headers, request.body, protocol::kMaxRequestBytes, &pull)) {
    return std::chrono::seconds(0);
  }
  return std::chrono::seconds(pull.wait_seconds());
}

// An error the server's side of a kept-alive connection causes by closing it.
bool is_closed_connection(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted;
}

using RequestMessage = http::request<http::span_body<const char>>;

class HttpTransport final : public Transport {
 public:
  HttpTransport(BaseUrl url, const HttpTransportOptions& options)
      : url_(std::move(url)), options_(options), stream_(ioc_) {}

  Result<HttpResponse> exchange(const HttpRequest& request) override;

 private:
  // What one attempt at an exchange on the open connection came to.
  struct Attempt {
    beast::error_code error;
    bool answered = false;  // some byte of a response arrived
    std::optional<http::response<http::string_body>> response;
  };

  Status connect();
  Attempt send(RequestMessage& message, std::chrono::steady_clock::time_point deadline);
  Status failure(const beast::error_code& ec, std::chrono::milliseconds timeout) const;
  void disconnect();
  // Runs the operations started on ioc_ until they have completed.
  void run() {
    ioc_.restart();
    ioc_.run();
  }

  const BaseUrl url_;
  const HttpTransportOptions options_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

Result<HttpResponse> HttpTransport::exchange(const HttpRequest& request) {
  const http::verb verb = http::string_to_verb(request.method);
  if (verb == http::verb::unknown) {
    return Status(ErrorCode::kInvalidArgument, "unknown HTTP method '" + request.method + "'");
  }
  RequestMessage message(verb, url_.path_prefix + request.target, 11);
  message.set(http::field::host, url_.host_header);
  for (const auto& [name, value] : request.headers) {
    if (!net::is_framing_header(name) && !beast::iequals(name, "Host")) {
      message.insert(name, value);
    }
  }
  message.body() = {request.body.data(), request.body.size()};
  message.keep_alive(true);
  message.prepare_payload();

  const std::chrono::milliseconds timeout = options_.request_timeout + long_poll_wait(request);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const bool reused = stream_.socket().is_open();
  if (!reused) LUMBUNG_RETURN_IF_ERROR(connect());
  Attempt attempt = send(message, deadline);
  // A kept-alive connection the server closed while it was idle fails before
  // any answer; only then is the request sent again, on a new connection.
  if (reused && !attempt.answered && is_closed_connection(attempt.error)) {
    disconnect();
    LUMBUNG_RETURN_IF_ERROR(connect());
    attempt = send(message, deadline);
  }
  if (attempt.error) {
    disconnect();
    return failure(attempt.error, timeout);
  }
  if (!attempt.response->keep_alive()) disconnect();
  HttpResponse response{
      static_cast<int>(attempt.response->result_int()), {}, std::move(attempt.response->body())};
  for (const auto& field : *attempt.response) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return response;
}

Status HttpTransport::connect() {
  const std::string where = url_.address.host + ":" + std::to_string(url_.address.port);
  beast::error_code ec;
  // Synchronous: a name lookup is bounded by the system resolver's own
  // timeout (an IP literal resolves at once).
  tcp::resolver resolver(ioc_);
  const tcp::resolver::results_type endpoints =
      resolver.resolve(url_.address.host, std::to_string(url_.address.port), ec);
  if (ec) return Status(ErrorCode::kNetwork, "cannot resolve '" + where + "': " + ec.message());
  stream_.expires_after(options_.connect_timeout);
  stream_.async_connect(
      endpoints, [&ec](const beast::error_code& result, const tcp::endpoint&) { ec = result; });
  run();
  if (ec == beast::error::timeout) {
    return Status(ErrorCode::kTimeout, "connecting to " + where + " timed out after " +
                                           std::to_string(options_.connect_timeout.count()) +
                                           " ms");
  }
  if (ec) return Status(ErrorCode::kNetwork, "cannot connect to " + where + ": " + ec.message());
  stream_.socket().set_option(tcp::no_delay(true), ec);  // requests are small and awaited
  buffer_.clear();
  return Status::ok();
}

HttpTransport::Attempt HttpTransport::send(RequestMessage& message,
                                           std::chrono::steady_clock::time_point deadline) {
  Attempt attempt;
  stream_.expires_at(deadline);
  http::async_write(stream_, message,
                    [&attempt](const beast::error_code& ec, std::size_t) { attempt.error = ec; });
  run();
  if (attempt.error) return attempt;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options_.max_response_bytes);
  http::async_read(stream_, buffer_, parser,
                   [&attempt](const beast::error_code& ec, std::size_t) { attempt.error = ec; });
  run();
  attempt.answered = parser.got_some() || buffer_.size() > 0;
  if (!attempt.error) attempt.response = parser.release();
  return attempt;
}

Status HttpTransport::failure(const beast::error_code& ec,
                              std::chrono::milliseconds timeout) const {
  if (ec == beast::error::timeout) {
    return Status(ErrorCode::kTimeout, "no answer from " + url_.text + " within " +
                                           std::to_string(timeout.count()) + " ms");
  }
  if (ec == http::error::body_limit) {
    return Status(ErrorCode::kTooLarge, "response from " + url_.text + " is over the " +
                                            std::to_string(options_.max_response_bytes) +
                                            "-byte limit");
  }
  if (net::is_http_error(ec) && ec != http::error::end_of_stream &&
      ec != http::error::partial_message) {
    return Status(ErrorCode::kProtocol,
                  "malformed HTTP response from " + url_.text + ": " + ec.message());
  }
  return Status(ErrorCode::kNetwork, "connection to " + url_.text + " failed: " + ec.message());
}

void HttpTransport::disconnect() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
  buffer_.clear();
}

}  // namespace

Result<std::shared_ptr<Transport>> make_http_transport(const std::string& base_url,
                                                       const HttpTransportOptions& options) {
  Result<BaseUrl> url = parse_base_url(base_url);
  if (!url) return url.status();
  return std::shared_ptr<Transport>(std::make_shared<HttpTransport>(std::move(*url), options));
}

}  // namespace lumbung
