#include "replica/scope_check.hpp"

#include "core/checksum.hpp"
#include "replica/reseed.hpp"
#include "replica/server_state.hpp"

namespace lumbung::replica {
namespace {

using core::quote_identifier;

std::string column_list(const core::Table& table) {
  std::string list;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    list += (i ? ", " : "") + quote_identifier(table.columns[i].name);
  }
  return list;
}

}  // namespace

Result<std::optional<std::set<std::string>>> ScopeVerifier::scopes_with_changes() {
  std::set<std::string> scopes;
  for (const core::Table& table : schema_.tables) {
    LUMBUNG_ASSIGN_OR_RETURN(
        db::Query query,
        db::Query::cached(db_,
                          "SELECT DISTINCT t." + quote_identifier(table.scope_column) +
                              " FROM (SELECT row_id FROM _lumbung_outbox WHERE tbl = ?1 "
                              "UNION SELECT row_id FROM _lumbung_refused WHERE tbl = ?1) AS "
                              "changed LEFT JOIN " +
                              quote_identifier(table.name) + " AS t ON t.\"id\" = changed.row_id",
                          {Value(table.name)}));
    bool unknown = false;
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
      if (!row) break;
      const Value scope = query.value(0);
      if (scope.type() == ValueType::kText) {
        scopes.insert(scope.as_text());
      } else {
        unknown = true;
      }
    }
    if (unknown) return std::optional<std::set<std::string>>();
  }
  return std::optional<std::set<std::string>>(std::move(scopes));
}

Result<ScopeVerifier::ScopeSum> ScopeVerifier::local_sum(const std::string& scope) {
  ScopeSum sum;
  for (const core::Table& table : schema_.tables) {
    LUMBUNG_ASSIGN_OR_RETURN(
        db::Query query,
        db::Query::cached(db_,
                          "SELECT " + column_list(table) + " FROM " + quote_identifier(table.name) +
                              " WHERE " + quote_identifier(table.scope_column) + " = ?1",
                          {Value(scope)}));
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
      if (!row) break;
      ++sum.rows;
      const core::RowCellHasher row_hasher(table.name, query.text(0));
      for (std::size_t i = 0; i < table.columns.size(); ++i) {
        sum.checksum += row_hasher.cell(table.columns[i].name, query.value(static_cast<int>(i)));
      }
    }
  }
  return sum;
}

Result<std::vector<std::string>> ScopeVerifier::heal_mismatches(
    const v1::PullPage& last_page, const std::set<std::string>& spared) {
  std::vector<std::string> reset;
  Status status = in_applying_transaction(db_, schema_, [&]() -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(std::optional<std::set<std::string>> changed, scopes_with_changes());
    if (!changed) return Status::ok();  // any scope may have changes: compare none
    for (const v1::ScopeChecksum& expected : last_page.checksums()) {
      if (changed->count(expected.scope()) || spared.count(expected.scope())) continue;
      LUMBUNG_ASSIGN_OR_RETURN(ScopeSum local, local_sum(expected.scope()));
      if (local.checksum == expected.checksum() && local.rows == expected.rows()) continue;
      LUMBUNG_RETURN_IF_ERROR(Reseeder(db_, schema_).begin({expected.scope()}, false));
      reset.push_back(expected.scope());
    }
    return Status::ok();
  });
  if (!status.is_ok()) return status;
  return reset;
}

}  // namespace lumbung::replica
