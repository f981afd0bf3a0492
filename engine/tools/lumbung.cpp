// lumbung: a command-line tool over one replica file, for scripts, demos and
// support. A thin main over the public API (lumbung/replica.hpp); its manual
// is docs/cli.md. Exit status: 0 success, 1 error, 2 usage error.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/canonical_json.hpp"
#include "core/split.hpp"
#include "json_line.hpp"
#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "lumbung/status.hpp"
#include "lumbung/sync.hpp"
#include "lumbung/value.hpp"
#include "program.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::PendingChange;
using lumbung::Replica;
using lumbung::Result;
using lumbung::Status;

using lumbung::tools::dump_line;
using lumbung::tools::Json;
using lumbung::tools::kExitOk;

// The key travels in the environment, not in argv, where every user of the
// machine can read it (ps, shell history).
constexpr const char* kKeyVariable = "LUMBUNG_KEY";
// The ID that asks `put` for a new UUIDv7.
constexpr std::string_view kNewId = "new";

// The command line, as the commands' options fill it.
struct Args {
  std::string db;
  std::optional<std::string> schema;
  std::optional<std::string> server;
  std::optional<std::string> token;
  std::optional<std::string> ca_file;
  std::optional<std::string> pins;
  bool json = false;
  std::optional<std::uint32_t> wait;
  std::optional<std::string> value;
  std::optional<std::string> keep;
  std::string table;
  std::string id;
  std::vector<std::string> cells;  // put's COL=VALUE arguments
  std::uint64_t conflict_id = 0;
  std::string new_token;  // set-token's TOKEN
};

lumbung::tools::Program& program() {
  static lumbung::tools::Program kLumbung(
      "lumbung", "Reads and writes one Lumbung replica file.",
      R"('lumbung COMMAND --help' describes one command; docs/cli.md all of them.
Options take their value as '--db FILE' or '--db=FILE'.

Environment:
  LUMBUNG_KEY   the key of an encrypted replica (SQLCipher builds)

Exit status: 0 success, 1 error (message on stderr), 2 usage error.)");
  return kLumbung;
}

int fail(const Status& status) { return program().fail(status); }

int usage_error(std::string_view command, const std::string& message) {
  return program().usage_error(command, message);
}

lumbung::ReplicaOptions replica_options(const Args& args) {
  lumbung::ReplicaOptions options;
  options.path = args.db;
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

// --- init ---

constexpr const char* kInitDescription = "Creates a new replica file; fails if FILE exists.";

int run_init(const Args& args) {
  lumbung::ReplicaOptions options = replica_options(args);
  // Settings such as --server are used only when a file is created: opening
  // an existing one here would ignore them silently.
  if (file_exists(options.path)) {
    return fail(
        Status(ErrorCode::kInvalidArgument, "replica file '" + options.path + "' already exists"));
  }
  if (args.schema) {
    Result<std::string> text = read_file(*args.schema);
    if (!text) return fail(text.status());
    // An empty schema_text means the built-in schema: never for a file given.
    if (text->empty()) {
      return fail(Status(ErrorCode::kSchemaInvalid, *args.schema + ": the file is empty"));
    }
    options.schema_text = std::move(*text);
    options.schema_source = *args.schema;
  }
  options.server_url = args.server.value_or("");
  options.token = args.token.value_or("");
  if (args.ca_file) {
    std::error_code ignored;  // an empty result fails the check below
    options.tls.ca_file = std::filesystem::absolute(*args.ca_file, ignored).string();
  }
  if (args.pins) options.tls.pinned_keys = lumbung::core::split(*args.pins, ',');
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

constexpr const char* kPutDescription =
    R"(Writes one row and prints its id. ID "new" inserts a row under a new UUIDv7.
Any other ID inserts that row when it does not exist, and otherwise updates
only the named columns. All cells are written in one transaction, or none.)";

int run_put(const Args& args) {
  // Check every assignment before opening: a malformed one writes nothing.
  std::vector<Assignment> assignments;
  std::set<std::string, std::less<>> columns;
  for (const std::string& cell : args.cells) {
    std::optional<Assignment> assignment = parse_assignment(cell);
    if (!assignment) {
      return usage_error("put", "malformed '" + cell + "': expected COL=VALUE or COL:=null");
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
        (*replica)->parse_cell_text(args.table, assignment.column, *assignment.text);
    if (!value) return fail(value.status());
    row[assignment.column] = std::move(*value);
  }
  if (args.id == kNewId) {
    Result<std::string> new_id = (*replica)->insert_new(args.table, row);
    if (!new_id) return fail(new_id.status());
    std::cout << *new_id << '\n';
    return kExitOk;
  }
  if (Status status = (*replica)->put(args.table, args.id, row); !status) return fail(status);
  std::cout << args.id << '\n';
  return kExitOk;
}

// --- delete, set-token, get, dump ---

constexpr const char* kDeleteDescription = "Deletes one row; fails if there is none.";

int run_delete(const Args& args) {
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Status status = (*replica)->remove(args.table, args.id);
  return status ? kExitOk : fail(status);
}

constexpr const char* kSetTokenDescription =
    R"(Replaces the bearer token kept in the replica, which the next sync uses: a new
grant from the operator ('lumbungd token'). A village the new token no longer
grants leaves the replica at the next sync; see docs/security.md.)";

int run_set_token(const Args& args) {
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Status status = (*replica)->set_token(args.new_token);
  return status ? kExitOk : fail(status);
}

constexpr const char* kGetDescription =
    "Prints one row as a JSON object on one line, keys sorted; fails if there is none.";

int run_get(const Args& args) {
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Result<std::optional<lumbung::Row>> row = (*replica)->get(args.table, args.id);
  if (!row) return fail(row.status());
  if (!*row) {
    return fail(Status(ErrorCode::kNotFound,
                       "table '" + args.table + "': no row with id '" + args.id + "'"));
  }
  std::cout << lumbung::to_json(**row) << '\n';
  return kExitOk;
}

constexpr const char* kDumpDescription =
    R"(Prints every live row of every synced table as canonical JSON on one line:
{"table":{"id":{"column":value}}}, keys sorted, blobs as {"base64":"..."}.
Two replicas hold the same data exactly when their dumps are equal.)";

int run_dump(const Args& args) {
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Result<std::string> dump = (*replica)->dump_json();
  if (!dump) return fail(dump.status());
  std::cout << *dump << '\n';
  return kExitOk;
}

// --- status, pending ---

constexpr const char* kStatusDescription =
    R"(Prints the replica's sync status as JSON on one line:
  {"pending_changes":N,"refused_changes":N,"last_sync":null|"ISO-8601 UTC",
   "device_id":"...","schema_version":N,"server":"URL","refused":[...]}
"refused" lists the changes the server refused, oldest first:
  {"table","id","column":null|"...","reason","message","hlc","stamp"})";

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

constexpr const char* kPendingDescription =
    R"(Lists the changes not yet acknowledged by the server, oldest first, one per
line, then a count:
  person 0190f1c2-...: new row (stamped 2026-11-28T04:07:26.123Z/0)
  person 0190f1c2-...: phone changed (stamped 2026-11-28T04:09:02.871Z/0)
  2 pending changes)";

int run_pending(const Args& args) {
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Result<std::vector<PendingChange>> changes = (*replica)->pending_changes();
  if (!changes) return fail(changes.status());
  if (args.json) {
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

// --- sync, conflicts, resolve ---

// Set by SIGINT and SIGTERM: the sync stops at its next step. A request on
// its way is not interrupted, so a second signal ends the process at once,
// which is safe too: every step of a sync is a transaction.
std::atomic<bool> g_cancel_sync{false};

void cancel_sync(int signal) {
  g_cancel_sync.store(true);
  std::signal(signal, SIG_DFL);
}

// Sets the transport and token of `options` from --server and --token (sync,
// resolve); without --server, the replica must keep a server URL.
Status connect(const Args& args, Replica& replica, lumbung::SyncOptions* options) {
  Result<lumbung::ReplicaStatus> status = replica.status();
  if (!status) return status.status();
  if (args.server) {
    // The TLS settings kept in the file hold for this server too: dropping
    // the pins for it would be a silent downgrade.
    Result<std::shared_ptr<lumbung::Transport>> transport =
        lumbung::make_http_transport(*args.server, {.tls = status->tls});
    if (!transport) return transport.status();
    options->transport = std::move(*transport);
  } else if (status->server_url.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "no server to sync with: give --server URL, or create the replica "
                  "with 'lumbung init --server URL'");
  }
  if (args.token) options->token = *args.token;
  return Status::ok();
}

constexpr const char* kSyncDescription =
    R"(Pushes the pending changes to the server, then pulls until caught up, and
prints what happened as JSON on one line:
  {"pushed":N,"applied":N,"superseded":N,"refused":N,"pulled":N,
   "conflicts":N,"bytes_sent":N,"bytes_received":N}
Lost connections and busy servers are retried with backoff; an interrupted
sync resumes where it broke the next time. Ctrl-C stops it at its next step
(exit 1), a second Ctrl-C at once; either way nothing is lost.)";

int run_sync(const Args& args) {
  lumbung::SyncOptions options;
  if (args.wait) options.wait_seconds = *args.wait;
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

// One conflict as a JSON object on one line (`conflicts`, `resolve`); values
// as 'lumbung get' writes them.
std::string conflict_json(const lumbung::ConflictRecord& c) {
  using lumbung::core::canonical_json;
  using lumbung::tools::json_object;
  const std::string resolution = c.resolved_ms == 0
                                     ? dump_line(nullptr)
                                     : json_object({{"value", canonical_json(c.resolved_value)},
                                                    {"by", dump_line(c.resolved_by)},
                                                    {"device", dump_line(c.resolved_device)},
                                                    {"time_ms", dump_line(c.resolved_ms)}});
  return json_object({{"id", dump_line(c.id)},
                      {"table", dump_line(c.table)},
                      {"row_id", dump_line(c.row_id)},
                      {"column", c.column.empty() ? dump_line(nullptr) : dump_line(c.column)},
                      {"policy", dump_line(c.policy)},
                      {"server_value", canonical_json(c.server_value)},
                      {"server_device", dump_line(c.server_device)},
                      {"server_hlc", dump_line(c.server_hlc)},
                      {"device_value", canonical_json(c.device_value)},
                      {"device_id", dump_line(c.device_id)},
                      {"device_hlc", dump_line(c.device_hlc)},
                      {"outcome", dump_line(c.outcome)},
                      {"scope", dump_line(c.scope)},
                      {"resolution", resolution}});
}

constexpr const char* kConflictsDescription =
    R"(Prints the conflicts the server reported (concurrent edits of one cell, or a
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
device, and the server's time in "resolution".)";

int run_conflicts(const Args& args) {
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  Result<std::vector<lumbung::ConflictRecord>> conflicts = (*replica)->conflicts();
  if (!conflicts) return fail(conflicts.status());
  std::vector<std::string> objects;
  for (const lumbung::ConflictRecord& c : *conflicts) objects.push_back(conflict_json(c));
  std::cout << lumbung::tools::json_array(objects) << '\n';
  return kExitOk;
}

constexpr const char* kResolveDescription =
    R"(Settles a conflict pending review (policy manual_review) on the server, and
prints the resolved conflict as JSON on one line, as 'lumbung conflicts' lists
it. The server writes the chosen value as a new version of the cell; every
device of the village, this one included, gets it with its next sync. Needs a
token whose role may resolve conflicts in the conflict's village (supervisor
or admin). Fails for a conflict already resolved.)";

int run_resolve(const Args& args) {
  lumbung::ConflictResolution resolution;
  if (args.keep) {
    resolution.kind = *args.keep == "server" ? lumbung::ConflictResolution::Kind::kKeepServer
                                             : lumbung::ConflictResolution::Kind::kKeepDevice;
  }
  Result<std::unique_ptr<Replica>> replica = open_existing(args);
  if (!replica) return fail(replica.status());
  if (args.value) {
    Result<std::vector<lumbung::ConflictRecord>> conflicts = (*replica)->conflicts();
    if (!conflicts) return fail(conflicts.status());
    const auto conflict =
        std::find_if(conflicts->begin(), conflicts->end(),
                     [&](const lumbung::ConflictRecord& c) { return c.id == args.conflict_id; });
    if (conflict == conflicts->end()) {
      return fail(Status(ErrorCode::kNotFound, "this replica has no conflict " +
                                                   std::to_string(args.conflict_id) +
                                                   " (sync to receive it)"));
    }
    Result<lumbung::Value> parsed =
        (*replica)->parse_cell_text(conflict->table, conflict->column, *args.value);
    if (!parsed) return fail(parsed.status());
    resolution.kind = lumbung::ConflictResolution::Kind::kValue;
    resolution.value = std::move(*parsed);
  }
  lumbung::SyncOptions options;
  if (Status connected = connect(args, **replica, &options); !connected) return fail(connected);
  Result<lumbung::ConflictRecord> resolved =
      (*replica)->resolve_conflict(args.conflict_id, resolution, options);
  if (!resolved) return fail(resolved.status());
  std::cout << conflict_json(*resolved) << '\n';
  return kExitOk;
}

// --- the command line ---

// --server URL and --token TOKEN for one sync or resolve.
void add_connection(CLI::App* command, Args& args, const std::string& what) {
  using lumbung::tools::add_option;
  add_option(command, "--server", args.server, "URL",
             "the server for this " + what + "; default: the one kept in FILE");
  add_option(command, "--token", args.token, "TOKEN",
             "the bearer token for this " + what + "; default: the one kept in FILE");
}

void declare_commands(lumbung::tools::Program& program, Args& args) {
  using lumbung::tools::add_option;
  // A command over the replica file --db FILE, as every one is.
  const auto command = [&](const std::string& name, const std::string& summary,
                           const char* description, int (*run)(const Args&),
                           const std::string& db = "the replica file") {
    CLI::App* added =
        program.command(name, summary, description, [&args, run] { return run(args); });
    lumbung::tools::add_option(added, "--db", args.db, "FILE", db)->required();
    return added;
  };

  CLI::App* init = command("init", "create a replica file", kInitDescription, &run_init,
                           "the replica file to create");
  add_option(init, "--schema", args.schema, "FILE",
             "the schema (JSON, docs/schema-format.md); default: the built-in Desmigratif "
             "schema");
  add_option(init, "--server", args.server, "URL",
             "the sync server (http:// or https://), kept in the file");
  add_option(init, "--token", args.token, "TOKEN", "the device's bearer token, kept in the file");
  add_option(init, "--ca-file", args.ca_file, "FILE",
             "for https: the PEM file of the CAs to trust instead of the system's; its absolute "
             "path is kept in the file");
  add_option(init, "--pin", args.pins, "KEYS",
             "for https: the server's public key must be one of these, comma-separated "
             "sha256/KEY, as OkHttp pins them; kept in the file");
  init->footer("With LUMBUNG_KEY set (SQLCipher builds), the file is encrypted with it.");

  CLI::App* put =
      command("put", "insert a row, or update some of its cells", kPutDescription, &run_put);
  put->add_option("TABLE", args.table, "the table")->required();
  put->add_option("ID", args.id, "the row's id, or \"new\"")->required();
  put->add_option("COL=VALUE", args.cells,
                  "VALUE is read as the column's declared type: INTEGER \"42\", REAL \"-7.25\", "
                  "BLOB as hex digits \"00ff\", TEXT as given; \"COL=\" sets a TEXT cell to the "
                  "empty string, \"COL:=null\" sets the cell to NULL")
      ->required();

  CLI::App* remove = command("delete", "delete a row", kDeleteDescription, &run_delete);
  remove->add_option("TABLE", args.table, "the table")->required();
  remove->add_option("ID", args.id, "the row's id")->required();

  CLI::App* get = command("get", "print one row as JSON", kGetDescription, &run_get);
  get->add_option("TABLE", args.table, "the table")->required();
  get->add_option("ID", args.id, "the row's id")->required();

  command("dump", "print every live row as one line of canonical JSON", kDumpDescription,
          &run_dump);

  command("status", "print pending and refused changes and the last sync as JSON",
          kStatusDescription, &run_status);

  CLI::App* pending = command("pending", "list the changes waiting to be pushed to the server",
                              kPendingDescription, &run_pending);
  lumbung::tools::add_switch(pending, "--json", args.json,
                             "print a JSON array instead, one object per change");
  pending->footer(R"(With --json, each change is
  {"table","id","kind":"insert"|"update"|"delete","column":null|"...",
   "hlc":packed stamp,"stamp":"...","base_seq":N})");

  CLI::App* sync = command("sync", "push pending changes to the server, pull until caught up",
                           kSyncDescription, &run_sync);
  add_connection(sync, args, "sync");
  lumbung::tools::expect_number(add_option(sync, "--wait", args.wait, "SECONDS",
                                           "once caught up, wait up to SECONDS for new changes"),
                                0, 999'999'999, "a whole number of seconds");

  command("conflicts", "list the concurrent edits the server resolved, as JSON",
          kConflictsDescription, &run_conflicts);

  CLI::App* resolve =
      command("resolve", "settle a conflict pending review: keep a side, or a new value",
              kResolveDescription, &run_resolve);
  lumbung::tools::expect_number(
      resolve
          ->add_option("CONFLICT_ID", args.conflict_id,
                       "the \"id\" that 'lumbung conflicts' shows; this replica must have "
                       "received the conflict (sync first)")
          ->required(),
      1, UINT64_MAX, "a positive number");
  CLI::Option_group* settle = resolve->add_option_group("resolution");
  add_option(settle, "--value", args.value, "V",
             "a new value, read as the column's declared type as in 'lumbung put' (\"42\", "
             "\"-7.25\", hex for BLOB, TEXT as given)");
  lumbung::tools::expect_one_of(
      add_option(settle, "--keep", args.keep, "SIDE",
                 "server: keep the value the server had (the conflict's server_value); device: "
                 "keep the value the device sent (the conflict's device_value)"),
      {"server", "device"});
  settle->require_option(1);
  add_connection(resolve, args, "resolve");

  CLI::App* set_token = command("set-token", "replace the bearer token the replica syncs with",
                                kSetTokenDescription, &run_set_token);
  set_token->add_option("TOKEN", args.new_token, "the new token")->required();
}

}  // namespace

int main(int argc, char** argv) {
  static Args args;
  declare_commands(program(), args);
  return program().run(argc, argv);
}
