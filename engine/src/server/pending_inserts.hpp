// Rows a write transaction inserts into one of the store's logs, kept until
// flush() writes them several rows a statement. A statement a row cost
// SQLite a step and PostgreSQL a bind and an execution each: a push batch of
// 1,000 new rows made 2,000 of them for the change log and the audit log
// alone (docs/benchmarks.md).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lumbung/status.hpp"
#include "lumbung/value.hpp"

namespace lumbung::server {

template <typename Sql>
class PendingInserts {
 public:
  // `head`: "INSERT INTO table (a, b, c)", naming `columns` columns.
  PendingInserts(std::string head, std::size_t columns)
      : head_(std::move(head)), columns_(columns) {}

  // Keeps `row`, writing the rows kept once they fill a statement, so that
  // what is kept stays small however many rows a transaction writes.
  // REQUIRES: `row` has a value for each column, in the head's order.
  Status add(Sql& sql, std::initializer_list<Value> row) {
    values_.insert(values_.end(), row);
    return values_.size() < kRowsPerStatement * columns_ ? Status::ok() : flush(sql);
  }

  // Writes the rows kept, in the order they were added (an autoincrement
  // key numbers them in that order), and forgets them.
  Status flush(Sql& sql) {
    const std::size_t rows = values_.size() / columns_;
    std::vector<const Value*> params;
    for (std::size_t at = 0; at < rows;) {
      std::size_t chunk = kRowsPerStatement;
      while (chunk > rows - at) chunk /= 4;
      params.clear();
      for (std::size_t i = at * columns_; i < (at + chunk) * columns_; ++i) {
        params.push_back(&values_[i]);
      }
      if (Status written = sql.run_borrowed(statement(chunk), params); !written.is_ok()) {
        values_.clear();
        return written;
      }
      at += chunk;
    }
    values_.clear();
    return Status::ok();
  }

 private:
  // Rows a statement: 64, then 16, 4 and 1 for what is left, so that a
  // connection prepares at most four statements a log. 64 rows of 13
  // columns stay under the 999 parameters SQLite 3.15 (SQLCipher's) allows.
  static constexpr std::size_t kRowsPerStatement = 64;

  const std::string& statement(std::size_t rows) {
    std::string& text = statements_[rows];
    if (text.empty()) {
      text = head_ + " VALUES ";
      std::size_t param = 0;
      for (std::size_t row = 0; row < rows; ++row) {
        text += row == 0 ? "(" : ", (";
        for (std::size_t column = 0; column < columns_; ++column) {
          text += (column == 0 ? "?" : ", ?") + std::to_string(++param);
        }
        text += ')';
      }
    }
    return text;
  }

  std::string head_;
  std::size_t columns_;
  std::vector<Value> values_;  // the rows kept, one after another
  std::map<std::size_t, std::string> statements_;
};

}  // namespace lumbung::server
