#include "core/check_expr.hpp"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace {

using lumbung::ErrorCode;
using lumbung::core::CheckExpr;

const std::vector<std::string> kColumns = {"a", "b", "r", "s", "t", "data"};

CheckExpr parsed(const std::string& text) {
  auto result = CheckExpr::parse(text, kColumns);
  INFO(text << " -> " << result.status().message());
  REQUIRE(result.is_ok());
  return result.value();
}

std::string sql_of(const std::string& text) { return parsed(text).sql(); }

std::string error_of(const std::string& text) {
  auto result = CheckExpr::parse(text, kColumns);
  INFO(text);
  REQUIRE_FALSE(result.is_ok());
  REQUIRE(result.status().code() == ErrorCode::kSchemaInvalid);
  return result.status().message();
}

}  // namespace

TEST_CASE("CHECK renders as canonical, fully parenthesised SQL", "[schema]") {
  CHECK(sql_of("s IN ('L','P')") == R"(("s" IN ('L', 'P')))");
  CHECK(sql_of("a = b") == R"(("a" = "b"))");
  CHECK(sql_of("a == b") == R"(("a" = "b"))");
  CHECK(sql_of("a != 1") == R"(("a" <> 1))");
  CHECK(sql_of("a BETWEEN 2016 AND 2100") == R"(("a" BETWEEN 2016 AND 2100))");
  CHECK(sql_of("a NOT BETWEEN -5 AND 5") == R"(("a" NOT BETWEEN -5 AND 5))");
  CHECK(sql_of("a = 1 OR b = 2 AND NOT a IS NULL") ==
        R"((("a" = 1) OR (("b" = 2) AND (NOT ("a" IS NULL)))))");
  CHECK(sql_of("a IS NOT NULL") == R"(("a" IS NOT NULL))");
  CHECK(sql_of("a + b * 2 || 'x'") == R"(("a" + ("b" * (2 || 'x'))))");
  CHECK(sql_of("(a + b) * 2") == R"((("a" + "b") * 2))");
  CHECK(sql_of("a - b - 1") == R"((("a" - "b") - 1))");
  CHECK(sql_of("a < 1 = b > 2") == R"((("a" < 1) = ("b" > 2)))");
  CHECK(sql_of("s = 'it''s'") == R"(("s" = 'it''s'))");
  CHECK(sql_of("a IN (1, -2, 3.5, 'x', NULL)") == R"(("a" IN (1, -2, 3.5, 'x', NULL)))");
  CHECK(sql_of("s NOT IN ('a')") == R"(("s" NOT IN ('a')))");
  CHECK(sql_of("length(s) <= 16 AND lower(s) NOT LIKE '%x_'") ==
        R"(((length("s") <= 16) AND (lower("s") NOT LIKE '%x_')))");
  CHECK(sql_of("SUBSTR(s, 1, 2) GLOB '[0-9]*'") == R"((substr("s", 1, 2) GLOB '[0-9]*'))");
  CHECK(sql_of("typeof(a) = 'integer' AND abs(a) < 10 AND upper(s) = s") ==
        R"((((typeof("a") = 'integer') AND (abs("a") < 10)) AND (upper("s") = "s")))");
}

TEST_CASE("CHECK names and literals are normalised", "[schema]") {
  CHECK(sql_of("A is not null and \"B\" = 1") == R"((("a" IS NOT NULL) AND ("b" = 1)))");
  CHECK(sql_of("r > 1.5e3") == R"(("r" > 1500.0))");
  CHECK(sql_of("r > .5") == R"(("r" > 0.5))");
  CHECK(sql_of("r < 1e20") == R"(("r" < 1e+20))");
  CHECK(sql_of("r = 2.") == R"(("r" = 2.0))");
  CHECK(sql_of("a > -9223372036854775808") == R"(("a" > -9223372036854775808))");
  // Unary minus on a column keeps a space, so "- -a" never renders as a "--" comment.
  CHECK(sql_of("-a = - -b") == R"(((- "a") = (- (- "b"))))");
  CHECK(sql_of("a - -1 = 0") == R"((("a" - -1) = 0))");
  CHECK(sql_of("- - 1 = 1") == R"((1 = 1))");
  CHECK(sql_of("r > -(1.5)") == R"(("r" > -1.5))");
  CHECK(sql_of("a > -(-9223372036854775808)") == R"(("a" > (- -9223372036854775808)))");
}

TEST_CASE("CHECK rendering reads back as itself", "[schema]") {
  for (const char* text : {"s IN ('L','P')", "a = 1 OR b = 2 AND NOT a IS NULL", "-a = - -b",
                           "s = 'it''s'", "r BETWEEN -1.5 AND 2e-7",
                           "substr(s, -3) || 'x' NOT GLOB '*[^a-z]*'", "a / 2 + b * 3 <> 4"}) {
    const std::string once = sql_of(text);
    CHECK(sql_of(once) == once);
  }
}

TEST_CASE("CHECK text outside the language is rejected with its offset", "[schema]") {
  CHECK(error_of("1); DROP TABLE person; --") == "at offset 2: unexpected character ';'");
  CHECK(error_of("a = 1; DROP TABLE person") == "at offset 5: unexpected character ';'");
  CHECK(error_of("sexx = 1") == "at offset 0: unknown column 'sexx'");
  CHECK(error_of("a = 1 AND zz > 2") == "at offset 10: unknown column 'zz'");
  CHECK(error_of("\"a\"\"; DROP TABLE t; --\" = 1") ==
        "at offset 0: unknown column 'a\"; DROP TABLE t; --'");
  CHECK(error_of("(a = 1") == "at offset 6: expected ')', got end of expression");
  CHECK(error_of("a = 1)") == "at offset 5: unexpected ')'");
  CHECK(error_of("s = 'abc") == "at offset 4: unterminated string");
  CHECK(error_of("\"s = 1") == "at offset 0: unterminated quoted name");
  CHECK(error_of("") == "at offset 0: unexpected end of expression");
  CHECK(error_of("a = 1 AND") == "at offset 9: unexpected end of expression");
  CHECK(error_of("a = 1 -- note") == "at offset 6: comments are not allowed");
  CHECK(error_of("a = 1 /* note */") == "at offset 6: comments are not allowed");
  CHECK(error_of("a IN (SELECT a FROM t)") == "at offset 6: expected a literal, got 'SELECT'");
  CHECK(error_of("a = (SELECT 1)") == "at offset 5: 'SELECT' is not supported in a CHECK");
  CHECK(error_of("CASE WHEN a THEN 1 END") == "at offset 0: 'CASE' is not supported in a CHECK");
  CHECK(error_of("a IN ()") == "at offset 6: expected a literal, got ')'");
  CHECK(error_of("a IN (b)") == "at offset 6: expected a literal, got 'b'");
  CHECK(error_of("load_extension('x')") == "at offset 0: unknown function 'load_extension'");
  CHECK(error_of("length(a, b) = 1") == "at offset 0: length() takes 1 argument");
  CHECK(error_of("substr(s) = 1") == "at offset 0: substr() takes 2 or 3 arguments");
  CHECK(error_of("a IS 1") == "at offset 5: expected NULL or NOT NULL, got '1'");
  CHECK(error_of("a NOT NULL") ==
        "at offset 6: expected IN, BETWEEN, LIKE or GLOB after NOT, got 'NULL'");
  CHECK(error_of("a BETWEEN 1 OR 2") == "at offset 12: expected AND, got 'OR'");
  CHECK(error_of("a = ?") == "at offset 4: unexpected character '?'");
  CHECK(error_of("a & 1") == "at offset 2: unexpected character '&'");
  CHECK(error_of("a = 1abc") == "at offset 4: malformed number");
  CHECK(error_of("a = 99999999999999999999") ==
        "at offset 4: integer literal out of range: 99999999999999999999");
  CHECK(error_of("r = 1e999") == "at offset 4: real literal out of range: 1e999");
  CHECK(error_of(std::string("s = 'a\0b'", 9)) == "at offset 6: NUL character in string");
  CHECK(error_of("a = +1") == "at offset 4: unexpected '+'");
  CHECK(error_of("a IN (1 'x')") == "at offset 8: expected ')', got 'x'");
  CHECK(error_of("a = 1 \"b\"") == "at offset 6: unexpected \"b\"");
}

TEST_CASE("CHECK LIKE and GLOB cannot apply to blob columns", "[schema]") {
  const std::vector<std::string> blobs = {"data"};
  const auto error = [&](const char* text) {
    auto result = CheckExpr::parse(text, kColumns, blobs);
    REQUIRE_FALSE(result.is_ok());
    return result.status().message();
  };
  CHECK(error("data LIKE 'a%'") ==
        "at offset 5: LIKE cannot match a blob (SQLite versions differ)");
  CHECK(error("s NOT GLOB data") ==
        "at offset 6: GLOB cannot match a blob (SQLite versions differ)");
  CHECK(error("substr(data, 2) LIKE 'a%'") ==
        "at offset 16: LIKE cannot match a blob (SQLite versions differ)");
  CHECK(CheckExpr::parse("lower(data) LIKE 'a%' AND length(data) < 10", kColumns, blobs).is_ok());
}

TEST_CASE("CHECK nesting is bounded", "[schema]") {
  CHECK(error_of(std::string(100, '(') + "a" + std::string(100, ')'))
            .find("expression nested too deeply") != std::string::npos);
  std::string chain = "a";
  for (int i = 0; i < 300; ++i) chain += " + a";
  CHECK(error_of(chain + " = 1").find("expression too long") != std::string::npos);
  std::string nots;
  for (int i = 0; i < 100; ++i) nots += "NOT ";
  CHECK(error_of(nots + "a").find("expression nested too deeply") != std::string::npos);
  CHECK(parsed(std::string(20, '(') + "a" + std::string(20, ')')).sql() == R"("a")");
}

TEST_CASE("CHECK AND, OR and NOT only combine conditions", "[schema]") {
  // SQLite 3.15 and 3.40 disagree on "0.5 AND 1" used as a value.
  CHECK(error_of("(a AND b) = 1") ==
        "at offset 3: AND can only combine conditions, not be used as a value");
  CHECK(error_of("a + (b OR 1) > 0") ==
        "at offset 7: OR can only combine conditions, not be used as a value");
  CHECK(error_of("(NOT a) IS NULL") ==
        "at offset 1: NOT can only combine conditions, not be used as a value");
  CHECK(error_of("length(a AND b)") ==
        "at offset 9: AND can only combine conditions, not be used as a value");
  CHECK(sql_of("NOT (a = 1 AND (b OR NOT s))") == R"((NOT (("a" = 1) AND ("b" OR (NOT "s")))))");
}

TEST_CASE("a CHECK's table form has its canonical form's truth for every value", "[schema]") {
  CHECK(parsed("s IN ('L','P')").table_sql() == R"(("s" IN ('L', 'P')))");  // two: as written
  CHECK(parsed("a NOT IN (1, 2, 3)").table_sql() == R"((NOT ("a" = 1 OR "a" = 2 OR "a" = 3)))");
  // SQLite judges both over values of every storage class, in columns of
  // every affinity, NULL in the lists and out of them.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
  const auto exec = [&](const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    INFO(sql << ": " << (error != nullptr ? error : ""));
    sqlite3_free(error);
    REQUIRE(rc == SQLITE_OK);
  };
  exec("CREATE TABLE v (a INTEGER, b INTEGER, r REAL, s TEXT, t TEXT, data BLOB)");
  for (const char* value : {"NULL", "1", "2", "3", "-2", "3.5", "1.0", "'1'", "'2'", "'x'", "'L'",
                            "'l'", "' 1'", "x'01'", "''"}) {
    exec(std::string("INSERT INTO v VALUES (") + value + ", " + value + ", " + value + ", " +
         value + ", " + value + ", " + value + ")");
  }
  int compared = 0;
  for (const char* text :
       {"a IN (1, 2, 3)", "a NOT IN (1, 2, 3)", "a IN (1, '2', 3.5)", "r IN (1, 2, 3.5)",
        "s IN ('1', 2, 'x')", "s NOT IN ('L', 'P', 'x')", "t IN (1, NULL, 'x')",
        "t NOT IN (1, NULL, 'x')", "data IN (1, '1', 3)", "length(s) IN (0, 1, 2)",
        "a IN (1, 2, 3) AND s NOT IN ('a', 'b', 'c')"}) {
    const CheckExpr check = parsed(text);
    REQUIRE(check.table_sql() != check.sql());
    const std::string sql =
        "SELECT quote(" + check.sql() + "), quote(" + check.table_sql() + "), quote(a) FROM v";
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    while (sqlite3_step(statement) == SQLITE_ROW) {
      const auto text_of = [&](int i) {
        return std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, i)));
      };
      INFO(text << " of " << text_of(2));
      CHECK(text_of(0) == text_of(1));
      ++compared;
    }
    sqlite3_finalize(statement);
  }
  CHECK(compared == 11 * 15);
  sqlite3_close(db);
}
