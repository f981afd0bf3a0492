#include "replica/outbox.hpp"

namespace lumbung::replica {

Result<std::vector<OutboxEntry>> read_outbox(db::Database& db, int limit) {
  Result<db::Statement*> stmt = db.cached(
      "SELECT tbl, row_id, col, op, hlc, base, COALESCE(author, '') FROM _lumbung_outbox "
      "ORDER BY hlc, tbl, row_id, col LIMIT ?1");
  if (!stmt.is_ok()) return stmt.status();
  (*stmt)->bind(1, Value(static_cast<std::int64_t>(limit)));
  std::vector<OutboxEntry> entries;
  for (;;) {
    Result<bool> row = (*stmt)->step();
    if (!row.is_ok()) return row.status();
    if (!*row) break;
    entries.push_back(OutboxEntry{(*stmt)->column_text(0), (*stmt)->column_text(1),
                                  (*stmt)->column_text(2),
                                  static_cast<OutboxOp>((*stmt)->column_int(3)),
                                  (*stmt)->column_int(4), (*stmt)->column_int(5),
                                  (*stmt)->column_text(6)});
  }
  (*stmt)->reset();
  return entries;
}

Result<bool> remove_if_unchanged(db::Database& db, const std::string& table,
                                 const std::string& row_id, const std::string& column,
                                 std::int64_t hlc) {
  Result<db::Statement*> stmt = db.cached(
      "DELETE FROM _lumbung_outbox WHERE tbl = ?1 AND row_id = ?2 AND col = ?3 AND hlc = ?4");
  if (!stmt.is_ok()) return stmt.status();
  (*stmt)->bind(1, Value(table));
  (*stmt)->bind(2, Value(row_id));
  (*stmt)->bind(3, Value(column));
  (*stmt)->bind(4, Value(hlc));
  LUMBUNG_RETURN_IF_ERROR((*stmt)->run());
  return sqlite3_changes(db.handle()) > 0;
}

Status write_outbox_entry(db::Database& db, const OutboxEntry& entry) {
  Result<db::Statement*> stmt = db.cached(
      "INSERT OR REPLACE INTO _lumbung_outbox (tbl, row_id, col, op, hlc, base, author) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULLIF(?7, ''))");
  if (!stmt.is_ok()) return stmt.status();
  (*stmt)->bind(1, Value(entry.table));
  (*stmt)->bind(2, Value(entry.row_id));
  (*stmt)->bind(3, Value(entry.column));
  (*stmt)->bind(4, Value(static_cast<std::int64_t>(entry.op)));
  (*stmt)->bind(5, Value(entry.hlc));
  (*stmt)->bind(6, Value(entry.base));
  (*stmt)->bind(7, Value(entry.author));
  return (*stmt)->run();
}

Status remove_cell_entries(db::Database& db, const std::string& table, const std::string& row_id) {
  Result<db::Statement*> stmt =
      db.cached("DELETE FROM _lumbung_outbox WHERE tbl = ?1 AND row_id = ?2 AND col <> ''");
  if (!stmt.is_ok()) return stmt.status();
  (*stmt)->bind(1, Value(table));
  (*stmt)->bind(2, Value(row_id));
  return (*stmt)->run();
}

}  // namespace lumbung::replica
