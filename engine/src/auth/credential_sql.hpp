// CredentialSql: the database a CredentialStore (auth/credential_store.hpp)
// runs its SQL on, written once for both: its own SQLite file
// (DIR/credentials.sqlite) or tables in the PostgreSQL store's database
// (docs/decisions/0039-credentials-in-the-store.md). Each side runs over the
// store's SQL sides (server/sqlite_sql.hpp, server/pg_sql.hpp): statements
// with ?1, ?2, ... and within SQLite 3.15's SQL. A table is named with an '@'
// before it ("@officers"): the SQLite file's tables keep their names, the
// PostgreSQL database's are prefixed "_lumbung_" ("_lumbung_officers").
//
// Thread-safety: none; the CredentialStore that owns one serializes its use.
// Internal.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "lumbung/status.hpp"
#include "lumbung/value.hpp"

namespace lumbung::auth {

// The rows of one statement, stepped one at a time.
class CredentialRows {
 public:
  virtual ~CredentialRows() = default;
  // Moves to the next row: false after the last.
  virtual Result<bool> step() = 0;
  // Column `i` of the current row. REQUIRES: step() returned true.
  virtual Value value(int i) const = 0;
  // The column as text; "" for NULL (or a value of another type).
  std::string text(int i) const;
  // The column as an integer; 0 for NULL. A PostgreSQL bool reads as 0 or 1.
  std::int64_t integer(int i) const;
};

class CredentialSql {
 public:
  using Params = std::initializer_list<Value>;

  virtual ~CredentialSql() = default;

  // The rows of `sql`. REQUIRES: no other rows of the same text are open.
  virtual Result<std::unique_ptr<CredentialRows>> query(std::string_view sql,
                                                        Params params = {}) = 0;
  // Runs a statement that returns no rows.
  virtual Status run(std::string_view sql, Params params = {}) = 0;
  // `insert` ("INSERT INTO @t (columns) VALUES (...)") leaving alone a row
  // that has its key (`key`: the key's columns) already.
  virtual std::string insert_or_ignore(std::string_view insert, std::string_view key) const = 0;
  // Runs `body` in one write transaction, serialized with every other
  // process's (SQLite: BEGIN IMMEDIATE; PostgreSQL: SERIALIZABLE, run again
  // after a serialization failure, so `body` must be safe to repeat).
  virtual Status transaction(const std::function<Status()>& body) = 0;
  // A number that moves on when another connection changed officers' grants
  // or roles since the last call; the grant cache is dropped when it does.
  // SQLite: PRAGMA data_version (any other connection's commit). PostgreSQL:
  // the one row of _lumbung_credential_version, which grants_changed() bumps.
  virtual Result<std::int64_t> grants_version() = 0;
  // REQUIRES: inside transaction(), which changes grants or roles.
  virtual Status grants_changed() = 0;
};

// The SQLite side over the file `path`, created when missing (mode 0600;
// an older version's wider modes of it and its -wal and -shm files are
// narrowed), its tables created or upgraded in place (format 1, before
// grants, to 2) in one write transaction.
Result<std::unique_ptr<CredentialSql>> open_sqlite_credential_sql(const std::string& path);
// The PostgreSQL side over the database `url` names, its _lumbung_ tables
// created when missing (under the store's schema lock, so that daemons
// starting at once do not collide). A connection that went away (a
// PostgreSQL restart) is reconnected at the next call.
Result<std::unique_ptr<CredentialSql>> open_pg_credential_sql(const std::string& url);

}  // namespace lumbung::auth
