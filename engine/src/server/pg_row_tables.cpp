#include "server/pg_row_tables.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace lumbung::server {
namespace {

using core::quote_identifier;

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

struct CatalogueColumn {
  std::string name;
  std::string type;  // information_schema's data_type: "bigint", "text", ...
};

// The columns of table `name` of the current schema in ordinal order; none
// when there is no such table.
Result<std::vector<CatalogueColumn>> catalogue_columns(pg::Connection& conn,
                                                       std::string_view name) {
  LUMBUNG_ASSIGN_OR_RETURN(
      pg::Rows rows,
      conn.query("SELECT column_name::text, data_type::text FROM information_schema.columns "
                 "WHERE table_schema = current_schema() AND table_name = $1::text "
                 "ORDER BY ordinal_position",
                 {Value(name)}));
  std::vector<CatalogueColumn> columns;
  while (rows.step()) columns.push_back({rows.text(0), rows.text(1)});
  return columns;
}

// The schema's name of a PostgreSQL type the store creates; the type itself
// for another.
std::string schema_type_name(const std::string& pg_type) {
  for (const core::ColumnType type : {core::ColumnType::kInteger, core::ColumnType::kReal,
                                      core::ColumnType::kText, core::ColumnType::kBlob}) {
    if (pg_type == pg_type_name(type)) return std::string(core::sql_type_name(type));
  }
  return pg_type;
}

// A column default as PostgreSQL reads it: sql_literal() but for blobs,
// which PostgreSQL writes as '\x...'::bytea.
std::string pg_literal(const Value& value) {
  if (value.type() != ValueType::kBlob) return core::sql_literal(value);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text = "'\\x";
  for (const std::uint8_t byte : value.as_blob()) {
    text += kHex[byte >> 4];
    text += kHex[byte & 0xf];
  }
  return text + "'::bytea";
}

Status corrupt_name(std::string_view what, std::string_view name) {
  return Status(ErrorCode::kCorrupt, "store: " + std::string(what) + " '" + std::string(name) +
                                         "' is not a valid identifier");
}

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
      "SELECT " + listed + ", " + kRowMetadataColumns + " FROM " + quoted + " WHERE \"id\" = $1";
  table.select_head = "SELECT " + quote_identifier(table.scope_column) +
                      ", \"_lumbung_created_seq\" FROM " + quoted + " WHERE \"id\" = $1";
  std::string placeholders;
  for (std::size_t i = 1; i <= table.columns.size() + 4; ++i) {
    placeholders += (i == 1 ? "$" : ", $") + std::to_string(i);
  }
  table.insert_row = "INSERT INTO " + quoted + " (" + listed + ", " + kRowMetadataColumns +
                     ") VALUES (" + placeholders + ")";
  table.delete_row = "DELETE FROM " + quoted + " WHERE \"id\" = $1";
  // Scans read pages of rows after the last id read ($1; the scope: $2), as
  // libpq reads a result whole (PgStore's scan_rows). Ids collate as "C"
  // (bytes, as in SQLite), whatever the database's collation.
  table.scan =
      "SELECT " + listed + " FROM " + quoted + " WHERE \"id\" > $1 ORDER BY \"id\" LIMIT 512";
  table.scan_scope = "SELECT " + listed + " FROM " + quoted + " WHERE " +
                     quote_identifier(table.scope_column) +
                     " = $2 AND \"id\" > $1 ORDER BY \"id\" LIMIT 512";
  for (const std::string& column : table.columns) {
    table.update_cell.push_back("UPDATE " + quoted + " SET " + quote_identifier(column) +
                                " = $2, \"_lumbung_versions\" = $3 WHERE \"id\" = $1");
  }
  return table;
}

}  // namespace

std::string_view pg_type_name(core::ColumnType type) {
  switch (type) {
    case core::ColumnType::kInteger:
      return "bigint";
    case core::ColumnType::kReal:
      return "double precision";
    case core::ColumnType::kText:
      return "text";
    case core::ColumnType::kBlob:
      return "bytea";
  }
  return "text";
}

Result<std::shared_ptr<const PgRowTables>> PgRowTables::load(pg::Connection& conn) {
  auto tables = std::make_shared<PgRowTables>();
  LUMBUNG_ASSIGN_OR_RETURN(
      pg::Rows listed,
      conn.query("SELECT tbl, scope_column FROM _lumbung_tables ORDER BY position"));
  while (listed.step()) {
    std::string name = listed.text(0);
    std::string scope_column = listed.text(1);
    if (!core::is_valid_identifier(name)) return corrupt_name("row table", name);
    LUMBUNG_ASSIGN_OR_RETURN(std::vector<CatalogueColumn> catalogue, catalogue_columns(conn, name));
    std::vector<std::string> columns;
    for (CatalogueColumn& column : catalogue) {
      if (column.name.starts_with("_lumbung")) continue;
      if (!core::is_valid_identifier(column.name)) return corrupt_name("column", column.name);
      columns.push_back(std::move(column.name));
    }
    LUMBUNG_ASSIGN_OR_RETURN(
        RowTable table, describe(std::move(name), std::move(scope_column), std::move(columns)));
    tables->by_name_.emplace(table.name, tables->tables_.size());
    tables->tables_.push_back(std::move(table));
  }
  return std::shared_ptr<const PgRowTables>(std::move(tables));
}

const RowTable* PgRowTables::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tables_[it->second];
}

Status create_pg_row_tables(pg::Connection& conn, const core::Schema& schema, bool* columns_added) {
  *columns_added = false;
  for (const core::Table& table : schema.tables) {
    const std::string quoted = quote_identifier(table.name);
    LUMBUNG_ASSIGN_OR_RETURN(std::vector<CatalogueColumn> existing,
                             catalogue_columns(conn, table.name));
    if (existing.empty()) {
      std::string ddl = "CREATE TABLE " + quoted + " (";
      for (const core::Column& column : table.columns) {
        ddl += quote_identifier(column.name) + " " + std::string(pg_type_name(column.type)) +
               (column.primary_key ? " COLLATE \"C\" PRIMARY KEY NOT NULL" : "") + ", ";
      }
      ddl +=
          "\"_lumbung_created_seq\" bigint NOT NULL, \"_lumbung_hlc\" bigint NOT NULL, "
          "\"_lumbung_device\" text NOT NULL, \"_lumbung_versions\" bytea NOT NULL)";
      LUMBUNG_RETURN_IF_ERROR(conn.exec(ddl));
      LUMBUNG_RETURN_IF_ERROR(
          conn.query(
                  "INSERT INTO _lumbung_tables (tbl, scope_column, position) "
                  "VALUES ($1, $2, (SELECT coalesce(max(position), 0) + 1 FROM _lumbung_tables))",
                  {Value(table.name), Value(table.scope_column)})
              .status());
    } else {
      for (const core::Column& column : table.columns) {
        const std::string_view type = pg_type_name(column.type);
        const auto found =
            std::find_if(existing.begin(), existing.end(),
                         [&](const CatalogueColumn& c) { return c.name == column.name; });
        if (found != existing.end()) {
          if (found->type == type) continue;
          return Status(ErrorCode::kSchemaIncompatible,
                        "table '" + table.name + "': column '" + column.name + "' is " +
                            schema_type_name(found->type) + " in the store, " +
                            std::string(core::sql_type_name(column.type)) + " in the schema");
        }
        std::string ddl = "ALTER TABLE " + quoted + " ADD COLUMN " + quote_identifier(column.name) +
                          " " + std::string(type);
        if (column.default_value) ddl += " DEFAULT " + pg_literal(*column.default_value);
        LUMBUNG_RETURN_IF_ERROR(conn.exec(ddl));
        *columns_added = true;
      }
    }
    bool scope_indexed = false;
    for (const core::Index& index : table.indexes) {
      LUMBUNG_RETURN_IF_ERROR(conn.exec("CREATE INDEX IF NOT EXISTS " +
                                        quote_identifier(index.name) + " ON " + quoted + " (" +
                                        joined_columns(index.columns) + ")"));
      scope_indexed = scope_indexed || index.columns.front() == table.scope_column;
    }
    if (!scope_indexed) {
      LUMBUNG_RETURN_IF_ERROR(conn.exec("CREATE INDEX IF NOT EXISTS \"_lumbung_" + table.name +
                                        "_scope\" ON " + quoted + " (" +
                                        quote_identifier(table.scope_column) + ")"));
    }
  }
  return Status::ok();
}

}  // namespace lumbung::server
