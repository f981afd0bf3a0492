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
#include "server/pg_row_tables.hpp"
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
    return Status(ErrorCode::kCorrupt, "copying the store: it has a table or column named '" +
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

// A table copied between SQLite's `sqlite` and the database's `pg`, in
// either direction.
struct CopiedTable {
  std::string sqlite;
  std::string pg;
};

// Which way a table is copied: migrate-store and restore load a SQLite store
// into the database, backup copies the database's store into a SQLite one.
enum class Direction { kIntoPostgresql, kOutOfPostgresql };

// The rows a page of a copy out of the database reads (libpq holds a result
// whole).
constexpr int kPageRows = 10000;

// The columns of `table.pg` in the database, with how its values and those
// of SQLite's `table.sqlite` are converted into each other. kCorrupt when
// either side lacks a column the other has.
Result<std::vector<CopiedColumn>> copied_columns(db::Database& sqlite, pg::Connection& pg,
                                                 const CopiedTable& copied) {
  const std::string& table = copied.pg;
  std::map<std::string, std::string> declared;  // SQLite: column -> declared type
  {
    LUMBUNG_ASSIGN_OR_RETURN(std::string name, quoted_name(copied.sqlite));
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
      return Status(ErrorCode::kCorrupt, "copying the store: table '" + table + "': column '" +
                                             name +
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
    return Status(ErrorCode::kCorrupt, "copying the store: the SQLite store's table '" + table +
                                           "' is not in the database");
  }
  if (!declared.empty()) {
    return Status(ErrorCode::kCorrupt, "copying the store: table '" + table + "': column '" +
                                           declared.begin()->first +
                                           "' is in the SQLite store, not in the database");
  }
  return columns;
}

// The value of column `column` as the other side keeps it: a value of any
// type tagged (PgSql::any_value) in the database and as it is in SQLite.
// Booleans read from the database are the integers 0 and 1 already.
Result<Value> converted(Value value, const CopiedColumn& column, const CopiedTable& table,
                        Direction direction) {
  if (column.conversion != Conversion::kTagged) return value;
  if (direction == Direction::kIntoPostgresql) return PgSql::any_value(value);
  return PgSql::from_any_value(value, "table '" + table.pg + "', column '" + column.name + "'");
}

// Copies every row of the table from one side into the other; returns how
// many. Into the database, a boolean column gets `$N <> 0`; out of it, the
// rows are read in pages in the order of their place in the table (ctid),
// which a REPEATABLE READ transaction keeps still.
Result<std::int64_t> copy_table(db::Database& sqlite, pg::Connection& pg, const CopiedTable& table,
                                const std::vector<CopiedColumn>& columns, Direction direction) {
  const bool into_pg = direction == Direction::kIntoPostgresql;
  LUMBUNG_ASSIGN_OR_RETURN(const std::string from, quoted_name(into_pg ? table.sqlite : table.pg));
  LUMBUNG_ASSIGN_OR_RETURN(const std::string to, quoted_name(into_pg ? table.pg : table.sqlite));
  std::string list;
  std::string values;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    LUMBUNG_ASSIGN_OR_RETURN(const std::string column, quoted_name(columns[i].name));
    const std::string separator = i == 0 ? "" : ", ";
    list += separator + column;
    const std::string param = (into_pg ? "$" : "?") + std::to_string(i + 1);
    const bool boolean = into_pg && columns[i].conversion == Conversion::kBoolean;
    values += separator + (boolean ? param + " <> 0" : param);
  }
  std::string insert = "INSERT INTO " + to + " (" + list + ") VALUES (" + values + ")";
  // The meta rows the target store was created with are replaced; each store
  // keeps its own format.
  std::string kept = "TRUE";
  if (table.pg == "_lumbung_meta") {
    insert += " ON CONFLICT (key) DO UPDATE SET value = excluded.value";
    kept = "key <> 'store_format'";
  }
  std::int64_t copied = 0;
  std::vector<Value> params(columns.size());
  if (into_pg) {
    LUMBUNG_ASSIGN_OR_RETURN(
        db::Query rows,
        db::Query::prepared(sqlite, "SELECT " + list + " FROM " + from + " WHERE " + kept));
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool row, rows.step());
      if (!row) break;
      for (std::size_t i = 0; i < columns.size(); ++i) {
        LUMBUNG_ASSIGN_OR_RETURN(
            params[i], converted(rows.value(static_cast<int>(i)), columns[i], table, direction));
      }
      LUMBUNG_RETURN_IF_ERROR(pg.query(insert, params).status());
      ++copied;
    }
    return copied;
  }
  // The ctid goes out as text under a name of its own: named "ctid", it
  // would be what ORDER BY ctid sorts, as text.
  const std::string page = "SELECT ctid::text AS _lumbung_page_ctid, " + list + " FROM " + from +
                           " WHERE ctid > $1::tid AND " + kept + " ORDER BY ctid LIMIT " +
                           std::to_string(kPageRows);
  std::string after = "(0,0)";
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(pg::Rows rows, pg.query(page, {Value(after)}));
    int read = 0;
    while (rows.step()) {
      after = rows.text(0);
      for (std::size_t i = 0; i < columns.size(); ++i) {
        LUMBUNG_ASSIGN_OR_RETURN(params[i], converted(rows.value(static_cast<int>(i) + 1),
                                                      columns[i], table, direction));
      }
      LUMBUNG_RETURN_IF_ERROR(db::run_cached(sqlite, insert, params));
      ++copied;
      ++read;
    }
    if (read < kPageRows) return copied;
  }
}

Result<std::int64_t> copy_whole(db::Database& sqlite, pg::Connection& pg, const CopiedTable& table,
                                Direction direction) {
  LUMBUNG_ASSIGN_OR_RETURN(const std::vector<CopiedColumn> columns,
                           copied_columns(sqlite, pg, table));
  return copy_table(sqlite, pg, table, columns, direction);
}

// The tables of the SQLite store `sqlite` that are copied (kept_out()), with
// the same names on both sides.
Result<std::vector<CopiedTable>> copied_store_tables(db::Database& sqlite) {
  std::vector<CopiedTable> tables;
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query names, db::Query::prepared(sqlite,
                                           "SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "ORDER BY name"));
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, names.step());
    if (!row) break;
    if (!kept_out(names.text_view(0))) tables.push_back({names.text(0), names.text(0)});
  }
  return tables;
}

// Copies every table of the store `sqlite` and of the credential store
// `credentials` (when not null) between SQLite and the database, in
// `direction`; adds to `summary`'s tables and rows. REQUIRES: inside a
// transaction of `pg` (and, out of the database, of the SQLite files), the
// row tables of one schema on both sides.
Status copy_stores(db::Database& sqlite, db::Database* credentials, pg::Connection& pg,
                   Direction direction, MigrationSummary* summary) {
  LUMBUNG_ASSIGN_OR_RETURN(const std::vector<CopiedTable> tables, copied_store_tables(sqlite));
  for (const CopiedTable& table : tables) {
    LUMBUNG_ASSIGN_OR_RETURN(const std::int64_t rows, copy_whole(sqlite, pg, table, direction));
    summary->rows += rows;
    ++summary->tables;
  }
  for (const char* table : kCredentialTables) {
    if (credentials == nullptr) break;
    LUMBUNG_ASSIGN_OR_RETURN(
        const std::int64_t rows,
        copy_whole(*credentials, pg, {table, std::string("_lumbung_") + table}, direction));
    summary->rows += rows;
    ++summary->tables;
  }
  if (direction == Direction::kOutOfPostgresql) return Status::ok();
  // The audit log's ids were copied: new entries are numbered after them.
  return pg
      .query(
          "SELECT setval(pg_get_serial_sequence('_lumbung_audit_log', 'id'), "
          "coalesce(max(id), 0) + 1, false) FROM _lumbung_audit_log")
      .status();
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

// DIR/credentials.sqlite of `data_dir`, opened; null when there is none.
Result<std::unique_ptr<db::Database>> credentials_file(const std::string& data_dir) {
  const std::string path = data_dir + "/" + auth::kCredentialsFileName;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::unique_ptr<db::Database>();
  return db::Database::open(path, false);
}

// The lock the PostgreSQL store takes to create its tables or adopt a schema
// (server/pg_store.cpp, auth/credential_sql.cpp): a daemon that starts while
// a restore runs waits for it.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(7815700137684839)";

// kBusy when another session of the database has the application name of
// this one's: lumbungd's (pg::Connection's fallback_application_name, or
// the name the URL gives every lumbungd on it). A daemon caches the store's
// epoch, last seq and clock when it starts; one that served on across a
// restore would hand devices the old epoch and seqs the restored store gives
// out again.
Status refuse_while_served(pg::Connection& pg) {
  LUMBUNG_ASSIGN_OR_RETURN(
      pg::Rows rows,
      pg.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
               "AND pid <> pg_backend_pid() "
               "AND application_name = current_setting('application_name')"));
  const std::int64_t others = rows.step() ? rows.integer(0) : 0;
  if (others == 0) return Status::ok();
  return Status(ErrorCode::kBusy,
                "restore: " + std::to_string(others) +
                    " other lumbungd connection(s) to the database are open ('serve' or another "
                    "command, on this machine or another): stop every lumbungd using the "
                    "database, then restore");
}

// Empties the database's store inside the caller's transaction: drops the
// row tables (the restored schema's are created afresh), empties every table
// of the store and of the credentials but the store's format, and the
// credentials' version row.
Status clear_store(pg::Connection& pg) {
  std::vector<std::string> row_tables;
  {
    LUMBUNG_ASSIGN_OR_RETURN(pg::Rows rows, pg.query("SELECT tbl FROM _lumbung_tables"));
    while (rows.step()) row_tables.push_back(rows.text(0));
  }
  for (const std::string& table : row_tables) {
    LUMBUNG_ASSIGN_OR_RETURN(const std::string name, quoted_name(table));
    LUMBUNG_RETURN_IF_ERROR(pg.exec("DROP TABLE " + name));
  }
  std::string emptied;
  {
    LUMBUNG_ASSIGN_OR_RETURN(
        pg::Rows rows,
        pg.query("SELECT table_name::text FROM information_schema.tables "
                 "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
                 "AND left(table_name, 9) = '_lumbung_' AND table_name NOT IN "
                 "('_lumbung_meta', '_lumbung_credential_version') ORDER BY table_name"));
    while (rows.step()) {
      LUMBUNG_ASSIGN_OR_RETURN(const std::string name, quoted_name(rows.text(0)));
      emptied += (emptied.empty() ? "" : ", ") + name;
    }
  }
  // The audit log refuses to be emptied (its triggers); a restore replaces
  // it whole, inside this transaction.
  return pg.exec("ALTER TABLE _lumbung_audit_log DISABLE TRIGGER USER; TRUNCATE " + emptied +
                 "; ALTER TABLE _lumbung_audit_log ENABLE TRIGGER USER; "
                 "DELETE FROM _lumbung_meta WHERE key <> 'store_format'");
}

// Copies the database's store, read in the caller's transaction, into a new
// SQLite store in `dir`.
Result<MigrationSummary> copy_out(pg::Connection& pg, const std::string& dir) {
  LUMBUNG_ASSIGN_OR_RETURN(pg::Rows found,
                           pg.query("SELECT to_regclass('_lumbung_meta') IS NOT NULL, "
                                    "to_regclass('_lumbung_officers') IS NOT NULL"));
  if (!found.step() || found.integer(0) == 0) {
    return Status(ErrorCode::kNotFound, "backup: the database holds no lumbungd store");
  }
  const bool has_credentials = found.integer(1) != 0;
  std::map<std::string, std::string> meta;
  {
    LUMBUNG_ASSIGN_OR_RETURN(
        pg::Rows rows,
        pg.query("SELECT key, value FROM _lumbung_meta WHERE key IN ($1, $2, $3)",
                 {Value("store_format"), Value("last_seq"), Value(kSchemaTextMetaKey)}));
    while (rows.step()) meta[rows.text(0)] = rows.text(1);
  }
  if (meta["store_format"] != std::to_string(PgStore::kFormat)) {
    return Status(ErrorCode::kCorrupt, "backup: the database is not a lumbungd store of format " +
                                           std::to_string(PgStore::kFormat) + " (it has '" +
                                           meta["store_format"] + "')");
  }
  std::string schema_text = meta[kSchemaTextMetaKey];
  if (schema_text.empty()) schema_text = core::builtin_schema_text();
  LUMBUNG_ASSIGN_OR_RETURN(const core::Schema schema,
                           db::load_schema(schema_text, "the schema the database was served with"));
  {
    LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> created, SqliteStore::open(dir));
    LUMBUNG_RETURN_IF_ERROR(created->adopt_schema(schema));
  }
  if (has_credentials) {
    LUMBUNG_RETURN_IF_ERROR(
        auth::CredentialStore::open(dir + "/" + auth::kCredentialsFileName).status());
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> sqlite,
                           db::Database::open(dir + "/" + kStoreFileName, false));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> credentials, credentials_file(dir));
  MigrationSummary summary;
  LUMBUNG_RETURN_IF_ERROR(db::in_transaction(*sqlite, [&]() -> Status {
    if (!credentials) {
      return copy_stores(*sqlite, nullptr, pg, Direction::kOutOfPostgresql, &summary);
    }
    return db::in_transaction(*credentials, [&] {
      return copy_stores(*sqlite, credentials.get(), pg, Direction::kOutOfPostgresql, &summary);
    });
  }));
  summary.last_seq = std::stoll(meta["last_seq"].empty() ? "0" : meta["last_seq"]);
  return summary;
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

// The schema the SQLite store of `data_dir` was served with: the one it
// recorded, else the built-in one.
Result<core::Schema> served_schema(const std::string& data_dir) {
  std::string schema_text;
  {
    LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<Store> source, open_store(data_dir, ""));
    LUMBUNG_RETURN_IF_ERROR(source->read([&](ReadTransaction& txn) -> Status {
      LUMBUNG_ASSIGN_OR_RETURN(schema_text, txn.meta(kSchemaTextMetaKey));
      return Status::ok();
    }));
  }
  if (schema_text.empty()) schema_text = core::builtin_schema_text();
  return db::load_schema(schema_text, "the schema '" + data_dir + "' was served with");
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
  LUMBUNG_ASSIGN_OR_RETURN(const core::Schema schema, served_schema(data_dir));
  LUMBUNG_ASSIGN_OR_RETURN(const StoreState source_state, adopt(data_dir, "", schema));
  LUMBUNG_RETURN_IF_ERROR(adopt(data_dir, url, schema).status());
  // Creates the credential tables in the database.
  LUMBUNG_RETURN_IF_ERROR(open_credentials(data_dir, url).status());
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> credentials, credentials_file(data_dir));

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
    return copy_stores(*sqlite, credentials.get(), *pg, Direction::kIntoPostgresql, &summary);
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

Result<MigrationSummary> copy_store_out_of_postgresql(const std::string& url,
                                                      const std::string& dir) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> pg, pg::Connection::open(url));
  // One snapshot for every table; no lock is taken against the daemons'
  // writes, which go on meanwhile.
  LUMBUNG_RETURN_IF_ERROR(pg->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  Result<MigrationSummary> summary = copy_out(*pg, dir);
  if (!summary.is_ok()) {
    (void)pg->rollback();  // the copy's error is the one to report
    return summary.status();
  }
  LUMBUNG_RETURN_IF_ERROR(pg->commit());
  return summary;
}

Result<MigrationSummary> load_store_into_postgresql(const std::string& dir, const std::string& url,
                                                    bool force) {
  // The restored store's legacy cells, if it is of an older format, moved
  // into row tables of the schema it was served with.
  LUMBUNG_ASSIGN_OR_RETURN(const core::Schema schema, served_schema(dir));
  LUMBUNG_ASSIGN_OR_RETURN(const StoreState source_state, adopt(dir, "", schema));
  {
    // A database without a store gets the store's and the credentials'
    // empty tables, as at serve's first start; one whose store has another
    // format is refused.
    LUMBUNG_RETURN_IF_ERROR(open_store(dir, url).status());
    LUMBUNG_RETURN_IF_ERROR(open_credentials(dir, url).status());
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> sqlite,
                           db::Database::open(dir + "/" + kStoreFileName, false));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> credentials, credentials_file(dir));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> pg, pg::Connection::open(url));
  MigrationSummary summary;
  LUMBUNG_RETURN_IF_ERROR(pg::in_transaction(*pg, pg::Isolation::kReadCommitted, [&]() -> Status {
    LUMBUNG_RETURN_IF_ERROR(pg->exec(kSchemaLock));
    LUMBUNG_RETURN_IF_ERROR(refuse_while_served(*pg));
    LUMBUNG_ASSIGN_OR_RETURN(const bool taken, holds_data(*pg));
    if (taken && !force) {
      return Status(ErrorCode::kInvalidArgument,
                    "restore: the database already holds a store with data: 'lumbungd restore "
                    "--force' replaces it");
    }
    LUMBUNG_RETURN_IF_ERROR(clear_store(*pg));
    bool columns_added = false;
    LUMBUNG_RETURN_IF_ERROR(create_pg_row_tables(*pg, schema, &columns_added));
    LUMBUNG_RETURN_IF_ERROR(
        copy_stores(*sqlite, credentials.get(), *pg, Direction::kIntoPostgresql, &summary));
    // Daemons that cache credentials read them again.
    return pg->exec("UPDATE _lumbung_credential_version SET version = version + 1");
  }));
  summary.last_seq = source_state.last_seq;
  summary.scopes = static_cast<std::int64_t>(source_state.scopes.size());
  return summary;
}

}  // namespace lumbung::server
