#include "server/store_migration.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/credential_store.hpp"
#include "db/check_judge.hpp"
#include "db/database.hpp"
#include "pg/connection.hpp"
#include "server/data_dir.hpp"
#include "server/open_store.hpp"
#include "server/pg_sql.hpp"
#include "server/pg_store.hpp"
#include "server/sqlite_store.hpp"

namespace lumbung::server {
namespace {

// The store's tables that are not copied: the catalogue of row tables, which
// adopting the schema writes in the database, and the format upgrade's
// leftovers, which adopting the schema moves into row tables.
bool kept_out(std::string_view table) {
  return table == "_lumbung_tables" || table.starts_with("_lumbung_legacy_") ||
         table.starts_with("sqlite_");
}

// `name` in double quotes, for a name of a table or column that the store
// made: lower-case letters, digits and '_' only.
Result<std::string> quoted_name(std::string_view name) {
  bool valid = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
  for (const char c : name) {
    valid = valid && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (!valid) {
    return Status(ErrorCode::kCorrupt, "migrate-store: the store has a table or column named '" +
                                           std::string(name) + "', which no store makes");
  }
  return "\"" + std::string(name) + "\"";
}

// How a column's values go into PostgreSQL.
enum class Conversion { kAsIs, kTagged, kBoolean };

struct CopiedColumn {
  std::string name;
  Conversion conversion = Conversion::kAsIs;
};

// The credential store's tables, which the database keeps with the prefix
// `_lumbung_` (auth/credential_sql.cpp).
constexpr const char* kCredentialTables[] = {"officers",      "officer_grants", "issued_tokens",
                                             "revoked_token", "token_device",   "device_officer"};

// A table copied from SQLite's `from` into the database's `to`.
struct CopiedTable {
  std::string from;
  std::string to;
};

// The columns of `table.to` in the database, with how the values of SQLite's
// `table.from` are converted. kCorrupt when either side lacks a column the
// other has.
Result<std::vector<CopiedColumn>> copied_columns(db::Database& sqlite, pg::Connection& pg,
                                                 const CopiedTable& copied) {
  const std::string& table = copied.to;
  std::map<std::string, std::string> declared;  // SQLite: column -> declared type
  {
    LUMBUNG_ASSIGN_OR_RETURN(std::string name, quoted_name(copied.from));
    LUMBUNG_ASSIGN_OR_RETURN(db::Query info,
                             db::Query::prepared(sqlite, "PRAGMA table_info(" + name + ")"));
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool row, info.step());
      if (!row) break;
      declared.emplace(info.text(1), info.text(2));
    }
  }
  LUMBUNG_ASSIGN_OR_RETURN(pg::Rows rows,
                           pg.query("SELECT column_name, data_type FROM information_schema.columns "
                                    "WHERE table_schema = current_schema() AND table_name = $1 "
                                    "ORDER BY ordinal_position",
                                    {Value(table)}));
  std::vector<CopiedColumn> columns;
  while (rows.step()) {
    const std::string name = rows.text(0);
    const std::string type = rows.text(1);
    const auto source = declared.find(name);
    if (source == declared.end()) {
      return Status(ErrorCode::kCorrupt, "migrate-store: table '" + table + "': column '" + name +
                                             "' is in the database, not in the SQLite store");
    }
    // SQLite holds values of any type in a column declared without one.
    Conversion conversion = Conversion::kAsIs;
    if (type == "bytea" && source->second.empty()) conversion = Conversion::kTagged;
    if (type == "boolean") conversion = Conversion::kBoolean;
    columns.push_back({name, conversion});
    declared.erase(source);
  }
  if (columns.empty()) {
    return Status(ErrorCode::kCorrupt,
                  "migrate-store: the SQLite store's table '" + table + "' is not in the database");
  }
  if (!declared.empty()) {
    return Status(ErrorCode::kCorrupt, "migrate-store: table '" + table + "': column '" +
                                           declared.begin()->first +
                                           "' is in the SQLite store, not in the database");
  }
  return columns;
}

// Copies every row of the table; returns how many.
Result<std::int64_t> copy_table(db::Database& sqlite, pg::Connection& pg, const CopiedTable& table,
                                const std::vector<CopiedColumn>& columns) {
  LUMBUNG_ASSIGN_OR_RETURN(const std::string from, quoted_name(table.from));
  LUMBUNG_ASSIGN_OR_RETURN(const std::string to, quoted_name(table.to));
  std::string select = "SELECT ";
  std::string insert = "INSERT INTO " + to + " (";
  std::string values;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    LUMBUNG_ASSIGN_OR_RETURN(const std::string column, quoted_name(columns[i].name));
    const std::string separator = i == 0 ? "" : ", ";
    select += separator + column;
    insert += separator + column;
    const std::string param = "$" + std::to_string(i + 1);
    values += separator + (columns[i].conversion == Conversion::kBoolean ? param + " <> 0" : param);
  }
  select += " FROM " + from;
  insert += ") VALUES (" + values + ")";
  // The meta rows the database's store was created with are replaced.
  if (table.to == "_lumbung_meta") {
    insert += " ON CONFLICT (key) DO UPDATE SET value = excluded.value";
    select += " WHERE key <> 'store_format'";
  }
  LUMBUNG_ASSIGN_OR_RETURN(db::Query rows, db::Query::prepared(sqlite, select));
  std::int64_t copied = 0;
  std::vector<Value> params(columns.size());
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, rows.step());
    if (!row) break;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      Value value = rows.value(static_cast<int>(i));
      params[i] =
          columns[i].conversion == Conversion::kTagged ? PgSql::any_value(value) : std::move(value);
    }
    LUMBUNG_RETURN_IF_ERROR(pg.query(insert, params).status());
    ++copied;
  }
  return copied;
}

Result<std::int64_t> copy_whole(db::Database& sqlite, pg::Connection& pg,
                                const CopiedTable& table) {
  LUMBUNG_ASSIGN_OR_RETURN(const std::vector<CopiedColumn> columns,
                           copied_columns(sqlite, pg, table));
  return copy_table(sqlite, pg, table, columns);
}

// Whether the database's store holds anything beyond what creating it and
// adopting a schema write.
Result<bool> holds_data(pg::Connection& pg) {
  LUMBUNG_ASSIGN_OR_RETURN(
      pg::Rows rows,
      pg.query("SELECT (SELECT value FROM _lumbung_meta WHERE key = 'last_seq') <> '0' "
               "OR EXISTS (SELECT 1 FROM _lumbung_scopes) "
               "OR EXISTS (SELECT 1 FROM _lumbung_audit_log) "
               "OR EXISTS (SELECT 1 FROM _lumbung_devices) "
               "OR EXISTS (SELECT 1 FROM _lumbung_device_activity) "
               "OR EXISTS (SELECT 1 FROM _lumbung_officers) "
               "OR EXISTS (SELECT 1 FROM _lumbung_issued_tokens) "
               "OR EXISTS (SELECT 1 FROM _lumbung_token_device)"));
  return rows.step() && rows.integer(0) != 0;
}

// What a store's readers see: the last seq and every scope's state.
struct StoreState {
  std::int64_t last_seq = 0;
  std::vector<ScopeState> scopes;
};

Result<StoreState> state_of(Store& store) {
  StoreState state;
  LUMBUNG_RETURN_IF_ERROR(store.read([&](ReadTransaction& txn) -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(state.last_seq, txn.last_seq());
    LUMBUNG_ASSIGN_OR_RETURN(state.scopes, txn.scopes());
    return Status::ok();
  }));
  return state;
}

// Opens the store at `url` (or of `data_dir`) and adopts `schema`; returns
// its state.
Result<StoreState> adopt(const std::string& data_dir, const std::string& url,
                         const core::Schema& schema) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, open_store(data_dir, url));
  LUMBUNG_RETURN_IF_ERROR(store->adopt_schema(schema));
  return state_of(*store);
}

bool same(const StoreState& a, const StoreState& b) {
  if (a.last_seq != b.last_seq || a.scopes.size() != b.scopes.size()) return false;
  for (std::size_t i = 0; i < a.scopes.size(); ++i) {
    if (a.scopes[i].scope != b.scopes[i].scope || a.scopes[i].checksum != b.scopes[i].checksum ||
        a.scopes[i].live_rows != b.scopes[i].live_rows) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<MigrationSummary> migrate_store(const std::string& data_dir, const std::string& url) {
  if (!is_postgresql_url(url)) {
    return Status(ErrorCode::kInvalidArgument,
                  "migrate-store: --to must name a PostgreSQL database (postgresql://...)");
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<DataDirLock> lock, DataDirLock::acquire(data_dir));
  // The schema the data directory was served with, adopted on both sides:
  // the SQLite store moves an older format's cells into row tables, and the
  // database gets the same row tables.
  std::string schema_text;
  {
    LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<Store> source, open_store(data_dir, ""));
    LUMBUNG_RETURN_IF_ERROR(source->read([&](ReadTransaction& txn) -> Status {
      LUMBUNG_ASSIGN_OR_RETURN(schema_text, txn.meta(kSchemaTextMetaKey));
      return Status::ok();
    }));
  }
  if (schema_text.empty()) schema_text = core::builtin_schema_text();
  LUMBUNG_ASSIGN_OR_RETURN(
      const core::Schema schema,
      db::load_schema(schema_text, "the schema '" + data_dir + "' was served with"));
  LUMBUNG_ASSIGN_OR_RETURN(const StoreState source_state, adopt(data_dir, "", schema));
  LUMBUNG_RETURN_IF_ERROR(adopt(data_dir, url, schema).status());
  // Creates the credential tables in the database.
  LUMBUNG_RETURN_IF_ERROR(open_credentials(data_dir, url).status());
  std::unique_ptr<db::Database> credentials;
  const std::string credentials_path = data_dir + "/" + auth::kCredentialsFileName;
  if (std::filesystem::exists(credentials_path)) {
    LUMBUNG_ASSIGN_OR_RETURN(credentials, db::Database::open(credentials_path, false));
  }

  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> sqlite,
                           db::Database::open(data_dir + "/" + kStoreFileName, false));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> pg, pg::Connection::open(url));
  MigrationSummary summary;
  LUMBUNG_RETURN_IF_ERROR(pg::in_transaction(*pg, pg::Isolation::kSerializable, [&]() -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(const bool taken, holds_data(*pg));
    if (taken) {
      return Status(ErrorCode::kInvalidArgument,
                    "migrate-store: the database already holds a store with data; give an "
                    "empty database");
    }
    std::vector<CopiedTable> tables;
    {
      LUMBUNG_ASSIGN_OR_RETURN(
          db::Query names,
          db::Query::prepared(*sqlite,
                              "SELECT name FROM sqlite_master WHERE type = 'table' "
                              "ORDER BY name"));
      for (;;) {
        LUMBUNG_ASSIGN_OR_RETURN(const bool row, names.step());
        if (!row) break;
        if (!kept_out(names.text_view(0))) tables.push_back({names.text(0), names.text(0)});
      }
    }
    for (const CopiedTable& table : tables) {
      LUMBUNG_ASSIGN_OR_RETURN(const std::int64_t rows, copy_whole(*sqlite, *pg, table));
      summary.rows += rows;
      ++summary.tables;
    }
    for (const char* table : kCredentialTables) {
      if (!credentials) break;
      LUMBUNG_ASSIGN_OR_RETURN(
          const std::int64_t rows,
          copy_whole(*credentials, *pg, {table, std::string("_lumbung_") + table}));
      summary.rows += rows;
      ++summary.tables;
    }
    // The audit log's ids were copied: new entries are numbered after them.
    return pg
        ->query(
            "SELECT setval(pg_get_serial_sequence('_lumbung_audit_log', 'id'), "
            "coalesce(max(id), 0) + 1, false) FROM _lumbung_audit_log")
        .status();
  }));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<Store> target, open_store(data_dir, url));
  LUMBUNG_ASSIGN_OR_RETURN(const StoreState target_state, state_of(*target));
  if (!same(source_state, target_state)) {
    return Status(ErrorCode::kCorrupt,
                  "migrate-store: the database's store does not compare equal to the SQLite "
                  "store after the copy (last seq " +
                      std::to_string(target_state.last_seq) + " against " +
                      std::to_string(source_state.last_seq) + ")");
  }
  summary.last_seq = source_state.last_seq;
  summary.scopes = static_cast<std::int64_t>(source_state.scopes.size());
  return summary;
}

}  // namespace lumbung::server
