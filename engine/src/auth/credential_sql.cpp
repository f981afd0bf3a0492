#include "auth/credential_sql.hpp"

#include <utility>

#include "db/database.hpp"
#include "db/file_format.hpp"
#include "pg/connection.hpp"
#include "server/pg_sql.hpp"
#include "server/sqlite_sql.hpp"

namespace lumbung::auth {

namespace {

// --- the SQLite file ---

// The SQL stays within SQLite 3.15, as the server's store does: the SQLCipher
// build links the daemon against SQLCipher's older SQLite (no UPSERT).

constexpr std::string_view kCreateTables = R"(
CREATE TABLE revoked_token (
  token_id   TEXT PRIMARY KEY,
  revoked_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE token_device (
  token_id  TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  bound_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE device_officer (
  device_id TEXT PRIMARY KEY,
  officer   TEXT NOT NULL,
  bound_at  INTEGER NOT NULL
) WITHOUT ROWID;
)";

// Format 1: revoked tokens and device bindings. Format 2
// (docs/decisions/0023-grants-on-the-server.md): officers' roles and grants,
// and the tokens issued, which tokens no longer carry.
constexpr db::FormatStep kUpgrades[] = {
    {2, R"sql(
CREATE TABLE officers (
  officer           TEXT PRIMARY KEY,
  role              TEXT NOT NULL,
  updated_at        INTEGER NOT NULL,
  tokens_revoked_at INTEGER
) WITHOUT ROWID;
CREATE TABLE officer_grants (
  officer    TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('village', 'district', 'province', 'all')),
  value      TEXT NOT NULL,
  granted_at INTEGER NOT NULL,
  PRIMARY KEY (officer, kind, value)
) WITHOUT ROWID;
CREATE TABLE issued_tokens (
  token_id   TEXT PRIMARY KEY,
  officer    TEXT NOT NULL,
  key_id     TEXT NOT NULL,
  issued_at  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  device_id  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX issued_tokens_officer ON issued_tokens (officer);
CREATE INDEX issued_tokens_device ON issued_tokens (device_id) WHERE device_id <> '';
CREATE INDEX token_device_device ON token_device (device_id);
CREATE INDEX device_officer_officer ON device_officer (officer);
)sql"},
};

// PRAGMA user_version of a store this code writes.
constexpr db::FileFormat kFileFormat{1, kUpgrades};

// `sql` with each table's '@' taken away (`prefix` empty) or made `prefix`.
std::string with_tables(std::string_view sql, std::string_view prefix) {
  std::string text;
  text.reserve(sql.size() + 8 * prefix.size());
  for (const char c : sql) {
    if (c == '@') {
      text += prefix;
    } else {
      text += c;
    }
  }
  return text;
}

template <typename Sql>
class RowsOver final : public CredentialRows {
 public:
  explicit RowsOver(typename Sql::Rows rows) : rows_(std::move(rows)) {}
  Result<bool> step() override { return rows_.step(); }
  Value value(int i) const override { return rows_.value(i); }

 private:
  mutable typename Sql::Rows rows_;
};

class SqliteCredentialSql final : public CredentialSql {
 public:
  explicit SqliteCredentialSql(std::unique_ptr<db::Database> db) : db_(std::move(db)), sql_(*db_) {}

  Result<std::unique_ptr<CredentialRows>> query(std::string_view sql, Params params) override {
    LUMBUNG_ASSIGN_OR_RETURN(server::SqliteSql::Rows rows,
                             sql_.query(with_tables(sql, ""), params));
    return std::unique_ptr<CredentialRows>(new RowsOver<server::SqliteSql>(std::move(rows)));
  }
  Status run(std::string_view sql, Params params) override {
    return sql_.run(with_tables(sql, ""), params);
  }
  std::string insert_or_ignore(std::string_view insert, std::string_view key) const override {
    return server::SqliteSql::insert_or_ignore(insert, key);
  }
  Status transaction(const std::function<Status()>& body) override {
    return db::in_transaction(*db_, body);
  }
  Result<std::int64_t> grants_version() override {
    LUMBUNG_ASSIGN_OR_RETURN(server::SqliteSql::Rows rows, sql_.query("PRAGMA data_version"));
    LUMBUNG_RETURN_IF_ERROR(rows.step().status());
    return rows.integer(0);
  }
  // Another connection's commit moves data_version on; this one's own do not,
  // and the store drops its cache at its own writes.
  Status grants_changed() override { return Status::ok(); }

 private:
  std::unique_ptr<db::Database> db_;
  server::SqliteSql sql_;
};

// --- the PostgreSQL store's database ---

// The same tables, prefixed, in PostgreSQL's types; and the version row that
// moves on at each change of grants or roles.
constexpr std::string_view kPgTables = R"(
CREATE TABLE IF NOT EXISTS _lumbung_revoked_token (
  token_id   TEXT PRIMARY KEY,
  revoked_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS _lumbung_token_device (
  token_id  TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  bound_at  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS _lumbung_device_officer (
  device_id TEXT PRIMARY KEY,
  officer   TEXT NOT NULL,
  bound_at  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS _lumbung_officers (
  officer           TEXT PRIMARY KEY,
  role              TEXT NOT NULL,
  updated_at        BIGINT NOT NULL,
  tokens_revoked_at BIGINT
);
CREATE TABLE IF NOT EXISTS _lumbung_officer_grants (
  officer    TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('village', 'district', 'province', 'all')),
  value      TEXT NOT NULL,
  granted_at BIGINT NOT NULL,
  PRIMARY KEY (officer, kind, value)
);
CREATE TABLE IF NOT EXISTS _lumbung_issued_tokens (
  token_id   TEXT PRIMARY KEY,
  officer    TEXT NOT NULL,
  key_id     TEXT NOT NULL,
  issued_at  BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  device_id  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS _lumbung_issued_tokens_officer ON _lumbung_issued_tokens (officer);
CREATE INDEX IF NOT EXISTS _lumbung_issued_tokens_device ON _lumbung_issued_tokens (device_id)
  WHERE device_id <> '';
CREATE INDEX IF NOT EXISTS _lumbung_token_device_device ON _lumbung_token_device (device_id);
CREATE INDEX IF NOT EXISTS _lumbung_device_officer_officer ON _lumbung_device_officer (officer);
CREATE TABLE IF NOT EXISTS _lumbung_credential_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL
);
INSERT INTO _lumbung_credential_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
)";

// The lock the PostgreSQL store's own schema transactions take
// (server/pg_store.cpp): one daemon at a time creates tables.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(7815700137684839)";

class PgCredentialSql final : public CredentialSql {
 public:
  explicit PgCredentialSql(std::unique_ptr<pg::Connection> conn)
      : conn_(std::move(conn)), sql_(*conn_) {}

  Result<std::unique_ptr<CredentialRows>> query(std::string_view sql, Params params) override {
    const std::string text = with_tables(sql, "_lumbung_");
    Result<server::PgSql::Rows> rows = sql_.query(text, params);
    if (!rows.is_ok() && reconnected(rows.status())) rows = sql_.query(text, params);
    if (!rows.is_ok()) return rows.status();
    return std::unique_ptr<CredentialRows>(new RowsOver<server::PgSql>(std::move(rows).value()));
  }
  Status run(std::string_view sql, Params params) override {
    const std::string text = with_tables(sql, "_lumbung_");
    Status status = sql_.run(text, params);
    if (reconnected(status)) status = sql_.run(text, params);
    return status;
  }
  std::string insert_or_ignore(std::string_view insert, std::string_view key) const override {
    return server::PgSql::insert_or_ignore(insert, key);
  }
  Status transaction(const std::function<Status()>& body) override {
    bool began = false;
    const auto attempt = [&] {
      in_transaction_ = true;
      Status status = pg::retry_transaction(*conn_, pg::Isolation::kSerializable, [&] {
        began = true;
        return body();
      });
      in_transaction_ = false;
      return status;
    };
    Status status = attempt();
    if (status.code() != ErrorCode::kUnavailable) return status;
    // Lost before BEGIN went through (a PostgreSQL restart while idle):
    // nothing was done, so the transaction runs on a new connection. Lost
    // later: the outcome is unknown and reported; the next call reconnects.
    if (!conn_->reset().is_ok() || began) return status;
    return attempt();
  }
  Result<std::int64_t> grants_version() override {
    LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<CredentialRows> rows,
                             query("SELECT version FROM @credential_version WHERE id = 1", {}));
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows->step());
    return found ? rows->integer(0) : std::int64_t{0};
  }
  Status grants_changed() override {
    return run("UPDATE @credential_version SET version = version + 1 WHERE id = 1", {});
  }

 private:
  // Whether `status` is a lost connection that was reconnected, outside a
  // transaction: then the statement, a read or a single write, runs again.
  bool reconnected(const Status& status) {
    if (status.code() != ErrorCode::kUnavailable || in_transaction_) return false;
    return conn_->reset().is_ok();
  }

  std::unique_ptr<pg::Connection> conn_;
  server::PgSql sql_;
  bool in_transaction_ = false;
};

}  // namespace

std::string CredentialRows::text(int i) const {
  const Value v = value(i);
  return v.type() == ValueType::kText ? v.as_text() : std::string();
}

std::int64_t CredentialRows::integer(int i) const {
  const Value v = value(i);
  return v.type() == ValueType::kInteger ? v.as_integer() : 0;
}

Result<std::unique_ptr<CredentialSql>> open_sqlite_credential_sql(const std::string& path) {
  LUMBUNG_RETURN_IF_ERROR(db::create_private_file(path));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> opened, db::Database::open(path, true));
  db::Database& db = *opened;
  LUMBUNG_RETURN_IF_ERROR(
      db.exec("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL"));
  // Read and created in one write transaction: two processes opening a new
  // store at once do not both create the tables.
  LUMBUNG_RETURN_IF_ERROR(db::in_transaction(db, [&]() -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(const int format, db::user_version(db));
    if (format == kFileFormat.newest()) return Status::ok();
    if (format != 0 && !kFileFormat.opens(format)) {
      return Status(ErrorCode::kCorrupt, "'" + path + "' is not a credential store of format " +
                                             std::to_string(kFileFormat.newest()) + " (it has " +
                                             std::to_string(format) + ")");
    }
    if (format == 0) LUMBUNG_RETURN_IF_ERROR(db.exec(kCreateTables));
    LUMBUNG_RETURN_IF_ERROR(kFileFormat.upgrade(db, format == 0 ? kFileFormat.oldest : format));
    return db::set_user_version(db, kFileFormat.newest());
  }));
  return std::unique_ptr<CredentialSql>(new SqliteCredentialSql(std::move(opened)));
}

Result<std::unique_ptr<CredentialSql>> open_pg_credential_sql(const std::string& url) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn, pg::Connection::open(url));
  pg::Connection& c = *conn;
  LUMBUNG_RETURN_IF_ERROR(pg::retry_transaction(c, pg::Isolation::kReadCommitted, [&] {
    LUMBUNG_RETURN_IF_ERROR(c.exec(kSchemaLock));
    return c.exec(kPgTables);
  }));
  return std::unique_ptr<CredentialSql>(new PgCredentialSql(std::move(conn)));
}

}  // namespace lumbung::auth
