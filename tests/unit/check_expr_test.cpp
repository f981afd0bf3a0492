#include "core/check_expr.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

using lumbung::Blob;
using lumbung::ErrorCode;
using lumbung::Row;
using lumbung::Value;
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

bool passes(const std::string& text, const Row& row = {}) { return parsed(text).passes(row); }

// The three-valued result of `text`: "T", "F" or "N" (NULL). Only NULL passes
// both as itself and negated.
std::string tri(const std::string& text, const Row& row = {}) {
  const bool yes = passes(text, row);
  const bool no = passes("NOT (" + text + ")", row);
  return yes && no ? "N" : (yes ? "T" : "F");
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

TEST_CASE("CHECK logic is three-valued", "[schema]") {
  const Value t(1), f(0), n;
  const std::vector<Value> values = {t, f, n};
  // Rows and columns in the order true, false, NULL.
  const char* kAnd[3][3] = {{"T", "F", "N"}, {"F", "F", "F"}, {"N", "F", "N"}};
  const char* kOr[3][3] = {{"T", "T", "T"}, {"T", "F", "N"}, {"T", "N", "N"}};
  const char* kNot[3] = {"F", "T", "N"};
  for (int i = 0; i < 3; ++i) {
    CHECK(tri("NOT a", {{"a", values[i]}}) == kNot[i]);
    for (int j = 0; j < 3; ++j) {
      const Row row = {{"a", values[i]}, {"b", values[j]}};
      INFO("a=" << i << " b=" << j);
      CHECK(tri("a AND b", row) == kAnd[i][j]);
      CHECK(tri("a OR b", row) == kOr[i][j]);
    }
  }
  // A CHECK fails only when false: NULL (unknown) passes.
  CHECK(passes("a = 1", {{"a", n}}));
  CHECK(passes("a = 1", {}));  // a missing column is NULL
  CHECK_FALSE(passes("a = 1", {{"a", Value(2)}}));
  CHECK(tri("a IS NULL", {}) == "T");
  CHECK(tri("a IS NOT NULL", {}) == "F");
  CHECK(CheckExpr().passes({}));
}

TEST_CASE("CHECK IN and BETWEEN follow SQL NULL rules", "[schema]") {
  CHECK(tri("a IN (1, 2)", {{"a", Value(1)}}) == "T");
  CHECK(tri("a IN (1, 2)", {{"a", Value(3)}}) == "F");
  CHECK(tri("a IN (1, 2)", {}) == "N");
  CHECK(tri("a IN (1, NULL)", {{"a", Value(3)}}) == "N");
  CHECK(tri("a IN (1, NULL)", {{"a", Value(1)}}) == "T");
  CHECK(tri("a NOT IN (1, NULL)", {{"a", Value(3)}}) == "N");
  CHECK(tri("a NOT IN (1, NULL)", {{"a", Value(1)}}) == "F");
  CHECK(tri("a NOT IN (1, 2)", {{"a", Value(3)}}) == "T");
  CHECK(tri("a BETWEEN 1 AND 10", {{"a", Value(5)}}) == "T");
  CHECK(tri("a BETWEEN 1 AND 10", {{"a", Value(1)}}) == "T");
  CHECK(tri("a BETWEEN 1 AND 10", {{"a", Value(11)}}) == "F");
  CHECK(tri("a BETWEEN 1 AND 10", {}) == "N");
  CHECK(tri("a BETWEEN NULL AND 10", {{"a", Value(20)}}) == "F");
  CHECK(tri("a BETWEEN NULL AND 10", {{"a", Value(5)}}) == "N");
  CHECK(tri("a NOT BETWEEN 1 AND 10", {{"a", Value(11)}}) == "T");
  CHECK(tri("a NOT BETWEEN NULL AND 10", {{"a", Value(5)}}) == "N");
}

TEST_CASE("CHECK comparisons follow SQLite's affinity and storage-class order", "[schema]") {
  // Integers and reals compare by value.
  CHECK(tri("a = 1.0", {{"a", Value(1)}}) == "T");
  CHECK(tri("r < 2", {{"r", Value(1.5)}}) == "T");
  // A text column compares numbers as text; a number column compares numeric-looking text as a
  // number.
  CHECK(tri("s = 1", {{"s", Value("1")}}) == "T");
  CHECK(tri("s > 5", {{"s", Value("abc")}}) == "T");
  CHECK(tri("a = '5'", {{"a", Value(5)}}) == "T");
  CHECK(tri("a = ' 5 '", {{"a", Value(5)}}) == "T");
  CHECK(tri("a IN ('5', '6')", {{"a", Value(6)}}) == "T");
  CHECK(tri("a < 'x'", {{"a", Value(5)}}) == "T");  // number < text
  CHECK(tri("s = a", {{"s", Value("5")}, {"a", Value(5)}}) == "T");
  // Expressions have no affinity: storage classes order null < numbers < text < blob.
  CHECK(tri("length(s) = '3'", {{"s", Value("abc")}}) == "F");
  CHECK(tri("length(s) < '3'", {{"s", Value("abc")}}) == "T");
  CHECK(tri("s < data", {{"s", Value("zzz")}, {"data", Value(Blob{0})}}) == "T");
  // BINARY collation: byte order, so upper case sorts first.
  CHECK(tri("s < 'a'", {{"s", Value("Z")}}) == "T");
  CHECK(tri("s = 'A'", {{"s", Value("a")}}) == "F");
}

TEST_CASE("CHECK LIKE and GLOB", "[schema]") {
  const auto like = [](const char* pattern, const char* text) {
    return tri(std::string("s LIKE '") + pattern + "'", {{"s", Value(text)}});
  };
  CHECK(like("ab%", "ABC") == "T");
  CHECK(like("a_c", "abc") == "T");
  CHECK(like("a_c", "abbc") == "F");
  CHECK(like("%", "") == "T");
  CHECK(like("%b%b", "abcab") == "T");
  CHECK(like("_", "\xc3\xa9") == "T");         // one character, two bytes
  CHECK(like("\xc3\xa9", "\xc3\x89") == "F");  // only ASCII folds case
  CHECK(tri("s LIKE 'a%'", {}) == "N");
  CHECK(tri("s NOT LIKE 'a%'", {{"s", Value("abc")}}) == "F");
  CHECK(tri("a LIKE '1%'", {{"a", Value(123)}}) == "T");

  const auto glob = [](const char* pattern, const char* text) {
    return tri(std::string("s GLOB '") + pattern + "'", {{"s", Value(text)}});
  };
  CHECK(glob("[0-9]*", "1a") == "T");
  CHECK(glob("[0-9]*", "a1") == "F");
  CHECK(glob("A*", "abc") == "F");
  CHECK(glob("a?c", "abc") == "T");
  CHECK(glob("*[^0-9]*", "12345") == "F");
  CHECK(glob("*[^0-9]*", "123x5") == "T");
  CHECK(glob("[]]", "]") == "T");
  CHECK(glob("[a-]", "-") == "T");
  CHECK(glob("[abc", "a") == "F");  // an unterminated class matches nothing
  CHECK(tri("s NOT GLOB '*x*'", {{"s", Value("abc")}}) == "T");
}

TEST_CASE("CHECK functions and arithmetic", "[schema]") {
  const Row row = {{"a", Value(5)}, {"s", Value("hello")}, {"r", Value(-2.5)}};
  CHECK(tri("length(s) = 5", row) == "T");
  CHECK(tri("length('\xc3\xa9') = 1") == "T");
  CHECK(tri("length(data) = 3", {{"data", Value(Blob{1, 2, 3})}}) == "T");
  CHECK(tri("length(a) = 1", row) == "T");
  CHECK(tri("upper(s) = 'HELLO' AND lower('AbC') = 'abc'", row) == "T");
  CHECK(tri("typeof(a) = 'integer' AND typeof(r) = 'real' AND typeof(s) = 'text'", row) == "T");
  CHECK(tri("typeof(b) = 'null' AND typeof(data) = 'blob'", {{"data", Value(Blob{})}}) == "T");
  CHECK(tri("abs(r) = 2.5 AND abs(-a) = 5", row) == "T");
  CHECK(tri("abs(b) IS NULL") == "T");
  CHECK(tri("substr(s, 2, 3) = 'ell'", row) == "T");
  CHECK(tri("substr(s, -3) = 'llo'", row) == "T");
  CHECK(tri("substr(s, 0, 2) = 'h'", row) == "T");
  CHECK(tri("substr(s, 3, -2) = 'he'", row) == "T");
  CHECK(tri("substr(s, 10) = ''", row) == "T");
  CHECK(tri("substr(s, -10, 7) = 'he'", row) == "T");
  CHECK(tri("substr(s, b) IS NULL", row) == "T");
  CHECK(tri("substr('\xc3\xa9t\xc3\xa9', 2, 1) = 't'") == "T");
  CHECK(tri("substr(data, 1) IS NULL", {{"data", Value(Blob{})}}) == "T");  // as SQLite
  CHECK(tri("substr(data, 2) = data", {{"data", Value(Blob{1, 2})}}) == "F");
  CHECK(tri("length(substr(data, 2)) = 1", {{"data", Value(Blob{1, 2})}}) == "T");
  CHECK(tri("substr(s, 4294967298) = 'ello'", row) == "T");  // positions are 32-bit
  CHECK(tri("substr(s, 2.7, 1) = 'e'", row) == "T");
  CHECK(tri("a + 1 = 6 AND a - 6 = -1 AND a * 2 = 10", row) == "T");
  CHECK(tri("a / 2 = 2", row) == "T");  // integer division
  CHECK(tri("a / 2.0 = 2.5", row) == "T");
  CHECK(tri("a / 0 IS NULL", row) == "T");
  CHECK(tri("a + b IS NULL", row) == "T");
  CHECK(tri("'3' + 4 = 7") == "T");
  CHECK(tri("typeof(9223372036854775807 + 1) = 'real'") == "T");  // overflow turns real
  CHECK(tri("-a = -5", row) == "T");
  CHECK(tri("s || 'x' = 'hellox' AND 1 || 2 = '12' AND 1.5 || '' = '1.5'", row) == "T");
  CHECK(tri("2.0 || '' = '2.0'") == "T");
  CHECK(tri("s || b IS NULL", row) == "T");
  // abs() of the smallest integer is an error in SQLite: the statement, so the CHECK, fails.
  const Row smallest = {{"a", Value(std::numeric_limits<std::int64_t>::min())}};
  CHECK_FALSE(passes("abs(a) > 0", smallest));
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

TEST_CASE("CHECK value truthiness is numeric", "[schema]") {
  CHECK_FALSE(passes("a", {{"a", Value(0)}}));
  CHECK(passes("a", {{"a", Value(7)}}));
  CHECK(passes("r", {{"r", Value(0.5)}}));
  CHECK_FALSE(passes("s", {{"s", Value("abc")}}));
  CHECK(passes("s", {{"s", Value("1x")}}));
  CHECK(passes("s", {{"s", Value()}}));
  // Inside AND/OR/NOT too: 0.5 is true.
  CHECK(tri("r AND 1", {{"r", Value(0.5)}}) == "T");
  CHECK(tri("NOT r", {{"r", Value(0.5)}}) == "F");
  CHECK(tri("s OR 0", {{"s", Value("0.5x")}}) == "T");
}
