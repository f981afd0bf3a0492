// The SQLite store's row tables (docs/decisions/0033-row-tables.md): each
// synced table of the adopted schema is a table of the same name, one column
// per schema column with the schema's type and indexes, and four columns of
// the store's own (the reserved prefix "_lumbung_" keeps them apart):
//   _lumbung_created_seq  the seq of the insert that made the row,
//   _lumbung_hlc, _lumbung_device  the insert's stamp: with the created seq,
//                         the version of every cell that lists none of its own,
//   _lumbung_versions     the cells that do (server/cell_versions.hpp).
// Deleted rows leave their table for the store's tombstones, so that the
// tables hold exactly the live rows a report should count.
//
// _lumbung_tables lists the row tables (name, scope column, order); their
// columns are read from SQLite's catalogue, so that the store knows its
// tables without being given a schema (`lumbungd audit`, `backup`...). Every
// statement is built once, from names that are checked identifiers, quoted.
//
// Thread-safety: a RowTables is immutable once built; share it freely.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/status.hpp"

namespace lumbung::server {

// A statement that reads rows by a list of ids bound as parameters, written
// for two lengths of the list: PostgreSQL plans it at each run
// (query_planned), at a cost that follows the length, so a few ids take the
// short one. The parameters past the ids given are NULL, which no id equals.
struct IdListSql {
  static constexpr std::size_t kShort = 16;
  static constexpr std::size_t kLong = 256;  // ReadTransaction::kRowsPerRead

  // `head` + "(?first, ...)", in both lengths.
  static IdListSql build(std::string_view head, int first);
  // The length of the list that `count` ids (at most kLong) are bound in.
  static std::size_t length(std::size_t count) { return count <= kShort ? kShort : kLong; }
  const std::string& text(std::size_t count) const {
    return count <= kShort ? short_text : long_text;
  }

  std::string short_text;
  std::string long_text;
};

struct RowTable {
  std::string name;
  std::string scope_column;
  std::vector<std::string> columns;  // the table's columns but the store's own, in table order
  std::size_t scope_position = 0;    // in `columns`
  std::size_t id_position = 0;
  // The statements of the table. select_row and scan* read `columns`, then
  // (select_row only) the created seq, HLC, device and versions.
  std::string select_row;   // ?1: id
  std::string select_head;  // ?1: id; the scope and created seq alone
  // The id, scope and created seq of the rows whose ids are among ?1...
  // (ReadTransaction::rows).
  IdListSql select_heads;
  // As select_row, the rows whose ids are among ?1... (read where
  // Sql::kReadsRowsInBatches).
  IdListSql select_rows;
  std::string insert_row;                // ?1..?N: columns; then created seq, HLC, device, versions
  std::string delete_row;                // ?1: id
  std::string scan;                      // ?1: an id; the next 512 rows after it, in order of id
  std::string scan_scope;                // as scan, of the scope ?2
  std::vector<std::string> update_cell;  // per column: ?1 id, ?2 value, ?3 versions

  // The position of `column` in `columns`; nullopt for a column it lacks.
  std::optional<std::size_t> position(std::string_view column) const;
};

// A column of a table as a database's catalogue has it: its name, and its
// type as the database writes it.
struct CatalogueColumn {
  std::string name;
  std::string type;
};

class RowTables {
 public:
  // The row tables `db` lists. kCorrupt for a name that is no identifier.
  static Result<std::shared_ptr<const RowTables>> load(db::Database& db);

  // A table _lumbung_tables lists: its name and scope column.
  struct Listed {
    std::string name;
    std::string scope_column;
  };
  // The columns of a table in table order, from the database's catalogue.
  using Catalogue = std::function<Result<std::vector<CatalogueColumn>>(std::string_view table)>;
  // The row tables `listed` (in their order), each with the columns
  // `catalogue` gives but the store's own, and its statements (written with
  // ?1, ?2, ...: PgSql turns them into PostgreSQL's). kCorrupt for a name
  // that is no identifier, or a table without its id or scope column.
  static Result<std::shared_ptr<const RowTables>> build(const std::vector<Listed>& listed,
                                                        const Catalogue& catalogue);

  // The table named `name`; null when the store has none.
  const RowTable* find(std::string_view name) const;
  // In the order they were adopted.
  const std::vector<RowTable>& tables() const { return tables_; }

 private:
  std::vector<RowTable> tables_;
  std::map<std::string, std::size_t, std::less<>> by_name_;
};

// What creating row tables takes of a database: how its DDL writes types,
// the id column's collation and default values, its catalogue, and a way to
// run a statement (written with ?1, ?2, ...).
struct RowTableDdl {
  std::function<std::string(core::ColumnType)> type_name;
  // The schema's name of a type as the catalogue reads it (for messages).
  std::function<std::string(const std::string& catalogue_type)> schema_type_name;
  std::string key_collation;     // after the id column's type: "" or " COLLATE ..."
  std::string metadata_columns;  // the definitions of the store's four columns
  std::function<std::string(const Value&)> literal;
  RowTables::Catalogue catalogue;
  std::function<Status(std::string_view sql)> exec;
  std::function<Status(const std::string& sql, const std::vector<Value>& params)> run;
};

// Creates the tables, columns and indexes of `schema` that the database
// lacks (see Store::adopt_schema), with the types of `ddl`;
// kSchemaIncompatible for a column whose type differs ("... is INTEGER in
// the store, TEXT in the schema"). Sets *columns_added when a table that
// had rows gained a column. REQUIRES: inside a write transaction.
Status create_row_tables(const RowTableDdl& ddl, const core::Schema& schema, bool* columns_added);
// The SQLite store's: create_row_tables() with SQLite's types.
Status create_row_tables(db::Database& db, const core::Schema& schema, bool* columns_added);

}  // namespace lumbung::server
