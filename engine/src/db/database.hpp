// A thin RAII layer over the SQLite C API for the replica and the daemon: one connection,
// prepared statements with bound Values, and SQLite result codes mapped to
// Lumbung error codes. Internal; not thread-safe (one connection, one thread).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lumbung/status.hpp"
#include "lumbung/value.hpp"

namespace lumbung::db {

// Maps a SQLite result code (extended or primary) to a Lumbung error code.
ErrorCode error_code_for(int sqlite_code);

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds parameter `index` (1-based).
  void bind(int index, const Value& value);
  // For hot paths: binds without copying. REQUIRES: the text or value
  // outlives the statement's next step to the end (run()) or reset().
  void bind_borrowed(int index, const Value& value);
  void bind_borrowed_text(int index, std::string_view text);
  // Steps once: true while a row is available, false when done; errors as Status.
  Result<bool> step();
  // Steps to the end, for statements that return no rows.
  Status run();
  // Resets for reuse and clears bindings.
  void reset();

  int column_count() const;
  std::string_view column_name(int i) const;
  Value column(int i) const;
  std::int64_t column_int(int i) const;
  std::string column_text(int i) const;
  // The text without a copy; valid until the next step() or reset().
  std::string_view column_text_view(int i) const;
  bool read_only() const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  // Opens (SQLITE_OPEN_READWRITE and NOMUTEX, plus CREATE when `create`).
  static Result<std::unique_ptr<Database>> open(const std::string& path, bool create);
  ~Database();

  sqlite3* handle() const { return db_; }

  // Runs one or more statements without parameters.
  Status exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  // A statement kept prepared for the connection's lifetime, keyed by its text.
  // The reference stays valid until the Database is destroyed; it is reset.
  Result<Statement*> cached(const std::string& sql);

  // The error of the last failed call on this connection, with `context` first.
  Status last_error(std::string_view context) const;

  // Transactions that nest: the outermost is BEGIN IMMEDIATE ... COMMIT, inner
  // ones are savepoints. commit()/rollback() close the innermost.
  Status begin();
  Status commit();
  Status rollback();
  int transaction_depth() const { return depth_; }
  // After a write that failed half-way inside a caller's transaction: the
  // transaction can only roll back now. The outermost commit() rolls it back
  // and returns `why`.
  void fail_transaction(const Status& why);
  // Counts outermost transactions begun: state cached for one transaction is
  // stale when this has moved on.
  std::uint64_t transaction_serial() const { return serial_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  int depth_ = 0;
  std::uint64_t serial_ = 0;
  Status failed_;                                                      // see fail_transaction()
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;  // by SQL text
};

// A statement with its parameters bound to ?1, ?2, ..., reset (its bindings
// cleared) when the Query ends, so that one left unfinished, by an early
// return or after the row it was for, never keeps a read snapshot open.
//
//   LUMBUNG_ASSIGN_OR_RETURN(db::Query query,
//                            db::Query::cached(db, "SELECT v FROM t WHERE k = ?1", {Value(k)}));
//   LUMBUNG_ASSIGN_OR_RETURN(const bool found, query.step());
//   return found ? query.text(0) : std::string();
class Query {
 public:
  // The connection's cached statement for `sql` (Database::cached).
  // REQUIRES: the statement is not in use by another Query.
  static Result<Query> cached(Database& db, const std::string& sql,
                              std::initializer_list<Value> params = {});
  static Result<Query> cached(Database& db, const std::string& sql,
                              const std::vector<Value>& params);
  // A statement of its own, finalized when the Query ends: for a query open
  // while one of the same text is (one per scope of a scan), or run once.
  static Result<Query> prepared(Database& db, std::string_view sql,
                                std::initializer_list<Value> params = {});
  static Result<Query> prepared(Database& db, std::string_view sql,
                                const std::vector<Value>& params);
  // `kept`, a statement its owner keeps prepared, until the Query ends.
  static Query over(Statement& kept) { return Query(&kept); }

  Query(Query&& other) noexcept;
  Query& operator=(Query&&) = delete;
  ~Query();

  // Steps once: true while a row is available, false when done.
  Result<bool> step() { return stmt_->step(); }
  // Steps to the end, for statements that return no rows.
  Status run() { return stmt_->run(); }
  // Runs the query again from its first row, with new parameters.
  void restart(std::initializer_list<Value> params);

  // Column `i` of the current row.
  Value value(int i) const { return stmt_->column(i); }
  std::int64_t integer(int i) const { return stmt_->column_int(i); }
  std::string text(int i) const { return stmt_->column_text(i); }
  // Valid until the next step() or the Query's end.
  std::string_view text_view(int i) const { return stmt_->column_text_view(i); }

  // The statement, to bind without copying or read its columns' names.
  Statement& statement() { return *stmt_; }

 private:
  explicit Query(Statement* stmt) : stmt_(stmt) {}
  explicit Query(Statement&& owned);
  template <typename Params>
  static Result<Query> cached_bound(Database& db, const std::string& sql, const Params& params);
  template <typename Params>
  static Result<Query> prepared_bound(Database& db, std::string_view sql, const Params& params);

  Statement* stmt_;
  std::unique_ptr<Statement> owned_;  // when prepared()
};

// Prepares `sql` (not kept in the cache), binds `params` to ?1, ?2, ... and
// steps it to the end.
Status run(Database& db, std::string_view sql, const std::vector<Value>& params = {});
// Whether `sql`, with `params` bound as by run(), returns a row.
Result<bool> returns_row(Database& db, std::string_view sql, const std::vector<Value>& params = {});
// As run() and returns_row(), with the statement kept in the connection's
// cache (Database::cached) and reset after: for a statement run once a row.
Status run_cached(Database& db, const std::string& sql, const std::vector<Value>& params = {});
Result<bool> returns_row_cached(Database& db, const std::string& sql,
                                const std::vector<Value>& params = {});

// The files SQLite keeps beside a database file PATH: PATH-wal, PATH-shm
// and PATH-journal.
inline constexpr const char* kSidecarSuffixes[] = {"-wal", "-shm", "-journal"};

// Creates the database file `path`, empty, with mode 0600 when it is missing,
// so that SQLite's -wal, -shm and -journal files, which take the database
// file's mode, are private too; takes group and other permissions away from
// an existing one and from those files (older versions made them 0644).
Status create_private_file(const std::string& path);

// Copies the main database of `source` into `to` (created 0600; it must be
// missing or empty) with SQLite's online backup, in one read transaction of
// `source`: the copy is the committed state of one moment, and in WAL mode
// writers on other connections go on meanwhile.
Status copy_database(Database& source, const std::string& to);

// kCorrupt naming the first problem PRAGMA integrity_check finds, if any.
Status check_integrity(Database& db, const std::string& path);

// Runs `body` inside db.begin()/commit(), rolling back when it fails.
template <typename Body>
Status in_transaction(Database& db, Body&& body) {
  LUMBUNG_RETURN_IF_ERROR(db.begin());
  Status status = body();
  if (!status.is_ok()) {
    (void)db.rollback();  // the body's error is the one to report
    return status;
  }
  status = db.commit();
  if (!status.is_ok()) (void)db.rollback();
  return status;
}

}  // namespace lumbung::db
