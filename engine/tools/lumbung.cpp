// lumbung: a command-line tool over one replica file, for scripts, demos and
// support. A thin main over the public API (lumbung/replica.hpp); its manual
// is docs/cli.md. Exit status: 0 success, 1 error, 2 usage error.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command_line.hpp"
#include "core/split.hpp"
#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "lumbung/status.hpp"
#include "lumbung/sync.hpp"
#include "lumbung/value.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::PendingChange;
using lumbung::Replica;
using lumbung::Result;
using lumbung::Status;
using Json = nlohmann::ordered_json;

using lumbung::tools::Args;
using lumbung::tools::Command;
using lumbung::tools::kExitError;
using lumbung::tools::kExitOk;

constexpr std::string_view kProgram = "lumbung";

// The key travels in the environment, not in argv, where every user of the
// machine can read it (ps, shell history).
constexpr const char* kKeyVariable = "LUMBUNG_KEY";
// The ID that asks `put` for a new UUIDv7.
constexpr std::string_view kNewId = "new";

constexpr std::string_view kMainHelp = R"(usage: lumbung COMMAND --db FILE [ARGS...]

Reads and writes one Lumbung replica file.

Commands:
  init      create a replica file
  put       insert a row, or update some of its cells
  delete    delete a row
  get       print one row as JSON
  dump      print every live row as one line of canonical JSON
  status    print pending and refused changes and the last sync as JSON
  pending   list the changes waiting to be pushed to the server
  sync      push pending changes to the server, pull until caught up
  conflicts list the concurrent edits the server resolved, as JSON
  resolve   settle a conflict pending review: keep a side, or a new value
  set-token replace the bearer token the replica syncs with

'lumbung COMMAND --help' describes one command; docs/cli.md all of them.
Options take their value as '--db FILE' or '--db=FILE'.

Environment:
  LUMBUNG_KEY   the key of an encrypted replica (SQLCipher builds)

Exit status: 0 success, 1 error (message on stderr), 2 usage error.
)";

int fail(const Status& status) { return lumbung::tools::fail(kProgram, status); }

int usage_error(std::string_view command, const std::string& message) {
  return lumbung::tools::usage_error(kProgram, command, message);
}

lumbung::ReplicaOptions replica_options(const Args& args) {
  lumbung::ReplicaOptions options;
  options.path = args.options.at("--db");
  if (const char* key = std::getenv(kKeyVariable)) options.key = key;
  return options;
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::status(path, ec).type() != std::filesystem::file_type::not_found;
}

// Replica::open creates a missing file; every command but init refuses one
// instead, so that a mistyped --db does not leave an empty replica behind.
Result<std::unique_ptr<Replica>> open_existing(const Args& args) {
  const lumbung::ReplicaOptions options = replica_options(args);
  if (!file_exists(options.path)) {
    return Status(ErrorCode::kNotFound, "replica file '" + options.path +
                                            "' does not exist (create it with 'lumbung init')");
  }
  return Replica::open(options);
}

Result<std::string> read_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    const int error = errno;
    return Status(error == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                  "cannot read '" + path + "': " + std::strerror(error));
  }
  std::string text;
  char buffer[65536];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, n);
  if (std::ferror(file.get())) {
    return Status(ErrorCode::kIo, "cannot read '" + path + "': " + std::strerror(errno));
  }
  return text;
}

// "2026-11-28T04:07:26.123Z/5": a packed HLC stamp (ms << 16 | logical) as the
// UTC time of its physical part, then its logical counter.
std::string format_stamp(std::int64_t hlc) {
  using namespace std::chrono;
  const sys_time<milliseconds> time{milliseconds{hlc >> 16}};
  const sys_days day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ/%lld",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(clock.hours().count()),
                static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()),
                static_cast<int>(clock.subseconds().count()), static_cast<long long>(hlc & 0xffff));
  return text;
}

// One line of JSON; invalid UTF-8 in a string is replaced rather than thrown on.
std::string dump_line(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// --- init ---

constexpr std::string_view kInitHelp =
    R"(usage: lumbung init --db FILE [--schema FILE] [--server URL] [--token TOKEN]
                    [--ca-file FILE] [--pin sha256/KEY[,sha256/KEY...]]

Creates a new replica file; fails if FILE exists.
  --schema FILE   the schema (JSON, docs/schema-format.md); default: the
                  built-in Desmigratif schema
  --server URL    the sync server (http:// or https://), kept in the file
  --token TOKEN   the device's bearer token, kept in the file
  --ca-file FILE  for https: the PEM file of the CAs to trust instead of the
                  system's; its absolute path is kept in the file
  --pin KEYS      for https: the server's public key must be one of these,
                  comma-separated, as OkHttp pins them; kept in the file
With LUMBUNG_KEY set (SQLCipher builds), the file is encrypted with it.
)";

int run_init(const Args& args) {
  lumbung::ReplicaOptions options = replica_options(args);
  // Settings such as --server are used only when a file is created: opening
  // an existing one here would ignore them silently.
  if (file_exists(options.path)) {
    return fail(
        Status(ErrorCode::kInvalidArgument, "replica file '" + options.path + "' already exists"));
  }
  if (const auto schema = args.options.find("--schema"); schema != args.options.end()) {
    Result<std::string> text = read_file(schema->second);
    if (!text) return fail(text.status());
    // An empty schema_text means the built-in schema: never for a file given.
    if (text->empty()) {
      return fail(Status(ErrorCode::kSchemaInvalid, schema->second + ": the file is empty"));
    }
    options.schema_text = std::move(*text);
    options.schema_source = schema->second;
  }
  if (const auto server = args.options.find("--server"); server != args.options.end()) {
    options.server_url = server->second;
  }
  if (const auto token = args.options.find("--token"); token != args.options.end()) {
    options.token = token->second;
  }
  if (const auto ca_file = args.options.find("--ca-file"); ca_file != args.options.end()) {
    std::error_code ignored;  // an empty result fails the check below
    options.tls.ca_file = std::filesystem::absolute(ca_file->second, ignored).string();
  }
  if (const auto pins = args.options.find("--pin"); pins != args.options.end()) {
    options.tls.pinned_keys = lumbung::core::split(pins->second, ',');
  }
  if (!options.tls.ca_file.empty() || !options.tls.pinned_keys.empty()) {
    if (!options.server_url.starts_with("https://")) {
      return usage_error("init", "--ca-file and --pin need an https:// --server");
    }
    // A missing CA file or a mistyped pin fails now, not at the first sync.
    Result<std::shared_ptr<lumbung::Transport>> checked =
        lumbung::make_http_transport(options.server_url, {.tls = options.tls});
    if (!checked) return fail(checked.status());
  }
  Result<std::unique_ptr<Replica>> replica = Replica::open(options);
  return replica ? kExitOk : fail(replica.status());
}

// --- put ---

constexpr std::string_view kPutHelp = R"(usage: lumbung put --db FILE TABLE ID COL=VALUE...

Writes one row and prints its id. ID "new" inserts a row under a new UUIDv7.
Any other ID inserts that row when it does not exist, and otherwise updates
only the named columns. All cells are written in one transaction, or none.

  COL=VALUE   VALUE is read as the column's declared type: INTEGER "42",
              REAL "-7.25", BLOB as hex digits "00ff", TEXT as given;
              "COL=" sets a TEXT cell to the empty string
  COL:=null   sets the cell to NULL
)";

// One COL=VALUE argument of put; a null `text` sets the cell to NULL.
struct Assignment {
  std::string column;
  std::optional<std::string> text;
};

// "COL=VALUE", or "COL:=null" for NULL; nullopt when malformed.
std::optional<Assignment> parse_assignment(std::string_view arg) {
  const std::size_t eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0) return std::nullopt;
  std::string_view column = arg.substr(0, eq);
  const std::string_view value = arg.substr(eq + 1);
  if (!column.ends_with(':')) return Assignment{std::string(column), std::string(value)};
  column.remove_suffix(1);
  if (column.empty() || value != "null") return std::nullopt;
  return Assignment{std::string(column), std::nullopt};
}

int run_put(const Args& args) {
  const std::string& table = args.positionals[0];
  const std::string& id = args.positionals[1];
  // Check every assignment before opening: a malformed one writes nothing.
  std::vector<Assignment> assignments;
  std::set<std::string, std::less<>> columns;
  for (std::size_t i = 2; i < args.positionals.size(); ++i) {
    std::optional<Assignment> assignment = parse_assignment(args.positionals[i]);
    if (!assignment) {
      return usage_error(
          "put", "malformed '" + args.positionals[i] + "': expected COL=VALUE or COL:=null");
    }
    if (!columns.insert(assignment->column).second) {
      return usage_error("put", "column '" + assignment->column + "' given twice");
    }
    assignments.push_back(std::move(*assignment));
  }
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  lumbung::Row row;
  for (const Assignment& assignment : assignments) {
    if (!assignment.text) {
      row[assignment.column] = lumbung::Value();
      continue;
    }
    Result<lumbung::Value> value =
        (*replica)->parse_cell_text(table, assignment.column, *assignment.text);
    if (!value) return fail(value.status());
    row[assignment.column] = std::move(*value);
  }
  if (id == kNewId) {
    Result<std::string> new_id = (*replica)->insert_new(table, row);
    if (!new_id) return fail(new_id.status());
    std::cout << *new_id << '\n';
    return kExitOk;
  }
  if (Status status = (*replica)->put(table, id, row); !status) return fail(status);
  std::cout << id << '\n';
  return kExitOk;
}

// --- delete, get, dump ---

constexpr std::string_view kDeleteHelp = R"(usage: lumbung delete --db FILE TABLE ID

Deletes one row; fails if there is none.
)";

int run_delete(const Args& args) {
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Status status = (*replica)->remove(args.positionals[0], args.positionals[1]);
  return status ? kExitOk : fail(status);
}

constexpr std::string_view kSetTokenHelp = R"(usage: lumbung set-token --db FILE TOKEN

Replaces the bearer token kept in the replica, which the next sync uses: a new
grant from the operator ('lumbungd token'). A village the new token no longer
grants leaves the replica at the next sync; see docs/security.md.
)";

int run_set_token(const Args& args) {
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Status status = (*replica)->set_token(args.positionals[0]);
  return status ? kExitOk : fail(status);
}

constexpr std::string_view kGetHelp = R"(usage: lumbung get --db FILE TABLE ID

Prints one row as a JSON object on one line, keys sorted; fails if there is none.
)";

int run_get(const Args& args) {
  const std::string& table = args.positionals[0];
  const std::string& id = args.positionals[1];
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Result<std::optional<lumbung::Row>> row = (*replica)->get(table, id);
  if (!row) return fail(row.status());
  if (!*row) {
    return fail(Status(ErrorCode::kNotFound, "table '" + table + "': no row with id '" + id + "'"));
  }
  std::cout << lumbung::to_json(**row) << '\n';
  return kExitOk;
}

constexpr std::string_view kDumpHelp = R"(usage: lumbung dump --db FILE

Prints every live row of every synced table as canonical JSON on one line:
{"table":{"id":{"column":value}}}, keys sorted, blobs as {"base64":"..."}.
Two replicas hold the same data exactly when their dumps are equal.
)";

int run_dump(const Args& args) {
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Result<std::string> dump = (*replica)->dump_json();
  if (!dump) return fail(dump.status());
  std::cout << *dump << '\n';
  return kExitOk;
}

// --- status, pending ---

constexpr std::string_view kStatusHelp = R"(usage: lumbung status --db FILE

Prints the replica's sync status as JSON on one line:
  {"pending_changes":N,"refused_changes":N,"last_sync":null|"ISO-8601 UTC",
   "device_id":"...","schema_version":N,"server":"URL","refused":[...]}
"refused" lists the changes the server refused, oldest first:
  {"table","id","column":null|"...","reason","message","hlc","stamp"}
)";

int run_status(const Args& args) {
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Result<lumbung::ReplicaStatus> status = (*replica)->status();
  if (!status) return fail(status.status());
  Json json;
  json["pending_changes"] = status->pending_changes;
  json["refused_changes"] = status->refused_changes;
  json["last_sync"] = status->last_sync ? Json(*status->last_sync) : Json(nullptr);
  json["device_id"] = status->device_id;
  json["schema_version"] = status->schema_version;
  json["server"] = status->server_url;
  Result<std::vector<lumbung::RefusedChange>> refused = (*replica)->refused_changes();
  if (!refused) return fail(refused.status());
  json["refused"] = Json::array();
  for (const lumbung::RefusedChange& change : *refused) {
    json["refused"].push_back(
        {{"table", change.table},
         {"id", change.row_id},
         {"column", change.column.empty() ? Json(nullptr) : Json(change.column)},
         {"reason", change.reason},
         {"message", change.message},
         {"hlc", change.hlc},
         {"stamp", format_stamp(change.hlc)}});
  }
  std::cout << dump_line(json) << '\n';
  return kExitOk;
}

std::string_view kind_name(PendingChange::Kind kind) {
  switch (kind) {
    case PendingChange::Kind::kInsert:
      return "insert";
    case PendingChange::Kind::kUpdate:
      return "update";
    case PendingChange::Kind::kDelete:
      return "delete";
  }
  return "unknown";
}

// "person 0190...: phone changed (stamped 2026-11-28T04:07:26.123Z/0)"
std::string describe(const PendingChange& change) {
  std::string what;
  switch (change.kind) {
    case PendingChange::Kind::kInsert:
      what = "new row";
      break;
    case PendingChange::Kind::kUpdate:
      what = change.column + " changed";
      break;
    case PendingChange::Kind::kDelete:
      what = "deleted";
      break;
  }
  return change.table + " " + change.row_id + ": " + what + " (stamped " +
         format_stamp(change.hlc) + ")";
}

constexpr std::string_view kPendingHelp = R"(usage: lumbung pending --db FILE [--json]

Lists the changes not yet acknowledged by the server, oldest first, one per
line, then a count:
  person 0190f1c2-...: new row (stamped 2026-11-28T04:07:26.123Z/0)
  person 0190f1c2-...: phone changed (stamped 2026-11-28T04:09:02.871Z/0)
  2 pending changes
  --json   print a JSON array instead, one object per change:
           {"table","id","kind":"insert"|"update"|"delete","column":null|"...",
            "hlc":packed stamp,"stamp":"...","base_seq":N}
)";

int run_pending(const Args& args) {
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Result<std::vector<PendingChange>> changes = (*replica)->pending_changes();
  if (!changes) return fail(changes.status());
  if (args.switches.contains("--json")) {
    Json json = Json::array();
    for (const PendingChange& change : *changes) {
      json.push_back({{"table", change.table},
                      {"id", change.row_id},
                      {"kind", kind_name(change.kind)},
                      {"column", change.column.empty() ? Json(nullptr) : Json(change.column)},
                      {"hlc", change.hlc},
                      {"stamp", format_stamp(change.hlc)},
                      {"base_seq", change.base_seq}});
    }
    std::cout << dump_line(json) << '\n';
    return kExitOk;
  }
  for (const PendingChange& change : *changes) std::cout << describe(change) << '\n';
  std::cout << changes->size()
            << (changes->size() == 1 ? " pending change\n" : " pending changes\n");
  return kExitOk;
}

// --- sync, conflicts ---

constexpr std::string_view kSyncHelp =
    R"(usage: lumbung sync --db FILE [--server URL] [--token TOKEN] [--wait SECONDS]

Pushes the pending changes to the server, then pulls until caught up, and
prints what happened as JSON on one line:
  {"pushed":N,"applied":N,"superseded":N,"refused":N,"pulled":N,
   "conflicts":N,"bytes_sent":N,"bytes_received":N}
Lost connections and busy servers are retried with backoff; an interrupted
sync resumes where it broke the next time. Ctrl-C stops it at its next step
(exit 1), a second Ctrl-C at once; either way nothing is lost.
  --server URL      the server for this sync; default: the one kept in FILE
  --token TOKEN     the bearer token for this sync; default: the one kept in FILE
  --wait SECONDS    once caught up, wait up to SECONDS for new changes
)";

// Set by SIGINT and SIGTERM: the sync stops at its next step. A request on
// its way is not interrupted, so a second signal ends the process at once,
// which is safe too: every step of a sync is a transaction.
std::atomic<bool> g_cancel_sync{false};

void cancel_sync(int signal) {
  g_cancel_sync.store(true);
  std::signal(signal, SIG_DFL);
}

// A whole number of seconds, as --wait takes it.
std::optional<std::uint32_t> parse_seconds(const std::string& text) {
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(std::stoul(text));
}

// Sets the transport and token of `options` from --server and --token (sync,
// resolve); without --server, the replica must keep a server URL.
Status connect(const Args& args, Replica& replica, lumbung::SyncOptions* options) {
  Result<lumbung::ReplicaStatus> status = replica.status();
  if (!status) return status.status();
  if (const auto server = args.options.find("--server"); server != args.options.end()) {
    // The TLS settings kept in the file hold for this server too: dropping
    // the pins for it would be a silent downgrade.
    Result<std::shared_ptr<lumbung::Transport>> transport =
        lumbung::make_http_transport(server->second, {.tls = status->tls});
    if (!transport) return transport.status();
    options->transport = std::move(*transport);
  } else if (status->server_url.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "no server to sync with: give --server URL, or create the replica "
                  "with 'lumbung init --server URL'");
  }
  if (const auto token = args.options.find("--token"); token != args.options.end()) {
    options->token = token->second;
  }
  return Status::ok();
}

int run_sync(const Args& args) {
  lumbung::SyncOptions options;
  if (const auto wait = args.options.find("--wait"); wait != args.options.end()) {
    const std::optional<std::uint32_t> seconds = parse_seconds(wait->second);
    if (!seconds) {
      return usage_error("sync",
                         "--wait takes a whole number of seconds, not '" + wait->second + "'");
    }
    options.wait_seconds = *seconds;
  }
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  if (Status connected = connect(args, **replica, &options); !connected) return fail(connected);
  options.cancel = &g_cancel_sync;
  std::signal(SIGINT, cancel_sync);
  std::signal(SIGTERM, cancel_sync);
  Result<lumbung::SyncSummary> summary = (*replica)->sync(options);
  if (!summary) return fail(summary.status());
  Json json;
  json["pushed"] = summary->pushed;
  json["applied"] = summary->applied;
  json["superseded"] = summary->superseded;
  json["refused"] = summary->refused;
  json["pulled"] = summary->pulled;
  json["conflicts"] = summary->conflicts;
  json["bytes_sent"] = summary->bytes_sent;
  json["bytes_received"] = summary->bytes_received;
  std::cout << dump_line(json) << '\n';
  return kExitOk;
}

constexpr std::string_view kConflictsHelp = R"(usage: lumbung conflicts --db FILE

Prints the conflicts the server reported (concurrent edits of one cell, or a
delete that met an edit), oldest first, as a JSON array on one line, one
object per conflict:
  {"id","table","row_id","column":null|"...","policy","server_value",
   "server_device","server_hlc","device_value","device_id","device_hlc",
   "outcome","scope","resolution":null|{"value","by","device","time_ms"}}
Values are written as in 'lumbung get'; policy is last_writer_wins,
server_wins, first_writer_wins, manual_review or delete_wins; outcome is
server_kept, device_applied or pending_review, and once a reviewer settled a
pending_review conflict ('lumbung resolve') resolved_server, resolved_device
or resolved_value, with the value written, the reviewer's officer id and
device, and the server's time in "resolution".
)";

// A value as 'lumbung get' writes it (canonical JSON: a blob as {"base64":...}).
std::string value_json(const lumbung::Value& value) {
  const std::string row = lumbung::to_json({{"v", value}});  // {"v":VALUE}
  return row.substr(5, row.size() - 6);
}

// One conflict as a JSON object on one line (`conflicts`, `resolve`).
std::string conflict_json(const lumbung::ConflictRecord& c) {
  const auto text = [](const std::string& s) { return dump_line(Json(s)); };
  const std::string resolution = c.resolved_ms == 0
                                     ? std::string("null")
                                     : "{\"value\":" + value_json(c.resolved_value) +
                                           ",\"by\":" + text(c.resolved_by) +
                                           ",\"device\":" + text(c.resolved_device) +
                                           ",\"time_ms\":" + std::to_string(c.resolved_ms) + "}";
  return "{\"id\":" + std::to_string(c.id) + ",\"table\":" + text(c.table) +
         ",\"row_id\":" + text(c.row_id) +
         ",\"column\":" + (c.column.empty() ? std::string("null") : text(c.column)) +
         ",\"policy\":" + text(c.policy) + ",\"server_value\":" + value_json(c.server_value) +
         ",\"server_device\":" + text(c.server_device) +
         ",\"server_hlc\":" + std::to_string(c.server_hlc) +
         ",\"device_value\":" + value_json(c.device_value) + ",\"device_id\":" + text(c.device_id) +
         ",\"device_hlc\":" + std::to_string(c.device_hlc) + ",\"outcome\":" + text(c.outcome) +
         ",\"scope\":" + text(c.scope) + ",\"resolution\":" + resolution + "}";
}

int run_conflicts(const Args& args) {
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Result<std::vector<lumbung::ConflictRecord>> conflicts = (*replica)->conflicts();
  if (!conflicts) return fail(conflicts.status());
  std::string line = "[";
  for (const lumbung::ConflictRecord& c : *conflicts) {
    if (line.size() > 1) line += ',';
    line += conflict_json(c);
  }
  std::cout << line << "]\n";
  return kExitOk;
}

constexpr std::string_view kResolveHelp =
    R"(usage: lumbung resolve --db FILE CONFLICT_ID (--value V | --keep server|device)
                      [--server URL] [--token TOKEN]

Settles a conflict pending review (policy manual_review) on the server, and
prints the resolved conflict as JSON on one line, as 'lumbung conflicts' lists
it. The server writes the chosen value as a new version of the cell; every
device of the village, this one included, gets it with its next sync. Needs a
token whose role may resolve conflicts in the conflict's village (supervisor
or admin). Fails for a conflict already resolved.
  --value V        a new value, read as the column's declared type as in
                   'lumbung put' ("42", "-7.25", hex for BLOB, TEXT as given)
  --keep server    keep the value the server had (the conflict's server_value)
  --keep device    keep the value the device sent (the conflict's device_value)
  --server URL     the server; default: the one kept in FILE
  --token TOKEN    the bearer token; default: the one kept in FILE
CONFLICT_ID is the "id" that 'lumbung conflicts' shows; this replica must have
received the conflict (sync first).
)";

int run_resolve(const Args& args) {
  const auto value = args.options.find("--value");
  const auto keep = args.options.find("--keep");
  if ((value == args.options.end()) == (keep == args.options.end())) {
    return usage_error("resolve", "give exactly one of --value V and --keep server|device");
  }
  lumbung::ConflictResolution resolution;
  if (keep != args.options.end()) {
    if (keep->second != "server" && keep->second != "device") {
      return usage_error("resolve",
                         "--keep takes 'server' or 'device', not '" + keep->second + "'");
    }
    resolution.kind = keep->second == "server" ? lumbung::ConflictResolution::Kind::kKeepServer
                                               : lumbung::ConflictResolution::Kind::kKeepDevice;
  }
  const std::string& id_text = args.positionals[0];
  std::uint64_t conflict_id = 0;
  const auto [end, error] =
      std::from_chars(id_text.data(), id_text.data() + id_text.size(), conflict_id);
  if (error != std::errc() || end != id_text.data() + id_text.size() || conflict_id == 0) {
    return usage_error("resolve", "CONFLICT_ID must be a positive number, not '" + id_text + "'");
  }
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  if (value != args.options.end()) {
    Result<std::vector<lumbung::ConflictRecord>> conflicts = (*replica)->conflicts();
    if (!conflicts) return fail(conflicts.status());
    const auto conflict =
        std::find_if(conflicts->begin(), conflicts->end(),
                     [&](const lumbung::ConflictRecord& c) { return c.id == conflict_id; });
    if (conflict == conflicts->end()) {
      return fail(Status(ErrorCode::kNotFound,
                         "this replica has no conflict " + id_text + " (sync to receive it)"));
    }
    Result<lumbung::Value> parsed =
        (*replica)->parse_cell_text(conflict->table, conflict->column, value->second);
    if (!parsed) return fail(parsed.status());
    resolution.kind = lumbung::ConflictResolution::Kind::kValue;
    resolution.value = std::move(*parsed);
  }
  lumbung::SyncOptions options;
  if (Status connected = connect(args, **replica, &options); !connected) return fail(connected);
  Result<lumbung::ConflictRecord> resolved =
      (*replica)->resolve_conflict(conflict_id, resolution, options);
  if (!resolved) return fail(resolved.status());
  std::cout << conflict_json(*resolved) << '\n';
  return kExitOk;
}

// --- the command table ---

const lumbung::tools::Program& program() {
  static const lumbung::tools::Program kLumbung = {
      .name = kProgram,
      .help = kMainHelp,
      .required_option = "--db",
      .required_value = "FILE",
      .commands = {
          {.name = "init",
           .options = {"--db", "--schema", "--server", "--token", "--ca-file", "--pin"},
           .help = kInitHelp,
           .run = &run_init},
          {.name = "put",
           .positionals = "TABLE ID COL=VALUE...",
           .min_positionals = 3,
           .max_positionals = SIZE_MAX,
           .help = kPutHelp,
           .run = &run_put},
          {.name = "delete",
           .positionals = "TABLE ID",
           .min_positionals = 2,
           .max_positionals = 2,
           .help = kDeleteHelp,
           .run = &run_delete},
          {.name = "get",
           .positionals = "TABLE ID",
           .min_positionals = 2,
           .max_positionals = 2,
           .help = kGetHelp,
           .run = &run_get},
          {.name = "dump", .help = kDumpHelp, .run = &run_dump},
          {.name = "status", .help = kStatusHelp, .run = &run_status},
          {.name = "pending", .switches = {"--json"}, .help = kPendingHelp, .run = &run_pending},
          {.name = "sync",
           .options = {"--db", "--server", "--token", "--wait"},
           .help = kSyncHelp,
           .run = &run_sync},
          {.name = "conflicts", .help = kConflictsHelp, .run = &run_conflicts},
          {.name = "resolve",
           .positionals = "CONFLICT_ID",
           .min_positionals = 1,
           .max_positionals = 1,
           .options = {"--db", "--value", "--keep", "--server", "--token"},
           .help = kResolveHelp,
           .run = &run_resolve},
          {.name = "set-token",
           .positionals = "TOKEN",
           .min_positionals = 1,
           .max_positionals = 1,
           .help = kSetTokenHelp,
           .run = &run_set_token},
      }};
  return kLumbung;
}

}  // namespace

int main(int argc, char** argv) { return lumbung::tools::run_program(program(), argc, argv); }
