#include "server/pg_row_tables.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace lumbung::server {
namespace {

using core::quote_identifier;

std::string joined_columns(const std::vector<std::string>& columns) {
  std::string text;
  for (const std::string& column : columns) {
    if (!text.empty()) text += ", ";
    text += quote_identifier(column);
  }
  return text;
}

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

Result<std::shared_ptr<const RowTables>> load_pg_row_tables(pg::Connection& conn) {
  std::vector<RowTables::Listed> listed;
  {
    LUMBUNG_ASSIGN_OR_RETURN(
        pg::Rows rows,
        conn.query("SELECT tbl, scope_column FROM _lumbung_tables ORDER BY position"));
    while (rows.step()) listed.push_back({rows.text(0), rows.text(1)});
  }
  return RowTables::build(listed,
                          [&](std::string_view name) { return catalogue_columns(conn, name); });
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
