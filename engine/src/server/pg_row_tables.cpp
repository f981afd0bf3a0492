#include "server/pg_row_tables.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "server/pg_sql.hpp"

namespace lumbung::server {
namespace {

using core::quote_identifier;

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
  const RowTableDdl ddl{
      .type_name = [](core::ColumnType type) { return std::string(pg_type_name(type)); },
      .schema_type_name = schema_type_name,
      // Ids collate as bytes, as in SQLite, whatever the database's collation.
      .key_collation = " COLLATE \"C\"",
      .metadata_columns =
          "\"_lumbung_created_seq\" bigint NOT NULL, \"_lumbung_hlc\" bigint NOT NULL, "
          "\"_lumbung_device\" text NOT NULL, \"_lumbung_versions\" bytea NOT NULL",
      .literal = pg_literal,
      .catalogue = [&](std::string_view name) { return catalogue_columns(conn, name); },
      .exec = [&](std::string_view sql) { return conn.exec(sql); },
      .run =
          [&](const std::string& sql, const std::vector<Value>& params) {
            return conn.query(pg_placeholders(sql), params).status();
          }};
  return create_row_tables(ddl, schema, columns_added);
}

}  // namespace lumbung::server
