#include "replica/capture_sql.hpp"

namespace lumbung::replica {
namespace {

using core::quote_identifier;
using core::sql_text_literal;

// The HLC send rule in SQL, past the clock row and the capture log's last
// stamp (hlc_store.hpp). julianday('now') is read once per statement, from the
// connection's VFS; ROUND undoes the rounding of the day fraction so that
// milliseconds come back exact.
constexpr const char* kTick =
    "UPDATE _lumbung_clock SET hlc = max(hlc + 1, "
    "COALESCE((SELECT hlc FROM _lumbung_log ORDER BY seq DESC LIMIT 1), 0) + 1, "
    "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) * 65536);";

// A connection that writes the server's state rather than local edits (a
// tool's or a test's) sets `applying` inside its transaction; only it can see
// it, and only it skips capture. The replica's own connection has triggers off.
// Each write is captured by one of two triggers: into the outbox, or, while
// the capture log holds writes of the replica's own (`logging`), at the end
// of the log, so that they and this one are folded into the outbox in the
// order they were made. (One trigger with both writes made conditional would
// need INSERT ... SELECT, which costs SQLite more than a second trigger.)
constexpr const char* kCapturingToOutbox =
    "(SELECT applying = 0 AND logging = 0 FROM _lumbung_clock)";
constexpr const char* kCapturingToLog = "(SELECT applying = 0 AND logging = 1 FROM _lumbung_clock)";

// Quoted, with ':' as separator so that no two (table, column) pairs collide;
// table and column are validated identifiers, so nothing needs escaping.
std::string trigger_name(const char* kind, const core::Table& table, const std::string& column) {
  return "\"_lumbung_" + std::string(kind) + ":" + table.name +
         (column.empty() ? "" : ":" + column) + "\"";
}

// The server version the change was edited from: the pending entry's base when
// the cell (or row) is already pending, so that edits on top of one's own
// unsynced edit keep their original base; otherwise the scope's cursor.
std::string base_sql(const core::Table& table, const char* row, const std::string& column) {
  return "COALESCE((SELECT base FROM _lumbung_outbox WHERE tbl = " + sql_text_literal(table.name) +
         " AND row_id = " + row + ".\"id\" AND col = " + sql_text_literal(column) +
         "), (SELECT cursor FROM _lumbung_scope WHERE scope = " + row + "." +
         quote_identifier(table.scope_column) + "), 0)";
}

std::string record_sql(const core::Table& table, const char* row, const std::string& column,
                       OutboxOp op) {
  return "INSERT OR REPLACE INTO _lumbung_outbox (tbl, row_id, col, op, hlc, base) VALUES (" +
         sql_text_literal(table.name) + ", " + row + ".\"id\", " + sql_text_literal(column) + ", " +
         std::to_string(static_cast<int>(op)) + ", (SELECT hlc FROM _lumbung_clock), " +
         base_sql(table, row, column) + ");";
}

// The write as an entry of the capture log, with the row's scope.
std::string log_sql(const core::Table& table, const char* row, const std::string& column,
                    OutboxOp op) {
  return "INSERT INTO _lumbung_log (tbl, row_id, col, op, hlc, scope) VALUES (" +
         sql_text_literal(table.name) + ", " + row + ".\"id\", " + sql_text_literal(column) + ", " +
         std::to_string(static_cast<int>(op)) + ", (SELECT hlc FROM _lumbung_clock), " + row + "." +
         quote_identifier(table.scope_column) + ");";
}

// What the two triggers capturing one kind of write of `table` run.
struct CaptureEvent {
  std::string event;   // "AFTER INSERT", ...
  std::string when;    // the trigger's own condition
  std::string kind;    // names the triggers
  std::string column;  // '' for a row insert or delete
  const char* row;     // "NEW" or "OLD"
  OutboxOp op;
  std::string before_outbox;  // run before the outbox entry is written
  std::string before_log;     // run before the log entry is written
};

// The two triggers capturing one kind of write: into the outbox, into the log.
void add_capture_triggers(std::vector<std::string>& statements, const core::Table& table,
                          const CaptureEvent& e) {
  const std::string head = " " + e.event + " ON " + quote_identifier(table.name) + " WHEN ";
  const std::string when = " AND " + e.when + " BEGIN " + kTick;
  statements.push_back("CREATE TRIGGER " + trigger_name(e.kind.c_str(), table, e.column) + head +
                       kCapturingToOutbox + when + e.before_outbox +
                       record_sql(table, e.row, e.column, e.op) + " END");
  statements.push_back(
      "CREATE TRIGGER " + trigger_name(("log-" + e.kind).c_str(), table, e.column) + head +
      kCapturingToLog + when + e.before_log + log_sql(table, e.row, e.column, e.op) + " END");
}

}  // namespace

std::vector<std::string> bookkeeping_tables_sql() {
  return {
      "CREATE TABLE _lumbung_meta (key TEXT PRIMARY KEY NOT NULL, value)",
      // One row. hlc: the last stamp issued or received, packed (ms << 16 | counter).
      "CREATE TABLE _lumbung_clock (id INTEGER PRIMARY KEY CHECK (id = 1), "
      "hlc INTEGER NOT NULL, applying INTEGER NOT NULL DEFAULT 0)",
      "INSERT INTO _lumbung_clock (id, hlc, applying) VALUES (1, 0, 0)",
      "CREATE TABLE _lumbung_outbox (tbl TEXT NOT NULL, row_id TEXT NOT NULL, col TEXT NOT NULL, "
      "op INTEGER NOT NULL, hlc INTEGER NOT NULL, base INTEGER NOT NULL, "
      "PRIMARY KEY (tbl, row_id, col)) WITHOUT ROWID",
      // The server sequence number up to which each scope has been pulled.
      "CREATE TABLE _lumbung_scope (scope TEXT PRIMARY KEY NOT NULL, cursor INTEGER NOT NULL) "
      "WITHOUT ROWID",
      // Changes the server refused, set aside until retried: the outbox entry
      // (base kept for the retry) with the server's reason and message.
      "CREATE TABLE _lumbung_refused (tbl TEXT NOT NULL, row_id TEXT NOT NULL, col TEXT NOT NULL, "
      "op INTEGER NOT NULL, hlc INTEGER NOT NULL, base INTEGER NOT NULL, reason TEXT NOT NULL, "
      "message TEXT NOT NULL, PRIMARY KEY (tbl, row_id, col)) WITHOUT ROWID",
      // One row: the number the next push batch gets, and the batch in flight
      // (NULLs when none): its number and its exact HTTP body, stored before it
      // is first sent and re-sent unchanged until answered.
      "CREATE TABLE _lumbung_push (id INTEGER PRIMARY KEY CHECK (id = 1), "
      "next_batch INTEGER NOT NULL, inflight_batch INTEGER, inflight_encoding TEXT, "
      "inflight_body BLOB)",
      "INSERT INTO _lumbung_push (id, next_batch) VALUES (1, 1)",
      // Conflicts the server reported, from push responses and pull pages, by
      // the server's id. The values are untyped columns: stored as received.
      "CREATE TABLE _lumbung_conflict (id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, "
      "row_id TEXT NOT NULL, col TEXT NOT NULL, policy TEXT NOT NULL, server_value, "
      "server_device TEXT NOT NULL, server_hlc INTEGER NOT NULL, device_value, "
      "device_id TEXT NOT NULL, device_hlc INTEGER NOT NULL, outcome TEXT NOT NULL, "
      "scope TEXT NOT NULL)",
  };
}

namespace {

// Each step's statements are those older engines ran one by one, verbatim:
// ALTER TABLE copies a column's text into the table's CREATE TABLE.
constexpr db::FormatStep kBookkeepingSteps[] = {
    // /2 -> /3: what a reviewer decided about a pending_review conflict
    // (POST /v1/resolve).
    {3,
     "ALTER TABLE _lumbung_conflict ADD COLUMN resolved_value; "
     "ALTER TABLE _lumbung_conflict ADD COLUMN resolved_by TEXT NOT NULL DEFAULT ''; "
     "ALTER TABLE _lumbung_conflict ADD COLUMN resolved_device TEXT NOT NULL DEFAULT ''; "
     "ALTER TABLE _lumbung_conflict ADD COLUMN resolved_ms INTEGER NOT NULL DEFAULT 0"},
    // /3 -> /4: the capture log (capture_log.hpp), one row per write until
    // folded into the outbox. No constraint and no index, so that an append
    // is the cheapest write SQLite has. scope: null when the write did not
    // read it. _lumbung_clock.logging: 1 while the log holds entries.
    {4,
     "CREATE TABLE _lumbung_log (seq INTEGER PRIMARY KEY, tbl TEXT, row_id TEXT, col TEXT, "
     "op INTEGER, hlc INTEGER, scope); "
     "ALTER TABLE _lumbung_clock ADD COLUMN logging INTEGER NOT NULL DEFAULT 0"},
    // /4 -> /5: a server that goes back in time (docs/protocol.md). The
    // stamps of the versions the device holds (versions.hpp); the rows of
    // scopes being re-seeded whose presence on the server is not yet
    // known, and those scopes (reseed.hpp); a pending entry's author when
    // it is a re-offer (NULL: this device's own write); the last batch the
    // server answered.
    {5,
     "CREATE TABLE _lumbung_version (tbl TEXT NOT NULL, row_id TEXT NOT NULL, "
     "col TEXT NOT NULL, hlc INTEGER NOT NULL, author TEXT NOT NULL, scope TEXT, "
     "deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (tbl, row_id, col)) WITHOUT ROWID; "
     "CREATE TABLE _lumbung_reseed (tbl TEXT NOT NULL, row_id TEXT NOT NULL, "
     "scope TEXT NOT NULL, PRIMARY KEY (tbl, row_id)) WITHOUT ROWID; "
     "ALTER TABLE _lumbung_scope ADD COLUMN reseeding INTEGER NOT NULL DEFAULT 0; "
     "ALTER TABLE _lumbung_outbox ADD COLUMN author TEXT; "
     "ALTER TABLE _lumbung_push ADD COLUMN acked_batch INTEGER NOT NULL DEFAULT 0"},
    // /5 -> /6: the outbox in the order it is pushed, so that a push batch
    // reads its first entries instead of sorting the whole outbox each time.
    {6, "CREATE INDEX _lumbung_outbox_order ON _lumbung_outbox (hlc, tbl, row_id, col)"},
};

}  // namespace

const db::FileFormat kBookkeepingFormat{2, kBookkeepingSteps};

std::vector<std::string> drop_capture_triggers_sql(const core::Schema& schema) {
  std::vector<std::string> statements;
  for (const core::Table& table : schema.tables) {
    for (const char* kind : {"insert", "delete", "key", "log-insert", "log-delete"}) {
      statements.push_back("DROP TRIGGER IF EXISTS " + trigger_name(kind, table, ""));
    }
    for (const core::Column& column : table.columns) {
      for (const char* kind : {"update", "log-update"}) {
        statements.push_back("DROP TRIGGER IF EXISTS " + trigger_name(kind, table, column.name));
      }
    }
  }
  return statements;
}

std::vector<std::string> create_capture_triggers_sql(const core::Table& table) {
  std::vector<std::string> statements;
  add_capture_triggers(statements, table,
                       {"AFTER INSERT", "1", "insert", "", "NEW", OutboxOp::kInsert, "", ""});
  // A delete replaces the row's pending cell changes (in the log, the fold
  // does that when it comes to the delete).
  add_capture_triggers(statements, table,
                       {"AFTER DELETE", "1", "delete", "", "OLD", OutboxOp::kDelete,
                        "DELETE FROM _lumbung_outbox WHERE tbl = " + sql_text_literal(table.name) +
                            " AND row_id = OLD.\"id\" AND col <> '';",
                        ""});
  // A row's id is its identity on every device: changing it is refused.
  statements.push_back("CREATE TRIGGER " + trigger_name("key", table, "") +
                       " BEFORE UPDATE OF \"id\" ON " + quote_identifier(table.name) +
                       " WHEN OLD.\"id\" IS NOT NEW.\"id\" BEGIN SELECT RAISE(ABORT, "
                       "'lumbung: the id of a synced row cannot change; delete and insert') ; END");
  for (const core::Column& column : table.columns) {
    if (column.primary_key) continue;
    const std::string q = quote_identifier(column.name);
    // A row moving to another scope first gives its logged writes that have
    // no scope the one they were made in (CaptureLog::fix_scope).
    const std::string fix_scope =
        column.name != table.scope_column
            ? std::string()
            : "UPDATE _lumbung_log SET scope = OLD." + q +
                  " WHERE scope IS NULL AND tbl = " + sql_text_literal(table.name) +
                  " AND row_id = OLD.\"id\";";
    add_capture_triggers(statements, table,
                         {"AFTER UPDATE OF " + q, "OLD." + q + " IS NOT NEW." + q, "update",
                          column.name, "NEW", OutboxOp::kUpdate, "", fix_scope});
  }
  return statements;
}

}  // namespace lumbung::replica
