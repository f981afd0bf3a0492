#include "net/http_server.hpp"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "net/arriving_body.hpp"
#include "net/beast_util.hpp"
#include "net/tls.hpp"

namespace lumbung::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// How much a connection reads at once while waiting for a request.
constexpr std::size_t kReadChunk = 4096;
// After a response that closes the connection, the client's unread bytes (a
// refused body) are drained this long, so that closing does not reset the
// connection and destroy the response before the client reads it.
constexpr std::chrono::seconds kLingerTime{5};
// After a failed accept (out of file descriptors), the next one waits this long.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// How often the connections whose request is being handled are checked for a
// client that hung up: a poll(2) each, so that a long poll of a client that
// has gone frees its slots within about this long.
constexpr std::chrono::milliseconds kHangUpCheckInterval{1000};
// What poll(2) reports of a client that hung up: its FIN, even with unread
// bytes before it (Linux's POLLRDHUP), a reset, an error.
#ifdef POLLRDHUP
constexpr short kHangUpEvents = POLLRDHUP | POLLHUP | POLLERR;
#else
constexpr short kHangUpEvents = POLLHUP | POLLERR;
#endif

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        strand_(asio::make_strand(ioc_)),
        acceptor_(strand_),
        signals_(strand_),
        reload_signals_(strand_),
        tick_timer_(strand_),
        hang_up_timer_(strand_),
        accept_retry_timer_(strand_),
        drain_timer_(strand_) {}

  // Loads the certificate and key, when the options name them.
  Status load_tls();
  // Loads them again, for the connections accepted from then on.
  Status reload_tls();
  Status listen();
  void run_threads();
  // Starts a graceful stop from any thread, and returns at once.
  void request_stop() {
    asio::post(strand_, [this] { stop_on_strand(); });
  }
  void join();

  std::uint16_t port() const { return port_; }
  std::size_t open_connections() {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_.size();
  }
  std::uint64_t accepted_connections() const { return accepted_.load(); }

 private:
  class Connection;
  template <class Stream>
  class StreamConnection;

  void accept();
  void on_accept(const beast::error_code& ec, tcp::socket socket);
  void refuse_connection(tcp::socket socket);
  void schedule_tick();
  void schedule_hang_up_check();
  // Reloads the TLS files at each of options_.reload_signals.
  void wait_for_reload_signal();
  void stop_on_strand();

  // Brackets each call of the handler; false once stopping, when the request
  // must be refused instead.
  bool enter_handler();
  void leave_handler();
  // Records whether `connection` waits for the first byte of a request.
  void set_idle(const Connection* connection, bool idle);
  // When full: an idle connection of the address that holds the most, if it
  // holds more than `newcomer_holds`, which then gives up its slot. Under mu_.
  std::shared_ptr<Connection> connection_to_evict(std::size_t newcomer_holds);
  void remove(const Connection* connection);
  std::vector<std::shared_ptr<Connection>> snapshot();

  const HttpServerOptions options_;
  const HttpHandler handler_;
  // Set for TLS; replaced by reload_tls() under mu_. A connection's SSL
  // object holds a reference to the context it began with.
  std::shared_ptr<ssl::context> tls_context_;
  asio::io_context ioc_;
  // Serializes the server's own objects below; each connection has its own.
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::signal_set reload_signals_;
  asio::steady_timer tick_timer_;
  asio::steady_timer hang_up_timer_;
  asio::steady_timer accept_retry_timer_;
  asio::steady_timer drain_timer_;
  bool stop_started_ = false;  // on strand_
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> accepted_{0};

  std::mutex mu_;
  std::condition_variable handlers_done_;
  std::atomic<bool> stopping_{false};  // set under mu_, read anywhere
  int handlers_running_ = 0;           // guarded by mu_
  // Every open connection. Responders hold only weak references, so a
  // connection lives here while its answer is pending.
  std::unordered_map<const Connection*, std::shared_ptr<Connection>> connections_;
  // The client address of each, and how many each address holds.
  std::unordered_map<const Connection*, std::string> addresses_;
  std::unordered_map<std::string, std::size_t> per_address_;
  // The connections waiting for a request's first byte, and since when.
  std::unordered_map<const Connection*, std::chrono::steady_clock::time_point> idle_since_;

  std::mutex join_mu_;
  std::vector<std::thread> threads_;
};

// One connection as the server tracks it, whatever carries its bytes.
class HttpServer::Impl::Connection {
 public:
  virtual ~Connection() = default;
  virtual void start() = 0;
  // The server is stopping: a connection between requests closes now; one
  // whose request is being answered closes after its response.
  virtual void on_server_stop() = 0;
  virtual void close() = 0;
  // Closes the connection if it is still waiting for a request's first byte:
  // the server is full and another client needs its slot.
  virtual void evict() = 0;
  // Closes the connection when its request is being handled and the client
  // has hung up meanwhile (or half-closed: then it reads no answer either).
  virtual void check_hang_up() = 0;
  virtual asio::any_io_executor executor() = 0;
};

// One TCP connection (Stream: beast::tcp_stream), or TLS over one
// (TlsStream), serving its requests one after the other on its strand.
template <class Stream>
class HttpServer::Impl::StreamConnection final
    : public Connection,
      public std::enable_shared_from_this<StreamConnection<Stream>> {
 public:
  // `stream_args` make the Stream: the accepted socket, and the TLS context.
  template <class... StreamArgs>
  explicit StreamConnection(Impl& server, StreamArgs&&... stream_args)
      : server_(server), stream_(std::forward<StreamArgs>(stream_args)...) {}

  void start() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->handshake();
      } else {
        self->wait_for_request();
      }
    });
  }

  void on_server_stop() override {
    if (state_ == State::kReading || state_ == State::kLingering) close();
  }

  void close() override {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    if (client_gone_) client_gone_->store(true);
    beast::error_code ignored;
    tcp_stream().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_stream().close();
    server_.remove(this);
  }

  void evict() override {
    if (idle_) close();
  }

  // Polls the socket rather than reading it: a read pending while the
  // answer is written would clash with the write (over TLS above all).
  void check_hang_up() override {
    if (state_ != State::kHandling) return;
    pollfd watched{tcp_stream().socket().native_handle(), kHangUpEvents, 0};
    if (::poll(&watched, 1, 0) > 0 && (watched.revents & kHangUpEvents) != 0) close();
  }

  asio::any_io_executor executor() override { return stream_.get_executor(); }

 private:
  enum class State { kReading, kHandling, kWriting, kLingering, kClosed };
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  beast::tcp_stream& tcp_stream() { return beast::get_lowest_layer(stream_); }

  // Bounded like a request's header, so that a client that never finishes
  // its handshake cannot hold the connection.
  void handshake() {
    tcp_stream().expires_after(server_.options_.header_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = this->shared_from_this()](beast::error_code ec) {
                              if (ec) return self->close();
                              self->wait_for_request();
                            });
  }

  // The idle timeout runs until the first byte of the next request; the
  // header timeout from there, so that a client trickling its header byte by
  // byte is cut off.
  void wait_for_request() {
    state_ = State::kReading;
    if (server_.stopping_) return close();
    if (buffer_.size() > 0) return read_header();  // the client sent it already
    tcp_stream().expires_after(server_.options_.idle_timeout);
    idle_ = true;
    server_.set_idle(this, true);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->idle_ = false;
                              if (ec) return self->close();
                              self->server_.set_idle(self.get(), false);
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  void read_header() {
    parser_.emplace();
    parser_->body_limit(server_.options_.max_body_bytes);
    tcp_stream().expires_after(server_.options_.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(const beast::error_code& ec) {
    if (ec) return on_read_error(ec);
    const boost::optional<std::uint64_t> length = parser_->content_length();
    if (length && *length > server_.options_.max_body_bytes) {
      return refuse(Status(ErrorCode::kTooLarge,
                           "request body of " + std::to_string(*length) + " bytes is over the " +
                               std::to_string(server_.options_.max_body_bytes) + "-byte limit"));
    }
    if (server_.options_.admit) {
      if (std::optional<HttpResponse> refusal = server_.options_.admit(request_read())) {
        return refuse(std::move(*refusal));
      }
    }
    body_started_ = std::chrono::steady_clock::now();
    body_bytes_ = 0;
    read_body();
  }

  // Reads the body as it comes, each piece by a deadline that grows with the
  // bytes received: min_body_bytes_per_second on average, after a grace.
  void read_body() {
    if (parser_->is_done()) return on_request({});
    const HttpServerOptions& options = server_.options_;
    const auto earned = std::chrono::milliseconds(
        body_bytes_ * 1000 / std::max<std::size_t>(options.min_body_bytes_per_second, 1));
    tcp_stream().expires_at(body_started_ + options.header_timeout + earned);
    http::async_read_some(stream_, buffer_, *parser_,
                          [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                            if (ec) return self->on_request(ec);
                            self->body_bytes_ += n;
                            self->read_body();
                          });
  }

  void on_read_error(const beast::error_code& ec) {
    if (ec == http::error::body_limit) {  // a chunked body that grew too large
      return refuse(Status(ErrorCode::kTooLarge,
                           "request body is over the " +
                               std::to_string(server_.options_.max_body_bytes) + "-byte limit"));
    }
    if (ec == http::error::header_limit) {
      return refuse(Status(ErrorCode::kTooLarge, "request header is too large"));
    }
    // A timeout or a connection the client closed leaves nobody to answer.
    if (!is_http_error(ec) || ec == http::error::partial_message ||
        ec == http::error::end_of_stream) {
      return close();
    }
    refuse(Status(ErrorCode::kProtocol, "malformed HTTP request: " + ec.message()));
  }

  void on_request(const beast::error_code& ec) {
    if (ec) return on_read_error(ec);
    keep_alive_ = parser_->keep_alive();
    HttpRequest request = request_read();
    request.body = std::move(parser_->get().body());
    client_gone_ = std::make_shared<std::atomic<bool>>(false);
    request.client_gone = client_gone_;
    state_ = State::kHandling;
    if (!server_.enter_handler()) {
      return refuse(Status(ErrorCode::kUnavailable, "the server is stopping"));
    }
    server_.handler_(std::move(request), responder());
    server_.leave_handler();
  }

  // Answers on this connection's strand, whichever thread calls it and
  // however late; dropped when the connection has closed meanwhile.
  Responder responder() {
    return [weak = this->weak_from_this()](HttpResponse response) {
      if (std::shared_ptr<StreamConnection> self = weak.lock()) {
        asio::post(self->executor(), [self, response = std::move(response)]() mutable {
          self->write(std::move(response));
        });
      }
    };
  }

  // The request's method, target and header fields, in order, without its
  // body.
  HttpRequest request_read() const {
    const http::request<ArrivingBody>& message = parser_->get();
    HttpRequest request{
        std::string(message.method_string()), std::string(message.target()), {}, {}};
    for (const auto& field : message) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    return request;
  }

  // Answers with an error and closes: what follows the request on the
  // connection cannot be trusted.
  void refuse(const Status& status) { refuse(server_.options_.error_response(status)); }
  void refuse(HttpResponse refusal) {
    state_ = State::kHandling;
    keep_alive_ = false;
    write(std::move(refusal));
  }

  void write(HttpResponse response) {
    if (state_ != State::kHandling) return;  // closed meanwhile
    state_ = State::kWriting;
    // Beast throws on these, which would end the thread.
    if (response.status < 200 || response.status > 999 ||
        ((response.status == 204 || response.status == 304) && !response.body.empty())) {
      response = server_.options_.error_response(
          Status(ErrorCode::kInternal,
                 "the handler answered with HTTP status " + std::to_string(response.status)));
    }
    response_ = {};
    response_.result(static_cast<unsigned>(response.status));
    for (const auto& [name, value] : response.headers) {
      if (!is_framing_header(name)) response_.insert(name, value);
    }
    response_.body() = std::move(response.body);
    response_.keep_alive(keep_alive_ && !server_.stopping_);
    response_.prepare_payload();
    tcp_stream().expires_after(server_.options_.transfer_timeout);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        if (!self->response_.keep_alive()) return self->linger();
                        self->wait_for_request();
                      });
  }

  // Half-closes, then discards what the client still sends until it closes
  // too (or kLingerTime passes). Over TLS it only discards: a close_notify
  // (async_shutdown) cut off the refused body the client was still sending,
  // and the response's "Connection: close" says the same.
  void linger() {
    state_ = State::kLingering;
    if constexpr (!kTls) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    tcp_stream().expires_after(kLingerTime);
    discard();
  }

  void discard() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->close();
                              self->discard();
                            });
  }

  Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<ArrivingBody>> parser_;
  std::chrono::steady_clock::time_point body_started_;
  std::size_t body_bytes_ = 0;                  // of the current request's body, so far
  http::response<http::string_body> response_;  // alive while it is written
  bool keep_alive_ = false;
  bool idle_ = false;  // waiting for the first byte of a request
  // The current request's HttpRequest::client_gone: set when the connection closes.
  std::shared_ptr<std::atomic<bool>> client_gone_;
  State state_ = State::kReading;
};

Status HttpServer::Impl::load_tls() {
  const bool has_cert = !options_.tls_cert_file.empty();
  if (has_cert != !options_.tls_key_file.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "TLS needs both a certificate file and a key file, or neither");
  }
  if (!has_cert) return Status::ok();
  Result<SslCtxPtr> context = server_tls_context(options_.tls_cert_file, options_.tls_key_file);
  if (!context) return context.status();
  // The ssl::context owns it from here.
  tls_context_ = std::make_shared<ssl::context>(context->release());
  return Status::ok();
}

Status HttpServer::Impl::reload_tls() {
  if (options_.tls_cert_file.empty()) {
    return Status(ErrorCode::kInvalidArgument, "plain HTTP: no TLS certificate to reload");
  }
  Result<SslCtxPtr> context = server_tls_context(options_.tls_cert_file, options_.tls_key_file);
  if (!context) return context.status();
  auto reloaded = std::make_shared<ssl::context>(context->release());
  std::lock_guard<std::mutex> lock(mu_);
  tls_context_ = std::move(reloaded);
  return Status::ok();
}

Status HttpServer::Impl::listen() {
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  const tcp::resolver::results_type endpoints =
      resolver.resolve(options_.host, std::to_string(options_.port), tcp::resolver::passive, ec);
  if (ec) return Status(ErrorCode::kNetwork, "cannot resolve '" + where + "': " + ec.message());
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) port_ = acceptor_.local_endpoint(ec).port();
  if (ec) return Status(ErrorCode::kNetwork, "cannot listen on " + where + ": " + ec.message());
  for (const auto& [set, signals] : {std::pair{&signals_, &options_.stop_signals},
                                     {&reload_signals_, &options_.reload_signals}}) {
    for (const int signal : *signals) {
      set->add(signal, ec);
      if (ec) {
        return Status(ErrorCode::kInternal,
                      "cannot handle signal " + std::to_string(signal) + ": " + ec.message());
      }
    }
  }
  return Status::ok();
}

void HttpServer::Impl::run_threads() {
  // The pending accept, tick and hang-up check keep the threads running;
  // once stopping, the drain timer does until the last connection has closed.
  accept();
  if (options_.tick) schedule_tick();
  schedule_hang_up_check();
  if (!options_.stop_signals.empty()) {
    signals_.async_wait([this](const beast::error_code& ec, int) {
      if (!ec) stop_on_strand();
    });
  }
  if (!options_.reload_signals.empty()) wait_for_reload_signal();
  for (int i = 0; i < std::max(options_.threads, 1); ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
}

void HttpServer::Impl::wait_for_reload_signal() {
  reload_signals_.async_wait([this](const beast::error_code& ec, int) {
    if (ec || stop_started_) return;
    const Status reloaded = reload_tls();
    if (options_.on_reload) options_.on_reload(reloaded);
    wait_for_reload_signal();
  });
}

void HttpServer::Impl::join() {
  std::lock_guard<std::mutex> lock(join_mu_);
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void HttpServer::Impl::accept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                         [this](const beast::error_code& ec, tcp::socket socket) {
                           on_accept(ec, std::move(socket));
                         });
}

void HttpServer::Impl::on_accept(const beast::error_code& ec, tcp::socket socket) {
  if (stop_started_) return;
  if (ec) {
    // Out of file descriptors, say: retrying at once would spin.
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](const beast::error_code& wait_ec) {
      if (!wait_ec && !stop_started_) accept();
    });
    return;
  }
  ++accepted_;
  beast::error_code unknown;
  const std::string address = socket.remote_endpoint(unknown).address().to_string();
  std::shared_ptr<Connection> connection;
  std::shared_ptr<Connection> evicted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t& from_address = per_address_[address];
    if (connections_.size() >= options_.max_connections &&
        from_address < options_.max_connections_per_address) {
      evicted = connection_to_evict(from_address);
    }
    if ((connections_.size() < options_.max_connections || evicted) &&
        from_address < options_.max_connections_per_address) {
      if (tls_context_) {
        connection =
            std::make_shared<StreamConnection<TlsStream>>(*this, std::move(socket), *tls_context_);
      } else {
        connection =
            std::make_shared<StreamConnection<beast::tcp_stream>>(*this, std::move(socket));
      }
      connections_.emplace(connection.get(), connection);
      addresses_.emplace(connection.get(), address);
      ++from_address;
    } else if (from_address == 0) {
      per_address_.erase(address);
    }
  }
  if (evicted) asio::post(evicted->executor(), [evicted] { evicted->evict(); });
  if (connection) {
    connection->start();
  } else {
    refuse_connection(std::move(socket));
  }
  accept();
}

// Over the connection limit: a best-effort 503, written at once (a fresh
// socket's buffer takes it whole), then closed; over TLS, closed at once.
void HttpServer::Impl::refuse_connection(tcp::socket socket) {
  beast::error_code ignored;
  if (!options_.tls_cert_file.empty()) {
    socket.close(ignored);
    return;
  }
  HttpResponse refusal = options_.error_response(
      Status(ErrorCode::kUnavailable, "too many connections; try again later"));
  http::response<http::string_body> message(static_cast<http::status>(refusal.status), 11,
                                            std::move(refusal.body));
  for (const auto& [name, value] : refusal.headers) message.set(name, value);
  message.keep_alive(false);
  message.prepare_payload();
  http::write(socket, message, ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

void HttpServer::Impl::schedule_tick() {
  tick_timer_.expires_after(options_.tick_interval);
  tick_timer_.async_wait([this](const beast::error_code& ec) {
    if (ec || stop_started_) return;
    options_.tick();
    schedule_tick();
  });
}

void HttpServer::Impl::schedule_hang_up_check() {
  hang_up_timer_.expires_after(kHangUpCheckInterval);
  hang_up_timer_.async_wait([this](const beast::error_code& ec) {
    if (ec || stop_started_) return;
    for (const std::shared_ptr<Connection>& connection : snapshot()) {
      asio::post(connection->executor(), [connection] { connection->check_hang_up(); });
    }
    schedule_hang_up_check();
  });
}

void HttpServer::Impl::stop_on_strand() {
  if (stop_started_) return;
  stop_started_ = true;
  {
    // After this no request reaches the handler, and none is inside it.
    std::unique_lock<std::mutex> lock(mu_);
    stopping_ = true;
    handlers_done_.wait(lock, [this] { return handlers_running_ == 0; });
  }
  beast::error_code ignored;
  acceptor_.close(ignored);
  signals_.cancel(ignored);
  reload_signals_.cancel(ignored);
  tick_timer_.cancel();
  hang_up_timer_.cancel();
  accept_retry_timer_.cancel();
  if (options_.on_stop) options_.on_stop();
  const std::vector<std::shared_ptr<Connection>> open = snapshot();
  if (open.empty()) return;
  for (const std::shared_ptr<Connection>& connection : open) {
    asio::post(connection->executor(), [connection] { connection->on_server_stop(); });
  }
  drain_timer_.expires_after(options_.drain_timeout);
  drain_timer_.async_wait([this](const beast::error_code& ec) {
    if (ec) return;  // every connection closed in time
    for (const std::shared_ptr<Connection>& connection : snapshot()) {
      asio::post(connection->executor(), [connection] { connection->close(); });
    }
  });
}

bool HttpServer::Impl::enter_handler() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  ++handlers_running_;
  return true;
}

void HttpServer::Impl::leave_handler() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--handlers_running_ == 0) handlers_done_.notify_all();
}

void HttpServer::Impl::set_idle(const Connection* connection, bool idle) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle) {
    idle_since_.insert_or_assign(connection, std::chrono::steady_clock::now());
  } else {
    idle_since_.erase(connection);
  }
}

std::shared_ptr<HttpServer::Impl::Connection> HttpServer::Impl::connection_to_evict(
    std::size_t newcomer_holds) {
  const Connection* victim = nullptr;
  std::size_t victim_holds = newcomer_holds;
  std::chrono::steady_clock::time_point victim_since;
  for (const auto& [connection, since] : idle_since_) {
    const std::size_t holds = per_address_[addresses_[connection]];
    if (holds > victim_holds ||
        (victim != nullptr && holds == victim_holds && since < victim_since)) {
      victim = connection;
      victim_holds = holds;
      victim_since = since;
    }
  }
  if (victim == nullptr) return nullptr;
  idle_since_.erase(victim);  // evicted once
  return connections_[victim];
}

void HttpServer::Impl::remove(const Connection* connection) {
  std::lock_guard<std::mutex> lock(mu_);
  connections_.erase(connection);
  idle_since_.erase(connection);
  if (const auto it = addresses_.find(connection); it != addresses_.end()) {
    if (--per_address_[it->second] == 0) per_address_.erase(it->second);
    addresses_.erase(it);
  }
  if (stopping_ && connections_.empty()) {
    asio::post(strand_, [this] { drain_timer_.cancel(); });
  }
}

std::vector<std::shared_ptr<HttpServer::Impl::Connection>> HttpServer::Impl::snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Connection>> result;
  result.reserve(connections_.size());
  for (const auto& entry : connections_) result.push_back(entry.second);
  return result;
}

HttpResponse plain_error_response(const Status& status) {
  HttpResponse response;
  switch (status.code()) {
    case ErrorCode::kTooLarge:
      response.status = 413;
      break;
    case ErrorCode::kProtocol:
      response.status = 400;
      break;
    case ErrorCode::kUnavailable:
      response.status = 503;
      break;
    default:
      response.status = 500;
      break;
  }
  response.headers.emplace_back("Content-Type", "text/plain");
  response.body = status.to_string();
  return response;
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options,
                                                      HttpHandler handler) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  LUMBUNG_RETURN_IF_ERROR(impl->load_tls());
  LUMBUNG_RETURN_IF_ERROR(impl->listen());
  impl->run_threads();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

std::uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::stop() {
  impl_->request_stop();
  impl_->join();
}

void HttpServer::wait() { impl_->join(); }

std::size_t HttpServer::open_connections() const { return impl_->open_connections(); }

std::uint64_t HttpServer::accepted_connections() const { return impl_->accepted_connections(); }

}  // namespace lumbung::net
