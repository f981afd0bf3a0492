#include "db/check_judge.hpp"

namespace lumbung::db {
namespace {

using core::quote_identifier;

std::string table_prefix(const core::Table& table) { return "table '" + table.name + "': "; }

Status failed(const core::Table& table, const core::CheckExpr& check, const core::Column* column) {
  return Status(ErrorCode::kConstraint, table_prefix(table) +
                                            (column ? "column '" + column->name + "': " : "") +
                                            "CHECK failed: " + check.source());
}

}  // namespace

Result<std::unique_ptr<CheckJudge>> CheckJudge::open(const core::Schema& schema) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::open(":memory:", true));
  std::unique_ptr<CheckJudge> judge(new CheckJudge(schema, std::move(db)));
  Database& twin_db = *judge->db_;
  for (const core::Table& table : schema.tables) {
    const std::string name = quote_identifier(table.name);
    std::string columns;
    std::string assignments;
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      const core::Column& column = table.columns[i];
      columns += (i ? ", " : "") + quote_identifier(column.name) + " " +
                 std::string(core::sql_type_name(column.type));
      assignments +=
          (i ? ", " : "") + quote_identifier(column.name) + " = ?" + std::to_string(i + 1);
    }
    // One row, rewritten for each row judged: no transaction a row.
    LUMBUNG_RETURN_IF_ERROR(twin_db.exec("CREATE TABLE " + name + " (" + columns +
                                         "); INSERT INTO " + name + " DEFAULT VALUES"));
    Twin twin;
    LUMBUNG_ASSIGN_OR_RETURN(Statement store,
                             twin_db.prepare("UPDATE " + name + " SET " + assignments));
    twin.store = std::move(store);
    std::string all_pass;
    const auto add = [&](const core::CheckExpr& expr, const core::Column* column) -> Status {
      // As SQLite judges a CHECK: false fails, NULL passes.
      const std::string passes =
          "CASE WHEN " + expr.sql() + " THEN 1 WHEN " + expr.sql() + " IS NULL THEN 1 ELSE 0 END";
      LUMBUNG_ASSIGN_OR_RETURN(Statement judge_sql,
                               twin_db.prepare("SELECT " + passes + " FROM " + name));
      twin.checks.push_back({&expr, column, std::move(judge_sql)});
      all_pass += (all_pass.empty() ? "" : " AND ") + passes;
      return Status::ok();
    };
    for (const core::Column& column : table.columns) {
      if (column.check) LUMBUNG_RETURN_IF_ERROR(add(*column.check, &column));
    }
    for (const core::CheckExpr& check : table.checks) LUMBUNG_RETURN_IF_ERROR(add(check, nullptr));
    if (!all_pass.empty()) {
      LUMBUNG_ASSIGN_OR_RETURN(Statement all,
                               twin_db.prepare("SELECT " + all_pass + " FROM " + name));
      twin.all_pass = std::move(all);
    }
    judge->twins_.emplace(table.name, std::move(twin));
  }
  return judge;
}

Status CheckJudge::store(const core::Table& table, const Row& row) {
  Query store = Query::over(twins_.at(table.name).store);
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    const auto it = row.find(table.columns[i].name);
    store.statement().bind(static_cast<int>(i + 1), it == row.end() ? Value() : it->second);
  }
  return store.run();
}

Result<const CheckJudge::Check*> CheckJudge::first_failed(const std::vector<Check*>& checks) {
  for (Check* check : checks) {
    Query judge = Query::over(check->judge);
    Result<bool> row_read = judge.step();
    // An error SQLite raises evaluating it (abs() of the smallest integer)
    // fails the write too.
    if (!row_read.is_ok() || !*row_read || judge.integer(0) == 0) return check;
  }
  return nullptr;
}

Status CheckJudge::check(const core::Table& table, const Row& row) {
  std::lock_guard lock(mu_);
  Twin& twin = twins_.at(table.name);
  if (twin.checks.empty()) return Status::ok();
  LUMBUNG_RETURN_IF_ERROR(store(table, row));
  {
    // Most rows pass: one statement judges them.
    Query all = Query::over(twin.all_pass);
    Result<bool> row_read = all.step();
    if (row_read.is_ok() && *row_read && all.integer(0) == 1) return Status::ok();
  }
  std::vector<Check*> checks;
  for (Check& check : twin.checks) checks.push_back(&check);
  LUMBUNG_ASSIGN_OR_RETURN(const Check* first, first_failed(checks));
  if (first == nullptr) return Status::ok();
  return failed(table, *first->expr, first->column);
}

Status CheckJudge::validate_row(const core::Table& table, const Row& row) {
  LUMBUNG_RETURN_IF_ERROR(core::validate_cells(table, row));
  return check(table, row);
}

Status CheckJudge::check_defaults(std::string_view source) {
  std::lock_guard lock(mu_);
  for (const core::Table& table : schema_.tables) {
    for (Check& check : twins_.at(table.name).checks) {
      if (check.column == nullptr || !check.column->default_value) continue;
      const Value& value = *check.column->default_value;
      LUMBUNG_RETURN_IF_ERROR(store(table, {{check.column->name, value}}));
      LUMBUNG_ASSIGN_OR_RETURN(const Check* first, first_failed({&check}));
      if (first == nullptr) continue;
      return Status(ErrorCode::kSchemaInvalid, std::string(source) + ": table '" + table.name +
                                                   "': column '" + check.column->name +
                                                   "': default " + core::describe_value(value) +
                                                   " fails its CHECK: " + check.expr->source());
    }
  }
  return Status::ok();
}

Result<core::Schema> load_schema(std::string_view json_text, std::string_view source) {
  Result<core::Schema> schema = core::load_schema(json_text, source);
  if (!schema.is_ok()) return schema;
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<CheckJudge> judge, CheckJudge::open(*schema));
  LUMBUNG_RETURN_IF_ERROR(judge->check_defaults(source));
  return schema;
}

}  // namespace lumbung::db
