#include "replica/server_state.hpp"

#include <algorithm>
#include <utility>

#include "replica/capture_log.hpp"
#include "replica/reseed.hpp"
#include "replica/versions.hpp"

namespace lumbung::replica {
namespace {

using core::quote_identifier;

Status with_row_context(const ServerRow& row, const Status& status) {
  return Status(status.code(), "table '" + row.table().name + "': row '" + row.row_id() +
                                   "': cannot write the server's state: " + status.message());
}

}  // namespace

Status in_applying_transaction(db::Database& db, const core::Schema& schema,
                               const std::function<Status()>& body) {
  return db::in_transaction(db, [&]() -> Status {
    LUMBUNG_RETURN_IF_ERROR(fold_capture_log(db, schema));
    return body();
  });
}

ServerRow::ServerRow(const core::Table& table, std::string row_id)
    : table_(&table),
      row_id_(std::move(row_id)),
      cells_(table.columns.size()),
      stamps_(table.columns.size()) {}

void ServerRow::set_deleted(core::Stamp stamp) {
  deleted_ = true;
  if (!stamps_.empty()) stamps_[0] = std::move(stamp);
}

void ServerRow::set_cell(std::size_t index, Value value, core::Stamp stamp) {
  cells_[index] = std::move(value);
  stamps_[index] = std::move(stamp);
}

bool ServerRow::add_cell(std::string_view column, Value value, core::Stamp stamp) {
  const auto& columns = table_->columns;
  const auto it = std::find_if(columns.begin(), columns.end(),
                               [&](const core::Column& c) { return c.name == column; });
  if (it == columns.end()) return false;
  set_cell(static_cast<std::size_t>(it - columns.begin()), std::move(value), std::move(stamp));
  return true;
}

std::string ServerRow::scope() const {
  const auto& columns = table_->columns;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == table_->scope_column && cells_[i] &&
        cells_[i]->type() == ValueType::kText) {
      return cells_[i]->as_text();
    }
  }
  return std::string();
}

bool PendingRow::covers(const std::string& column) const {
  return row || std::find(cells.begin(), cells.end(), column) != cells.end();
}

bool ServerRow::complete() const {
  return std::all_of(cells_.begin(), cells_.end(),
                     [](const std::optional<Value>& cell) { return cell.has_value(); });
}

void ChangedRowsCollector::add(const std::string& table, const std::string& row_id) {
  auto it = std::find_if(changed_.begin(), changed_.end(),
                         [&](const ChangedRows& rows) { return rows.table == table; });
  if (it == changed_.end()) it = changed_.insert(changed_.end(), ChangedRows{table, {}});
  it->ids.push_back(row_id);
}

std::vector<ChangedRows> ChangedRowsCollector::take() { return std::exchange(changed_, {}); }

Result<ServerStateWriter::Pending> ServerStateWriter::pending(const ServerRow& row) {
  if (!outbox_empty_) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool found,
                             db::returns_row_cached(db_, "SELECT 1 FROM _lumbung_outbox LIMIT 1"));
    outbox_empty_ = !found;
  }
  if (*outbox_empty_) return Pending();
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::cached(db_, "SELECT col FROM _lumbung_outbox WHERE tbl = ?1 AND row_id = ?2",
                        {Value(row.table().name), Value(row.row_id())}));
  Pending pending;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool more, query.step());
    if (!more) return pending;
    std::string column = query.text(0);
    if (column.empty()) {
      pending.row = true;
    } else {
      pending.cells.push_back(std::move(column));
    }
  }
}

Result<bool> ServerStateWriter::run_counting_changes(const std::string& sql,
                                                     const std::vector<Value>& params) {
  LUMBUNG_RETURN_IF_ERROR(db::run_cached(db_, sql, params));
  return sqlite3_changes(db_.handle()) > 0;
}

Result<bool> ServerStateWriter::exists(const ServerRow& row) {
  return db::returns_row_cached(
      db_, "SELECT 1 FROM " + quote_identifier(row.table().name) + " WHERE \"id\" = ?1",
      {Value(row.row_id())});
}

Result<ServerStateWriter::WholeRowSql> ServerStateWriter::whole_row_sql(const core::Table& table) {
  const auto known = whole_row_sql_.find(&table);
  if (known != whole_row_sql_.end()) return known->second;
  std::string assignments;
  std::string columns;
  std::string placeholders;
  int assigned = 0;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    const core::Column& column = table.columns[i];
    const std::string quoted = quote_identifier(column.name);
    columns += (i ? ", " : "") + quoted;
    placeholders += (i ? ", ?" : "?") + std::to_string(i + 1);
    if (column.primary_key) continue;
    ++assigned;
    assignments += (assigned > 1 ? ", " : "") + quoted + " = ?" + std::to_string(assigned);
  }
  const std::string quoted_table = quote_identifier(table.name);
  WholeRowSql sql;
  LUMBUNG_ASSIGN_OR_RETURN(db::Statement * update,
                           db_.cached("UPDATE " + quoted_table + " SET " + assignments +
                                      " WHERE \"id\" = ?" + std::to_string(assigned + 1)));
  LUMBUNG_ASSIGN_OR_RETURN(db::Statement * insert,
                           db_.cached("INSERT INTO " + quoted_table + " (" + columns +
                                      ") VALUES (" + placeholders + ")"));
  sql = {update, insert};
  whole_row_sql_.emplace(&table, sql);
  return sql;
}

Result<bool> ServerStateWriter::write_whole(const ServerRow& row) {
  const core::Table& table = row.table();
  LUMBUNG_ASSIGN_OR_RETURN(WholeRowSql sql, whole_row_sql(table));
  // A whole row is mostly one the device lacks, so the insert goes first;
  // when it fails (a constraint), the row may exist, and the update decides.
  // Either way the outcome is the one of update-then-insert.
  Status inserted;
  {
    db::Query insert = db::Query::over(*sql.insert);  // its bound copies dropped when done
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      insert.statement().bind(static_cast<int>(i + 1), *row.cell(i));
    }
    inserted = insert.run();
  }
  if (inserted.is_ok()) {
    LUMBUNG_RETURN_IF_ERROR(record_whole(row, true));
    return sqlite3_changes(db_.handle()) > 0;
  }
  if (inserted.code() != ErrorCode::kConstraint) return inserted;
  int index = 0;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    if (!table.columns[i].primary_key) sql.update->bind(++index, *row.cell(i));
  }
  sql.update->bind(index + 1, Value(row.row_id()));
  LUMBUNG_RETURN_IF_ERROR(sql.update->run());
  if (sqlite3_changes(db_.handle()) == 0) return inserted;
  LUMBUNG_RETURN_IF_ERROR(record_whole(row, false));
  return true;
}

Status ServerStateWriter::record_whole(const ServerRow& row, bool fresh) {
  // The row's entry takes the stamp of its id (the insert's, which most of
  // its cells share); the others get entries of their own.
  const core::Table& table = row.table();
  std::size_t key = 0;
  while (key < table.columns.size() && !table.columns[key].primary_key) ++key;
  const core::Stamp& shared = key < table.columns.size() ? row.stamp(key) : kUnknownStamp;
  std::vector<std::pair<std::string, core::Stamp>> own;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    if (row.stamp(i) != shared) own.emplace_back(table.columns[i].name, row.stamp(i));
  }
  return Versions(db_).set_row(table.name, row.row_id(), row.scope(), shared, own, fresh);
}

Result<std::string> ServerStateWriter::stored_scope(const ServerRow& row) {
  const core::Table& table = row.table();
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::cached(db_,
                        "SELECT " + quote_identifier(table.scope_column) + " FROM " +
                            quote_identifier(table.name) + " WHERE \"id\" = ?1",
                        {Value(row.row_id())}));
  LUMBUNG_ASSIGN_OR_RETURN(const bool found, query.step());
  const Value scope = found ? query.value(0) : Value();
  return scope.type() == ValueType::kText ? scope.as_text() : std::string();
}

Result<bool> ServerStateWriter::write(ServerRow row) {
  const core::Table& table = row.table();
  const std::string quoted_table = quote_identifier(table.name);
  LUMBUNG_ASSIGN_OR_RETURN(Pending pending_changes, pending(row));
  const Pending& local = pending_changes;
  if (reseeder_) {
    Result<bool> keep = reseeder_->confirm(row, local);
    if (!keep.is_ok()) return with_row_context(row, keep.status());
    if (!*keep) return false;
  }

  if (row.deleted()) {
    if (local.any()) return false;
    Result<bool> deleted =
        run_counting_changes("DELETE FROM " + quoted_table + " WHERE \"id\" = ?1", {row.row_id()});
    if (!deleted.is_ok()) return with_row_context(row, deleted.status());
    const Status recorded = Versions(db_).set_deleted(table.name, row.row_id(), "", row.stamp(0));
    return recorded.is_ok() ? deleted : with_row_context(row, recorded);
  }
  if (local.row) return false;
  if (local.cells.empty() && row.complete()) {
    Result<bool> written = write_whole(row);
    return written.is_ok() ? written : with_row_context(row, written.status());
  }

  // Every cell but the id (which never changes) and the pending ones.
  std::string assignments;
  std::vector<Value> params;
  std::vector<std::size_t> written;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    const core::Column& column = table.columns[i];
    if (column.primary_key || !row.cell(i) || local.covers(column.name)) continue;
    params.push_back(*row.cell(i));
    written.push_back(i);
    assignments += (params.size() > 1 ? ", " : "") + quote_identifier(column.name) + " = ?" +
                   std::to_string(params.size());
  }
  Result<bool> found = false;
  if (!params.empty()) {
    params.push_back(Value(row.row_id()));
    found = run_counting_changes("UPDATE " + quoted_table + " SET " + assignments +
                                     " WHERE \"id\" = ?" + std::to_string(params.size()),
                                 params);
    if (found.is_ok() && *found) {
      Result<std::string> scope = stored_scope(row);
      if (!scope.is_ok()) return with_row_context(row, scope.status());
      Versions versions(db_);
      for (const std::size_t i : written) {
        const Status recorded = versions.set_cell(table.name, row.row_id(), *scope,
                                                  table.columns[i].name, row.stamp(i));
        if (!recorded.is_ok()) return with_row_context(row, recorded);
      }
      return true;
    }
  } else {
    found = exists(row);
    if (found.is_ok() && *found) return false;
  }
  if (!found.is_ok()) return with_row_context(row, found.status());
  if (!row.complete()) return false;

  std::string columns;
  std::string placeholders;
  params.clear();
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    columns += (i ? ", " : "") + quote_identifier(table.columns[i].name);
    placeholders += (i ? ", ?" : "?") + std::to_string(i + 1);
    params.push_back(*row.cell(i));
  }
  Result<bool> inserted = run_counting_changes(
      "INSERT INTO " + quoted_table + " (" + columns + ") VALUES (" + placeholders + ")", params);
  if (!inserted.is_ok()) return with_row_context(row, inserted.status());
  const Status recorded = record_whole(row, false);
  return recorded.is_ok() ? inserted : with_row_context(row, recorded);
}

}  // namespace lumbung::replica
