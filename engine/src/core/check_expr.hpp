// CheckExpr: a CHECK constraint parsed from the schema file's SQL-like text
// and rendered back as safe, canonical SQL for the tables' DDL. SQLite itself
// judges it: on a device, the table's own; on the daemon, a twin of it
// (db/check_judge.hpp).
//
// The accepted language is the part of SQL that CHECK constraints need:
// column names (case-insensitive, optionally "double-quoted"), integer/real/
// string literals, NULL, parentheses, = == != <> < <= > >=, AND, OR, NOT,
// IS [NOT] NULL, [NOT] IN (literal, ...), [NOT] BETWEEN a AND b, [NOT] LIKE,
// [NOT] GLOB, + - * / ||, unary -, and the functions length(), lower(),
// upper(), typeof(), abs(), substr(). Precedence is SQLite's. It leaves out
// what SQLite versions judge differently, so that phones (whose SQLite is
// Android's) and the daemon agree (docs/decisions/0020): AND, OR and NOT only
// combine conditions ("(a AND b) = 1" is an error: SQLite 3.15 and 3.40 give
// such values different truth); LIKE and GLOB do not apply to blob columns
// (3.15 matches a blob's bytes, 3.40 never matches). Anything else (';',
// comments, subqueries, CASE, unknown functions, ...) is a load error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lumbung/status.hpp"
#include "lumbung/value.hpp"

namespace lumbung::core {

class CheckExpr {
 public:
  // Parses `text`; every column it names must be in `columns`. LIKE and GLOB
  // may not apply to `blob_columns` (SQLite 3.15 matches a blob's bytes, 3.40
  // never matches). Errors are kSchemaInvalid with a message saying what and
  // where ("at offset 7: unknown column 'sexx'"), without a file/table prefix
  // (the caller adds it).
  static Result<CheckExpr> parse(std::string_view text, const std::vector<std::string>& columns,
                                 const std::vector<std::string>& blob_columns = {});

  // Canonical SQL, fully parenthesised, identifiers quoted, literals escaped,
  // accepted by SQLite 3.15: "sex IN ('L','P')" -> ("sex" IN ('L', 'P')).
  const std::string& sql() const { return sql_; }
  // sql() as a table's CHECK: the same truth, judged faster row by row (an
  // IN list of more than two values becomes comparisons joined by OR).
  const std::string& table_sql() const { return table_sql_; }
  // The text as written in the schema file (for messages).
  const std::string& source() const { return source_; }
  // The columns it names, each once. Its value depends on theirs alone: the
  // grammar has no function whose result varies (random(), date('now')).
  const std::vector<std::string>& columns() const { return columns_; }

  bool operator==(const CheckExpr& other) const { return sql_ == other.sql_; }

 private:
  std::string sql_;
  std::string table_sql_;
  std::string source_;
  std::vector<std::string> columns_;
};

}  // namespace lumbung::core
