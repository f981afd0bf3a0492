// SqliteSql: the SQLite side of the store's SQL (server/sql_transactions.hpp):
// statements with ?1, ?2, ... bound to lumbung::Values, run over one
// db::Database and its prepared-statement cache, and what SQLite's dialect
// (3.15, the SQLCipher build's: no UPSERT) writes its own way. A value of any
// type is stored as itself: SQLite's columns are dynamically typed.
//
// Thread-safety: as the db::Database it wraps (one thread at a time).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"
#include "lumbung/status.hpp"
#include "lumbung/value.hpp"

namespace lumbung::server {

class SqliteSql {
 public:
  using Params = std::initializer_list<Value>;

  // The rows of one statement, stepped one at a time.
  class Rows {
   public:
    explicit Rows(db::Query query) : query_(std::move(query)) {}
    Result<bool> step() { return query_.step(); }
    Value value(int i) const { return query_.value(i); }
    bool is_null(int i) const { return query_.statement().column(i).is_null(); }
    std::int64_t integer(int i) const { return query_.integer(i); }
    std::string text(int i) const { return query_.text(i); }
    // Valid until the next step().
    std::string_view text_view(int i) const { return query_.text_view(i); }

   private:
    mutable db::Query query_;
  };

  // In-process reads cost little: a pull reads a row per statement.
  static constexpr bool kReadsRowsInBatches = false;

  explicit SqliteSql(db::Database& db) : db_(db) {}

  // The rows of `sql`, from the connection's cached statement: REQUIRES: no
  // other Rows of the same text is open.
  Result<Rows> query(const std::string& sql, Params params = {}) {
    Result<db::Query> query = db::Query::cached(db_, sql, params);
    if (!query.is_ok()) return db_.last_error("preparing '" + sql + "'");
    return Rows(std::move(query).value());
  }
  // SQLite plans a statement once, from its text: the same as query().
  Result<Rows> query_planned(const std::string& sql, const std::vector<Value>& params) {
    Result<db::Query> query = db::Query::cached(db_, sql, params);
    if (!query.is_ok()) return db_.last_error("preparing '" + sql + "'");
    return Rows(std::move(query).value());
  }
  // As query(), with a statement of its own: for rows read while others of
  // the same text are (one per scope of a scan).
  Result<Rows> query_own(const std::string& sql, Params params) {
    Result<db::Query> query = db::Query::prepared(db_, sql, params);
    if (!query.is_ok()) return db_.last_error("preparing '" + sql + "'");
    return Rows(std::move(query).value());
  }
  // Runs a statement that returns no rows.
  Status run(const std::string& sql, Params params = {}) {
    Result<db::Query> query = db::Query::cached(db_, sql, params);
    if (!query.is_ok()) return db_.last_error("preparing '" + sql + "'");
    return query.value().run();
  }
  // As run(); returns the number of rows it changed.
  Result<std::int64_t> run_counted(const std::string& sql, Params params) {
    LUMBUNG_RETURN_IF_ERROR(run(sql, params));
    return static_cast<std::int64_t>(sqlite3_changes(db_.handle()));
  }
  // As run(), with the values bound where they are, without a copy.
  Status run_borrowed(const std::string& sql, const std::vector<const Value*>& params) {
    Result<db::Query> query = db::Query::cached(db_, sql);
    if (!query.is_ok()) return db_.last_error("preparing '" + sql + "'");
    db::Statement& statement = query.value().statement();
    for (std::size_t i = 0; i < params.size(); ++i) {
      statement.bind_borrowed(static_cast<int>(i + 1), *params[i]);
    }
    return query.value().run();
  }
  // Statements without parameters, separated by semicolons.
  Status exec(std::string_view sql) { return db_.exec(sql); }

  // The dialect. `insert` is "INSERT INTO t (columns) VALUES (...)"; `key`
  // the columns of the key it may collide on. upsert(): the row replaces the
  // one with its key; insert_or_ignore(): a row with its key stays.
  static std::string upsert(std::string_view insert, std::string_view /*key*/) {
    return "INSERT OR REPLACE" + std::string(insert.substr(6));
  }
  static std::string insert_or_ignore(std::string_view insert, std::string_view /*key*/) {
    return "INSERT OR IGNORE" + std::string(insert.substr(6));
  }
  // The greater of two integers, as an SQL function name.
  static constexpr const char* kGreatest = "max";
  // A value of any type as a column holds it, and back.
  static const Value& any_value(const Value& value) { return value; }
  static Result<Value> from_any_value(const Value& stored, std::string_view /*what*/) {
    return stored;
  }

  db::Database& db() { return db_; }

 private:
  db::Database& db_;
};

}  // namespace lumbung::server
