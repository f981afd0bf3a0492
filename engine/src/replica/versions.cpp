#include "replica/versions.hpp"

#include <algorithm>

namespace lumbung::replica {
namespace {

Value hlc_value(const core::Stamp& stamp) { return Value(stamp.hlc.packed()); }

}  // namespace

const core::Stamp& RowVersions::cell(const std::string& column) const {
  const auto it = std::find_if(cells.begin(), cells.end(),
                               [&](const auto& cell) { return cell.first == column; });
  return it == cells.end() ? row : it->second;
}

Result<RowVersions> Versions::read(const std::string& table, const std::string& row_id) {
  LUMBUNG_ASSIGN_OR_RETURN(db::Query query,
                           db::Query::cached(db_,
                                             "SELECT col, hlc, author, scope, deleted "
                                             "FROM _lumbung_version WHERE tbl = ?1 AND row_id = ?2",
                                             {Value(table), Value(row_id)}));
  RowVersions versions;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, query.step());
    if (!found) return versions;
    core::Stamp stamp{core::Hlc(query.integer(1)), query.text(2)};
    std::string column = query.text(0);
    if (!column.empty()) {
      versions.cells.emplace_back(std::move(column), std::move(stamp));
      continue;
    }
    versions.known = true;
    versions.row = std::move(stamp);
    const Value scope = query.value(3);
    if (scope.type() == ValueType::kText) versions.scope = scope.as_text();
    versions.deleted = query.integer(4) != 0;
  }
}

Status Versions::forget_cells(const std::string& table, const std::string& row_id) {
  return db::run_cached(db_,
                        "DELETE FROM _lumbung_version WHERE tbl = ?1 AND row_id = ?2 AND col <> ''",
                        {Value(table), Value(row_id)});
}

Status Versions::set_row(const std::string& table, const std::string& row_id,
                         const std::string& scope, const core::Stamp& stamp,
                         const std::vector<std::pair<std::string, core::Stamp>>& own_cells,
                         bool fresh) {
  if (!fresh) LUMBUNG_RETURN_IF_ERROR(forget_cells(table, row_id));
  LUMBUNG_RETURN_IF_ERROR(db::run_cached(
      db_,
      "INSERT OR REPLACE INTO _lumbung_version (tbl, row_id, col, hlc, author, scope, deleted) "
      "VALUES (?1, ?2, '', ?3, ?4, ?5, 0)",
      {Value(table), Value(row_id), hlc_value(stamp), Value(stamp.device_id), Value(scope)}));
  for (const auto& [column, cell] : own_cells) {
    LUMBUNG_RETURN_IF_ERROR(db::run_cached(
        db_,
        "INSERT OR REPLACE INTO _lumbung_version (tbl, row_id, col, hlc, author, scope, deleted) "
        "VALUES (?1, ?2, ?3, ?4, ?5, NULL, 0)",
        {Value(table), Value(row_id), Value(column), hlc_value(cell), Value(cell.device_id)}));
  }
  return Status::ok();
}

Status Versions::set_cell(const std::string& table, const std::string& row_id,
                          const std::string& scope, const std::string& column,
                          const core::Stamp& stamp) {
  LUMBUNG_RETURN_IF_ERROR(db::run_cached(
      db_,
      "INSERT OR IGNORE INTO _lumbung_version (tbl, row_id, col, hlc, author, scope, deleted) "
      "VALUES (?1, ?2, '', 0, '', ?3, 0)",
      {Value(table), Value(row_id), Value(scope)}));
  // A cell whose stamp is its row's needs no entry of its own.
  LUMBUNG_RETURN_IF_ERROR(db::run_cached(
      db_, "DELETE FROM _lumbung_version WHERE tbl = ?1 AND row_id = ?2 AND col = ?3",
      {Value(table), Value(row_id), Value(column)}));
  return db::run_cached(
      db_,
      "INSERT INTO _lumbung_version (tbl, row_id, col, hlc, author, scope, deleted) "
      "SELECT ?1, ?2, ?3, ?4, ?5, NULL, 0 WHERE NOT EXISTS (SELECT 1 FROM _lumbung_version "
      "WHERE tbl = ?1 AND row_id = ?2 AND col = '' AND hlc = ?4 AND author = ?5)",
      {Value(table), Value(row_id), Value(column), hlc_value(stamp), Value(stamp.device_id)});
}

Status Versions::set_deleted(const std::string& table, const std::string& row_id,
                             const std::string& scope, const core::Stamp& stamp) {
  LUMBUNG_RETURN_IF_ERROR(forget_cells(table, row_id));
  return db::run_cached(
      db_,
      "INSERT OR REPLACE INTO _lumbung_version (tbl, row_id, col, hlc, author, scope, deleted) "
      "VALUES (?1, ?2, '', ?3, ?4, COALESCE(NULLIF(?5, ''), (SELECT scope FROM _lumbung_version "
      "WHERE tbl = ?1 AND row_id = ?2 AND col = '')), 1)",
      {Value(table), Value(row_id), hlc_value(stamp), Value(stamp.device_id), Value(scope)});
}

Status Versions::forget_scope(const std::string& scope) {
  LUMBUNG_RETURN_IF_ERROR(
      db::run_cached(db_,
                     "DELETE FROM _lumbung_version WHERE col <> '' AND (tbl, row_id) IN "
                     "(SELECT tbl, row_id FROM _lumbung_version WHERE col = '' AND scope = ?1)",
                     {Value(scope)}));
  return db::run_cached(db_, "DELETE FROM _lumbung_version WHERE col = '' AND scope = ?1",
                        {Value(scope)});
}

}  // namespace lumbung::replica
