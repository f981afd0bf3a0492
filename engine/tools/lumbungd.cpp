// lumbungd: the merge daemon. A thin main over the protocol core
// (server/sync_server.hpp) and the HTTP server (net/http_server.hpp). Exit
// status: 0 success, 1 error, 2 usage error, as for `lumbung`.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "auth/credential_store.hpp"
#include "auth/grant.hpp"
#include "auth/token.hpp"
#include "auth/token_authority.hpp"
#include "core/canonical_json.hpp"
#include "core/split.hpp"
#include "db/check_judge.hpp"
#include "json_line.hpp"
#include "lumbung/status.hpp"
#include "lumbung/value.hpp"
#include "net/host_port.hpp"
#include "net/http_server.hpp"
#include "net/loopback.hpp"
#include "net/tls.hpp"
#include "program.hpp"
#include "serve_config.hpp"
#include "server/audit_archive.hpp"
#include "server/backup.hpp"
#include "server/csv_table.hpp"
#include "server/log.hpp"
#include "server/open_store.hpp"
#include "server/restore.hpp"
#include "server/store_migration.hpp"
#include "server/sync_server.hpp"
#include "snapshot/snapshot_builder.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::Result;
using lumbung::Status;
using lumbung::Value;
using lumbung::server::LogLevel;
using lumbung::server::SyncServer;

using lumbung::tools::kExitOk;

// The command line, as the commands' options fill it.
struct Args {
  std::string data;
  std::string store;  // a PostgreSQL URL; empty: DIR's SQLite store
  std::string listen = "127.0.0.1:8787";
  std::optional<std::string> metrics_listen;
  std::optional<std::string> config;
  std::optional<std::uint32_t> drain_timeout;
  std::optional<std::uint32_t> max_connections;
  std::optional<std::uint32_t> max_connections_per_address;
  std::optional<std::string> schema;
  std::optional<std::uint32_t> max_clock_skew;
  std::string log_format = "text";
  std::string log_level = "info";
  std::optional<std::uint32_t> max_long_polls_per_officer;
  std::optional<std::uint32_t> max_changes_per_push;
  std::optional<std::uint32_t> max_cells_per_change;
  std::optional<std::uint32_t> max_objects_per_request;
  std::optional<std::uint32_t> max_pushes_per_officer_per_second;
  std::optional<std::uint32_t> push_burst_per_officer;
  std::optional<std::uint32_t> max_pulls_per_officer_per_second;
  std::optional<std::uint32_t> pull_burst_per_officer;
  std::optional<std::uint32_t> max_requests_per_officer;
  std::optional<unsigned> threads;
  bool insecure_no_auth = false;
  bool require_tls = false;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  std::optional<std::string> village;
  std::optional<std::string> row;
  std::string officer;
  std::optional<std::string> villages;
  std::optional<std::string> role;
  std::optional<std::string> ttl;
  std::optional<std::string> device;
  std::optional<std::string> district;
  std::optional<std::string> province;
  bool all = false;
  bool json = false;
  std::optional<std::string> revoke_officer;
  std::optional<std::string> token_id;
  std::string key_id;
  std::string out;
  std::string to;  // migrate-store: the PostgreSQL database
  bool with_snapshots = false;
  std::string from;
  bool force = false;
  std::optional<std::uint32_t> stale;
  // import and export
  std::string table;
  std::string csv_file;
  bool csv = false;
  std::optional<std::string> archive_before;
};

lumbung::tools::Program& program() {
  static lumbung::tools::Program kLumbungd(
      "lumbungd",
      R"(The Lumbung merge daemon: serves the sync protocol over HTTP from one data
directory.)",
      R"('lumbungd COMMAND --help' describes one command.
Options take their value as '--data DIR' or '--data=DIR'.
One 'serve' or 'restore' at a time may use a data directory.

Exit status: 0 success, 1 error (message on stderr), 2 usage error.)");
  return kLumbungd;
}

int fail(const Status& status) { return program().fail(status); }

// A data directory that must exist: opening creates a missing store, and a
// command that reads or changes credentials must not leave a fresh, empty DIR
// behind when DIR is mistyped.
Status check_data_dir(const std::string& data_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(data_dir, ec)) {
    return Status(ErrorCode::kNotFound, "data directory '" + data_dir + "' does not exist");
  }
  return Status::ok();
}

Result<std::string> read_schema(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kNotFound, "cannot read schema file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status(ErrorCode::kIo, "cannot read schema file '" + path + "'");
  // An empty schema_text means the built-in schema: never for a file given.
  if (text.view().empty()) {
    return Status(ErrorCode::kSchemaInvalid, path + ": the file is empty");
  }
  return std::move(text).str();
}

// --- serve ---

constexpr const char* kServeDescription =
    R"(Serves the sync protocol (docs/protocol.md) over HTTP, or HTTPS with
--tls-cert. Prints 'lumbungd listening on http://HOST:PORT' (https://...
with TLS) once it accepts connections. On SIGTERM or SIGINT it stops
accepting, answers the requests in flight and exits 0. Refused while another
'serve' or a 'restore' uses DIR.)";

// Raises this process's soft limit on open files towards its hard limit, so
// that the connections the HTTP server admits and the store's files fit, and
// returns how many connections do fit: `connections`, or fewer, with a
// warning, when the hard limit is lower (a systemd unit's LimitNOFILE,
// `ulimit -Hn`): connections beyond it would fail to be accepted instead of
// being answered 503.
std::size_t fit_open_files_limit(std::size_t connections, const lumbung::server::Logger& logger) {
  constexpr rlim_t kOwnFiles = 64;  // the store, its journal, snapshots, the listeners...
  const rlim_t wanted = static_cast<rlim_t>(connections) + kOwnFiles;
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur >= wanted) return connections;
  files.rlim_cur = files.rlim_max == RLIM_INFINITY ? wanted : std::min(files.rlim_max, wanted);
  ::setrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur >= wanted) return connections;
  const std::size_t fitting =
      files.rlim_cur > 2 * kOwnFiles ? static_cast<std::size_t>(files.rlim_cur - kOwnFiles) : 64;
  logger.log(lumbung::server::LogLevel::kWarn, "config",
             {{"message", "at most " + std::to_string(files.rlim_cur) +
                              " open files (ulimit -Hn): serving " + std::to_string(fitting) +
                              " connections, not " + std::to_string(connections) +
                              "; raise the limit (LimitNOFILE= in a systemd unit)"}});
  return std::min(connections, fitting);
}

// The listener of `serve --metrics-listen`: GET /metrics and /healthz, no
// token, one thread, a few connections; anything else is 404. Prints
// 'lumbungd metrics on URL' (before the 'listening on' line). Beyond this
// machine it warns, as plain HTTP does: the metrics name villages.
Result<std::unique_ptr<lumbung::net::HttpServer>> start_metrics_listener(
    const std::string& listen, SyncServer& sync, const lumbung::server::Logger& logger) {
  const lumbung::net::HostPort address = *lumbung::net::parse_host_port(listen, std::nullopt);
  lumbung::net::HttpServerOptions options;
  options.host = address.host;
  options.port = address.port;
  options.max_body_bytes = 0;
  options.max_connections = 16;
  options.max_connections_per_address = 16;
  LUMBUNG_ASSIGN_OR_RETURN(
      std::unique_ptr<lumbung::net::HttpServer> server,
      lumbung::net::HttpServer::start(std::move(options), [&sync](lumbung::HttpRequest request,
                                                                  lumbung::net::Responder respond) {
        const std::string_view path =
            std::string_view(request.target).substr(0, request.target.find('?'));
        lumbung::HttpResponse response;
        if (request.method == "GET" && path == "/metrics") {
          response = sync.metrics();
        } else if (request.method == "GET" && path == "/healthz") {
          response.status = 200;
          response.body = "ok";
        } else {
          response.status = 404;
          response.body = "the metrics listener serves GET /metrics and /healthz only\n";
        }
        respond(std::move(response));
      }));
  LUMBUNG_ASSIGN_OR_RETURN(const bool loopback, lumbung::net::is_loopback_host(address.host));
  const bool ipv6 = address.host.find(':') != std::string::npos;
  const std::string url = std::string("http://") + (ipv6 ? "[" : "") + address.host +
                          (ipv6 ? "]" : "") + ':' + std::to_string(server->port()) + "/metrics";
  if (!loopback) {
    logger.log(LogLevel::kWarn, "config",
               {{"message", "metrics served without a token on " + listen +
                                ", beyond this machine: keep it on a private network"}});
  }
  logger.log(LogLevel::kInfo, "metrics", {{"url", url}});
  std::cout << "lumbungd metrics on " << url << std::endl;
  return server;
}

// What `serve` refuses as a usage error once its options parsed, a
// combination the parser cannot judge, given whether --listen is a loopback
// address: beyond this machine a daemon authenticates every request, and
// should encrypt them.
std::optional<std::string> serve_usage_problem(const Args& args, bool loopback) {
  if (!loopback && args.insecure_no_auth) {
    return "--insecure-no-auth is refused on " + args.listen +
           ": it serves only a loopback address (127.0.0.1, [::1], localhost)";
  }
  if (!loopback && !args.tls_cert && args.require_tls) {
    return "--require-tls: plain HTTP on " + args.listen +
           ", beyond this machine; give --tls-cert and --tls-key";
  }
  return std::nullopt;
}

int run_serve(const Args& args) {
  // --listen is checked by the parser.
  const lumbung::net::HostPort address = *lumbung::net::parse_host_port(args.listen, std::nullopt);
  // Both checked by the parser.
  const auto logger = std::make_shared<const lumbung::server::Logger>(
      STDERR_FILENO, *lumbung::server::parse_log_format(args.log_format),
      *lumbung::server::parse_log_level(args.log_level));
  lumbung::server::ServerOptions server_options;
  server_options.data_dir = args.data;
  server_options.store_url = args.store;
  server_options.logger = logger;
  server_options.insecure_no_auth = args.insecure_no_auth;
  if (args.max_clock_skew)
    server_options.max_clock_skew = std::chrono::seconds(*args.max_clock_skew);
  // A limit given replaces its default.
  const auto set_limit = [](const std::optional<std::uint32_t>& given, std::uint32_t& limit) {
    if (given) limit = *given;
  };
  set_limit(args.max_long_polls_per_officer, server_options.max_long_polls_per_officer);
  set_limit(args.max_changes_per_push, server_options.max_changes_per_push);
  set_limit(args.max_cells_per_change, server_options.max_cells_per_change);
  set_limit(args.max_objects_per_request, server_options.max_objects_per_request);
  set_limit(args.max_pushes_per_officer_per_second,
            server_options.max_pushes_per_officer_per_second);
  set_limit(args.push_burst_per_officer, server_options.push_burst_per_officer);
  set_limit(args.max_pulls_per_officer_per_second, server_options.max_pulls_per_officer_per_second);
  set_limit(args.pull_burst_per_officer, server_options.pull_burst_per_officer);
  set_limit(args.max_requests_per_officer, server_options.max_requests_per_officer);
  lumbung::net::HttpServerOptions http_options;
  http_options.host = address.host;
  http_options.port = address.port;
  http_options.threads =
      static_cast<int>(args.threads.value_or(std::max(1u, std::thread::hardware_concurrency())));
  http_options.tls_cert_file = args.tls_cert.value_or("");
  http_options.tls_key_file = args.tls_key.value_or("");
  const bool tls = args.tls_cert.has_value();
  const Result<bool> loopback = lumbung::net::is_loopback_host(address.host);
  if (!loopback) return fail(loopback.status());
  if (std::optional<std::string> problem = serve_usage_problem(args, *loopback)) {
    return program().usage_error("serve", *problem);
  }
  if (args.schema) {
    Result<std::string> text = read_schema(*args.schema);
    if (!text) return fail(text.status());
    server_options.schema_text = std::move(*text);
    server_options.schema_source = *args.schema;
  }

  // Held until the process ends: one serve or restore at a time on DIR.
  Result<std::unique_ptr<lumbung::server::DataDirLock>> lock =
      lumbung::server::lock_data_dir(server_options.data_dir);
  if (!lock) return fail(lock.status());
  Result<std::unique_ptr<SyncServer>> opened = SyncServer::open(server_options);
  if (!opened) return fail(opened.status());
  SyncServer* const sync = opened->get();
  http_options.max_body_bytes = SyncServer::kMaxRequestBytes;
  http_options.error_response = [sync](const lumbung::Status& status) {
    return sync->refused_by_http(status);
  };
  http_options.admit = [sync](const lumbung::HttpRequest& head) { return sync->admit(head); };
  http_options.stop_signals = {SIGINT, SIGTERM};
  // SIGHUP (systemctl reload, a certbot deploy hook) reloads the TLS files;
  // without TLS it is logged and changes nothing, never ending the daemon.
  http_options.reload_signals = {SIGHUP};
  http_options.on_reload = [logger, tls_cert = args.tls_cert](const lumbung::Status& status) {
    if (status.is_ok()) {
      logger->log(LogLevel::kInfo, "tls_reload", {{"cert", *tls_cert}});
    } else {
      logger->log(LogLevel::kWarn, "tls_reload",
                  {{"error", std::string(lumbung::error_name(status.code()))},
                   {"message", status.message() + "; the certificate in force stays"}});
    }
  };
  if (args.drain_timeout) http_options.drain_timeout = std::chrono::seconds(*args.drain_timeout);
  http_options.tick = [sync] { sync->tick(); };
  const int threads = http_options.threads;
  const std::int64_t drain_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(http_options.drain_timeout).count();
  http_options.on_stop = [sync, logger, drain_seconds] {
    logger->log(LogLevel::kInfo, "stopping", {{"drain_seconds", drain_seconds}});
    sync->stop();
  };
  // Read before the ticks that may change it start.
  const std::string signing_key = sync->signing_key_id();
  if (args.max_connections) http_options.max_connections = *args.max_connections;
  http_options.max_connections_per_address = args.max_connections_per_address.value_or(
      std::max<std::size_t>(1, http_options.max_connections / 4));
  http_options.max_connections = fit_open_files_limit(http_options.max_connections, *logger);
  http_options.max_connections_per_address =
      std::min(http_options.max_connections_per_address, http_options.max_connections);
  Result<std::unique_ptr<lumbung::net::HttpServer>> server = lumbung::net::HttpServer::start(
      std::move(http_options),
      [sync](lumbung::HttpRequest request, lumbung::net::Responder respond) {
        sync->handle(std::move(request), std::move(respond));
      });
  if (!server) return fail(server.status());
  lumbung::net::HttpServer* const http = server->get();
  sync->watch_connections([http] {
    return lumbung::server::ConnectionCounts{http->open_connections(),
                                             http->accepted_connections()};
  });
  std::unique_ptr<lumbung::net::HttpServer> metrics_server;
  if (args.metrics_listen) {
    Result<std::unique_ptr<lumbung::net::HttpServer>> started =
        start_metrics_listener(*args.metrics_listen, *sync, *logger);
    if (!started) return fail(started.status());
    metrics_server = std::move(*started);
  }
  if (server_options.insecure_no_auth) {
    logger->log(
        LogLevel::kWarn, "config",
        {{"message", std::string("--insecure-no-auth: every request is served without a token, "
                                 "with every right on every village. For local experiments only; "
                                 "never expose this daemon to a network.")}});
  }
  if (!*loopback && !tls) {
    logger->log(LogLevel::kWarn, "config",
                {{"message", "plain HTTP on " + args.listen +
                                 ", beyond this machine: tokens and records cross the network "
                                 "unencrypted. Serve HTTPS (--tls-cert, --tls-key), or refuse "
                                 "this with --require-tls."}});
  }
  // An IPv6 literal needs its brackets back in a URL.
  const bool ipv6 = address.host.find(':') != std::string::npos;
  const std::string url = std::string(tls ? "https://" : "http://") + (ipv6 ? "[" : "") +
                          address.host + (ipv6 ? "]" : "") + ':' +
                          std::to_string((*server)->port());
  logger->log(LogLevel::kInfo, "start",
              {{"url", url},
               {"data", args.data},
               {"store", args.store.empty() ? std::string("sqlite")
                                            : lumbung::server::printable_store_url(args.store)},
               {"auth", std::string(server_options.insecure_no_auth ? "off" : "tokens")},
               {"tls", std::string(tls ? "on" : "off")},
               {"signing_key", signing_key},
               {"threads", std::int64_t{threads}},
               {"pid", std::int64_t{::getpid()}}});
  std::cout << "lumbungd listening on " << url << std::endl;
  (*server)->wait();
  if (metrics_server) metrics_server->stop();
  logger->log(LogLevel::kInfo, "stop", {});
  return kExitOk;
}

// --- configuration ---

// The options of `serve` a configuration file and the environment may set:
// all but --config and --help.
std::vector<lumbung::tools::ServeOption> serve_options_of(const CLI::App& serve) {
  std::vector<lumbung::tools::ServeOption> options;
  for (const CLI::Option* option : serve.get_options()) {
    if (option->get_lnames().empty()) continue;
    const std::string& name = option->get_lnames().front();
    if (name == "config" || name == "help") continue;
    options.push_back({name, option->get_expected_max() == 0});
  }
  return options;
}

std::optional<std::string> process_environment(const std::string& variable) {
  const char* value = std::getenv(variable.c_str());
  return value == nullptr ? std::nullopt : std::optional<std::string>(value);
}

constexpr const char* kCheckConfigDescription =
    R"(Checks a configuration file as 'lumbungd serve --config FILE' reads it,
with the LUMBUNGD_* environment variables set now, without serving: each key
is an option of 'serve' with a valid value, the combination is allowed, the
addresses resolve, the schema file loads, the TLS certificate and key load
and match, and the data directory exists or can be created. Prints one JSON
object, keys sorted:
  {"auth":"tokens"|"off","config":"...","data":"...","listen":"...",
   "metrics_listen":null|"...","schema":null|"...","tls":true|false}
Exit status 0 when 'serve' would start with it; otherwise 1 (a file cannot
be read, a value does not load) or 2 (a key or value the parser refuses),
with the problem on stderr.)";

int run_check_config(const Args& args);

// --- dump, snapshot, audit ---

constexpr const char* kDumpDescription =
    R"(Prints every live row of the server's state as canonical JSON on one line, in
the format of 'lumbung dump': {"table":{"id":{"column":value}}}, keys sorted.
A device that has synced everything it may read holds exactly this.)";

int run_dump(const Args& args) {
  lumbung::server::ServerOptions options;
  options.data_dir = args.data;
  options.store_url = args.store;
  options.insecure_no_auth = true;  // serves no request
  if (Status dir = check_data_dir(options.data_dir); !dir) return fail(dir);
  Result<std::unique_ptr<SyncServer>> server = SyncServer::open(options);
  if (!server) return fail(server.status());
  Result<std::string> dump = (*server)->dump_json(args.village);
  if (!dump) return fail(dump.status());
  std::cout << *dump << '\n';
  return kExitOk;
}

constexpr const char* kSnapshotDescription =
    R"(Builds, for each village, a snapshot: its rows at the current seq in one
compressed SQLite file under DIR/snapshots, which 'serve' hands to a fresh
device (one that has never pulled) instead of sending every row in pages;
the device then pulls only what changed since (docs/protocol.md, "Snapshot").
A rebuild reads only the changes since the last one; a village with no change
keeps its snapshot. Run it from cron or after a large import; it can run while
'lumbungd serve' runs on DIR, but not twice at once. Prints one JSON object
per village: {"bytes":N,"rebuilt":true|false,"rows":N,"seq":N,"village":"..."})";

int run_snapshot(const Args& args) {
  lumbung::snapshot::SnapshotBuildOptions options;
  options.data_dir = args.data;
  options.store_url = args.store;
  if (Status dir = check_data_dir(options.data_dir); !dir) return fail(dir);
  if (args.schema) {
    Result<std::string> text = read_schema(*args.schema);
    if (!text) return fail(text.status());
    options.schema_text = std::move(text).value();
    options.schema_source = *args.schema;
  }
  options.village = args.village;
  Result<std::vector<lumbung::snapshot::BuiltSnapshot>> built =
      lumbung::snapshot::build_snapshots(options);
  if (!built) return fail(built.status());
  using lumbung::tools::dump_line;
  using lumbung::tools::Json;
  for (const lumbung::snapshot::BuiltSnapshot& snapshot : *built) {
    std::cout << lumbung::tools::json_object(
                     {{"bytes", dump_line(Json(snapshot.bytes))},
                      {"rebuilt", dump_line(Json(snapshot.rebuilt))},
                      {"rows", dump_line(Json(snapshot.rows))},
                      {"seq", dump_line(Json(snapshot.seq))},
                      {"village", lumbung::core::canonical_json(Value(snapshot.scope))}})
              << '\n';
  }
  return kExitOk;
}

constexpr const char* kAuditDescription =
    R"(Prints the audit log, oldest first, one JSON object per line, keys sorted:
  {"column":null|"...","conflict_id":null|N,"detail":"...","device":"...",
   "new":value,"officer":"...","old":value,"outcome":"...","row":"...",
   "scope":null|"...","seq":null|N,"table":"...","time_ms":N}
Every change a device pushed is there (outcome applied, superseded or
refused; "detail" says why it was refused), and every conflict resolution
(outcome resolved_server, resolved_device or resolved_value, with the
conflict's id). An applied insert of a new row is one entry: "column" null
and "new" the whole row, an object of its cells ({"id":"...","name":...});
an update is one entry per cell ("column" its name, "old" and "new" its
values); a delete has "column" null and "new" null. (Inserts logged before
store format 7 have one entry per cell instead.) "officer" is who the
request's token speaks for (empty for requests served with
--insecure-no-auth), "device" the device it came from, "seq" the seq the
change got (null when none), "time_ms" the server's time in ms since the
Unix epoch. Values are written as in 'lumbung get'. It can run while
'lumbungd serve' runs on DIR.

--archive-before DATE --out FILE moves the entries older than DATE (UTC:
YYYY-MM-DD, or an RFC 3339 time such as 2026-01-31T12:00:00Z) out of the
log into FILE, a new file (0600; an existing one is never written over):
zstd-compressed and ending with a SHA-256 of its contents. FILE is written
and synced to disk before the entries leave the log, in transactions of
10,000 entries at most, so that it can run while 'lumbungd serve' runs on
DIR; a crash between leaves entries in both, never in neither. Prints one
JSON object, keys sorted: {"bytes":N,"entries":N,"first_time_ms":N|null,
"last_time_ms":N|null,"path":"..."}: the file's size and absolute path, the
number of entries archived, and their least and greatest time_ms.

--from FILE prints the entries of an archive exactly as the log printed
them, with the same filters (an entry keeps its row's village); no --data.
A file cut short, damaged or of something else is refused before a line is
printed.)";

// The ms since the Unix epoch of DATE: YYYY-MM-DD (midnight UTC) or an
// RFC 3339 time, YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM).
std::optional<std::int64_t> parse_utc_time(std::string_view text) {
  const auto number = [&](std::size_t at, std::size_t digits) -> std::optional<int> {
    if (at + digits > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = at; i < at + digits; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  const std::optional<int> year = number(0, 4);
  const std::optional<int> month = number(5, 2);
  const std::optional<int> day = number(8, 2);
  if (!year || !month || !day || text.size() < 10 || text[4] != '-' || text[7] != '-') {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(*year),
                                         std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;
  std::int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::sys_days(date).time_since_epoch())
                        .count();
  if (text.size() == 10) return ms;
  if (text[10] != 'T' && text[10] != 't') return std::nullopt;
  const std::optional<int> hour = number(11, 2);
  const std::optional<int> minute = number(14, 2);
  const std::optional<int> second = number(17, 2);
  if (!hour || !minute || !second || text[13] != ':' || text[16] != ':' || *hour > 23 ||
      *minute > 59 || *second > 59) {
    return std::nullopt;
  }
  ms += ((*hour * 60 + *minute) * 60 + *second) * std::int64_t{1000};
  std::size_t at = 19;
  if (at < text.size() && text[at] == '.') {
    std::int64_t scale = 100;
    std::size_t digits = 0;
    for (++at; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, ++digits) {
      ms += (text[at] - '0') * scale;
      scale /= 10;
    }
    if (digits == 0) return std::nullopt;
  }
  if (at + 1 == text.size() && (text[at] == 'Z' || text[at] == 'z')) return ms;
  const std::optional<int> offset_hours = number(at + 1, 2);
  const std::optional<int> offset_minutes = number(at + 4, 2);
  if (at + 6 != text.size() || (text[at] != '+' && text[at] != '-') || text[at + 3] != ':' ||
      !offset_hours || !offset_minutes || *offset_hours > 23 || *offset_minutes > 59) {
    return std::nullopt;
  }
  const std::int64_t offset_ms = (*offset_hours * 60 + *offset_minutes) * std::int64_t{60'000};
  return text[at] == '+' ? ms - offset_ms : ms + offset_ms;
}

// One line of `lumbungd audit`, for an entry of the log or of an archive.
std::string audit_line(const lumbung::server::AuditEntry& entry) {
  using lumbung::core::canonical_json;
  const auto text_or_null = [](const std::string& text) {
    return canonical_json(text.empty() ? Value() : Value(text));
  };
  // A whole-row insert's new value is its row as canonical JSON text:
  // printed as the object it is.
  std::string new_value = canonical_json(entry.new_value);
  if (entry.column.empty() && entry.new_value.type() == lumbung::ValueType::kText &&
      entry.new_value.as_text().starts_with('{') &&
      nlohmann::json::accept(entry.new_value.as_text())) {
    new_value = entry.new_value.as_text();
  }
  return lumbung::tools::json_object(
      {{"column", text_or_null(entry.column)},
       {"conflict_id", canonical_json(entry.conflict_id == 0
                                          ? Value()
                                          : Value(static_cast<std::int64_t>(entry.conflict_id)))},
       {"detail", canonical_json(Value(entry.detail))},
       {"device", canonical_json(Value(entry.device_id))},
       {"new", new_value},
       {"officer", canonical_json(Value(entry.officer))},
       {"old", canonical_json(entry.old_value)},
       {"outcome", canonical_json(Value(entry.outcome))},
       {"row", canonical_json(Value(entry.row_id))},
       {"scope", text_or_null(entry.scope)},
       {"seq", canonical_json(entry.seq == 0 ? Value() : Value(entry.seq))},
       {"table", canonical_json(Value(entry.table))},
       {"time_ms", canonical_json(Value(entry.time_ms))}});
}

int run_audit_archive(const Args& args) {
  const std::optional<std::int64_t> before = parse_utc_time(*args.archive_before);
  if (!before) {
    return program().usage_error("audit",
                                 "--archive-before: '" + *args.archive_before +
                                     "' is not a UTC date (YYYY-MM-DD) or an RFC 3339 time");
  }
  if (Status dir = check_data_dir(args.data); !dir) return fail(dir);
  Result<std::unique_ptr<lumbung::server::Store>> store =
      lumbung::server::open_store(args.data, args.store);
  if (!store) return fail(store.status());
  Result<lumbung::server::AuditArchiveSummary> archived =
      lumbung::server::archive_audit(**store, *before, args.out);
  if (!archived) return fail(archived.status());
  const auto time_or_null = [](const std::optional<std::int64_t>& ms) {
    return ms ? Value(*ms) : Value();
  };
  const lumbung::Row line = {{"bytes", Value(static_cast<std::int64_t>(archived->bytes))},
                             {"entries", Value(archived->entries)},
                             {"first_time_ms", time_or_null(archived->first_time_ms)},
                             {"last_time_ms", time_or_null(archived->last_time_ms)},
                             {"path", Value(archived->path)}};
  std::cout << lumbung::core::canonical_json(line) << '\n';
  return kExitOk;
}

int run_audit(const Args& args) {
  if (args.archive_before) return run_audit_archive(args);
  lumbung::server::AuditQuery query;
  query.scope = args.village;
  if (args.row) {  // checked by the parser: TABLE/ID
    const std::size_t slash = args.row->find('/');
    query.table = args.row->substr(0, slash);
    query.row_id = args.row->substr(slash + 1);
  }
  const auto print = [](const lumbung::server::AuditEntry& entry) {
    std::cout << audit_line(entry) << '\n';
  };
  if (!args.from.empty()) {
    const Status read = lumbung::server::read_audit_archive(args.from, query, print);
    return read ? kExitOk : fail(read);
  }
  if (args.data.empty())
    return program().usage_error("audit", "--data DIR or --from FILE is required");
  if (Status dir = check_data_dir(args.data); !dir) return fail(dir);
  // The store alone: the log needs no schema, and no token is checked.
  Result<std::unique_ptr<lumbung::server::Store>> store =
      lumbung::server::open_store(args.data, args.store);
  if (!store) return fail(store.status());
  const Status read = (*store)->read(
      [&](lumbung::server::ReadTransaction& txn) { return txn.scan_audit(query, print); });
  return read ? kExitOk : fail(read);
}

// --- token, revoke, rotate-key, retire-key ---

// "30d", "12h", "90m", "3600s".
std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  static const std::map<char, std::int64_t> kUnitSeconds = {
      {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
  if (text.empty() || !kUnitSeconds.contains(text.back())) return std::nullopt;
  const std::string_view digits = text.substr(0, text.size() - 1);
  std::uint32_t count = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return std::chrono::seconds(count * kUnitSeconds.at(text.back()));
}

constexpr const char* kTokenDescription =
    R"(Issues a signed bearer token (docs/decisions/0007-bearer-tokens.md). Prints
the token on the first line of stdout, and its token id, key id and expiry on
stderr. A device sends it as 'Authorization: Bearer TOKEN'. The token carries
the officer, not what it is granted: --role and --villages, when given, are
recorded as 'lumbungd grant' records them, for every token of the officer. An
officer granted nothing gets no token, unless --role admin.)";

// The comma-separated ids of `list`; empty pieces stay, for the checks to refuse by name.
std::vector<lumbung::auth::Selector> village_selectors(const std::string& list) {
  std::vector<lumbung::auth::Selector> selectors;
  for (std::string& village : lumbung::core::split(list, ',')) {
    selectors.push_back({lumbung::auth::SelectorKind::kVillage, std::move(village)});
  }
  return selectors;
}

// DIR's keys and the credential store: DIR's, or the database's (--store).
Result<std::unique_ptr<lumbung::auth::TokenAuthority>> open_authority(const Args& args) {
  if (Status url = lumbung::server::check_store_url(args.store); !url) return url;
  return lumbung::auth::TokenAuthority::open(args.data, nullptr, args.store);
}

int run_token(const Args& args) {
  lumbung::auth::TokenRequest request;
  request.officer = args.officer;
  if (args.role) request.role = *lumbung::auth::parse_role(*args.role);  // checked by the parser
  if (args.villages) {
    for (lumbung::auth::Selector& village : village_selectors(*args.villages)) {
      request.villages.insert(std::move(village.value));
    }
  }
  if (args.ttl) request.ttl = *parse_duration(*args.ttl);  // checked by the parser
  if (args.device) request.device_id = *args.device;

  Result<std::unique_ptr<lumbung::auth::TokenAuthority>> authority = open_authority(args);
  if (!authority) return fail(authority.status());
  Result<lumbung::auth::IssuedToken> issued = (*authority)->issue(request);
  if (!issued) return fail(issued.status());
  std::cout << issued->token << '\n';
  std::cerr << "token id: " << issued->token_id << "\nkey id: " << issued->key_id
            << "\nexpires: " << lumbung::auth::utc_text(issued->expires_at) << '\n';
  return kExitOk;
}

// The authority of an existing data directory.
Result<std::unique_ptr<lumbung::auth::TokenAuthority>> open_existing_authority(const Args& args) {
  if (Status dir = check_data_dir(args.data); !dir) return dir;
  return open_authority(args);
}

constexpr const char* kGrantDescription =
    R"(Grants an officer villages: by id (--villages), every village of a district
or a province (as the village records' region columns name them, so a village
added there later is covered), or every village (--all). Creates the officer,
with role officer unless --role, at its first grant; --role alone changes the
role. Every token of the officer, already issued or not, counts the change
from its next request on, also in a running 'lumbungd serve' on DIR: villages
gained are pulled, villages lost purged. Granting what is granted already is
not an error.)";

// The selectors of a grant or ungrant's command line.
std::vector<lumbung::auth::Selector> selectors_of(const Args& args) {
  using lumbung::auth::SelectorKind;
  std::vector<lumbung::auth::Selector> selectors;
  if (args.villages) selectors = village_selectors(*args.villages);
  if (args.district) selectors.push_back({SelectorKind::kDistrict, *args.district});
  if (args.province) selectors.push_back({SelectorKind::kProvince, *args.province});
  if (args.all) selectors.push_back({SelectorKind::kAll, ""});
  return selectors;
}

int run_grant(const Args& args) {
  const int given = int{args.villages.has_value()} + int{args.district.has_value()} +
                    int{args.province.has_value()} + int{args.all};
  if (given > 1 || (given == 0 && !args.role)) {
    return program().usage_error(
        "grant",
        "give exactly one of --villages V1,V2, --district D, --province P and --all, "
        "or --role alone");
  }
  // Created when missing, as by 'token': an operator's first step on a new
  // server is to grant its admin.
  Result<std::unique_ptr<lumbung::auth::TokenAuthority>> authority = open_authority(args);
  if (!authority) return fail(authority.status());
  std::optional<lumbung::auth::Role> role;
  if (args.role) role = lumbung::auth::parse_role(*args.role);  // checked by the parser
  const Status granted = (*authority)->grant(args.officer, role, selectors_of(args));
  return granted ? kExitOk : fail(granted);
}

constexpr const char* kUngrantDescription =
    R"(Takes villages, a district, a province or --all away from an officer, as
'lumbungd grant' gave them; the role stays. Counts from the next request of
every token of the officer on: the villages it no longer covers are purged
from its devices at their next sync. Taking away what the officer is not
granted is an error naming it, and then nothing changes.)";

int run_ungrant(const Args& args) {
  Result<std::unique_ptr<lumbung::auth::TokenAuthority>> authority = open_existing_authority(args);
  if (!authority) return fail(authority.status());
  const Status taken = (*authority)->ungrant(args.officer, selectors_of(args));
  return taken ? kExitOk : fail(taken);
}

constexpr const char* kOfficersDescription =
    R"(Lists every officer the credential store knows, in order of officer id: role,
grants, bound devices and the tokens issued to it. Tokens issued before grants
moved to the server were not recorded: an officer known only from the devices
they bound appears with role "" and no grant, until granted. Text: one block per officer. --json: one JSON
object per officer per line:
  {"officer":"...","role":"officer|supervisor|admin|",
   "grants":{"villages":[...],"districts":[...],"provinces":[...],"all":false},
   "devices":[...],
   "tokens":[{"id":"...","issued":"...","expires":"...","revoked":false}]}
with times in UTC as 2026-12-01T00:00:00Z.)";

int run_officers(const Args& args) {
  Result<std::unique_ptr<lumbung::auth::TokenAuthority>> authority = open_existing_authority(args);
  if (!authority) return fail(authority.status());
  Result<std::vector<lumbung::auth::OfficerListing>> officers = (*authority)->officers();
  if (!officers) return fail(officers.status());
  using lumbung::auth::utc_text;
  using lumbung::tools::Json;
  for (const lumbung::auth::OfficerListing& officer : *officers) {
    const lumbung::auth::OfficerGrant& grant = officer.grant;
    const std::string role =
        grant.role ? std::string(lumbung::auth::role_name(*grant.role)) : std::string();
    if (args.json) {
      Json tokens = Json::array();
      for (const auto& token : officer.tokens) {
        tokens.push_back({{"id", token.token_id},
                          {"issued", utc_text(token.issued_at)},
                          {"expires", utc_text(token.expires_at)},
                          {"revoked", token.revoked}});
      }
      const Json line = {{"officer", officer.officer},
                         {"role", role},
                         {"grants",
                          {{"villages", grant.villages},
                           {"districts", grant.districts},
                           {"provinces", grant.provinces},
                           {"all", grant.every_village}}},
                         {"devices", officer.devices},
                         {"tokens", tokens}};
      std::cout << lumbung::tools::dump_line(line) << '\n';
      continue;
    }
    const auto names = [](const auto& list) {
      std::string text;
      for (const std::string& name : list) text += (text.empty() ? "" : ", ") + name;
      return text.empty() ? std::string("-") : text;
    };
    std::cout << "officer " << officer.officer << "\n  role: " << (role.empty() ? "-" : role)
              << "\n  all villages: " << (grant.every_village ? "yes" : "no")
              << "\n  villages: " << names(grant.villages)
              << "\n  districts: " << names(grant.districts)
              << "\n  provinces: " << names(grant.provinces)
              << "\n  devices: " << names(officer.devices) << '\n';
    if (grant.tokens_revoked_at) {
      std::cout << "  tokens revoked until: " << utc_text(*grant.tokens_revoked_at) << '\n';
    }
    for (const auto& token : officer.tokens) {
      std::cout << "  token " << token.token_id << " issued " << utc_text(token.issued_at)
                << " expires " << utc_text(token.expires_at) << (token.revoked ? " revoked" : "")
                << '\n';
    }
  }
  return kExitOk;
}

constexpr const char* kRevokeDescription =
    R"(Revokes tokens: from their next request on, a running 'lumbungd serve' on DIR
refuses them with 401 TokenRevoked. --token-id: one token, by the id 'lumbungd
token' printed; an id this server never issued is an error (a token issued
before tokens were recorded is known once a device used it; one never used
is revoked with --officer). --officer: every token of the officer (a token issued after
this works). --device: every token bound to the device or issued for it; the
device may go on with a new token of its officer, and its pending writes then
land. --officer and --device print the ids of the tokens they revoked, one a
line, and fail when the officer or device has none.)";

int run_revoke(const Args& args) {
  Result<std::unique_ptr<lumbung::auth::TokenAuthority>> authority = open_existing_authority(args);
  if (!authority) return fail(authority.status());
  if (args.token_id) {
    const Status revoked = (*authority)->revoke(*args.token_id);
    return revoked ? kExitOk : fail(revoked);
  }
  Result<std::vector<std::string>> revoked =
      args.revoke_officer ? (*authority)->revoke_officer(*args.revoke_officer)
                          : (*authority)->revoke_device(args.device.value_or(""));
  if (!revoked) return fail(revoked.status());
  for (const std::string& token_id : *revoked) std::cout << token_id << '\n';
  return kExitOk;
}

constexpr const char* kTokensDescription =
    R"(Lists every token this server issued, as recorded at issue, oldest first:
its id, officer, the officer's role now (a token carries none), signing key,
time of issue and expiry, whether it is revoked, and the device it is bound
to (or was issued for; empty: none yet). Tokens issued before tokens were
recorded are not listed ('lumbungd officers' shows their officers' devices).
Text: one line per token. --json: one JSON object per token per line:
  {"id":"...","officer":"...","role":"officer|supervisor|admin|",
   "key_id":"...","issued":"...","expires":"...","revoked":false,"device":"..."}
with times in UTC as 2026-12-01T00:00:00Z.)";

int run_tokens(const Args& args) {
  Result<std::unique_ptr<lumbung::auth::TokenAuthority>> authority = open_existing_authority(args);
  if (!authority) return fail(authority.status());
  Result<std::vector<lumbung::auth::TokenListing>> tokens = (*authority)->tokens();
  if (!tokens) return fail(tokens.status());
  using lumbung::auth::utc_text;
  for (const lumbung::auth::TokenListing& token : *tokens) {
    const std::string role =
        token.role ? std::string(lumbung::auth::role_name(*token.role)) : std::string();
    if (args.json) {
      const lumbung::tools::Json line = {{"id", token.token_id},
                                         {"officer", token.officer},
                                         {"role", role},
                                         {"key_id", token.key_id},
                                         {"issued", utc_text(token.issued_at)},
                                         {"expires", utc_text(token.expires_at)},
                                         {"revoked", token.revoked},
                                         {"device", token.device_id}};
      std::cout << lumbung::tools::dump_line(line) << '\n';
      continue;
    }
    std::cout << token.token_id << " officer " << token.officer << " role "
              << (role.empty() ? "-" : role) << " key " << token.key_id << " issued "
              << utc_text(token.issued_at) << " expires " << utc_text(token.expires_at)
              << " device " << (token.device_id.empty() ? "-" : token.device_id)
              << (token.revoked ? " revoked" : "") << '\n';
  }
  return kExitOk;
}

constexpr const char* kRotateKeyDescription =
    R"(Creates a signing key and makes it current: new tokens are signed with it,
tokens signed with older keys keep working until those keys are retired.
Prints the new key id on stdout.)";

int run_rotate_key(const Args& args) {
  Result<std::unique_ptr<lumbung::auth::TokenAuthority>> authority = open_existing_authority(args);
  if (!authority) return fail(authority.status());
  Result<std::string> key_id = (*authority)->rotate_key();
  if (!key_id) return fail(key_id.status());
  std::cout << *key_id << '\n';
  return kExitOk;
}

constexpr const char* kRetireKeyDescription =
    R"(Deletes a signing key: every token it signed is refused from then on (401
TokenForged). The current key cannot be retired; rotate-key first.)";

int run_retire_key(const Args& args) {
  Result<std::unique_ptr<lumbung::auth::TokenAuthority>> authority = open_existing_authority(args);
  if (!authority) return fail(authority.status());
  const Status retired = (*authority)->retire_key(args.key_id);
  return retired ? kExitOk : fail(retired);
}

// --- devices ---

constexpr const char* kDevicesDescription =
    R"(The fleet view: every device the server knows, in order of device id, with
what it saw of it (docs/decisions/0025-fleet-view.md): the officer (the one
the device is bound to, else that of its last request), the app version and
schema version its last request sent, when it was first and last seen (its
last push or pull), when its last batch was applied, how many rows it has
refused changes pending in (refused by the server and not pushed again
since), and the villages its last pull served ("all": every village). Times
are unknown (null, '-') for a device last seen before this version, which
recorded none. A running 'serve' writes what pulls tell within seconds and
when it stops; it can run while 'lumbungd serve' runs on DIR.
--stale DAYS: only devices not seen for DAYS days or more (or never since
this version). --village V: only devices whose last pull served V.
Text: one line per device. --json: one JSON object per device per line:
  {"device":"...","officer":"...","app_version":"...","schema_version":N,
   "first_seen":"..."|null,"last_seen":"..."|null,"last_push":"..."|null,
   "refused_pending":N,"villages":[...],"all_villages":false}
with times in UTC as 2026-12-01T00:00:00Z.)";

int run_devices(const Args& args) {
  if (Status dir = check_data_dir(args.data); !dir) return fail(dir);
  Result<std::unique_ptr<lumbung::server::Store>> store =
      lumbung::server::open_store(args.data, args.store);
  if (!store) return fail(store.status());
  std::map<std::string, lumbung::server::DeviceRecord> devices;
  const Status read = (*store)->read([&](lumbung::server::ReadTransaction& txn) {
    return txn.scan_devices([&](const lumbung::server::DeviceRecord& device) {
      devices.emplace(device.device_id, device);
    });
  });
  if (!read) return fail(read);
  // The officer a device is bound to; devices bound and never recorded too.
  const std::filesystem::path credentials =
      std::filesystem::path(args.data) / lumbung::auth::kCredentialsFileName;
  std::error_code ec;
  if (!args.store.empty() || std::filesystem::exists(credentials, ec)) {
    Result<std::unique_ptr<lumbung::auth::CredentialStore>> opened =
        lumbung::server::open_credentials(args.data, args.store);
    if (!opened) return fail(opened.status());
    Result<std::map<std::string, std::string>> bound = (*opened)->device_officers();
    if (!bound) return fail(bound.status());
    for (const auto& [device_id, officer] : *bound) {
      lumbung::server::DeviceRecord& device = devices[device_id];
      device.device_id = device_id;
      device.officer = officer;
    }
  }
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  using lumbung::tools::Json;
  const auto time_json = [](std::int64_t ms) {
    return ms == 0 ? Json() : Json(lumbung::auth::utc_text(ms / 1000));
  };
  const auto time_text = [](std::int64_t ms) {
    return ms == 0 ? std::string("-") : lumbung::auth::utc_text(ms / 1000);
  };
  for (const auto& [device_id, device] : devices) {
    if (args.stale && device.last_seen_ms != 0 &&
        now_ms - device.last_seen_ms < std::int64_t{*args.stale} * 86'400'000) {
      continue;
    }
    if (args.village && !device.all_villages &&
        std::find(device.villages.begin(), device.villages.end(), *args.village) ==
            device.villages.end()) {
      continue;
    }
    if (args.json) {
      const Json line = {{"device", device.device_id},
                         {"officer", device.officer},
                         {"app_version", device.app_version},
                         {"schema_version", device.schema_version},
                         {"first_seen", time_json(device.first_seen_ms)},
                         {"last_seen", time_json(device.last_seen_ms)},
                         {"last_push", time_json(device.last_push_ms)},
                         {"refused_pending", device.refused_pending},
                         {"villages", device.villages},
                         {"all_villages", device.all_villages}};
      std::cout << lumbung::tools::dump_line(line) << '\n';
      continue;
    }
    std::string villages = device.all_villages ? "all" : "";
    for (const std::string& village : device.villages) {
      villages += (villages.empty() ? "" : ",") + village;
    }
    const auto or_dash = [](const std::string& text) {
      return text.empty() ? std::string("-") : text;
    };
    std::cout << device.device_id << " officer " << or_dash(device.officer) << " app "
              << or_dash(device.app_version) << " schema " << device.schema_version
              << " first-seen " << time_text(device.first_seen_ms) << " last-seen "
              << time_text(device.last_seen_ms) << " last-push " << time_text(device.last_push_ms)
              << " refused " << device.refused_pending << " villages " << or_dash(villages) << '\n';
  }
  return kExitOk;
}

// --- backup, restore ---

constexpr const char* kBackupDescription =
    R"(Writes the server's state to one backup file: the store, the credential
store and the signing keys, each copied as it stood at one moment, while
'lumbungd serve' goes on serving DIR. FILE is written under a temporary name
beside it, synced and renamed, so that it is whole or absent; it gets mode
0600 and replaces an existing FILE. It holds personal data: keep it as
carefully as DIR. With --store URL, the database's store and credentials are
copied, read in one REPEATABLE READ READ ONLY transaction while the daemons
serving it go on, into the same file a SQLite store makes; the keys come
from DIR. Prints one JSON object, keys sorted:
{"bytes":N,"last_seq":N,"path":"..."}: the file's size, the store's last seq
in the copy and the file's absolute path. 'lumbungd restore' reads it; the
format is docs/decisions/0019-backup-file.md.)";

int run_backup(const Args& args) {
  lumbung::server::BackupOptions options;
  options.data_dir = args.data;
  options.store_url = args.store;
  options.out = args.out;
  options.with_snapshots = args.with_snapshots;
  Result<lumbung::server::BackupSummary> backup = lumbung::server::back_up(options);
  if (!backup) return fail(backup.status());
  const lumbung::Row line = {{"bytes", Value(static_cast<std::int64_t>(backup->bytes))},
                             {"last_seq", Value(backup->last_seq)},
                             {"path", Value(backup->path)}};
  std::cout << lumbung::core::canonical_json(line) << '\n';
  return kExitOk;
}

constexpr const char* kRestoreDescription =
    R"(Puts the state a backup file holds ('lumbungd backup') in DIR, created when
missing. The whole file is checked first: its format, its checksum, and its
store with SQLite's integrity check; a file cut short, damaged or of
something else is refused and DIR is left as it was. The state is unpacked
in DIR/restore-staging and swapped in, so that a crash never leaves a mix of
the old and the new (the next 'serve' or 'restore' finishes a swap a crash
cut short). The restored state begins a new server epoch: at their next sync
devices see that the server went back in time and offer again what it lacks.
Refused while 'lumbungd serve' runs on DIR. With --store URL, the store and
credentials go into the database in one transaction, the moment the restore
takes effect, and DIR gets the keys and snapshots; refused while any other
lumbungd is connected to the database, and, without --force, when its store
holds data. Prints one JSON object, keys sorted:
{"epoch":"...","last_seq":N,"path":"..."}: the new epoch, the restored
store's last seq and DIR's absolute path.)";

int run_restore(const Args& args) {
  lumbung::server::RestoreOptions options;
  options.from = args.from;
  options.data_dir = args.data;
  options.store_url = args.store;
  options.force = args.force;
  Result<lumbung::server::RestoreSummary> restored = lumbung::server::restore_backup(options);
  if (!restored) return fail(restored.status());
  const lumbung::Row line = {{"epoch", Value(restored->epoch)},
                             {"last_seq", Value(restored->last_seq)},
                             {"path", Value(restored->data_dir)}};
  std::cout << lumbung::core::canonical_json(line) << '\n';
  return kExitOk;
}

// --- import, export ---

constexpr const char* kImportDescription =
    R"(Loads a register kept in a spreadsheet, saved as CSV (RFC 4180, UTF-8), into
a table: each line after the header is one insert of a row, written on behalf
of --officer as a push of theirs would be: typed by the table's columns,
validated, merged with the rows the server has, audited (device
'import:OFFICER'), and refused in a village the officer is not granted. The
header line names the table's columns; "id" is the row id; a column left out
takes its default. An empty field is NULL, "" an empty text. All lines are
applied in one transaction, or none: when any line is refused, each refused
line is reported on stderr, 'FILE:LINE: column 'C': why', and nothing is
applied (exit 1). Prints one JSON object, keys sorted:
{"applied":N,"first_seq":N,"last_seq":N,"lines":N,"superseded":N,"table":"..."}
(the seqs null when none was given). Reads the file as it goes: memory stays
flat whatever its size. Refused while 'lumbungd serve' runs on DIR; run
'lumbungd snapshot' after a large import. docs/decisions/0029-csv-import-export.md.)";

// The schema DIR is served with, checked against what its store holds, as
// 'dump' reads it.
Result<lumbung::core::Schema> served_schema(const Args& args) {
  lumbung::server::ServerOptions options;
  options.data_dir = args.data;
  options.store_url = args.store;
  options.insecure_no_auth = true;  // serves no request
  if (args.schema) {
    Result<std::string> text = read_schema(*args.schema);
    if (!text) return text.status();
    options.schema_text = std::move(text).value();
    options.schema_source = *args.schema;
  }
  Result<std::unique_ptr<SyncServer>> server = SyncServer::open(options);
  if (!server) return server.status();
  return (*server)->schema();
}

int run_import(const Args& args) {
  if (Status dir = check_data_dir(args.data); !dir) return fail(dir);
  const bool from_stdin = args.csv_file == "-";
  std::ifstream file;
  if (!from_stdin) {
    file.open(args.csv_file, std::ios::binary);
    if (!file) {
      return fail(Status(ErrorCode::kNotFound, "cannot read CSV file '" + args.csv_file + "'"));
    }
  }
  // The daemon keeps the seq, the regions and its long polls in memory: an
  // import runs while none serves DIR.
  Result<std::unique_ptr<lumbung::server::DataDirLock>> lock =
      lumbung::server::lock_data_dir(args.data);
  if (!lock) {
    return fail(Status(lock.status().code(),
                       lock.status().message() + "; stop 'lumbungd serve' to import"));
  }
  Result<lumbung::core::Schema> schema = served_schema(args);
  if (!schema) return fail(schema.status());
  Result<std::unique_ptr<lumbung::server::Store>> store =
      lumbung::server::open_store(args.data, args.store);
  if (!store) return fail(store.status());
  lumbung::server::CsvImportOptions options;
  options.data_dir = args.data;
  options.store_url = args.store;
  options.table = args.table;
  options.officer = args.officer;
  options.source = from_stdin ? "stdin" : args.csv_file;
  Result<lumbung::server::CsvImportSummary> imported = lumbung::server::import_csv(
      options, *schema, **store, from_stdin ? std::cin : file, std::cerr);
  if (!imported) return fail(imported.status());
  const auto seq = [](std::int64_t value) { return value == 0 ? Value() : Value(value); };
  const lumbung::Row line = {
      {"applied", Value(imported->applied)},       {"first_seq", seq(imported->first_seq)},
      {"last_seq", seq(imported->last_seq)},       {"lines", Value(imported->lines)},
      {"superseded", Value(imported->superseded)}, {"table", Value(args.table)}};
  std::cout << lumbung::core::canonical_json(line) << '\n';
  return kExitOk;
}

constexpr const char* kExportDescription =
    R"(Writes the live rows of a table, as merged on the server, as CSV (RFC 4180,
UTF-8, CRLF line ends) to stdout, or to FILE with --out: a header line of the
table's columns in schema order, "id" first, then one line per row in order
of id. NULL is an empty field, an empty text "" (so that 'lumbungd import'
reads the file back to the same rows), a real the fewest digits that read
back the same, a blob hex. Writes rows as it reads them, from one consistent
snapshot; it can run while 'lumbungd serve' runs on DIR. With --out, prints
one JSON object: {"path":"...","rows":N,"table":"..."}.)";

int run_export(const Args& args) {
  if (Status dir = check_data_dir(args.data); !dir) return fail(dir);
  Result<lumbung::core::Schema> schema = served_schema(args);
  if (!schema) return fail(schema.status());
  Result<std::unique_ptr<lumbung::server::Store>> store =
      lumbung::server::open_store(args.data, args.store);
  if (!store) return fail(store.status());
  lumbung::server::CsvExportOptions options;
  options.table = args.table;
  options.village = args.village;
  if (args.out.empty()) {
    std::ios::sync_with_stdio(false);
    Result<std::int64_t> rows = lumbung::server::export_csv(options, *schema, **store, std::cout);
    return rows ? kExitOk : fail(rows.status());
  }
  std::ofstream file(args.out, std::ios::binary | std::ios::trunc);
  if (!file) return fail(Status(ErrorCode::kIo, "cannot create '" + args.out + "'"));
  Result<std::int64_t> rows = lumbung::server::export_csv(options, *schema, **store, file);
  if (rows) {
    file.close();
    if (!file) rows = Status(ErrorCode::kIo, "cannot write '" + args.out + "'");
  }
  if (!rows) {
    std::error_code ignored;
    std::filesystem::remove(args.out, ignored);
    return fail(rows.status());
  }
  const lumbung::Row line = {{"path", Value(std::filesystem::absolute(args.out).string())},
                             {"rows", Value(*rows)},
                             {"table", Value(args.table)}};
  std::cout << lumbung::core::canonical_json(line) << '\n';
  return kExitOk;
}

constexpr const char* kMigrateStoreDescription =
    R"(Copies the SQLite store of DIR into the PostgreSQL database --to names, whole:
the synced tables, versions, seqs, change log, tombstones, conflicts, audit
log, devices, schema versions and epoch, and DIR's credentials (roles,
grants, issued and revoked tokens, bindings), so that devices go on from
where they were. DIR must not be served meanwhile (its lock is taken) and is left as it
was; the database must hold no store, or an empty one. The copy is one
transaction, compared with the SQLite store before it is reported: the last
seq and every village's checksum and rows. Then serve with --store URL (the
signing keys stay in DIR). Prints one JSON object:
  {"last_seq":N,"rows":N,"scopes":N,"tables":N,"to":"postgresql://..."}
with the URL's password replaced.)";

int run_migrate_store(const Args& args) {
  if (Status dir = check_data_dir(args.data); !dir) return fail(dir);
  const Result<lumbung::server::MigrationSummary> moved =
      lumbung::server::migrate_store(args.data, args.to);
  if (!moved) return fail(moved.status());
  using lumbung::tools::dump_line;
  using lumbung::tools::Json;
  std::cout << lumbung::tools::json_object(
                   {{"last_seq", dump_line(Json(moved->last_seq))},
                    {"rows", dump_line(Json(moved->rows))},
                    {"scopes", dump_line(Json(moved->scopes))},
                    {"tables", dump_line(Json(moved->tables))},
                    {"to", lumbung::core::canonical_json(
                               Value(lumbung::server::printable_store_url(args.to)))}})
            << '\n';
  return kExitOk;
}

// --- the command line ---

// Declares every command on `program`, filling `args`; returns `serve`.
CLI::App* declare_commands(lumbung::tools::Program& program, Args& args) {
  using lumbung::tools::add_option;
  using lumbung::tools::add_switch;
  using lumbung::tools::expect;
  using lumbung::tools::expect_number;
  // A command over the data directory --data DIR, as every one is.
  const auto command = [&](const std::string& name, const std::string& summary,
                           const char* description, int (*run)(const Args&),
                           const std::string& data = "the server's data directory") {
    CLI::App* added =
        program.command(name, summary, description, [&args, run] { return run(args); });
    add_option(added, "--data", args.data, "DIR", data)->required();
    return added;
  };

  // The server's state in PostgreSQL instead of DIR's SQLite store.
  const auto store_option = [&](CLI::App* command) {
    add_option(command, "--store", args.store, "URL",
               "the server's state in this PostgreSQL database (postgresql://USER@HOST/DB, "
               "docs/decisions/0034-postgresql-store.md) instead of DIR's SQLite store, "
               "credentials included; DIR keeps the signing keys");
  };

  CLI::App* serve = command("serve", "serve devices until SIGTERM or SIGINT", kServeDescription,
                            &run_serve, "the server's store; created when missing (0700)");
  store_option(serve);
  expect(add_option(serve, "--listen", args.listen, "HOST:PORT",
                    "default 127.0.0.1:8787; port 0 picks a free port"),
         "HOST:PORT", [](std::string_view text) {
           return lumbung::net::parse_host_port(text, std::nullopt).has_value();
         });
  add_option(serve, "--schema", args.schema, "FILE",
             "the schema (JSON, docs/schema-format.md), which DIR then remembers; default: the "
             "schema DIR remembers, else the built-in Desmigratif schema");
  add_option(serve, "--config", args.config, "FILE",
             "read options from this TOML file, keys named as the options without their "
             "dashes; the command line, then LUMBUNGD_* variables, win over it "
             "(docs/lumbungd.md, \"Configuration\")");
  expect(add_option(serve, "--metrics-listen", args.metrics_listen, "HOST:PORT",
                    "also serve GET /metrics without a token here (e.g. 127.0.0.1:9787 for a "
                    "Prometheus on this machine); default: none, /metrics on --listen needs an "
                    "admin's token"),
         "HOST:PORT", [](std::string_view text) {
           return lumbung::net::parse_host_port(text, std::nullopt).has_value();
         });
  expect_number(add_option(serve, "--max-clock-skew", args.max_clock_skew, "SECONDS",
                           "device stamps further ahead of server time are re-stamped; "
                           "default 300"),
                0, UINT32_MAX, "a number of seconds");
  // A limit: a whole number, 0 to 2^32 - 1.
  const auto limit = [&](const std::string& name, std::optional<std::uint32_t>& field,
                         const std::string& help) {
    expect_number(add_option(serve, name, field, "N", help), 0, UINT32_MAX, "a whole number");
  };
  limit("--max-long-polls-per-officer", args.max_long_polls_per_officer,
        "long polls one officer may have waiting at once, across devices; "
        "more are answered 429 (0: no limit); default 16");
  limit("--max-changes-per-push", args.max_changes_per_push,
        "changes one push may carry (a device sends 1000 at most); more are answered 413; "
        "default 5000");
  limit("--max-cells-per-change", args.max_cells_per_change,
        "cells one pushed change may carry; more are answered 413; default 0: twice the "
        "widest table's column count");
  limit("--max-objects-per-request", args.max_objects_per_request,
        "fields, list elements and messages one request may hold, counted before it is "
        "parsed; more are answered 413; default 500000");
  limit("--max-pushes-per-officer-per-second", args.max_pushes_per_officer_per_second,
        "pushes one officer may start a second on average, across devices; more are "
        "answered 429 (0: no limit); default 10");
  limit("--push-burst-per-officer", args.push_burst_per_officer,
        "pushes one officer may start at once after a pause; default 60");
  limit("--max-pulls-per-officer-per-second", args.max_pulls_per_officer_per_second,
        "pulls (long polls included) and snapshot downloads one officer may start a second "
        "on average, across devices; more are answered 429 (0: no limit); default 20");
  limit("--pull-burst-per-officer", args.pull_burst_per_officer,
        "pulls and snapshot downloads one officer may start at once after a pause; "
        "default 120");
  expect_number(add_option(serve, "--max-connections", args.max_connections, "N",
                           "connections open at once; beyond, an idle one of the address holding "
                           "most is closed for a newcomer, or the newcomer is answered 503; "
                           "lowered to what the open-file limit allows (a warning); default 1024"),
                1, 1'000'000, "a number from 1 to 1000000");
  expect_number(
      add_option(serve, "--max-connections-per-address", args.max_connections_per_address, "N",
                 "connections from one client address; default a quarter of "
                 "--max-connections (a carrier's NAT puts many phones behind one)"),
      1, 1'000'000, "a number from 1 to 1000000");
  limit("--max-requests-per-officer", args.max_requests_per_officer,
        "requests one officer may have in flight at once, long polls included; more are "
        "answered 429 (0: no limit); default 64");
  expect_number(add_option(serve, "--drain-timeout", args.drain_timeout, "SECONDS",
                           "at SIGTERM, how long answers in flight may take to be written "
                           "before their connections are closed; default 30"),
                0, 3600, "a number of seconds from 0 to 3600");
  expect_number(add_option(serve, "--threads", args.threads, "N",
                           "threads serving requests, 1 to 1024; default: one per core"),
                1, 1024, "a number from 1 to 1024");
  add_switch(serve, "--insecure-no-auth", args.insecure_no_auth,
             "serve every request without a token, as an admin: for local experiments only, "
             "on a loopback address (warns at start)");
  add_switch(serve, "--require-tls", args.require_tls,
             "refuse to serve plain HTTP on an address beyond this machine (without it: a "
             "warning at start)");
  lumbung::tools::expect_one_of(
      add_option(serve, "--log-format", args.log_format, "FORMAT",
                 "the log's lines on stderr: text (default) or json, one per request and event"),
      {"text", "json"});
  lumbung::tools::expect_one_of(
      add_option(serve, "--log-level", args.log_level, "LEVEL",
                 "the least level logged: debug (also /healthz), info (default), warn or error"),
      {"debug", "info", "warn", "error"});
  CLI::Option* tls_cert =
      add_option(serve, "--tls-cert", args.tls_cert, "FILE",
                 "serve TLS 1.2+ with this PEM certificate chain (leaf first); needs --tls-key");
  CLI::Option* tls_key = add_option(serve, "--tls-key", args.tls_key, "FILE",
                                    "the certificate's PEM private key, unencrypted");
  tls_cert->needs(tls_key);
  tls_key->needs(tls_cert);

  CLI::App* migrate = command("migrate-store", "copy DIR's SQLite store into a PostgreSQL database",
                              kMigrateStoreDescription, &run_migrate_store);
  add_option(migrate, "--to", args.to, "URL",
             "the PostgreSQL database (postgresql://USER@HOST/DB), empty or without a store")
      ->required();

  CLI::App* dump = command("dump", "print the server's live rows as one line of canonical JSON",
                           kDumpDescription, &run_dump);
  store_option(dump);
  add_option(dump, "--village", args.village, "ID", "only the rows of that village (scope)");

  CLI::App* snapshot =
      command("snapshot", "build the villages' snapshots that fresh devices download",
              kSnapshotDescription, &run_snapshot);
  store_option(snapshot);
  add_option(snapshot, "--schema", args.schema, "FILE",
             "the schema 'serve' runs with; default: the one DIR remembers, else the "
             "built-in one");
  add_option(snapshot, "--village", args.village, "ID", "only that village");

  CLI::App* audit = command("audit", "print the audit log, one JSON object per line",
                            kAuditDescription, &run_audit);
  store_option(audit);
  add_option(audit, "--village", args.village, "ID",
             "only the entries of rows of that village (scope); a refused insert of a row the "
             "server never had has none");
  CLI::Option* row =
      expect(add_option(audit, "--row", args.row, "TABLE/ID", "only the entries of that row"),
             "TABLE/ID", [](std::string_view text) {
               const std::size_t slash = text.find('/');
               return slash != std::string_view::npos && slash != 0 && slash + 1 != text.size();
             });
  // --data, or --from alone.
  CLI::Option* audit_data = audit->get_option("--data");
  audit_data->required(false)->description("the server's data directory; required but with --from");
  CLI::Option* archive_before =
      add_option(audit, "--archive-before", args.archive_before, "DATE",
                 "move the entries older than DATE (UTC: YYYY-MM-DD or an RFC 3339 time) into "
                 "--out FILE");
  CLI::Option* audit_out = add_option(audit, "--out", args.out, "FILE",
                                      "the new archive file that --archive-before writes");
  CLI::Option* audit_from =
      add_option(audit, "--from", args.from, "FILE",
                 "print the entries of this archive, not of a data directory");
  archive_before->needs(audit_out)->needs(audit_data)->excludes(audit_from);
  audit_out->needs(archive_before);
  audit_from->excludes(audit_data);
  archive_before->excludes(audit->get_option("--village"))->excludes(row);

  CLI::App* token =
      command("token", "issue a signed bearer token for an officer", kTokenDescription, &run_token,
              "the server's data directory; its signing key is created on first use");
  store_option(token);
  add_option(token, "--officer", args.officer, "ID", "who the token speaks for")->required();
  add_option(token, "--villages", args.villages, "V1,V2",
             "the villages it grants, comma-separated; not needed for admin");
  using lumbung::auth::Role;
  lumbung::tools::expect_one_of(
      add_option(token, "--role", args.role, "ROLE", "officer (default), supervisor or admin"),
      {std::string(role_name(Role::kOfficer)), std::string(role_name(Role::kSupervisor)),
       std::string(role_name(Role::kAdmin))});
  expect(add_option(token, "--ttl", args.ttl, "DURATION",
                    "how long it is valid: a number and a unit, e.g. 30d, 12h, 90m, 3600s; "
                    "default 30d"),
         "a number and a unit, e.g. 30d, 12h, 90m, 3600s",
         [](std::string_view text) { return parse_duration(text).has_value(); });
  add_option(token, "--device", args.device, "ID",
             "bind it to this device id now; default: the first device that uses it");

  CLI::App* grant = command("grant", "grant an officer villages, a district, a province or all",
                            kGrantDescription, &run_grant,
                            "the server's data directory; created when missing (0700)");
  store_option(grant);
  add_option(grant, "--officer", args.officer, "ID", "the officer; created at its first grant")
      ->required();
  add_option(grant, "--villages", args.villages, "V1,V2", "villages by id, comma-separated");
  add_option(grant, "--district", args.district, "D",
             "every village whose district column holds D, now and later");
  add_option(grant, "--province", args.province, "P",
             "every village whose province column holds P, now and later");
  add_switch(grant, "--all", args.all, "every village");
  lumbung::tools::expect_one_of(
      add_option(grant, "--role", args.role, "ROLE",
                 "set the role: officer, supervisor or admin; default: the officer's, or "
                 "officer for a new one"),
      {std::string(role_name(Role::kOfficer)), std::string(role_name(Role::kSupervisor)),
       std::string(role_name(Role::kAdmin))});

  CLI::App* ungrant = command("ungrant", "take villages, a district, a province or all away",
                              kUngrantDescription, &run_ungrant);
  store_option(ungrant);
  add_option(ungrant, "--officer", args.officer, "ID", "the officer")->required();
  CLI::Option_group* taken = ungrant->add_option_group("what");
  add_option(taken, "--villages", args.villages, "V1,V2", "villages by id, comma-separated");
  add_option(taken, "--district", args.district, "D", "a district granted");
  add_option(taken, "--province", args.province, "P", "a province granted");
  add_switch(taken, "--all", args.all, "the grant of every village");
  taken->require_option(1);

  CLI::App* officers = command("officers", "list officers: role, grants, devices and tokens",
                               kOfficersDescription, &run_officers);
  store_option(officers);
  add_switch(officers, "--json", args.json, "one JSON object per officer per line");

  CLI::App* revoke = command("revoke", "revoke a token, an officer's or a device's, at once",
                             kRevokeDescription, &run_revoke);
  store_option(revoke);
  CLI::Option_group* revoked = revoke->add_option_group("which");
  add_option(revoked, "--token-id", args.token_id, "ID", "one token: 32 hex digits");
  add_option(revoked, "--officer", args.revoke_officer, "ID", "every token of the officer");
  add_option(revoked, "--device", args.device, "ID", "every token of the device");
  revoked->require_option(1);

  CLI::App* tokens = command("tokens", "list every issued token: officer, expiry, revoked",
                             kTokensDescription, &run_tokens);
  store_option(tokens);
  add_switch(tokens, "--json", args.json, "one JSON object per token per line");

  CLI::App* devices =
      command("devices", "the fleet view: each device's officer, versions, last sync, villages",
              kDevicesDescription, &run_devices);
  store_option(devices);
  add_option(devices, "--village", args.village, "V", "only devices whose last pull served V");
  expect_number(add_option(devices, "--stale", args.stale, "DAYS",
                           "only devices not seen for DAYS days or more"),
                0, 36500, "a number of days from 0 to 36500");
  add_switch(devices, "--json", args.json, "one JSON object per device per line");

  command("rotate-key", "make a new signing key current", kRotateKeyDescription, &run_rotate_key);

  CLI::App* retire_key =
      command("retire-key", "delete an old signing key", kRetireKeyDescription, &run_retire_key);
  add_option(retire_key, "--key-id", args.key_id, "ID",
             "16 hex digits, as 'lumbungd token' and 'rotate-key' print")
      ->required();

  CLI::App* backup = command("backup", "write the server's state to one file while it serves",
                             kBackupDescription, &run_backup);
  store_option(backup);
  add_option(backup, "--out", args.out, "FILE", "the backup file")->required();
  add_switch(backup, "--with-snapshots", args.with_snapshots,
             "also each village's newest snapshot (DIR/snapshots); default: without them "
             "('lumbungd snapshot' rebuilds them)");

  CLI::App* restore =
      command("restore", "put a backup's state in a data directory", kRestoreDescription,
              &run_restore, "the data directory to restore into; created when missing");
  store_option(restore);
  add_option(restore, "--from", args.from, "FILE", "the backup file")->required();
  add_switch(restore, "--force", args.force,
             "replace the state of a DIR that is not empty: its store, credentials, keys and "
             "snapshots (those of the old state go; other files stay); with --store, also the "
             "store of a database that holds data");

  CLI::App* import = command("import", "load a register from a CSV file as an officer's changes",
                             kImportDescription, &run_import);
  store_option(import);
  add_option(import, "--table", args.table, "T", "the table the rows go to")->required();
  add_option(import, "--csv", args.csv_file, "FILE", "the CSV file; '-' reads stdin")->required();
  add_option(import, "--officer", args.officer, "ID",
             "on whose behalf the rows are written: an officer granted their villages")
      ->required();
  add_option(import, "--schema", args.schema, "FILE",
             "the schema 'serve' runs with; default: the one DIR remembers, else the "
             "built-in one");

  CLI::App* export_csv =
      command("export", "write a table's merged rows as CSV", kExportDescription, &run_export);
  store_option(export_csv);
  add_option(export_csv, "--table", args.table, "T", "the table")->required();
  add_switch(export_csv, "--csv", args.csv, "as CSV (the one format)")->required();
  add_option(export_csv, "--out", args.out, "FILE", "write to FILE instead of stdout");
  add_option(export_csv, "--village", args.village, "ID", "only the rows of that village (scope)");
  add_option(export_csv, "--schema", args.schema, "FILE",
             "the schema 'serve' runs with; default: the one DIR remembers, else the "
             "built-in one");

  CLI::App* check_config =
      program.command("check-config", "check a configuration file of 'serve' without serving",
                      kCheckConfigDescription, [&args] { return run_check_config(args); });
  add_option(check_config, "--config", args.config, "FILE", "the configuration file (TOML)")
      ->required();
  return serve;
}

int run_check_config(const Args& args) {
  // The serve command's own parser and checks, on options of its own.
  Args checked;
  lumbung::tools::Program checker("lumbungd", "", "");
  const CLI::App* serve = declare_commands(checker, checked);
  Result<std::vector<std::string>> line = lumbung::tools::serve_arguments(
      {"--config", *args.config}, serve_options_of(*serve), process_environment);
  if (!line) return fail(line.status());
  line->insert(line->begin(), "serve");
  if (const int parsed = checker.check(*line); parsed != kExitOk) return parsed;
  const Result<bool> loopback = lumbung::net::is_loopback_host(
      lumbung::net::parse_host_port(checked.listen, std::nullopt)->host);
  if (!loopback) return fail(loopback.status());
  if (std::optional<std::string> problem = serve_usage_problem(checked, *loopback)) {
    return program().usage_error("serve", *problem);
  }
  if (checked.metrics_listen) {
    const Result<bool> resolved = lumbung::net::is_loopback_host(
        lumbung::net::parse_host_port(*checked.metrics_listen, std::nullopt)->host);
    if (!resolved) return fail(resolved.status());
  }
  if (checked.schema) {
    Result<std::string> text = read_schema(*checked.schema);
    if (!text) return fail(text.status());
    const Result<lumbung::core::Schema> schema = lumbung::db::load_schema(*text, *checked.schema);
    if (!schema) return fail(schema.status());
  }
  if (checked.tls_cert) {
    const auto context = lumbung::net::server_tls_context(*checked.tls_cert, *checked.tls_key);
    if (!context) return fail(context.status());
  }
  std::error_code ec;
  const std::filesystem::path data = std::filesystem::absolute(checked.data, ec);
  if (std::filesystem::exists(data, ec) ? !std::filesystem::is_directory(data, ec)
                                        : !std::filesystem::is_directory(data.parent_path(), ec)) {
    return fail(Status(ErrorCode::kNotFound, "data directory '" + checked.data +
                                                 "' is not a directory and cannot be created"));
  }
  using lumbung::tools::Json;
  const auto or_null = [](const std::optional<std::string>& text) {
    return text ? Json(*text) : Json();
  };
  std::cout << lumbung::tools::dump_line(
                   Json{{"auth", checked.insecure_no_auth ? "off" : "tokens"},
                        {"config", *args.config},
                        {"data", checked.data},
                        {"listen", checked.listen},
                        {"metrics_listen", or_null(checked.metrics_listen)},
                        {"schema", or_null(checked.schema)},
                        {"store", checked.store.empty()
                                      ? Json("sqlite")
                                      : Json(lumbung::server::printable_store_url(checked.store))},
                        {"tls", checked.tls_cert.has_value()}})
            << '\n';
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  // What the daemon creates is its owner's alone, whatever umask it was
  // started with (docs/decisions/0019-backup-file.md, "Modes").
  ::umask(077);
  static Args args;
  const CLI::App* serve = declare_commands(program(), args);
  std::vector<std::string> line(argv + 1, argv + argc);
  // serve's options from its --config file and LUMBUNGD_* variables join
  // the line, unless help is asked for.
  const bool help = std::any_of(line.begin(), line.end(), [](const std::string& arg) {
    return arg == "--help" || arg == "-h";
  });
  if (!line.empty() && line.front() == "serve" && !help) {
    Result<std::vector<std::string>> expanded = lumbung::tools::serve_arguments(
        {line.begin() + 1, line.end()}, serve_options_of(*serve), process_environment);
    if (!expanded) return fail(expanded.status());
    line.resize(1);
    line.insert(line.end(), expanded->begin(), expanded->end());
  }
  return program().run(std::move(line));
}
