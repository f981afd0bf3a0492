#include "replica/scope_rows.hpp"

#include "replica/versions.hpp"

namespace lumbung::replica {
namespace {

using core::quote_identifier;

// The outbox entries of `table` whose row is in scope ?1 (bound by the caller).
std::string pending_in_scope(const core::Table& table, const std::string& what) {
  return what + " FROM _lumbung_outbox AS o JOIN " + quote_identifier(table.name) +
         " AS t ON t.\"id\" = o.row_id WHERE o.tbl = ?2 AND t." +
         quote_identifier(table.scope_column) + " = ?1";
}

// Deletes every row whose scope column is `scope`, in every table.
Status delete_scope_rows(db::Database& db, const core::Schema& schema, const std::string& scope,
                         const RemovedRow& removed) {
  for (const core::Table& table : schema.tables) {
    const std::string where = " FROM " + quote_identifier(table.name) + " WHERE " +
                              quote_identifier(table.scope_column) + " = ?1";
    if (removed) {
      LUMBUNG_ASSIGN_OR_RETURN(db::Query ids,
                               db::Query::cached(db, "SELECT \"id\"" + where, {Value(scope)}));
      for (;;) {
        LUMBUNG_ASSIGN_OR_RETURN(const bool row, ids.step());
        if (!row) break;
        removed(table.name, ids.text(0));
      }
    }
    LUMBUNG_RETURN_IF_ERROR(db::run(db, "DELETE" + where, {Value(scope)}));
  }
  return Status::ok();
}

}  // namespace

Status drop_scope(db::Database& db, const core::Schema& schema, const std::string& scope,
                  const RemovedRow& removed) {
  const Value message("scope '" + scope + "' is no longer granted to this device's token");
  for (const core::Table& table : schema.tables) {
    const std::vector<Value> params{Value(scope), Value(table.name), message};
    LUMBUNG_RETURN_IF_ERROR(
        db::run(db,
                "INSERT OR REPLACE INTO _lumbung_refused "
                "(tbl, row_id, col, op, hlc, base, reason, message) " +
                    pending_in_scope(table,
                                     "SELECT o.tbl, o.row_id, o.col, o.op, o.hlc, o.base, "
                                     "'out_of_scope', ?3"),
                params));
    LUMBUNG_RETURN_IF_ERROR(db::run(db,
                                    "DELETE FROM _lumbung_outbox WHERE tbl = ?2 AND row_id IN (" +
                                        pending_in_scope(table, "SELECT o.row_id") + ")",
                                    {Value(scope), Value(table.name)}));
  }
  LUMBUNG_RETURN_IF_ERROR(delete_scope_rows(db, schema, scope, removed));
  LUMBUNG_RETURN_IF_ERROR(Versions(db).forget_scope(scope));
  LUMBUNG_RETURN_IF_ERROR(
      db::run(db, "DELETE FROM _lumbung_reseed WHERE scope = ?1", {Value(scope)}));
  LUMBUNG_RETURN_IF_ERROR(
      db::run(db, "DELETE FROM _lumbung_conflict WHERE scope = ?1", {Value(scope)}));
  return db::run(db, "DELETE FROM _lumbung_scope WHERE scope = ?1", {Value(scope)});
}

}  // namespace lumbung::replica
