// The PostgreSQL store's row tables: as the SQLite store's
// (server/sqlite_row_tables.hpp, docs/decisions/0033-row-tables.md), each
// synced table of the adopted schema is a table of the same name with one
// column per schema column (INTEGER -> bigint, REAL -> double precision,
// TEXT -> text, BLOB -> bytea) and the schema's indexes, beside
// _lumbung_created_seq, _lumbung_hlc, _lumbung_device and _lumbung_versions
// (server/cell_versions.hpp). _lumbung_tables lists them; their columns are
// read from information_schema.columns in ordinal order, so that the store
// knows its tables without a schema; the RowTables built from them are the
// SQLite store's (server/sqlite_row_tables.hpp), statements and all.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.hpp"
#include "lumbung/status.hpp"
#include "pg/connection.hpp"
#include "server/sqlite_row_tables.hpp"  // RowTable, RowTables: one for both stores

namespace lumbung::server {

// The PostgreSQL type of a schema column type.
std::string_view pg_type_name(core::ColumnType type);

// The row tables `conn` lists (RowTables::build; their statements are
// SQLite's, which PgSql runs as PostgreSQL's). kCorrupt for a name that is no
// identifier.
Result<std::shared_ptr<const RowTables>> load_pg_row_tables(pg::Connection& conn);

// Creates the tables, columns and indexes of `schema` that the database
// lacks (see Store::adopt_schema); kSchemaIncompatible for a column whose
// type differs, in the SQLite store's words ("... is INTEGER in the store,
// TEXT in the schema"). Sets *columns_added when an existing table gained a
// column. REQUIRES: inside a write transaction.
Status create_pg_row_tables(pg::Connection& conn, const core::Schema& schema, bool* columns_added);

}  // namespace lumbung::server
