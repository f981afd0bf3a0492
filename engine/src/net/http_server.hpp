// HttpServer: the daemon's HTTP/1.1 listener (Boost.Beast on Boost.Asio). It
// only moves bytes: each request is handed, whole, to a handler as an
// HttpRequest, and the handler answers through a responder whenever it likes,
// from any thread (a long-polling pull answers seconds later). No thread is
// held while an answer is pending.
//
// Each connection serves its requests one at a time, in order, on its own
// strand, and stays open between them (keep-alive). It is closed when it
// stays idle between requests, when a request's header trickles in too
// slowly, or when a body or response takes too long to travel. A request
// whose Content-Length is over the body limit is refused with 413 before its
// body is read; malformed HTTP gets 400; both close the connection.
//
// A client that hangs up while its request is being handled (a long poll)
// is noticed within about a second, without reading from the connection:
// the connection is closed, freeing its slots, and the request's
// HttpRequest::client_gone is set, so that the handler can let it go. A
// client that only half-closes (shuts down its sending side) while it waits
// for its answer is taken as gone too.
//
// With a certificate and key, every connection is TLS: the handshake must
// finish within the header timeout, and a connection over the limit is
// closed unanswered (a plaintext 503 would be garbage to a TLS client).
//
// Thread-safety: stop(), wait() and the accessors may be called from any
// thread, but stop() and wait() not from the handler, tick or on_stop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lumbung/http.hpp"
#include "lumbung/status.hpp"

namespace lumbung::net {

using Responder = std::function<void(HttpResponse)>;
// Called once per request, on one of the server's threads; must not block for
// long. `respond` must be called exactly once, possibly later from any
// thread; a response for a connection that has closed meanwhile is dropped.
using HttpHandler = std::function<void(HttpRequest request, Responder respond)>;

// Looks at a request once its header has arrived, before its body is read:
// a response refuses it (it is sent and the connection closed, the body never
// read or buffered); nullopt lets the request through to the handler. `head`
// has an empty body. Called on one of the server's threads; must not block
// for long.
using Admission = std::function<std::optional<HttpResponse>(const HttpRequest& head)>;

// The answer to a request the server refuses by itself, before a handler
// sees it: kTooLarge (a body or header over its limit), kProtocol (malformed
// HTTP), kUnavailable (stopping, or over the connection limit), kInternal (a
// handler's answer HTTP cannot carry).
using ErrorResponder = std::function<HttpResponse(const Status& status)>;

// The default ErrorResponder: the message as text/plain, with the HTTP status
// of its code (413, 400, 503 or 500).
HttpResponse plain_error_response(const Status& status);

struct HttpServerOptions {
  // Where to listen: a host name or IP literal, and a port (0: any free one).
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  // TLS: the certificate chain (leaf first) and its private key, PEM files,
  // both or neither. Default: empty, plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Threads running the server's I/O and the handler. Default: 1.
  int threads = 1;
  // The largest request body accepted (413 above it). Default: 16 MiB.
  std::size_t max_body_bytes = std::size_t{16} << 20;
  // How refusals are answered: the application's error bodies.
  ErrorResponder error_response = plain_error_response;
  // Checks each request's header before its body is read (the daemon's token
  // check: an anonymous request costs no body). Default: none.
  Admission admit;
  // Beyond this many connections, a new one takes the slot of an idle one
  // (waiting for a request) of the address that holds the most, if that
  // address holds more than the newcomer's: so idle sockets, from however
  // many addresses, cannot lock out a phone. Otherwise it is answered 503
  // and closed. (An idle connection that starts a request just as it is
  // chosen is kept: the limit may then be passed by one for a while.)
  std::size_t max_connections = 1024;
  // The same, for the connections from one client address: a quarter of
  // the whole, so that one address cannot take every slot, while a carrier
  // that puts many phones behind one address (CGNAT) still gets many.
  std::size_t max_connections_per_address = 256;
  // From the first byte of a request to the end of its header.
  std::chrono::milliseconds header_timeout{10000};
  // Waiting for the next request on a kept-alive (or new) connection; on a
  // new TLS connection, from the end of its handshake.
  std::chrono::milliseconds idle_timeout{60000};
  // A request's body must arrive at this rate on average, counted from the
  // end of its header after a grace of header_timeout: a stalled body is cut
  // off in seconds, while a 20 kbit/s link (2,500 bytes/s) gets through.
  std::size_t min_body_bytes_per_second = 1000;
  // For a response to be written.
  std::chrono::milliseconds transfer_timeout{300000};
  // Graceful stop waits this long for answers in flight, then closes anyway.
  std::chrono::milliseconds drain_timeout{30000};
  // `tick` (below) runs this often.
  std::chrono::milliseconds tick_interval{100};
  // Signals that stop the server gracefully, e.g. SIGINT and SIGTERM for the
  // daemon. Default: none.
  std::vector<int> stop_signals;
  // Signals that reload the TLS certificate and key from their files, e.g.
  // SIGHUP once certbot renewed them: connections accepted from then on use
  // the new ones, those open keep theirs. A file that cannot be used leaves
  // the old ones in force. Default: none.
  std::vector<int> reload_signals;
  // Called on a server thread after each reload, with its status
  // (kInvalidArgument for plain HTTP, or the files' problem).
  std::function<void(const Status&)> on_reload;
  // Called every tick_interval on a server thread (SyncServer::tick).
  std::function<void()> tick;
  // Called once when stopping, after the last request has been handed to the
  // handler and before waiting for the answers in flight (SyncServer::stop).
  std::function<void()> on_stop;
};

class HttpServer {
 public:
  // Binds, listens and starts the threads; connections are accepted from
  // when it returns. kNetwork when the address cannot be bound;
  // kInvalidArgument, before binding, when the TLS files cannot be read or
  // the key does not match the certificate.
  static Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options, HttpHandler handler);
  // Stops as stop() does.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port bound (the real one when options.port was 0).
  std::uint16_t port() const;

  // Graceful stop: stops accepting, refuses requests read from now on (503),
  // calls on_stop, closes the connections that are between requests (or
  // still receiving one), lets the answers in flight be written (for up to
  // drain_timeout), and returns when every thread is done. Idempotent.
  void stop();
  // Returns when the server has stopped, by stop() or one of stop_signals.
  void wait();

  // Connections open now, and accepted since the start (for tests, metrics).
  std::size_t open_connections() const;
  std::uint64_t accepted_connections() const;

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lumbung::net
