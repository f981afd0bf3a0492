#include "replica/refused_store.hpp"

#include "replica/hlc_store.hpp"

namespace lumbung::replica {
namespace {

Result<std::vector<OutboxEntry>> refused_entries(db::Database& db) {
  LUMBUNG_ASSIGN_OR_RETURN(db::Query query,
                           db::Query::cached(db,
                                             "SELECT tbl, row_id, col, op, hlc, base FROM "
                                             "_lumbung_refused ORDER BY hlc, tbl, row_id, col"));
  std::vector<OutboxEntry> entries;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) return entries;
    entries.push_back(OutboxEntry{query.text(0), query.text(1), query.text(2),
                                  static_cast<OutboxOp>(query.integer(3)), query.integer(4),
                                  query.integer(5)});
  }
}

Result<bool> row_exists(db::Database& db, const core::Table& table, const std::string& row_id) {
  return db::returns_row_cached(
      db, "SELECT 1 FROM " + core::quote_identifier(table.name) + " WHERE \"id\" = ?1",
      {Value(row_id)});
}

}  // namespace

Status set_aside(db::Database& db, const OutboxEntry& entry, const std::string& reason,
                 const std::string& message) {
  return db::run_cached(
      db,
      "INSERT OR REPLACE INTO _lumbung_refused (tbl, row_id, col, op, hlc, base, reason, message) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
      {Value(entry.table), Value(entry.row_id), Value(entry.column),
       Value(static_cast<std::int64_t>(entry.op)), Value(entry.hlc), Value(entry.base),
       Value(reason), Value(message)});
}

Status forget_refusals_before(db::Database& db, const OutboxEntry& acknowledged) {
  return db::run_cached(db,
                        "DELETE FROM _lumbung_refused WHERE tbl = ?1 AND row_id = ?2 AND hlc < ?4 "
                        "AND (col = ?3 OR ?3 = '')",
                        {Value(acknowledged.table), Value(acknowledged.row_id),
                         Value(acknowledged.column), Value(acknowledged.hlc)});
}

Result<bool> holds_refusals(db::Database& db) {
  LUMBUNG_ASSIGN_OR_RETURN(db::Query query,
                           db::Query::cached(db, "SELECT 1 FROM _lumbung_refused LIMIT 1"));
  return query.step();
}

Result<std::vector<RefusedChange>> load_refused(db::Database& db) {
  LUMBUNG_ASSIGN_OR_RETURN(db::Query query,
                           db::Query::cached(db,
                                             "SELECT tbl, row_id, col, reason, message, hlc FROM "
                                             "_lumbung_refused ORDER BY hlc, tbl, row_id, col"));
  std::vector<RefusedChange> changes;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) return changes;
    changes.push_back(RefusedChange{query.text(0), query.text(1), query.text(2), query.text(3),
                                    query.text(4), query.integer(5)});
  }
}

Status requeue_refused(db::Database& db, const core::Schema& schema, CaptureLog& capture) {
  LUMBUNG_ASSIGN_OR_RETURN(std::vector<OutboxEntry> entries, refused_entries(db));
  for (OutboxEntry& entry : entries) {
    const core::Table* table = schema.find_table(entry.table);
    if (!table) continue;  // not a table of this schema: nothing to push
    LUMBUNG_ASSIGN_OR_RETURN(bool exists, row_exists(db, *table, entry.row_id));
    if (exists == (entry.op != OutboxOp::kDelete)) {
      if (entry.op == OutboxOp::kInsert) {
        LUMBUNG_RETURN_IF_ERROR(remove_cell_entries(db, entry.table, entry.row_id));
      }
      LUMBUNG_ASSIGN_OR_RETURN(core::Hlc stamp, capture.next_stamp());
      entry.hlc = stamp.packed();
      LUMBUNG_RETURN_IF_ERROR(write_outbox_entry(db, entry));
      LUMBUNG_RETURN_IF_ERROR(advance_clock(db, stamp));
    }
  }
  return db.exec("DELETE FROM _lumbung_refused");
}

}  // namespace lumbung::replica
