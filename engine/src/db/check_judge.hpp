// CheckJudge: the CHECK constraints of a schema's tables, judged by SQLite
// itself (docs/decisions/0020-sqlite-judges-checks.md). Each table has a twin
// in an in-memory database of the judge's own, with the same columns and
// declared types (so the same affinities) and no constraint; a row is stored
// as its one row, and each CHECK's SQL is evaluated over it as SQLite
// evaluates a CHECK (false fails; NULL and true pass; an error fails), in
// order, up to the first it fails. So the daemon refuses exactly what a
// device's SQLite of the same version refuses, and a device can say which
// CHECK a refused write failed. A CHECK's value depends on the columns it
// names alone (core::CheckExpr::columns), so each CHECK keeps its verdicts by
// their values: a register's coded columns take few values, and most rows
// are judged without SQLite (whose IN lists build a table at each run).
//
// Thread-safety: safe to share; one row is judged at a time (a mutex).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/status.hpp"
#include "lumbung/value.hpp"

namespace lumbung::db {

class CheckJudge {
 public:
  // A judge of `schema`'s tables. REQUIRES: `schema` outlives it.
  static Result<std::unique_ptr<CheckJudge>> open(const core::Schema& schema);

  // OK when `row` (a missing column is NULL) passes every CHECK of `table`;
  // else kConstraint naming the first it fails, column CHECKs in column
  // order first: "table 'person': column 'sex': CHECK failed: sex IN
  // ('L','P')", "table 'village': CHECK failed: village_id = id", each quoted
  // as written in the schema file. REQUIRES: `table` is the schema's.
  Status check(const core::Table& table, const Row& row);

  // core::validate_cells (columns, types, NOT NULL), then check(): what a
  // device's table refuses, explained.
  Status validate_row(const core::Table& table, const Row& row);
  // The same of a row given as a value per column of `table`, in its order
  // (the merge's form). REQUIRES: values.size() == table.columns.size().
  Status validate_row(const core::Table& table, const std::vector<Value>& values);

  // kSchemaInvalid when a column's default fails its CHECK: "t.json: table
  // 'person': column 'deceased': default integer 2 fails its CHECK: deceased
  // IN (0,1)", `source` naming the schema's file.
  Status check_defaults(std::string_view source);

 private:
  // A CHECK of a table: a column's (column set) or the table's.
  struct Check {
    const core::CheckExpr* expr = nullptr;
    const core::Column* column = nullptr;
    Statement judge;                         // 1 when the twin's row passes it, 0 when it fails
    std::vector<const core::Column*> named;  // the columns it names
    std::unordered_map<std::string, bool> verdicts;  // by their values: passes
  };
  struct Twin {
    Statement store;            // sets every column of the twin's one row, in order
    std::vector<Check> checks;  // column CHECKs in column order, then the table's
  };

  CheckJudge(const core::Schema& schema, std::unique_ptr<Database> db)
      : schema_(schema), db_(std::move(db)) {}
  // check() of the row whose column i holds *value_of(i) (null: NULL).
  template <typename ValueOf>
  Status check_columns(const core::Table& table, const ValueOf& value_of);
  // Makes the row whose column i holds *value_of(i) the twin's row of
  // `table`. REQUIRES: mu_ held.
  template <typename ValueOf>
  Status store(const core::Table& table, const ValueOf& value_of);
  // Whether the twin's row of its table passes `check`. REQUIRES: mu_ held.
  bool passes(Check& check);

  const core::Schema& schema_;
  std::mutex mu_;
  std::unique_ptr<Database> db_;       // guarded by mu_
  std::map<std::string, Twin> twins_;  // by table name; guarded by mu_
};

// core::load_schema, then each column's default judged against its CHECK.
Result<core::Schema> load_schema(std::string_view json_text, std::string_view source);

}  // namespace lumbung::db
