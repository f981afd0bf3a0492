#include "replica/reseed.hpp"

#include "replica/identity.hpp"
#include "replica/outbox.hpp"
#include "replica/server_state.hpp"
#include "replica/versions.hpp"

namespace lumbung::replica {
namespace {

using core::quote_identifier;

Status add_texts(db::Database& db, const std::string& sql, const std::vector<Value>& params,
                 std::set<std::string>* out) {
  LUMBUNG_ASSIGN_OR_RETURN(db::Query query, db::Query::cached(db, sql, params));
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) return Status::ok();
    const Value value = query.value(0);
    if (value.type() == ValueType::kText) out->insert(value.as_text());
  }
}

}  // namespace

Result<std::set<std::string>> Reseeder::held_scopes() {
  std::set<std::string> scopes;
  LUMBUNG_RETURN_IF_ERROR(add_texts(db_, "SELECT scope FROM _lumbung_scope", {}, &scopes));
  for (const core::Table& table : schema_.tables) {
    const std::string column = quote_identifier(table.scope_column);
    LUMBUNG_RETURN_IF_ERROR(add_texts(
        db_, "SELECT DISTINCT " + column + " FROM " + quote_identifier(table.name), {}, &scopes));
  }
  LUMBUNG_RETURN_IF_ERROR(
      add_texts(db_, "SELECT DISTINCT scope FROM _lumbung_version WHERE col = '' AND deleted = 1",
                {}, &scopes));
  return scopes;
}

Status Reseeder::begin(const std::set<std::string>& scopes, bool history_lost) {
  for (const std::string& scope : scopes) {
    const Value name(scope);
    LUMBUNG_RETURN_IF_ERROR(db::run(
        db_, "INSERT OR REPLACE INTO _lumbung_scope (scope, cursor, reseeding) VALUES (?1, 0, 1)",
        {name}));
    for (const core::Table& table : schema_.tables) {
      const std::string column = quote_identifier(table.scope_column);
      LUMBUNG_RETURN_IF_ERROR(db::run(
          db_,
          "INSERT OR IGNORE INTO _lumbung_reseed (tbl, row_id, scope) SELECT ?2, \"id\", " +
              column + " FROM " + quote_identifier(table.name) + " WHERE " + column + " = ?1",
          {name, Value(table.name)}));
    }
    LUMBUNG_RETURN_IF_ERROR(
        db::run(db_,
                "INSERT OR IGNORE INTO _lumbung_reseed (tbl, row_id, scope) SELECT tbl, row_id, "
                "scope FROM _lumbung_version WHERE col = '' AND deleted = 1 AND scope = ?1",
                {name}));
    if (history_lost) {
      LUMBUNG_RETURN_IF_ERROR(
          db::run(db_, "DELETE FROM _lumbung_conflict WHERE scope = ?1", {name}));
    }
  }
  waiting_.reset();
  if (!history_lost) return Status::ok();
  return db_.exec(
      "UPDATE _lumbung_outbox SET base = 0; UPDATE _lumbung_refused SET base = 0; "
      "UPDATE _lumbung_push SET inflight_batch = NULL, inflight_encoding = NULL, "
      "inflight_body = NULL");
}

void Reseeder::set_page_cursors(const v1::PullPage& page) {
  page_cursors_.clear();
  reoffered_ = false;
  for (const v1::ScopeCursor& cursor : page.cursors()) {
    page_cursors_[cursor.scope()] = cursor.seq();
  }
  waiting_.reset();
}

std::int64_t Reseeder::base_for(const std::string& scope) const {
  const auto it = page_cursors_.find(scope);
  return it == page_cursors_.end() ? 0 : it->second;
}

Result<bool> Reseeder::any_waiting() {
  if (!waiting_) {
    LUMBUNG_ASSIGN_OR_RETURN(bool any,
                             db::returns_row_cached(db_, "SELECT 1 FROM _lumbung_reseed LIMIT 1"));
    waiting_ = any;
  }
  return *waiting_;
}

Status Reseeder::reoffer(const std::string& table, const std::string& row_id,
                         const std::string& column, int op, const core::Stamp& stamp,
                         std::int64_t base) {
  OutboxEntry entry{table, row_id,         column, static_cast<OutboxOp>(op), stamp.hlc.packed(),
                    base,  stamp.device_id};
  // A version whose author the device never learnt (kept from before
  // format 5) goes as the device's own, stamped 0: it fills a gap and loses
  // to any version the server holds.
  if (entry.author.empty()) {
    LUMBUNG_ASSIGN_OR_RETURN(std::string self, device_id(db_));
    entry.author = self;
  }
  reoffered_ = true;
  return write_outbox_entry(db_, entry);
}

Result<bool> Reseeder::confirm(ServerRow& row, const PendingRow& pending) {
  Result<bool> waiting = any_waiting();
  if (!waiting.is_ok() || !*waiting) return true;
  const core::Table& table = row.table();
  std::string scope;
  {
    LUMBUNG_ASSIGN_OR_RETURN(
        db::Query lookup,
        db::Query::cached(db_, "SELECT scope FROM _lumbung_reseed WHERE tbl = ?1 AND row_id = ?2",
                          {Value(table.name), Value(row.row_id())}));
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, lookup.step());
    if (!found) return true;
    scope = lookup.text(0);
  }
  LUMBUNG_RETURN_IF_ERROR(
      db::run_cached(db_, "DELETE FROM _lumbung_reseed WHERE tbl = ?1 AND row_id = ?2",
                     {Value(table.name), Value(row.row_id())}));
  if (row.deleted()) return true;  // a tombstone deletes, as in any pull
  LUMBUNG_ASSIGN_OR_RETURN(RowVersions held, Versions(db_).read(table.name, row.row_id()));
  const std::int64_t base = base_for(scope);
  if (held.deleted) {
    // Deletes win: the server lost the delete, not the other way round.
    if (!pending.any()) {
      LUMBUNG_RETURN_IF_ERROR(reoffer(table.name, row.row_id(), "",
                                      static_cast<int>(OutboxOp::kDelete), held.row, base));
    }
    return false;
  }
  std::string columns;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    columns += (i ? ", " : "") + quote_identifier(table.columns[i].name);
  }
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query values,
      db::Query::cached(
          db_, "SELECT " + columns + " FROM " + quote_identifier(table.name) + " WHERE \"id\" = ?1",
          {Value(row.row_id())}));
  LUMBUNG_ASSIGN_OR_RETURN(const bool held_live, values.step());
  Status status;
  // Whether the device holds every version the server sent: nothing to write.
  bool same = held_live;
  for (std::size_t i = 0; status.is_ok() && held_live && i < table.columns.size(); ++i) {
    const core::Column& column = table.columns[i];
    if (column.primary_key || !row.cell(i) || pending.covers(column.name)) continue;
    const core::Stamp& mine = held.cell(column.name);
    const bool equal = values.value(static_cast<int>(i)) == *row.cell(i);
    if (mine > row.stamp(i) && !equal) {
      status = reoffer(table.name, row.row_id(), column.name, static_cast<int>(OutboxOp::kUpdate),
                       mine, base);
      row.drop_cell(i);
    } else if (mine != row.stamp(i) || !equal) {
      same = false;
    }
  }
  LUMBUNG_RETURN_IF_ERROR(status);
  return !same;
}

Result<bool> Reseeder::finish_page(const v1::PullPage& page) {
  if (page.more()) return reoffered_;
  for (const v1::ScopeCursor& cursor : page.cursors()) {
    LUMBUNG_ASSIGN_OR_RETURN(
        bool reseeding,
        db::returns_row(db_, "SELECT 1 FROM _lumbung_scope WHERE scope = ?1 AND reseeding = 1",
                        {Value(cursor.scope())}));
    if (reseeding) LUMBUNG_RETURN_IF_ERROR(finish_scope(cursor.scope(), cursor.seq()));
  }
  return reoffered_;
}

Status Reseeder::finish_scope(const std::string& scope, std::int64_t cursor) {
  // What the server did not send, it lacks: rows the device holds go back
  // whole; a row the device deleted that the server never had needs nothing.
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query left,
      db::Query::prepared(db_, "SELECT tbl, row_id FROM _lumbung_reseed WHERE scope = ?1",
                          {Value(scope)}));
  Versions versions(db_);
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, left.step());
    if (!row) break;
    const std::string table_name = left.text(0);
    const std::string row_id = left.text(1);
    const core::Table* table = schema_.find_table(table_name);
    if (table == nullptr) continue;
    LUMBUNG_ASSIGN_OR_RETURN(
        bool live, db::returns_row_cached(
                       db_, "SELECT 1 FROM " + quote_identifier(table->name) + " WHERE \"id\" = ?1",
                       {Value(row_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(
        bool pending,
        db::returns_row_cached(
            db_, "SELECT 1 FROM _lumbung_outbox WHERE tbl = ?1 AND row_id = ?2 AND col = ''",
            {Value(table_name), Value(row_id)}));
    if (!live || pending) continue;
    LUMBUNG_ASSIGN_OR_RETURN(RowVersions held, versions.read(table_name, row_id));
    LUMBUNG_RETURN_IF_ERROR(
        reoffer(table_name, row_id, "", static_cast<int>(OutboxOp::kInsert), held.row, cursor));
  }
  LUMBUNG_RETURN_IF_ERROR(
      db::run(db_, "DELETE FROM _lumbung_reseed WHERE scope = ?1", {Value(scope)}));
  return db::run(db_, "UPDATE _lumbung_scope SET reseeding = 0 WHERE scope = ?1", {Value(scope)});
}

}  // namespace lumbung::replica
