// make_http_transport: HTTP/1.1 over Boost.Beast, plain or over TLS, blocking
// the calling thread. Each operation runs asynchronously on a private
// io_context until it is done, so that beast::tcp_stream's deadlines bound it.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "lumbung/http.hpp"
#include "net/beast_util.hpp"
#include "net/host_port.hpp"
#include "net/tls.hpp"

namespace lumbung {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr std::string_view kHttpScheme = "http://";
constexpr std::string_view kHttpsScheme = "https://";
constexpr std::uint16_t kDefaultHttpPort = 80;
constexpr std::uint16_t kDefaultHttpsPort = 443;

struct BaseUrl {
  std::string text;         // as given, for messages
  bool tls = false;         // https
  net::HostPort address;    // where to connect
  std::string host_header;  // "host:port", brackets kept
  std::string path_prefix;  // "" or "/prefix", put before every target
};

Result<BaseUrl> parse_base_url(const std::string& url) {
  const auto invalid = [&url](const std::string& why) {
    return Status(ErrorCode::kInvalidArgument, "server URL '" + url + "': " + why);
  };
  const bool tls = url.starts_with(kHttpsScheme);
  if (!tls && !url.starts_with(kHttpScheme)) return invalid("expected http(s)://HOST:PORT");
  const std::string_view rest =
      std::string_view(url).substr((tls ? kHttpsScheme : kHttpScheme).size());
  if (rest.find_first_of("?#@") != std::string_view::npos) {
    return invalid("expected http(s)://HOST:PORT, without user, query or fragment");
  }
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (path.ends_with('/')) path.remove_suffix(1);
  std::optional<net::HostPort> address =
      net::parse_host_port(authority, tls ? kDefaultHttpsPort : kDefaultHttpPort);
  if (!address) return invalid("expected http(s)://HOST:PORT");
  return BaseUrl{url, tls, std::move(*address), std::string(authority), std::string(path)};
}

// A long-polling pull may rightly stay unanswered for as long as it asks the
// server to wait (its kLongPollWaitHeader); the deadline stretches by that much.
std::chrono::seconds long_poll_wait(const HttpRequest& request) {
  const std::optional<std::string_view> wait = find_header(request.headers, kLongPollWaitHeader);
  std::uint32_t seconds = 0;
  if (wait) std::from_chars(wait->data(), wait->data() + wait->size(), seconds);
  return std::chrono::seconds(seconds);
}

// An error the server's side of a kept-alive connection causes by closing it
// (over TLS without a close_notify: a truncated stream).
bool is_closed_connection(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

using RequestMessage = http::request<http::span_body<const char>>;

class HttpTransport final : public Transport {
 public:
  // REQUIRES: `tls_context` set exactly when url.tls.
  HttpTransport(BaseUrl url, const HttpTransportOptions& options,
                std::optional<ssl::context> tls_context)
      : url_(std::move(url)),
        options_(options),
        tls_context_(std::move(tls_context)),
        stream_(std::in_place_type<beast::tcp_stream>, ioc_) {}

  Result<HttpResponse> exchange(const HttpRequest& request) override;

 private:
  // What one attempt at an exchange on the open connection came to.
  struct Attempt {
    beast::error_code error;
    bool answered = false;  // some byte of a response arrived
    std::optional<http::response<http::string_body>> response;
  };

  Status connect();
  Status handshake(const std::string& where);
  Attempt send(RequestMessage& message, std::chrono::steady_clock::time_point deadline);
  Status failure(const beast::error_code& ec, std::chrono::milliseconds timeout) const;
  void disconnect();
  // Runs the operations started on ioc_ until they have completed.
  void run() {
    ioc_.restart();
    ioc_.run();
  }
  beast::tcp_stream& tcp_stream() {
    return std::visit(
        [](auto& stream) -> beast::tcp_stream& { return beast::get_lowest_layer(stream); },
        stream_);
  }

  const BaseUrl url_;
  const HttpTransportOptions options_;
  std::optional<ssl::context> tls_context_;
  asio::io_context ioc_;
  // A TLS stream serves one connection only: each connect() makes a new one.
  std::variant<beast::tcp_stream, TlsStream> stream_;
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
  const bool reused = tcp_stream().socket().is_open();
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
  if (url_.tls) {
    stream_.emplace<TlsStream>(ioc_, *tls_context_);
  } else {
    stream_.emplace<beast::tcp_stream>(ioc_);
  }
  tcp_stream().expires_after(options_.connect_timeout);  // through the end of the handshake
  tcp_stream().async_connect(
      endpoints, [&ec](const beast::error_code& result, const tcp::endpoint&) { ec = result; });
  run();
  if (ec == beast::error::timeout) {
    return Status(ErrorCode::kTimeout, "connecting to " + where + " timed out after " +
                                           std::to_string(options_.connect_timeout.count()) +
                                           " ms");
  }
  if (ec) return Status(ErrorCode::kNetwork, "cannot connect to " + where + ": " + ec.message());
  tcp_stream().socket().set_option(tcp::no_delay(true), ec);  // requests are small and awaited
  buffer_.clear();
  if (!url_.tls) return Status::ok();
  Status secured = handshake(where);
  if (!secured.is_ok()) disconnect();
  return secured;
}

Status HttpTransport::handshake(const std::string& where) {
  TlsStream& stream = std::get<TlsStream>(stream_);
  LUMBUNG_RETURN_IF_ERROR(net::expect_server_host(stream.native_handle(), url_.address.host));
  beast::error_code ec;
  stream.async_handshake(ssl::stream_base::client,
                         [&ec](const beast::error_code& result) { ec = result; });
  run();
  const std::string context = "TLS with " + where + ": ";
  if (ec == beast::error::timeout) {
    return Status(ErrorCode::kTimeout, context + "no handshake within " +
                                           std::to_string(options_.connect_timeout.count()) +
                                           " ms");
  }
  if (const std::optional<std::string> refusal = net::certificate_refusal(stream.native_handle())) {
    return Status(ErrorCode::kTls, context + *refusal);
  }
  // OpenSSL's own errors say the two sides disagree (a plain HTTP server
  // answers garbage); others are a connection that broke, which may pass.
  if (ec.category() == asio::error::get_ssl_category()) {
    return Status(ErrorCode::kTls, context + "handshake failed: " + ec.message());
  }
  if (ec) return Status(ErrorCode::kNetwork, context + "handshake failed: " + ec.message());
  const Status pinned = net::check_pinned_key(stream.native_handle(), options_.tls.pinned_keys);
  if (!pinned.is_ok()) return Status(pinned.code(), context + pinned.message());
  return Status::ok();
}

HttpTransport::Attempt HttpTransport::send(RequestMessage& message,
                                           std::chrono::steady_clock::time_point deadline) {
  Attempt attempt;
  tcp_stream().expires_at(deadline);
  std::visit(
      [&](auto& stream) {
        http::async_write(stream, message, [&attempt](const beast::error_code& ec, std::size_t) {
          attempt.error = ec;
        });
      },
      stream_);
  run();
  if (attempt.error) return attempt;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options_.max_response_bytes);
  std::visit(
      [&](auto& stream) {
        http::async_read(
            stream, buffer_, parser,
            [&attempt](const beast::error_code& ec, std::size_t) { attempt.error = ec; });
      },
      stream_);
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
  tcp_stream().socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp_stream().close();
  buffer_.clear();
}

}  // namespace

Result<std::shared_ptr<Transport>> make_http_transport(const std::string& base_url,
                                                       const HttpTransportOptions& options) {
  Result<BaseUrl> url = parse_base_url(base_url);
  if (!url) return url.status();
  std::optional<ssl::context> tls_context;
  if (url->tls) {
    Result<net::SslCtxPtr> context = net::client_tls_context(options.tls);
    if (!context) return context.status();
    tls_context.emplace(context->release());  // the ssl::context owns it from here
  }
  return std::shared_ptr<Transport>(
      std::make_shared<HttpTransport>(std::move(*url), options, std::move(tls_context)));
}

}  // namespace lumbung
