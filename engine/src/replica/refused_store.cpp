#include "replica/refused_store.hpp"

#include "replica/hlc_store.hpp"

namespace lumbung::replica {
namespace {

Result<std::vector<OutboxEntry>> refused_entries(db::Database& db) {
  Result<db::Statement*> stmt = db.cached(
      "SELECT tbl, row_id, col, op, hlc, base FROM _lumbung_refused "
      "ORDER BY hlc, tbl, row_id, col");
  if (!stmt.is_ok()) return stmt.status();
  std::vector<OutboxEntry> entries;
  for (;;) {
    Result<bool> row = (*stmt)->step();
    if (!row.is_ok()) return row.status();
    if (!*row) break;
    entries.push_back(OutboxEntry{(*stmt)->column_text(0), (*stmt)->column_text(1),
                                  (*stmt)->column_text(2),
                                  static_cast<OutboxOp>((*stmt)->column_int(3)),
                                  (*stmt)->column_int(4), (*stmt)->column_int(5)});
  }
  (*stmt)->reset();
  return entries;
}

Result<bool> row_exists(db::Database& db, const core::Table& table, const std::string& row_id) {
  Result<db::Statement*> stmt =
      db.cached("SELECT 1 FROM " + core::quote_identifier(table.name) + " WHERE \"id\" = ?1");
  if (!stmt.is_ok()) return stmt.status();
  (*stmt)->bind(1, Value(row_id));
  Result<bool> found = (*stmt)->step();
  (*stmt)->reset();
  return found;
}

}  // namespace

std::string refusal_reason_name(v1::RefusalReason reason) {
  switch (reason) {
    case v1::REFUSAL_REASON_UNKNOWN_TABLE:
      return "unknown_table";
    case v1::REFUSAL_REASON_UNKNOWN_COLUMN:
      return "unknown_column";
    case v1::REFUSAL_REASON_TYPE_MISMATCH:
      return "type_mismatch";
    case v1::REFUSAL_REASON_CONSTRAINT:
      return "constraint";
    case v1::REFUSAL_REASON_MALFORMED:
      return "malformed";
    case v1::REFUSAL_REASON_OUT_OF_SCOPE:
      return "out_of_scope";
    case v1::REFUSAL_REASON_NO_SUCH_ROW:
      return "no_such_row";
    default:
      return "unspecified";
  }
}

Status set_aside(db::Database& db, const OutboxEntry& entry, const std::string& reason,
                 const std::string& message) {
  Result<db::Statement*> stmt = db.cached(
      "INSERT OR REPLACE INTO _lumbung_refused (tbl, row_id, col, op, hlc, base, reason, message) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!stmt.is_ok()) return stmt.status();
  (*stmt)->bind(1, Value(entry.table));
  (*stmt)->bind(2, Value(entry.row_id));
  (*stmt)->bind(3, Value(entry.column));
  (*stmt)->bind(4, Value(static_cast<std::int64_t>(entry.op)));
  (*stmt)->bind(5, Value(entry.hlc));
  (*stmt)->bind(6, Value(entry.base));
  (*stmt)->bind(7, Value(reason));
  (*stmt)->bind(8, Value(message));
  return (*stmt)->run();
}

Status forget_refusals_before(db::Database& db, const OutboxEntry& acknowledged) {
  Result<db::Statement*> stmt = db.cached(
      "DELETE FROM _lumbung_refused WHERE tbl = ?1 AND row_id = ?2 AND hlc < ?4 "
      "AND (col = ?3 OR ?3 = '')");
  if (!stmt.is_ok()) return stmt.status();
  (*stmt)->bind(1, Value(acknowledged.table));
  (*stmt)->bind(2, Value(acknowledged.row_id));
  (*stmt)->bind(3, Value(acknowledged.column));
  (*stmt)->bind(4, Value(acknowledged.hlc));
  return (*stmt)->run();
}

Result<std::vector<RefusedChange>> load_refused(db::Database& db) {
  Result<db::Statement*> stmt = db.cached(
      "SELECT tbl, row_id, col, reason, message, hlc FROM _lumbung_refused "
      "ORDER BY hlc, tbl, row_id, col");
  if (!stmt.is_ok()) return stmt.status();
  std::vector<RefusedChange> changes;
  for (;;) {
    Result<bool> row = (*stmt)->step();
    if (!row.is_ok()) return row.status();
    if (!*row) break;
    changes.push_back(RefusedChange{(*stmt)->column_text(0), (*stmt)->column_text(1),
                                    (*stmt)->column_text(2), (*stmt)->column_text(3),
                                    (*stmt)->column_text(4), (*stmt)->column_int(5)});
  }
  (*stmt)->reset();
  return changes;
}

Status requeue_refused(db::Database& db, const core::Schema& schema, CaptureLog& capture) {
  Result<std::vector<OutboxEntry>> entries = refused_entries(db);
  if (!entries.is_ok()) return entries.status();
  for (OutboxEntry& entry : *entries) {
    const core::Table* table = schema.find_table(entry.table);
    if (!table) continue;  // not a table of this schema: nothing to push
    Result<bool> exists = row_exists(db, *table, entry.row_id);
    if (!exists.is_ok()) return exists.status();
    if (*exists == (entry.op != OutboxOp::kDelete)) {
      if (entry.op == OutboxOp::kInsert) {
        LUMBUNG_RETURN_IF_ERROR(remove_cell_entries(db, entry.table, entry.row_id));
      }
      Result<core::Hlc> stamp = capture.next_stamp();
      if (!stamp.is_ok()) return stamp.status();
      entry.hlc = stamp->packed();
      LUMBUNG_RETURN_IF_ERROR(write_outbox_entry(db, entry));
      LUMBUNG_RETURN_IF_ERROR(advance_clock(db, *stamp));
    }
  }
  return db.exec("DELETE FROM _lumbung_refused");
}

}  // namespace lumbung::replica
