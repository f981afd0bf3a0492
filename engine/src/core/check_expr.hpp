// CheckExpr: a CHECK constraint parsed from the schema file's SQL-like text
// into a small expression tree, so that it can be both rendered back as safe
// SQL (for the replica's DDL) and evaluated in C++ (the server validates
// pushed rows without a typed table).
//
// The accepted language is the part of SQL that CHECK constraints need:
// column names (case-insensitive, optionally "double-quoted"), integer/real/
// string literals, NULL, parentheses, = == != <> < <= > >=, AND, OR, NOT,
// IS [NOT] NULL, [NOT] IN (literal, ...), [NOT] BETWEEN a AND b, [NOT] LIKE,
// [NOT] GLOB, + - * / ||, unary -, and the functions length(), lower(),
// upper(), typeof(), abs(), substr(). Precedence is SQLite's. AND, OR and NOT
// only combine conditions: "(a AND b) = 1" is an error, since SQLite 3.15 and
// 3.40 give such values different truth. Anything else (';', comments,
// subqueries, CASE, unknown functions, ...) is a load error.
//
// Evaluation follows SQLite 3.15: three-valued logic; comparisons apply
// affinity (a column holding a number compares text numerically when it
// looks like a number; a column holding text compares numbers as text);
// storage classes order null < numbers < text < blob; a condition is true
// when its value is a nonzero number (text: its numeric prefix); LIKE is ASCII
// case-insensitive with % and _; GLOB is case-sensitive with * ? [...] [^...];
// integer overflow in + - * turns real, division by zero gives NULL.
// Arithmetic on text that is not wholly a number ('1x' / 5, ' 2 ' + 0) or on
// blobs differs between SQLite 3.15 and 3.40 in corner cases; a CHECK should
// not rely on it (this follows 3.40 for spaces, 3.15 for a numeric prefix).
// A column's affinity is read from its value's storage class, which is exact
// once values are coerced to the declared types (coerce_value()).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lumbung/status.hpp"
#include "lumbung/value.hpp"

namespace lumbung::core {

struct ExprNode;  // defined in check_expr.cpp

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
  // The text as written in the schema file (for messages).
  const std::string& source() const { return source_; }

  // SQL semantics: a CHECK fails only when the expression is false (zero);
  // NULL (unknown) passes. Values of columns missing from `row` are NULL.
  // An evaluation error that SQLite raises (abs() of the smallest integer)
  // fails. A default-constructed CheckExpr passes everything.
  bool passes(const Row& row) const;

  bool operator==(const CheckExpr& other) const { return sql_ == other.sql_; }

 private:
  std::shared_ptr<const ExprNode> root_;
  std::string sql_;
  std::string source_;
};

}  // namespace lumbung::core
