#include "replica/outbox.hpp"

namespace lumbung::replica {

Result<std::vector<OutboxEntry>> read_outbox(db::Database& db, int limit,
                                             const OutboxEntry* after) {
  // Stamps are never negative: (-1, ...) is before every entry.
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::cached(
          db, kOutboxInPushOrderSql,
          {Value(static_cast<std::int64_t>(limit)), Value(after ? after->hlc : std::int64_t{-1}),
           Value(after ? after->table : ""), Value(after ? after->row_id : ""),
           Value(after ? after->column : "")}));
  std::vector<OutboxEntry> entries;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) return entries;
    entries.push_back(OutboxEntry{query.text(0), query.text(1), query.text(2),
                                  static_cast<OutboxOp>(query.integer(3)), query.integer(4),
                                  query.integer(5), query.text(6)});
  }
}

Result<bool> remove_if_unchanged(db::Database& db, const std::string& table,
                                 const std::string& row_id, const std::string& column,
                                 std::int64_t hlc) {
  LUMBUNG_RETURN_IF_ERROR(db::run_cached(
      db, "DELETE FROM _lumbung_outbox WHERE tbl = ?1 AND row_id = ?2 AND col = ?3 AND hlc = ?4",
      {Value(table), Value(row_id), Value(column), Value(hlc)}));
  return sqlite3_changes(db.handle()) > 0;
}

Status write_outbox_entry(db::Database& db, const OutboxEntry& entry) {
  return db::run_cached(
      db,
      "INSERT OR REPLACE INTO _lumbung_outbox (tbl, row_id, col, op, hlc, base, author) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULLIF(?7, ''))",
      {Value(entry.table), Value(entry.row_id), Value(entry.column),
       Value(static_cast<std::int64_t>(entry.op)), Value(entry.hlc), Value(entry.base),
       Value(entry.author)});
}

Status remove_cell_entries(db::Database& db, const std::string& table, const std::string& row_id) {
  return db::run_cached(db,
                        "DELETE FROM _lumbung_outbox WHERE tbl = ?1 AND row_id = ?2 AND col <> ''",
                        {Value(table), Value(row_id)});
}

}  // namespace lumbung::replica
