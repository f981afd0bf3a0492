#include "replica/schema_sql.hpp"

#include <cmath>
#include <cstdio>

namespace lumbung::replica {
namespace {

using core::quote_identifier;

std::string column_sql(const core::Column& column) {
  std::string sql = quote_identifier(column.name) + " " + std::string(sql_type_name(column.type));
  // SQLite lets a TEXT PRIMARY KEY hold NULL unless told otherwise.
  if (column.primary_key) sql += " PRIMARY KEY NOT NULL";
  if (column.not_null && !column.primary_key) sql += " NOT NULL";
  if (column.default_value) {
    sql += " DEFAULT " + core::sql_literal(*column.default_value, core::RealDigits::kSeventeen);
  }
  if (column.check) sql += " CHECK " + column.check->table_sql();
  if (column.references) {
    sql += " REFERENCES " + quote_identifier(column.references->table) + "(" +
           quote_identifier(column.references->column) + ") DEFERRABLE INITIALLY DEFERRED";
  }
  return sql;
}

Status incompatible(const std::string& what) {
  return Status(ErrorCode::kSchemaIncompatible,
                what + "; only new tables, new nullable columns and new indexes can be added");
}

}  // namespace

std::string create_table_sql(const core::Table& table) {
  std::string sql = "CREATE TABLE " + quote_identifier(table.name) + " (";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    sql += (i ? ", " : "") + column_sql(table.columns[i]);
  }
  for (const core::CheckExpr& check : table.checks) sql += ", CHECK " + check.table_sql();
  return sql + ")";
}

std::vector<std::string> create_index_sql(const core::Table& table) {
  std::vector<std::string> statements;
  for (const core::Index& index : table.indexes) {
    std::string sql = "CREATE INDEX IF NOT EXISTS " + quote_identifier(index.name) + " ON " +
                      quote_identifier(table.name) + " (";
    for (size_t i = 0; i < index.columns.size(); ++i) {
      sql += (i ? ", " : "") + quote_identifier(index.columns[i]);
    }
    statements.push_back(sql + ")");
  }
  return statements;
}

std::string add_column_sql(const core::Table& table, const core::Column& column) {
  return "ALTER TABLE " + quote_identifier(table.name) + " ADD COLUMN " + column_sql(column);
}

Result<MigrationPlan> plan_migration(const core::Schema& from, const core::Schema& to) {
  MigrationPlan plan;
  for (const core::Table& old_table : from.tables) {
    const core::Table* table = to.find_table(old_table.name);
    const std::string where = "table '" + old_table.name + "'";
    if (!table) return incompatible(where + " was removed");
    if (table->scope_column != old_table.scope_column) {
      return incompatible(where + ": the scope column changed");
    }
    if (table->checks != old_table.checks) return incompatible(where + ": its CHECKs changed");
    for (const core::Column& old_column : old_table.columns) {
      const core::Column* column = table->find_column(old_column.name);
      const std::string at = where + ": column '" + old_column.name + "'";
      if (!column) return incompatible(at + " was removed");
      if (column->type != old_column.type) return incompatible(at + " changed its type");
      if (column->not_null != old_column.not_null) return incompatible(at + " changed NOT NULL");
      if (column->default_value != old_column.default_value) {
        return incompatible(at + " changed its default");
      }
      if (column->check != old_column.check) return incompatible(at + " changed its CHECK");
      if (column->references != old_column.references) {
        return incompatible(at + " changed its foreign key");
      }
    }
    for (const core::Column& column : table->columns) {
      if (old_table.find_column(column.name)) continue;
      if (column.not_null && !column.default_value) {
        return incompatible(where + ": new column '" + column.name +
                            "' is NOT NULL without a default");
      }
      plan.new_columns.emplace_back(table, &column);
    }
    for (const core::Index& old_index : old_table.indexes) {
      bool kept = false;
      for (const core::Index& index : table->indexes) kept = kept || index == old_index;
      if (!kept)
        return incompatible(where + ": index '" + old_index.name + "' was changed or removed");
    }
    for (const core::Index& index : table->indexes) {
      bool known = false;
      for (const core::Index& old_index : old_table.indexes) known = known || index == old_index;
      if (!known) plan.new_indexes.emplace_back(table, &index);
    }
  }
  for (const core::Table& table : to.tables) {
    if (!from.find_table(table.name)) plan.new_tables.push_back(&table);
  }
  return plan;
}

}  // namespace lumbung::replica
