#include "replica/capture_log.hpp"

#include <optional>
#include <string>
#include <utility>

#include "replica/hlc_store.hpp"
#include "replica/outbox.hpp"

namespace lumbung::replica {
namespace {

// The base of the pending entry of a cell or row, if any.
Result<std::optional<std::int64_t>> pending_base(db::Database& db, const OutboxEntry& entry) {
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::cached(
          db, "SELECT base FROM _lumbung_outbox WHERE tbl = ?1 AND row_id = ?2 AND col = ?3"));
  query.statement().bind_borrowed_text(1, entry.table);
  query.statement().bind_borrowed_text(2, entry.row_id);
  query.statement().bind_borrowed_text(3, entry.column);
  LUMBUNG_ASSIGN_OR_RETURN(const bool found, query.step());
  std::optional<std::int64_t> base;
  if (found) base = query.integer(0);
  return base;
}

// The row's scope now, or null when the row or its table is gone.
Result<Value> current_scope(db::Database& db, const core::Schema& schema, const std::string& table,
                            const std::string& row_id) {
  const core::Table* t = schema.find_table(table);
  if (!t) return Value();
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::cached(db, "SELECT " + core::quote_identifier(t->scope_column) + " FROM " +
                                core::quote_identifier(t->name) + " WHERE \"id\" = ?1"));
  query.statement().bind_borrowed_text(1, row_id);
  LUMBUNG_ASSIGN_OR_RETURN(const bool found, query.step());
  return found ? query.value(0) : Value();
}

// The server seq the device has pulled `scope` up to: a new change's base.
Result<std::int64_t> scope_cursor(db::Database& db, const Value& scope) {
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query, db::Query::cached(db, "SELECT cursor FROM _lumbung_scope WHERE scope = ?1"));
  query.statement().bind_borrowed(1, scope);
  LUMBUNG_ASSIGN_OR_RETURN(const bool found, query.step());
  return found ? query.integer(0) : std::int64_t{0};
}

// Does to the outbox what the capture trigger would have done for the logged
// write (capture_sql.cpp): nothing has written the outbox since, as the
// triggers log too while the log holds entries.
Status fold_entry(db::Database& db, const core::Schema& schema, OutboxEntry entry,
                  const Value& logged_scope) {
  if (entry.op == OutboxOp::kDelete) {
    LUMBUNG_RETURN_IF_ERROR(remove_cell_entries(db, entry.table, entry.row_id));
  }
  LUMBUNG_ASSIGN_OR_RETURN(const std::optional<std::int64_t> pending, pending_base(db, entry));
  if (pending) {
    entry.base = *pending;  // an edit on top of a pending one keeps its base
  } else {
    Value scope = logged_scope;
    if (scope.is_null()) {
      // An update through the API that did not read its row: the row has
      // not moved since (CaptureLog::fix_scope), or was deleted since, which
      // drops this entry anyway.
      LUMBUNG_ASSIGN_OR_RETURN(Value now, current_scope(db, schema, entry.table, entry.row_id));
      scope = std::move(now);
    }
    LUMBUNG_ASSIGN_OR_RETURN(std::int64_t cursor, scope_cursor(db, scope));
    entry.base = cursor;
  }
  return write_outbox_entry(db, entry);
}

}  // namespace

Status CaptureLog::append(const core::Table& table, std::string_view row_id,
                          std::string_view column, OutboxOp op, const Value& scope) {
  if (logging_transaction_ != db_.transaction_serial()) {
    // From now on the triggers of other connections log too (capture_sql.cpp).
    LUMBUNG_RETURN_IF_ERROR(db_.exec("UPDATE _lumbung_clock SET logging = 1 WHERE logging = 0"));
    logging_transaction_ = db_.transaction_serial();
  }
  LUMBUNG_ASSIGN_OR_RETURN(core::Hlc stamp, next_stamp());
  if (!append_) {
    LUMBUNG_ASSIGN_OR_RETURN(
        db::Statement * stmt,
        db_.cached("INSERT INTO _lumbung_log (tbl, row_id, col, op, hlc, scope) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    append_ = stmt;
  }
  append_->bind_borrowed_text(1, table.name);
  append_->bind_borrowed_text(2, row_id);
  append_->bind_borrowed_text(3, column);
  append_->bind(4, Value(static_cast<std::int64_t>(op)));
  append_->bind(5, Value(stamp.packed()));
  append_->bind_borrowed(6, scope);
  return append_->run();
}

Status CaptureLog::fix_scope(const core::Table& table, std::string_view row_id,
                             const Value& scope) {
  return db::run_cached(
      db_, "UPDATE _lumbung_log SET scope = ?3 WHERE scope IS NULL AND tbl = ?1 AND row_id = ?2",
      {Value(table.name), Value(row_id), scope});
}

Result<core::Hlc> CaptureLog::next_stamp() {
  if (transaction_ != db_.transaction_serial()) {
    LUMBUNG_ASSIGN_OR_RETURN(core::Hlc last, last_stamp(db_));
    last_ = last;
    transaction_ = db_.transaction_serial();
  }
  last_ = core::hlc_next(last_, clock_.now_ms());
  return last_;
}

Result<bool> capture_log_empty(db::Database& db) {
  LUMBUNG_ASSIGN_OR_RETURN(const bool found,
                           db::returns_row_cached(db, "SELECT 1 FROM _lumbung_log LIMIT 1"));
  return !found;
}

Status fold_capture_log(db::Database& db, const core::Schema& schema) {
  LUMBUNG_ASSIGN_OR_RETURN(bool empty, capture_log_empty(db));
  if (empty) return Status::ok();

  {
    LUMBUNG_ASSIGN_OR_RETURN(
        db::Query log,
        db::Query::cached(
            db, "SELECT tbl, row_id, col, op, hlc, scope FROM _lumbung_log ORDER BY seq"));
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool more, log.step());
      if (!more) break;
      OutboxEntry logged{log.text(0),    log.text(1),
                         log.text(2),    static_cast<OutboxOp>(log.integer(3)),
                         log.integer(4), 0};
      LUMBUNG_RETURN_IF_ERROR(fold_entry(db, schema, std::move(logged), log.value(5)));
    }
  }
  // The log's last stamp is the clock's persisted value until now.
  LUMBUNG_RETURN_IF_ERROR(
      db.exec("UPDATE _lumbung_clock SET logging = 0, hlc = max(hlc, "
              "(SELECT hlc FROM _lumbung_log ORDER BY seq DESC LIMIT 1))"));
  return db.exec("DELETE FROM _lumbung_log");
}

}  // namespace lumbung::replica
