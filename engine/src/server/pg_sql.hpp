// PgSql: the PostgreSQL side of the store's SQL (server/sql_transactions.hpp):
// statements written as for SQLite, with ?1, ?2, ..., run over one
// pg::Connection as $1, $2, ... (prepared once per connection, kept by their
// text), and what PostgreSQL's dialect writes its own way: upserts with
// ON CONFLICT, greatest(), and values of any type as tagged bytea
// (docs/decisions/0034-postgresql-store.md).
//
// Thread-safety: as the pg::Connection it wraps (one thread at a time).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "lumbung/status.hpp"
#include "lumbung/value.hpp"
#include "pg/connection.hpp"

namespace lumbung::server {

// `sql` with every placeholder ?N written $N (PostgreSQL's). The store's
// statements hold no '?' elsewhere.
std::string pg_placeholders(std::string_view sql);

class PgSql {
 public:
  using Params = std::initializer_list<Value>;

  // The rows of one statement, all read (libpq holds a result whole: page
  // long reads with LIMIT).
  class Rows {
   public:
    explicit Rows(pg::Rows rows) : rows_(std::move(rows)) {}
    Result<bool> step() { return rows_.step(); }
    Value value(int i) const { return rows_.value(i); }
    bool is_null(int i) const { return rows_.is_null(i); }
    std::int64_t integer(int i) const { return rows_.integer(i); }
    std::string text(int i) const { return rows_.text(i); }
    // The rows are all in memory: those ahead of the current one can be read.
    int row_count() const { return rows_.row_count(); }
    int position() const { return rows_.position(); }
    std::string text_at(int row, int i) const { return rows_.text_at(row, i); }
    std::string text_view(int i) const { return rows_.text(i); }

   private:
    pg::Rows rows_;
  };

  // How run() and run_borrowed() write: kWaited runs each statement and
  // waits for its outcome; kPipelined sends it (pg::Connection::send) and
  // goes on, its failure reported by the next statement that waits (a
  // query, the commit, pg::Connection::finish_sent()): for the store's
  // write transactions, whose inserts and updates would otherwise each
  // cost a round trip while the seq lock is held.
  enum class Writes { kWaited, kPipelined };

  // A pull reads the rows its change log names a statement per table, not
  // per row (server/sql_transactions.hpp, RowChangeSource).
  static constexpr bool kReadsRowsInBatches = true;

  explicit PgSql(pg::Connection& conn, Writes writes = Writes::kWaited)
      : conn_(conn), writes_(writes) {}

  Result<Rows> query(const std::string& sql, Params params = {}) {
    LUMBUNG_ASSIGN_OR_RETURN(pg::Rows rows, conn_.query(pg_placeholders(sql), params));
    return Rows(std::move(rows));
  }
  // As query(), planned for `params` each time (pg::Connection::query_planned).
  Result<Rows> query_planned(const std::string& sql, const std::vector<Value>& params) {
    LUMBUNG_ASSIGN_OR_RETURN(pg::Rows rows, conn_.query_planned(pg_placeholders(sql), params));
    return Rows(std::move(rows));
  }
  // Results are read whole: the same as query().
  Result<Rows> query_own(const std::string& sql, Params params) { return query(sql, params); }
  Status run(const std::string& sql, Params params = {}) {
    if (writes_ == Writes::kPipelined) return conn_.send(pg_placeholders(sql), params);
    return conn_.query(pg_placeholders(sql), params).status();
  }
  Result<std::int64_t> run_counted(const std::string& sql, Params params) {
    LUMBUNG_ASSIGN_OR_RETURN(pg::Rows rows, conn_.query(pg_placeholders(sql), params));
    return rows.affected_rows();
  }
  Status run_borrowed(const std::string& sql, const std::vector<const Value*>& params) {
    std::vector<Value> values;
    values.reserve(params.size());
    for (const Value* value : params) values.push_back(*value);
    if (writes_ == Writes::kPipelined) return conn_.send(pg_placeholders(sql), values);
    return conn_.query(pg_placeholders(sql), values).status();
  }
  Status exec(std::string_view sql) { return conn_.exec(sql); }

  static std::string upsert(std::string_view insert, std::string_view key);
  static std::string insert_or_ignore(std::string_view insert, std::string_view key) {
    return std::string(insert) + " ON CONFLICT (" + std::string(key) + ") DO NOTHING";
  }
  static constexpr const char* kGreatest = "greatest";
  // A value of any type as a bytea column holds it: NULL as NULL, else a tag
  // byte ('i' integer, 'r' real: 8 bytes big-endian each; 't' text, 'b'
  // blob: their bytes) and the value.
  static Value any_value(const Value& value);
  // The value any_value() wrote; kCorrupt (naming `what`) for other bytes.
  static Result<Value> from_any_value(const Value& stored, std::string_view what);

  pg::Connection& connection() { return conn_; }

 private:
  pg::Connection& conn_;
  Writes writes_;
};

}  // namespace lumbung::server
