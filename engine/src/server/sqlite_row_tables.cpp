#include "server/sqlite_row_tables.hpp"

#include <algorithm>
#include <utility>

#include "server/store.hpp"

namespace lumbung::server {
namespace {

using core::quote_identifier;

// The store's own columns of a row table, after the schema's.
constexpr const char* kRowMetadataColumns =
    "\"_lumbung_created_seq\", \"_lumbung_hlc\", \"_lumbung_device\", \"_lumbung_versions\"";

std::string joined_columns(const std::vector<std::string>& columns) {
  std::string text;
  for (const std::string& column : columns) {
    if (!text.empty()) text += ", ";
    text += quote_identifier(column);
  }
  return text;
}

// The columns of table `name` in table order; none when there is no such table.
Result<std::vector<CatalogueColumn>> catalogue_columns(db::Database& db, std::string_view name) {
  LUMBUNG_ASSIGN_OR_RETURN(db::Statement info,
                           db.prepare("PRAGMA table_info(" + quote_identifier(name) + ")"));
  std::vector<CatalogueColumn> columns;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, info.step());
    if (!found) return columns;
    columns.push_back({info.column_text(1), info.column_text(2)});
  }
}

Status corrupt_name(std::string_view what, std::string_view name) {
  return Status(ErrorCode::kCorrupt, "store: " + std::string(what) + " '" + std::string(name) +
                                         "' is not a valid identifier");
}

// The statements of a row table whose name and columns are checked identifiers.
Result<RowTable> describe(std::string name, std::string scope_column,
                          std::vector<std::string> columns) {
  RowTable table;
  table.name = std::move(name);
  table.scope_column = std::move(scope_column);
  table.columns = std::move(columns);
  const std::optional<std::size_t> scope = table.position(table.scope_column);
  const std::optional<std::size_t> id = table.position("id");
  if (!scope || !id) {
    return Status(ErrorCode::kCorrupt,
                  "store: row table '" + table.name + "' lacks its id or scope column");
  }
  table.scope_position = *scope;
  table.id_position = *id;
  const std::string quoted = quote_identifier(table.name);
  const std::string listed = joined_columns(table.columns);
  table.select_row =
      "SELECT " + listed + ", " + kRowMetadataColumns + " FROM " + quoted + " WHERE \"id\" = ?1";
  table.select_rows = IdListSql::build(
      "SELECT " + listed + ", " + kRowMetadataColumns + " FROM " + quoted + " WHERE \"id\" IN ", 1);
  table.select_head = "SELECT " + quote_identifier(table.scope_column) +
                      ", \"_lumbung_created_seq\" FROM " + quoted + " WHERE \"id\" = ?1";
  table.select_heads =
      IdListSql::build("SELECT \"id\", " + quote_identifier(table.scope_column) +
                           ", \"_lumbung_created_seq\" FROM " + quoted + " WHERE \"id\" IN ",
                       1);
  std::string placeholders;
  for (std::size_t i = 1; i <= table.columns.size() + 4; ++i) {
    placeholders += (i == 1 ? "?" : ", ?") + std::to_string(i);
  }
  table.insert_row = "INSERT INTO " + quoted + " (" + listed + ", " + kRowMetadataColumns +
                     ") VALUES (" + placeholders + ")";
  table.delete_row = "DELETE FROM " + quoted + " WHERE \"id\" = ?1";
  // Scans read pages of rows after the last id read (?1; the scope: ?2),
  // as the PostgreSQL store must (server/sql_transactions.hpp).
  table.scan =
      "SELECT " + listed + " FROM " + quoted + " WHERE \"id\" > ?1 ORDER BY \"id\" LIMIT 512";
  table.scan_scope = "SELECT " + listed + " FROM " + quoted + " WHERE " +
                     quote_identifier(table.scope_column) +
                     " = ?2 AND \"id\" > ?1 ORDER BY \"id\" LIMIT 512";
  for (const std::string& column : table.columns) {
    table.update_cell.push_back("UPDATE " + quoted + " SET " + quote_identifier(column) +
                                " = ?2, \"_lumbung_versions\" = ?3 WHERE \"id\" = ?1");
  }
  return table;
}

}  // namespace

IdListSql IdListSql::build(std::string_view head, int first) {
  static_assert(kLong == ReadTransaction::kRowsPerRead);
  const auto text = [&](std::size_t length) {
    std::string sql(head);
    for (std::size_t i = 0; i < length; ++i) {
      sql += (i == 0 ? "(?" : ", ?") + std::to_string(first + static_cast<int>(i));
    }
    return sql + ")";
  };
  return {.short_text = text(kShort), .long_text = text(kLong)};
}

std::optional<std::size_t> RowTable::position(std::string_view column) const {
  const auto it = std::find(columns.begin(), columns.end(), column);
  if (it == columns.end()) return std::nullopt;
  return static_cast<std::size_t>(it - columns.begin());
}

Result<std::shared_ptr<const RowTables>> RowTables::build(const std::vector<Listed>& listed,
                                                          const Catalogue& catalogue) {
  auto tables = std::make_shared<RowTables>();
  for (const Listed& entry : listed) {
    if (!core::is_valid_identifier(entry.name)) return corrupt_name("row table", entry.name);
    LUMBUNG_ASSIGN_OR_RETURN(std::vector<CatalogueColumn> catalogued, catalogue(entry.name));
    std::vector<std::string> columns;
    for (CatalogueColumn& column : catalogued) {
      if (column.name.starts_with("_lumbung")) continue;
      if (!core::is_valid_identifier(column.name)) return corrupt_name("column", column.name);
      columns.push_back(std::move(column.name));
    }
    LUMBUNG_ASSIGN_OR_RETURN(RowTable table,
                             describe(entry.name, entry.scope_column, std::move(columns)));
    tables->by_name_.emplace(table.name, tables->tables_.size());
    tables->tables_.push_back(std::move(table));
  }
  return std::shared_ptr<const RowTables>(std::move(tables));
}

Result<std::shared_ptr<const RowTables>> RowTables::load(db::Database& db) {
  std::vector<Listed> listed;
  {
    LUMBUNG_ASSIGN_OR_RETURN(
        db::Statement rows,
        db.prepare("SELECT tbl, scope_column FROM _lumbung_tables ORDER BY position"));
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
      if (!found) break;
      listed.push_back({rows.column_text(0), rows.column_text(1)});
    }
  }
  return build(listed, [&](std::string_view name) { return catalogue_columns(db, name); });
}

const RowTable* RowTables::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tables_[it->second];
}

Status create_row_tables(const RowTableDdl& ddl, const core::Schema& schema, bool* columns_added) {
  *columns_added = false;
  for (const core::Table& table : schema.tables) {
    const std::string quoted = quote_identifier(table.name);
    LUMBUNG_ASSIGN_OR_RETURN(std::vector<CatalogueColumn> existing, ddl.catalogue(table.name));
    if (existing.empty()) {
      std::string create = "CREATE TABLE " + quoted + " (";
      for (const core::Column& column : table.columns) {
        create += quote_identifier(column.name) + " " + ddl.type_name(column.type) +
                  (column.primary_key ? ddl.key_collation + " PRIMARY KEY NOT NULL" : "") + ", ";
      }
      LUMBUNG_RETURN_IF_ERROR(ddl.exec(create + ddl.metadata_columns + ")"));
      LUMBUNG_RETURN_IF_ERROR(
          ddl.run("INSERT INTO _lumbung_tables (tbl, scope_column, position) "
                  "VALUES (?1, ?2, (SELECT coalesce(max(position), 0) + 1 FROM _lumbung_tables))",
                  {Value(table.name), Value(table.scope_column)}));
    } else {
      for (const core::Column& column : table.columns) {
        const std::string type = ddl.type_name(column.type);
        const auto found =
            std::find_if(existing.begin(), existing.end(),
                         [&](const CatalogueColumn& c) { return c.name == column.name; });
        if (found != existing.end()) {
          if (found->type == type) continue;
          return Status(ErrorCode::kSchemaIncompatible,
                        "table '" + table.name + "': column '" + column.name + "' is " +
                            ddl.schema_type_name(found->type) + " in the store, " +
                            std::string(core::sql_type_name(column.type)) + " in the schema");
        }
        std::string add =
            "ALTER TABLE " + quoted + " ADD COLUMN " + quote_identifier(column.name) + " " + type;
        if (column.default_value) add += " DEFAULT " + ddl.literal(*column.default_value);
        LUMBUNG_RETURN_IF_ERROR(ddl.exec(add));
        *columns_added = true;
      }
    }
    // Every scope's rows are read on their own (snapshots, dumps, exports
    // of a village): a table whose indexes do not start with its scope
    // column gets one of the store's own.
    bool scope_indexed = false;
    for (const core::Index& index : table.indexes) {
      LUMBUNG_RETURN_IF_ERROR(ddl.exec("CREATE INDEX IF NOT EXISTS " +
                                       quote_identifier(index.name) + " ON " + quoted + " (" +
                                       joined_columns(index.columns) + ")"));
      scope_indexed = scope_indexed || index.columns.front() == table.scope_column;
    }
    if (!scope_indexed) {
      LUMBUNG_RETURN_IF_ERROR(ddl.exec("CREATE INDEX IF NOT EXISTS \"_lumbung_" + table.name +
                                       "_scope\" ON " + quoted + " (" +
                                       quote_identifier(table.scope_column) + ")"));
    }
  }
  return Status::ok();
}

Status create_row_tables(db::Database& db, const core::Schema& schema, bool* columns_added) {
  const RowTableDdl ddl{
      .type_name = [](core::ColumnType type) { return std::string(core::sql_type_name(type)); },
      .schema_type_name = [](const std::string& type) { return type; },
      .key_collation = "",
      .metadata_columns =
          "\"_lumbung_created_seq\" INTEGER NOT NULL, \"_lumbung_hlc\" INTEGER NOT NULL, "
          "\"_lumbung_device\" TEXT NOT NULL, \"_lumbung_versions\" BLOB NOT NULL",
      .literal = [](const Value& value) { return core::sql_literal(value); },
      .catalogue = [&](std::string_view name) { return catalogue_columns(db, name); },
      .exec = [&](std::string_view sql) { return db.exec(sql); },
      .run = [&](const std::string& sql,
                 const std::vector<Value>& params) { return db::run(db, sql, params); }};
  return create_row_tables(ddl, schema, columns_added);
}

}  // namespace lumbung::server
