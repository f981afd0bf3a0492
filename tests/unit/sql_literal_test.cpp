// core::sql_literal: the one SQL literal of the engine. Its text is stored in
// the DDL of replica files (DEFAULT clauses, rendered CHECKs), which snapshot
// adoption compares byte for byte, so these pin it.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "core/schema.hpp"

namespace {

using lumbung::Blob;
using lumbung::Value;
using lumbung::core::RealDigits;
using lumbung::core::sql_literal;
using lumbung::core::sql_text_literal;

}  // namespace

TEST_CASE("sql_literal: null, integers, text with its quotes doubled, blobs as X'..'", "[schema]") {
  CHECK(sql_literal(Value()) == "NULL");
  CHECK(sql_literal(Value(std::int64_t{-42})) == "-42");
  CHECK(sql_literal(Value(std::numeric_limits<std::int64_t>::min())) == "-9223372036854775808");
  CHECK(sql_literal(Value("it's \"q\"")) == "'it''s \"q\"'");
  CHECK(sql_text_literal("''") == "''''''");
  CHECK(sql_literal(Value(Blob{0x00, 0xff, 0x7f, 0xab})) == "X'00FF7FAB'");
  CHECK(sql_literal(Value(Blob{})) == "X''");
}

TEST_CASE("sql_literal: reals stay reals, in the shortest digits or in 17", "[schema]") {
  CHECK(sql_literal(Value(0.1)) == "0.1");
  CHECK(sql_literal(Value(0.1), RealDigits::kSeventeen) == "0.10000000000000001");
  CHECK(sql_literal(Value(2.0)) == "2.0");
  CHECK(sql_literal(Value(2.0), RealDigits::kSeventeen) == "2.0");
  CHECK(sql_literal(Value(-0.0)) == "-0.0");
  CHECK(sql_literal(Value(-0.0), RealDigits::kSeventeen) == "-0.0");
  CHECK(sql_literal(Value(1e300)) == "1e+300");
  CHECK(sql_literal(Value(1e300), RealDigits::kSeventeen) == "1.0000000000000001e+300");
  CHECK(sql_literal(Value(-1.25e-7)) == "-1.25e-07");
}
