// SyncServer: the daemon's protocol core, sans-IO. It takes HTTP requests as
// values and answers through a callback, so that the same code runs behind
// Boost.Beast (net/http_server.hpp) and in memory in tests. docs/protocol.md
// is its specification.
//
// Thread-safety: handle() may be called from many threads at once; pushes are
// committed in groups by the server's one commit thread (commit_queue.hpp),
// reads run in parallel on the calling threads, and the long polls a commit
// wakes are answered by the server's long-poll thread (long_poll.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/schema.hpp"
#include "lumbung/clock.hpp"
#include "lumbung/http.hpp"
#include "lumbung/status.hpp"
#include "protocol/wire.hpp"
#include "server/log.hpp"

namespace lumbung::server {

struct ServerOptions {
  // Directory of the embedded SQLite store (created when missing), and of the
  // token signing keys and credentials (auth/token_authority.hpp). REQUIRED.
  std::string data_dir;
  // A PostgreSQL URL: the server's state in that database instead of the
  // data directory's SQLite store (server/open_store.hpp). Default: none.
  std::string store_url;
  // Serves every request without a token, as an admin. For local
  // experiments and tests that are not about authentication.
  bool insecure_no_auth = false;
  // The schema's text and a name for it in errors; the store remembers it.
  // Default: the schema the store remembers, else the built-in Desmigratif.
  std::string schema_text;
  std::string schema_source = "schema";
  // Stamps further ahead of server time than this are re-stamped and flagged.
  std::chrono::seconds max_clock_skew{300};
  // Physical time behind the server's HLC. Default: the system clock.
  std::shared_ptr<Clock> clock;
  // Default and ceiling of a pull page's size, and of a long poll's wait.
  std::uint32_t default_page_bytes = 512u << 10;
  std::uint32_t max_page_bytes = 4u << 20;
  std::uint32_t max_wait_seconds = 60;
  // Long polls one officer may hold waiting at once, across their devices;
  // a pull that would wait beyond it is answered 429 (0: no limit).
  std::uint32_t max_long_polls_per_officer = 16;
  // What one request may hold, checked on its decoded bytes before they are
  // parsed; 413 beyond (protocol/request_limits.hpp). Changes per push (a
  // device sends 1,000 at most); cells per change (0: twice the widest
  // table's column count: no valid change has more than its table's
  // columns, and a device on a newer schema version with more gets as far as
  // the header check, 409); fields, list elements and messages per request.
  std::uint32_t max_changes_per_push = 5000;
  std::uint32_t max_cells_per_change = 0;
  std::uint32_t max_objects_per_request = 500000;
  // Pushes one officer may start, across their devices: on average per
  // second, and at once after a pause; a push beyond them is answered 429
  // before its body is read (0 per second: no limit). With a token only.
  std::uint32_t max_pushes_per_officer_per_second = 10;
  std::uint32_t push_burst_per_officer = 60;
  // The same for pulls (long polls included) and snapshot downloads, each
  // of which reads a page or sends a file: an honest device reads pages one
  // after the other, a few a second on a fast link.
  std::uint32_t max_pulls_per_officer_per_second = 20;
  std::uint32_t pull_burst_per_officer = 120;
  // Requests one officer may have in flight at once, from handle() to their
  // answer, long polls included; 429 beyond (0: no limit). With a token only.
  std::uint32_t max_requests_per_officer = 64;
  // Where each request's line goes (server/request_record.hpp): one per
  // request answered, /healthz at debug level. Null: no request is logged.
  std::shared_ptr<const Logger> logger;
};

// What the network layer tells of its connections, for GET /metrics.
struct ConnectionCounts {
  std::size_t open = 0;
  std::uint64_t accepted = 0;
};

class SyncServer {
 public:
  // The largest request body it reads, compressed or not (413 above it).
  static constexpr std::size_t kMaxRequestBytes = protocol::kMaxRequestBytes;

  using Responder = std::function<void(HttpResponse)>;

  // Opens (or creates) the store in options.data_dir and loads the schema.
  static Result<std::unique_ptr<SyncServer>> open(const ServerOptions& options);

  // The answer to a request refused before it reaches handle() (by the HTTP
  // layer: too large, malformed, too many connections): an Error body with
  // the HTTP status of its code, as every refusal of the daemon's
  // (docs/protocol.md, "Errors").
  static HttpResponse error_response(const Status& status);
  // The same, counted in the metrics (net::HttpServerOptions::error_response).
  HttpResponse refused_by_http(const Status& status);
  ~SyncServer();

  // Looks at a request whose header has arrived, before its body is read
  // (net::HttpServerOptions::admit): a path or method not served, or, on the
  // sync routes, a bearer token that is missing, forged, expired or revoked,
  // is answered here at the cost of a token check, the body never read, and
  // so is a push beyond its officer's rate (429). The device binding waits
  // for the body's request header (handle()). nullopt: read the body and
  // handle() the request.
  std::optional<HttpResponse> admit(const HttpRequest& head);

  // Handles one request. `respond` is called exactly once: before handle()
  // returns, or later: a push once it is durable, from the commit thread; a
  // long-polling pull from the long-poll thread once a change it waits for
  // commits, or from the thread that calls tick() or stop().
  // Must not be called after stop() has returned.
  void handle(HttpRequest request, Responder respond);

  // Answers the long polls whose wait has run out, and ends those whose
  // client has gone (HttpRequest::client_gone), freeing their officers'
  // slots. The network layer calls it about every 100 ms; tests call it when
  // they move their clock.
  void tick();

  // The id of the key new tokens are signed with, as last looked at (at
  // open, then every 10 s by tick(), which logs a change as a
  // `signing_key` line); empty without authentication. Not to be called
  // while tick() may run.
  std::string signing_key_id() const;

  // The metrics in the Prometheus text format (docs/lumbungd.md, "Metrics"):
  // what GET /metrics answers an admin token, and a metrics listener anyone
  // who can reach it (lumbungd serve --metrics-listen).
  HttpResponse metrics();
  // Where the metrics read the open and accepted connections from; may be
  // called once the network layer has started, from any thread.
  void watch_connections(std::function<ConnectionCounts()> counts);

  // Answers every waiting long poll now (with what there is) and refuses new
  // ones; used when the daemon shuts down.
  void stop();

  // Canonical JSON of the server state, live rows only, in the format of
  // `lumbung dump`; only rows whose scope is `scope` when given.
  Result<std::string> dump_json(const std::optional<std::string>& scope = std::nullopt);

  const core::Schema& schema() const;
  // The text the schema was loaded from.
  const std::string& schema_text() const;

 private:
  struct Impl;
  explicit SyncServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lumbung::server
