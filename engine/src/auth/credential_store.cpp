#include "auth/credential_store.hpp"

#include "db/database.hpp"
#include "db/file_format.hpp"

namespace lumbung::auth {

namespace {

// The SQL stays within SQLite 3.15, as the server's store does: the SQLCipher
// build links the daemon against SQLCipher's older SQLite (no UPSERT).

// PRAGMA user_version of a store this code writes: one format so far.
constexpr db::FileFormat kStoreFormat{1, {}};

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

Status mismatch(std::string message) {
  return Status(ErrorCode::kDeviceMismatch, std::move(message));
}

}  // namespace

CredentialStore::CredentialStore(std::unique_ptr<db::Database> db) : db_(std::move(db)) {}

CredentialStore::~CredentialStore() = default;

Result<std::unique_ptr<CredentialStore>> CredentialStore::open(const std::string& path) {
  LUMBUNG_RETURN_IF_ERROR(db::create_private_file(path));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> opened, db::Database::open(path, true));
  db::Database& db = *opened;
  LUMBUNG_RETURN_IF_ERROR(
      db.exec("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL"));
  // Read and created in one write transaction: two processes opening a new
  // store at once do not both create the tables.
  LUMBUNG_RETURN_IF_ERROR(db::in_transaction(db, [&]() -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(const int format, db::user_version(db));
    if (format == kStoreFormat.newest()) return Status::ok();
    if (format != 0 && !kStoreFormat.opens(format)) {
      return Status(ErrorCode::kCorrupt, "'" + path + "' is not a credential store of format " +
                                             std::to_string(kStoreFormat.newest()) + " (it has " +
                                             std::to_string(format) + ")");
    }
    if (format == 0) LUMBUNG_RETURN_IF_ERROR(db.exec(kCreateTables));
    LUMBUNG_RETURN_IF_ERROR(kStoreFormat.upgrade(db, format == 0 ? kStoreFormat.oldest : format));
    return db::set_user_version(db, kStoreFormat.newest());
  }));
  return std::unique_ptr<CredentialStore>(new CredentialStore(std::move(opened)));
}

Status CredentialStore::revoke(std::string_view token_id, std::int64_t now) {
  std::lock_guard lock(mu_);
  return db::run_cached(
      *db_, "INSERT OR IGNORE INTO revoked_token (token_id, revoked_at) VALUES (?1, ?2)",
      {Value(token_id), Value(now)});
}

Status CredentialStore::check_not_revoked(std::string_view token_id) {
  std::lock_guard lock(mu_);
  LUMBUNG_ASSIGN_OR_RETURN(
      const bool revoked,
      db::returns_row_cached(*db_, "SELECT revoked_at FROM revoked_token WHERE token_id = ?1",
                             {Value(token_id)}));
  if (revoked) {
    return Status(ErrorCode::kTokenRevoked, "token " + std::string(token_id) + " was revoked");
  }
  return Status::ok();
}

Result<std::pair<std::string, std::string>> CredentialStore::bindings(std::string_view token_id,
                                                                      std::string_view device_id) {
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::cached(*db_,
                        "SELECT (SELECT device_id FROM token_device WHERE token_id = ?1), "
                        "       (SELECT officer FROM device_officer WHERE device_id = ?2)",
                        {Value(token_id), Value(device_id)}));
  LUMBUNG_RETURN_IF_ERROR(query.step().status());
  return std::pair<std::string, std::string>{query.text(0), query.text(1)};
}

Result<std::string> CredentialStore::bound_device(std::string_view token_id) {
  std::lock_guard lock(mu_);
  LUMBUNG_ASSIGN_OR_RETURN(auto bound, bindings(token_id, ""));
  return bound.first;
}

Status CredentialStore::bind(std::string_view token_id, std::string_view device_id,
                             std::string_view officer, std::int64_t now,
                             std::string_view replaces) {
  std::lock_guard lock(mu_);
  const auto moves = [&](const std::string& token_device) {
    return !replaces.empty() && token_device == replaces;
  };
  // Checks the bindings found; false when one is still to be made.
  const auto check = [&](const std::pair<std::string, std::string>& bound) -> Result<bool> {
    const auto& [token_device, device_officer] = bound;
    if (!token_device.empty() && token_device != device_id && !moves(token_device)) {
      return mismatch("token " + std::string(token_id) + " is bound to another device");
    }
    if (!device_officer.empty() && device_officer != officer) {
      return mismatch("device '" + std::string(device_id) + "' belongs to another officer");
    }
    return token_device == device_id && !device_officer.empty();
  };
  // Every request after the first: a read, no write lock.
  LUMBUNG_ASSIGN_OR_RETURN(auto bound, bindings(token_id, device_id));
  Result<bool> complete = check(bound);
  if (!complete.is_ok() || *complete) return complete.status();
  // First use: decided again under the write lock, which a concurrent first
  // use (here or in another process) may have taken first.
  return db::in_transaction(*db_, [&]() -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(auto locked, bindings(token_id, device_id));
    Result<bool> settled = check(locked);
    if (!settled.is_ok() || *settled) return settled.status();
    if (moves(locked.first)) {
      LUMBUNG_RETURN_IF_ERROR(
          db::run(*db_,
                  "UPDATE token_device SET device_id = ?2, bound_at = ?3 "
                  "WHERE token_id = ?1",
                  {Value(std::string(token_id)), Value(std::string(device_id)), Value(now)}));
    }
    const auto insert = [&](const char* sql, std::string_view key, std::string_view value) {
      return db::run_cached(*db_, sql, {Value(key), Value(value), Value(now)});
    };
    LUMBUNG_RETURN_IF_ERROR(
        insert("INSERT OR IGNORE INTO token_device (token_id, device_id, bound_at) "
               "VALUES (?1, ?2, ?3)",
               token_id, device_id));
    LUMBUNG_RETURN_IF_ERROR(
        insert("INSERT OR IGNORE INTO device_officer (device_id, officer, bound_at) "
               "VALUES (?1, ?2, ?3)",
               device_id, officer));
    return Status::ok();
  });
}

}  // namespace lumbung::auth
