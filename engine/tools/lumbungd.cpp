// lumbungd: the merge daemon. A thin main over the protocol core
// (server/sync_server.hpp) and the HTTP server (net/http_server.hpp). Exit
// status: 0 success, 1 error, 2 usage error, as for `lumbung`.
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "auth/token.hpp"
#include "auth/token_authority.hpp"
#include "command_line.hpp"
#include "core/canonical_json.hpp"
#include "core/split.hpp"
#include "lumbung/status.hpp"
#include "lumbung/value.hpp"
#include "net/host_port.hpp"
#include "net/http_server.hpp"
#include "server/backup.hpp"
#include "server/restore.hpp"
#include "server/sqlite_store.hpp"
#include "server/sync_server.hpp"
#include "snapshot/snapshot_builder.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::Result;
using lumbung::Status;
using lumbung::Value;
using lumbung::server::SyncServer;

using lumbung::tools::Args;
using lumbung::tools::Command;
using lumbung::tools::kExitError;
using lumbung::tools::kExitOk;

constexpr std::string_view kProgram = "lumbungd";

constexpr std::string_view kDefaultListen = "127.0.0.1:8787";

constexpr std::string_view kMainHelp = R"(usage: lumbungd COMMAND --data DIR [ARGS...]

The Lumbung merge daemon: serves the sync protocol over HTTP from one data
directory.

Commands:
  serve       serve devices until SIGTERM or SIGINT
  dump        print the server's live rows as one line of canonical JSON
  snapshot    build the villages' snapshots that fresh devices download
  audit       print the audit log, one JSON object per line
  token       issue a signed bearer token for an officer
  revoke      revoke a token at once
  rotate-key  make a new signing key current
  retire-key  delete an old signing key
  backup      write the server's state to one file while it serves
  restore     put a backup's state in a data directory

'lumbungd COMMAND --help' describes one command.
Options take their value as '--data DIR' or '--data=DIR'.
One 'serve' or 'restore' at a time may use a data directory.

Exit status: 0 success, 1 error (message on stderr), 2 usage error.
)";

int fail(const Status& status) { return lumbung::tools::fail(kProgram, status); }

int usage_error(std::string_view command, const std::string& message) {
  return lumbung::tools::usage_error(kProgram, command, message);
}

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

// A decimal number in [min, max], or nullopt.
std::optional<unsigned> parse_number(std::string_view text, unsigned min, unsigned max) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return std::nullopt;
  }
  return value;
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

constexpr std::string_view kServeHelp =
    R"(usage: lumbungd serve --data DIR [--listen HOST:PORT] [--schema FILE]
                      [--max-clock-skew SECONDS] [--threads N]
                      [--insecure-no-auth] [--tls-cert FILE --tls-key FILE]

Serves the sync protocol (docs/protocol.md) over HTTP, or HTTPS with
--tls-cert. Prints 'lumbungd listening on http://HOST:PORT' (https://...
with TLS) once it accepts connections. On
SIGTERM or SIGINT it stops accepting, answers the requests in flight and
exits 0. Refused while another 'serve' or a 'restore' uses DIR.
  --data DIR                the server's store; created when missing (0700)
  --listen HOST:PORT        default 127.0.0.1:8787; port 0 picks a free port
  --schema FILE             the schema (JSON, docs/schema-format.md); default:
                            the built-in Desmigratif schema
  --max-clock-skew SECONDS  device stamps further ahead of server time are
                            re-stamped; default 300
  --threads N               threads serving requests; default: one per core
  --insecure-no-auth        serve every request without a token, as an admin:
                            for local experiments only (warns at start)
  --tls-cert FILE           serve TLS 1.2+ with this PEM certificate chain
                            (leaf first); needs --tls-key
  --tls-key FILE            the certificate's PEM private key, unencrypted
)";

int run_serve(const Args& args) {
  // Every usage error before anything is opened.
  const std::string_view listen = args.get("--listen").value_or(kDefaultListen);
  const std::optional<lumbung::net::HostPort> address =
      lumbung::net::parse_host_port(listen, std::nullopt);
  if (!address) {
    return usage_error("serve",
                       "malformed --listen '" + std::string(listen) + "': expected HOST:PORT");
  }
  lumbung::server::ServerOptions server_options;
  server_options.data_dir = *args.get("--data");
  server_options.insecure_no_auth = args.has("--insecure-no-auth");
  if (const auto skew = args.get("--max-clock-skew")) {
    const std::optional<unsigned> seconds = parse_number(*skew, 0, UINT32_MAX);
    if (!seconds) {
      return usage_error("serve", "malformed --max-clock-skew '" + std::string(*skew) +
                                      "': expected a number of seconds");
    }
    server_options.max_clock_skew = std::chrono::seconds(*seconds);
  }
  lumbung::net::HttpServerOptions http_options;
  http_options.host = address->host;
  http_options.port = address->port;
  http_options.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (const auto threads = args.get("--threads")) {
    const std::optional<unsigned> count = parse_number(*threads, 1, 1024);
    if (!count) {
      return usage_error("serve", "malformed --threads '" + std::string(*threads) +
                                      "': expected a number from 1 to 1024");
    }
    http_options.threads = static_cast<int>(*count);
  }
  if (args.has("--tls-cert") != args.has("--tls-key")) {
    return usage_error("serve", "--tls-cert and --tls-key go together");
  }
  http_options.tls_cert_file = args.get("--tls-cert").value_or("");
  http_options.tls_key_file = args.get("--tls-key").value_or("");
  const bool tls = args.has("--tls-cert");
  if (const auto schema = args.get("--schema")) {
    Result<std::string> text = read_schema(std::string(*schema));
    if (!text) return fail(text.status());
    server_options.schema_text = std::move(*text);
    server_options.schema_source = *schema;
  }

  // Held until the process ends: one serve or restore at a time on DIR.
  Result<std::unique_ptr<lumbung::server::DataDirLock>> lock =
      lumbung::server::lock_data_dir(server_options.data_dir);
  if (!lock) return fail(lock.status());
  Result<std::unique_ptr<SyncServer>> opened = SyncServer::open(server_options);
  if (!opened) return fail(opened.status());
  SyncServer* const sync = opened->get();
  http_options.stop_signals = {SIGINT, SIGTERM};
  http_options.tick = [sync] { sync->tick(); };
  http_options.on_stop = [sync] { sync->stop(); };
  Result<std::unique_ptr<lumbung::net::HttpServer>> server = lumbung::net::HttpServer::start(
      std::move(http_options),
      [sync](lumbung::HttpRequest request, lumbung::net::Responder respond) {
        sync->handle(std::move(request), std::move(respond));
      });
  if (!server) return fail(server.status());
  if (server_options.insecure_no_auth) {
    std::cerr << "lumbungd: WARNING: --insecure-no-auth: every request is served without a "
                 "token, with every right on every village. For local experiments only; never "
                 "expose this daemon to a network.\n";
  }
  // An IPv6 literal needs its brackets back in a URL.
  const bool ipv6 = address->host.find(':') != std::string::npos;
  std::cout << "lumbungd listening on " << (tls ? "https://" : "http://") << (ipv6 ? "[" : "")
            << address->host << (ipv6 ? "]" : "") << ':' << (*server)->port() << std::endl;
  (*server)->wait();
  return kExitOk;
}

// --- dump ---

constexpr std::string_view kDumpHelp = R"(usage: lumbungd dump --data DIR [--village ID]

Prints every live row of the server's state as canonical JSON on one line, in
the format of 'lumbung dump': {"table":{"id":{"column":value}}}, keys sorted.
A device that has synced everything it may read holds exactly this.
  --village ID   only the rows of that village (scope)
)";

int run_dump(const Args& args) {
  lumbung::server::ServerOptions options;
  options.data_dir = *args.get("--data");
  options.insecure_no_auth = true;  // serves no request
  if (Status dir = check_data_dir(options.data_dir); !dir) return fail(dir);
  Result<std::unique_ptr<SyncServer>> server = SyncServer::open(options);
  if (!server) return fail(server.status());
  std::optional<std::string> village;
  if (const auto id = args.get("--village")) village = std::string(*id);
  Result<std::string> dump = (*server)->dump_json(village);
  if (!dump) return fail(dump.status());
  std::cout << *dump << '\n';
  return kExitOk;
}

// --- snapshot ---

constexpr std::string_view kSnapshotHelp =
    R"(usage: lumbungd snapshot --data DIR [--schema FILE] [--village ID]

Builds, for each village, a snapshot: its rows at the current seq in one
compressed SQLite file under DIR/snapshots, which 'serve' hands to a fresh
device (one that has never pulled) instead of sending every row in pages;
the device then pulls only what changed since (docs/protocol.md, "Snapshot").
A rebuild reads only the changes since the last one; a village with no change
keeps its snapshot. Run it from cron or after a large import; it can run while
'lumbungd serve' runs on DIR, but not twice at once. Prints one JSON object
per village: {"bytes":N,"rebuilt":true|false,"rows":N,"seq":N,"village":"..."}
  --schema FILE   the schema 'serve' runs with; default: the built-in one
  --village ID    only that village
)";

int run_snapshot(const Args& args) {
  lumbung::snapshot::SnapshotBuildOptions options;
  options.data_dir = *args.get("--data");
  if (Status dir = check_data_dir(options.data_dir); !dir) return fail(dir);
  if (const auto schema = args.get("--schema")) {
    Result<std::string> text = read_schema(std::string(*schema));
    if (!text) return fail(text.status());
    options.schema_text = std::move(text).value();
    options.schema_source = std::string(*schema);
  }
  if (const auto village = args.get("--village")) options.village = std::string(*village);
  Result<std::vector<lumbung::snapshot::BuiltSnapshot>> built =
      lumbung::snapshot::build_snapshots(options);
  if (!built) return fail(built.status());
  for (const lumbung::snapshot::BuiltSnapshot& snapshot : *built) {
    std::cout << "{\"bytes\":" << snapshot.bytes
              << ",\"rebuilt\":" << (snapshot.rebuilt ? "true" : "false")
              << ",\"rows\":" << snapshot.rows << ",\"seq\":" << snapshot.seq
              << ",\"village\":" << lumbung::core::canonical_json(Value(snapshot.scope)) << "}\n";
  }
  return kExitOk;
}

// --- audit ---

constexpr std::string_view kAuditHelp =
    R"(usage: lumbungd audit --data DIR [--village ID] [--row TABLE/ID]

Prints the audit log, oldest first, one JSON object per line, keys sorted:
  {"column":null|"...","conflict_id":null|N,"detail":"...","device":"...",
   "new":value,"officer":"...","old":value,"outcome":"...","row":"...",
   "scope":null|"...","seq":null|N,"table":"...","time_ms":N}
Every change a device pushed is there (outcome applied, superseded or
refused; "detail" says why it was refused), and every conflict resolution
(outcome resolved_server, resolved_device or resolved_value, with the
conflict's id). "officer" is who the request's token speaks for (empty for
requests served with --insecure-no-auth), "device" the device it came from,
"seq" the seq the change got (null when none), "time_ms" the server's time in
ms since the Unix epoch. Values are written as in 'lumbung get'. It can run
while 'lumbungd serve' runs on DIR.
  --village ID      only the entries of rows of that village (scope); a
                    refused insert of a row the server never had has none
  --row TABLE/ID    only the entries of that row
)";

int run_audit(const Args& args) {
  lumbung::server::AuditQuery query;
  if (const auto village = args.get("--village")) query.scope = std::string(*village);
  if (const auto row = args.get("--row")) {
    const std::size_t slash = row->find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == row->size()) {
      return usage_error("audit", "malformed --row '" + std::string(*row) + "': expected TABLE/ID");
    }
    query.table = std::string(row->substr(0, slash));
    query.row_id = std::string(row->substr(slash + 1));
  }
  const std::string data_dir(*args.get("--data"));
  if (Status dir = check_data_dir(data_dir); !dir) return fail(dir);
  // The store alone: the log needs no schema, and no token is checked.
  Result<std::unique_ptr<lumbung::server::SqliteStore>> store =
      lumbung::server::SqliteStore::open(data_dir);
  if (!store) return fail(store.status());
  const auto text_or_null = [](const std::string& text) {
    return text.empty() ? Value() : Value(text);
  };
  const Status read = (*store)->read([&](lumbung::server::ReadTransaction& txn) {
    return txn.scan_audit(query, [&](const lumbung::server::AuditEntry& entry) {
      const lumbung::Row line = {
          {"column", text_or_null(entry.column)},
          {"conflict_id",
           entry.conflict_id == 0 ? Value() : Value(static_cast<std::int64_t>(entry.conflict_id))},
          {"detail", Value(entry.detail)},
          {"device", Value(entry.device_id)},
          {"new", entry.new_value},
          {"officer", Value(entry.officer)},
          {"old", entry.old_value},
          {"outcome", Value(entry.outcome)},
          {"row", Value(entry.row_id)},
          {"scope", text_or_null(entry.scope)},
          {"seq", entry.seq == 0 ? Value() : Value(entry.seq)},
          {"table", Value(entry.table)},
          {"time_ms", Value(entry.time_ms)}};
      std::cout << lumbung::core::canonical_json(line) << '\n';
    });
  });
  return read ? kExitOk : fail(read);
}

// --- token, revoke, rotate-key, retire-key ---

constexpr std::string_view kTokenHelp =
    R"(usage: lumbungd token --data DIR --officer ID --villages V1,V2
                      [--role officer|supervisor|admin] [--ttl DURATION] [--device ID]

Issues a signed bearer token (docs/decisions/0007-bearer-tokens.md). Prints
the token on the first line of stdout, and its token id, key id and expiry on
stderr. A device sends it as 'Authorization: Bearer TOKEN'.
  --data DIR        the server's data directory; its signing key is created
                    on first use
  --officer ID      who the token speaks for
  --villages V1,V2  the villages it grants, comma-separated; not needed for admin
  --role ROLE       officer (default), supervisor or admin
  --ttl DURATION    how long it is valid: a number and a unit, e.g. 30d, 12h,
                    90m, 3600s; default 30d
  --device ID       bind it to this device id now; default: the first device
                    that uses it
)";

// "30d", "12h", "90m", "3600s".
std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  static const std::map<char, std::int64_t> kUnitSeconds = {
      {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
  if (text.empty() || !kUnitSeconds.contains(text.back())) return std::nullopt;
  const std::optional<unsigned> count =
      parse_number(text.substr(0, text.size() - 1), 0, UINT32_MAX);
  if (!count) return std::nullopt;
  return std::chrono::seconds(*count * kUnitSeconds.at(text.back()));
}

int run_token(const Args& args) {
  lumbung::auth::TokenRequest request;
  const std::optional<std::string_view> officer = args.get("--officer");
  if (!officer) return usage_error("token", "missing --officer ID");
  request.officer = *officer;
  if (const auto role = args.get("--role")) {
    const std::optional<lumbung::auth::Role> parsed = lumbung::auth::parse_role(*role);
    if (!parsed) {
      return usage_error("token", "unknown --role '" + std::string(*role) +
                                      "': expected officer, supervisor or admin");
    }
    request.role = *parsed;
  }
  if (const auto villages = args.get("--villages")) {
    // Empty pieces stay, for issue() to refuse by name.
    for (std::string& village : lumbung::core::split(*villages, ',')) {
      request.villages.insert(std::move(village));
    }
  }
  if (const auto ttl = args.get("--ttl")) {
    const std::optional<std::chrono::seconds> duration = parse_duration(*ttl);
    if (!duration) {
      return usage_error("token", "malformed --ttl '" + std::string(*ttl) +
                                      "': expected a number and a unit, e.g. 30d, 12h, 90m, 3600s");
    }
    request.ttl = *duration;
  }
  if (const auto device = args.get("--device")) request.device_id = *device;

  Result<std::unique_ptr<lumbung::auth::TokenAuthority>> authority =
      lumbung::auth::TokenAuthority::open(std::string(*args.get("--data")), nullptr);
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
  const std::string data_dir(*args.get("--data"));
  if (Status dir = check_data_dir(data_dir); !dir) return dir;
  return lumbung::auth::TokenAuthority::open(data_dir, nullptr);
}

constexpr std::string_view kRevokeHelp = R"(usage: lumbungd revoke --data DIR --token-id ID

Revokes a token: from its next request on, a running 'lumbungd serve' on DIR
refuses it with 401 TokenRevoked. ID is the token id 'lumbungd token' printed.
  --token-id ID   32 hex digits
)";

int run_revoke(const Args& args) {
  const std::optional<std::string_view> token_id = args.get("--token-id");
  if (!token_id) return usage_error("revoke", "missing --token-id ID");
  Result<std::unique_ptr<lumbung::auth::TokenAuthority>> authority = open_existing_authority(args);
  if (!authority) return fail(authority.status());
  const Status revoked = (*authority)->revoke(*token_id);
  return revoked ? kExitOk : fail(revoked);
}

constexpr std::string_view kRotateKeyHelp = R"(usage: lumbungd rotate-key --data DIR

Creates a signing key and makes it current: new tokens are signed with it,
tokens signed with older keys keep working until those keys are retired.
Prints the new key id on stdout.
)";

int run_rotate_key(const Args& args) {
  Result<std::unique_ptr<lumbung::auth::TokenAuthority>> authority = open_existing_authority(args);
  if (!authority) return fail(authority.status());
  Result<std::string> key_id = (*authority)->rotate_key();
  if (!key_id) return fail(key_id.status());
  std::cout << *key_id << '\n';
  return kExitOk;
}

constexpr std::string_view kRetireKeyHelp = R"(usage: lumbungd retire-key --data DIR --key-id ID

Deletes a signing key: every token it signed is refused from then on (401
TokenForged). The current key cannot be retired; rotate-key first.
  --key-id ID   16 hex digits, as 'lumbungd token' and 'rotate-key' print
)";

int run_retire_key(const Args& args) {
  const std::optional<std::string_view> key_id = args.get("--key-id");
  if (!key_id) return usage_error("retire-key", "missing --key-id ID");
  Result<std::unique_ptr<lumbung::auth::TokenAuthority>> authority = open_existing_authority(args);
  if (!authority) return fail(authority.status());
  const Status retired = (*authority)->retire_key(*key_id);
  return retired ? kExitOk : fail(retired);
}

// --- backup, restore ---

constexpr std::string_view kBackupHelp =
    R"(usage: lumbungd backup --data DIR --out FILE [--with-snapshots]

Writes the server's state to one backup file: the store, the credential
store and the signing keys, each copied as it stood at one moment, while
'lumbungd serve' goes on serving DIR. FILE is written under a temporary name
beside it, synced and renamed, so that it is whole or absent; it gets mode
0600 and replaces an existing FILE. It holds personal data: keep it as
carefully as DIR. Prints one JSON object, keys sorted:
{"bytes":N,"last_seq":N,"path":"..."}: the file's size, the store's last seq
in the copy and the file's absolute path. 'lumbungd restore' reads it; the
format is docs/decisions/0019-backup-file.md.
  --out FILE         the backup file
  --with-snapshots   also each village's newest snapshot (DIR/snapshots);
                     default: without them ('lumbungd snapshot' rebuilds them)
)";

int run_backup(const Args& args) {
  const std::optional<std::string_view> out = args.get("--out");
  if (!out) return usage_error("backup", "missing --out FILE");
  lumbung::server::BackupOptions options;
  options.data_dir = *args.get("--data");
  options.out = *out;
  options.with_snapshots = args.has("--with-snapshots");
  Result<lumbung::server::BackupSummary> backup = lumbung::server::back_up(options);
  if (!backup) return fail(backup.status());
  const lumbung::Row line = {{"bytes", Value(static_cast<std::int64_t>(backup->bytes))},
                             {"last_seq", Value(backup->last_seq)},
                             {"path", Value(backup->path)}};
  std::cout << lumbung::core::canonical_json(line) << '\n';
  return kExitOk;
}

constexpr std::string_view kRestoreHelp =
    R"(usage: lumbungd restore --from FILE --data DIR [--force]

Puts the state a backup file holds ('lumbungd backup') in DIR, created when
missing. The whole file is checked first: its format, its checksum, and its
store with SQLite's integrity check; a file cut short, damaged or of
something else is refused and DIR is left as it was. The state is unpacked
in DIR/restore-staging and swapped in, so that a crash never leaves a mix of
the old and the new (the next 'serve' or 'restore' finishes a swap a crash
cut short). The restored state begins a new server epoch: at their next sync
devices see that the server went back in time and offer again what it lacks.
Refused while 'lumbungd serve' runs on DIR. Prints one JSON object, keys
sorted: {"epoch":"...","last_seq":N,"path":"..."}: the new epoch, the
restored store's last seq and DIR's absolute path.
  --from FILE   the backup file
  --force       replace the state of a DIR that is not empty: its store,
                credentials, keys and snapshots (those of the old state go;
                other files stay)
)";

int run_restore(const Args& args) {
  const std::optional<std::string_view> from = args.get("--from");
  if (!from) return usage_error("restore", "missing --from FILE");
  lumbung::server::RestoreOptions options;
  options.from = *from;
  options.data_dir = *args.get("--data");
  options.force = args.has("--force");
  Result<lumbung::server::RestoreSummary> restored = lumbung::server::restore_backup(options);
  if (!restored) return fail(restored.status());
  const lumbung::Row line = {{"epoch", Value(restored->epoch)},
                             {"last_seq", Value(restored->last_seq)},
                             {"path", Value(restored->data_dir)}};
  std::cout << lumbung::core::canonical_json(line) << '\n';
  return kExitOk;
}

// --- the command table ---

const lumbung::tools::Program& program() {
  static const lumbung::tools::Program kLumbungd = {
      .name = kProgram,
      .help = kMainHelp,
      .required_option = "--data",
      .required_value = "DIR",
      .commands = {
          {.name = "serve",
           .options = {"--data", "--listen", "--schema", "--max-clock-skew", "--threads",
                       "--tls-cert", "--tls-key"},
           .switches = {"--insecure-no-auth"},
           .help = kServeHelp,
           .run = &run_serve},
          {.name = "dump", .options = {"--data", "--village"}, .help = kDumpHelp, .run = &run_dump},
          {.name = "snapshot",
           .options = {"--data", "--schema", "--village"},
           .help = kSnapshotHelp,
           .run = &run_snapshot},
          {.name = "audit",
           .options = {"--data", "--village", "--row"},
           .help = kAuditHelp,
           .run = &run_audit},
          {.name = "token",
           .options = {"--data", "--officer", "--villages", "--role", "--ttl", "--device"},
           .help = kTokenHelp,
           .run = &run_token},
          {.name = "revoke",
           .options = {"--data", "--token-id"},
           .help = kRevokeHelp,
           .run = &run_revoke},
          {.name = "rotate-key",
           .options = {"--data"},
           .help = kRotateKeyHelp,
           .run = &run_rotate_key},
          {.name = "retire-key",
           .options = {"--data", "--key-id"},
           .help = kRetireKeyHelp,
           .run = &run_retire_key},
          {.name = "backup",
           .options = {"--data", "--out"},
           .switches = {"--with-snapshots"},
           .help = kBackupHelp,
           .run = &run_backup},
          {.name = "restore",
           .options = {"--data", "--from"},
           .switches = {"--force"},
           .help = kRestoreHelp,
           .run = &run_restore},
      }};
  return kLumbungd;
}

}  // namespace

int main(int argc, char** argv) {
  // What the daemon creates is its owner's alone, whatever umask it was
  // started with (docs/decisions/0019-backup-file.md, "Modes").
  ::umask(077);
  return lumbung::tools::run_program(program(), argc, argv);
}
