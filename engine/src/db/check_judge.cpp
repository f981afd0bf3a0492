#include "db/check_judge.hpp"

#include <algorithm>
#include <cstdint>

namespace lumbung::db {
namespace {

using core::quote_identifier;

std::string table_prefix(const core::Table& table) { return "table '" + table.name + "': "; }

Status failed(const core::Table& table, const core::CheckExpr& check, const core::Column* column) {
  return Status(ErrorCode::kConstraint, table_prefix(table) +
                                            (column ? "column '" + column->name + "': " : "") +
                                            "CHECK failed: " + check.source());
}

// Appends `value` to `key`, typed: values of different types or bytes give
// different keys.
void append_verdict_key(const Value& value, std::string* key) {
  key->push_back(static_cast<char>(value.type()));
  const auto append_bytes = [&](const void* bytes, std::size_t size) {
    const std::uint64_t length = size;
    key->append(reinterpret_cast<const char*>(&length), sizeof length);
    key->append(static_cast<const char*>(bytes), size);
  };
  switch (value.type()) {
    case ValueType::kNull:
      break;
    case ValueType::kInteger: {
      const std::int64_t v = value.as_integer();
      key->append(reinterpret_cast<const char*>(&v), sizeof v);
      break;
    }
    case ValueType::kReal: {
      const double v = value.as_real();
      key->append(reinterpret_cast<const char*>(&v), sizeof v);
      break;
    }
    case ValueType::kText:
      append_bytes(value.as_text().data(), value.as_text().size());
      break;
    case ValueType::kBlob:
      append_bytes(value.as_blob().data(), value.as_blob().size());
      break;
  }
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
    const auto add = [&](const core::CheckExpr& expr, const core::Column* column) -> Status {
      // As SQLite judges a CHECK: false fails, NULL passes.
      const std::string passes =
          "CASE WHEN " + expr.sql() + " THEN 1 WHEN " + expr.sql() + " IS NULL THEN 1 ELSE 0 END";
      LUMBUNG_ASSIGN_OR_RETURN(Statement judge_sql,
                               twin_db.prepare("SELECT " + passes + " FROM " + name));
      Check check{.expr = &expr,
                  .column = column,
                  .judge = std::move(judge_sql),
                  .named = {},
                  .verdicts = {}};
      for (const std::string& named : expr.columns()) {
        const auto at = std::find_if(table.columns.begin(), table.columns.end(),
                                     [&](const core::Column& c) { return c.name == named; });
        check.named.push_back(&*at);  // the parser checked that the table has it
      }
      twin.checks.push_back(std::move(check));
      return Status::ok();
    };
    for (const core::Column& column : table.columns) {
      if (column.check) LUMBUNG_RETURN_IF_ERROR(add(*column.check, &column));
    }
    for (const core::CheckExpr& check : table.checks) LUMBUNG_RETURN_IF_ERROR(add(check, nullptr));
    judge->twins_.emplace(table.name, std::move(twin));
  }
  return judge;
}

template <typename ValueOf>
Status CheckJudge::store(const core::Table& table, const ValueOf& value_of) {
  static const Value kNull;
  Query store = Query::over(twins_.at(table.name).store);
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    const Value* value = value_of(i);
    store.statement().bind(static_cast<int>(i + 1), value == nullptr ? kNull : *value);
  }
  return store.run();
}

bool CheckJudge::passes(Check& check) {
  Query judge = Query::over(check.judge);
  Result<bool> row_read = judge.step();
  // An error SQLite raises evaluating it (abs() of the smallest integer)
  // fails the write too.
  return row_read.is_ok() && *row_read && judge.integer(0) == 1;
}

template <typename ValueOf>
Status CheckJudge::check_columns(const core::Table& table, const ValueOf& value_of) {
  // Enough for the values of a register's coded columns; past it, the
  // verdicts start again (a bound on memory, not on correctness).
  constexpr std::size_t kMostVerdicts = 4096;
  static const Value kNull;
  std::lock_guard lock(mu_);
  Twin& twin = twins_.at(table.name);
  bool stored = false;
  std::string key;
  for (Check& check : twin.checks) {
    key.clear();
    for (const core::Column* column : check.named) {
      const Value* value = value_of(static_cast<std::size_t>(column - table.columns.data()));
      append_verdict_key(value == nullptr ? kNull : *value, &key);
    }
    auto verdict = check.verdicts.find(key);
    if (verdict == check.verdicts.end()) {
      if (!stored) {
        LUMBUNG_RETURN_IF_ERROR(store(table, value_of));
        stored = true;
      }
      if (check.verdicts.size() >= kMostVerdicts) check.verdicts.clear();
      verdict = check.verdicts.emplace(key, passes(check)).first;
    }
    if (!verdict->second) return failed(table, *check.expr, check.column);
  }
  return Status::ok();
}

Status CheckJudge::check(const core::Table& table, const Row& row) {
  return check_columns(table, [&](std::size_t i) -> const Value* {
    const auto it = row.find(table.columns[i].name);
    return it == row.end() ? nullptr : &it->second;
  });
}

Status CheckJudge::validate_row(const core::Table& table, const Row& row) {
  LUMBUNG_RETURN_IF_ERROR(core::validate_cells(table, row));
  return check(table, row);
}

Status CheckJudge::validate_row(const core::Table& table, const std::vector<Value>& values) {
  LUMBUNG_RETURN_IF_ERROR(core::validate_cells(table, values));
  return check_columns(table, [&](std::size_t i) { return &values[i]; });
}

Status CheckJudge::check_defaults(std::string_view source) {
  std::lock_guard lock(mu_);
  for (const core::Table& table : schema_.tables) {
    for (Check& check : twins_.at(table.name).checks) {
      if (check.column == nullptr || !check.column->default_value) continue;
      const Value& value = *check.column->default_value;
      LUMBUNG_RETURN_IF_ERROR(store(table, [&](std::size_t i) {
        return &table.columns[i] == check.column ? &value : nullptr;
      }));
      if (passes(check)) continue;
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
