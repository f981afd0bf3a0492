#include "replica/capture_sql.hpp"

namespace lumbung::replica {
namespace {

using core::quote_identifier;

// The HLC send rule in SQL. julianday('now') is read once per statement, from
// the connection's VFS (ClockVfs when a clock is injected); ROUND undoes the
// rounding of the day fraction so that milliseconds come back exact.
constexpr const char* kTick =
    "UPDATE _lumbung_clock SET hlc = max(hlc + 1, "
    "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) * 65536);";

// Writes made by Lumbung itself (applying a pull) set `applying` inside their
// transaction; only they can see it, and only they skip capture.
constexpr const char* kCapturing = "(SELECT applying FROM _lumbung_clock) = 0";

std::string text_literal(const std::string& text) { return "'" + text + "'"; }

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
  return "COALESCE((SELECT base FROM _lumbung_outbox WHERE tbl = " + text_literal(table.name) +
         " AND row_id = " + row + ".\"id\" AND col = " + text_literal(column) +
         "), (SELECT cursor FROM _lumbung_scope WHERE scope = " + row + "." +
         quote_identifier(table.scope_column) + "), 0)";
}

std::string record_sql(const core::Table& table, const char* row, const std::string& column,
                       OutboxOp op) {
  return "INSERT OR REPLACE INTO _lumbung_outbox (tbl, row_id, col, op, hlc, base) VALUES (" +
         text_literal(table.name) + ", " + row + ".\"id\", " + text_literal(column) + ", " +
         std::to_string(static_cast<int>(op)) + ", (SELECT hlc FROM _lumbung_clock), " +
         base_sql(table, row, column) + ");";
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

std::vector<std::string> bookkeeping_upgrade_sql() {
  // What a reviewer decided about a pending_review conflict (POST /v1/resolve).
  return {
      "ALTER TABLE _lumbung_conflict ADD COLUMN resolved_value",
      "ALTER TABLE _lumbung_conflict ADD COLUMN resolved_by TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE _lumbung_conflict ADD COLUMN resolved_device TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE _lumbung_conflict ADD COLUMN resolved_ms INTEGER NOT NULL DEFAULT 0",
  };
}

std::vector<std::string> drop_capture_triggers_sql(const core::Schema& schema) {
  std::vector<std::string> statements;
  for (const core::Table& table : schema.tables) {
    for (const char* kind : {"insert", "delete", "key"}) {
      statements.push_back("DROP TRIGGER IF EXISTS " + trigger_name(kind, table, ""));
    }
    for (const core::Column& column : table.columns) {
      statements.push_back("DROP TRIGGER IF EXISTS " + trigger_name("update", table, column.name));
    }
  }
  return statements;
}

std::vector<std::string> create_capture_triggers_sql(const core::Table& table) {
  const std::string on = " ON " + quote_identifier(table.name);
  std::vector<std::string> statements;
  statements.push_back("CREATE TRIGGER " + trigger_name("insert", table, "") + " AFTER INSERT" +
                       on + " WHEN " + kCapturing + " BEGIN " + kTick +
                       record_sql(table, "NEW", "", OutboxOp::kInsert) + " END");
  statements.push_back("CREATE TRIGGER " + trigger_name("delete", table, "") + " AFTER DELETE" +
                       on + " WHEN " + kCapturing + " BEGIN " + kTick +
                       "DELETE FROM _lumbung_outbox WHERE tbl = " + text_literal(table.name) +
                       " AND row_id = OLD.\"id\" AND col <> '';" +
                       record_sql(table, "OLD", "", OutboxOp::kDelete) + " END");
  // A row's id is its identity on every device: changing it is refused.
  statements.push_back("CREATE TRIGGER " + trigger_name("key", table, "") +
                       " BEFORE UPDATE OF \"id\"" + on +
                       " WHEN OLD.\"id\" IS NOT NEW.\"id\" BEGIN SELECT RAISE(ABORT, "
                       "'lumbung: the id of a synced row cannot change; delete and insert') ; END");
  for (const core::Column& column : table.columns) {
    if (column.primary_key) continue;
    const std::string q = quote_identifier(column.name);
    statements.push_back("CREATE TRIGGER " + trigger_name("update", table, column.name) +
                         " AFTER UPDATE OF " + q + on + " WHEN " + kCapturing + " AND OLD." + q +
                         " IS NOT NEW." + q + " BEGIN " + kTick +
                         record_sql(table, "NEW", column.name, OutboxOp::kUpdate) + " END");
  }
  return statements;
}

}  // namespace lumbung::replica
