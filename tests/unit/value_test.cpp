#include "lumbung/value.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>

namespace {

using lumbung::Blob;
using lumbung::Value;
using lumbung::ValueType;

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();
constexpr double kInf = std::numeric_limits<double>::infinity();

bool equivalent(const Value& a, const Value& b) {
  return (a <=> b) == std::partial_ordering::equivalent;
}

}  // namespace

TEST_CASE("Value holds SQLite's storage classes", "[core]") {
  CHECK(Value().type() == ValueType::kNull);
  CHECK(Value(nullptr).is_null());
  CHECK(Value(42).type() == ValueType::kInteger);
  CHECK(Value(std::int64_t{1} << 40).as_integer() == std::int64_t{1} << 40);
  CHECK(Value(1.5).as_real() == 1.5);
  CHECK(Value("desa").as_text() == "desa");
  CHECK(Value(std::string_view("desa")).type() == ValueType::kText);
  CHECK(Value(Blob{1, 2}).as_blob() == Blob{1, 2});
  CHECK(lumbung::type_name(ValueType::kNull) == "null");
  CHECK(lumbung::type_name(ValueType::kInteger) == "integer");
  CHECK(lumbung::type_name(ValueType::kReal) == "real");
  CHECK(lumbung::type_name(ValueType::kText) == "text");
  CHECK(lumbung::type_name(ValueType::kBlob) == "blob");
}

TEST_CASE("Value orders storage classes like SQLite", "[core]") {
  CHECK(Value() < Value(kInt64Min));
  CHECK(Value() < Value(-kInf));
  CHECK(Value(kInt64Max) < Value(""));
  CHECK(Value(kInf) < Value(""));
  CHECK(Value("\xff\xff") < Value(Blob{}));
  CHECK(Value(Blob{0xff}) > Value("zzz"));
  CHECK(equivalent(Value(), Value()));
  CHECK(Value() == Value(nullptr));
}

TEST_CASE("Value compares integers and reals by numeric value", "[core]") {
  CHECK(equivalent(Value(1), Value(1.0)));
  CHECK(Value(1) != Value(1.0));  // equal in order, different storage class
  CHECK(Value(2) < Value(2.5));
  CHECK(Value(3) > Value(2.5));
  CHECK(Value(2.5) < Value(3));
  CHECK(Value(-2) > Value(-2.5));
  CHECK(Value(-3) < Value(-2.5));
  CHECK(Value(-2.5) > Value(-3));
  CHECK(Value(0) > Value(-0.0001));
  CHECK(equivalent(Value(0), Value(-0.0)));
  CHECK(Value(1.0) < Value(1.5));
  CHECK(Value(7) < Value(8));
}

TEST_CASE("Value compares large integers with reals exactly", "[core]") {
  constexpr std::int64_t kTwoTo53 = std::int64_t{1} << 53;
  const double two_to_53 = 9007199254740992.0;
  // As doubles both would be 2^53; the integer is really one more.
  CHECK(Value(kTwoTo53 + 1) > Value(two_to_53));
  CHECK(Value(two_to_53) < Value(kTwoTo53 + 1));
  CHECK(equivalent(Value(kTwoTo53), Value(two_to_53)));
  CHECK(Value(kTwoTo53 - 1) < Value(two_to_53));

  // 2^63 is just above INT64_MAX; -2^63 is exactly INT64_MIN.
  CHECK(Value(kInt64Max) < Value(9223372036854775808.0));
  CHECK(Value(9223372036854775808.0) > Value(kInt64Max));
  CHECK(equivalent(Value(kInt64Min), Value(-9223372036854775808.0)));
  CHECK(Value(kInt64Min) > Value(-9223372036854777856.0));
  CHECK(Value(kInt64Max) < Value(1e300));
  CHECK(Value(kInt64Min) > Value(-1e300));
  CHECK(Value(kInt64Max) < Value(kInf));
  CHECK(Value(kInt64Min) > Value(-kInf));
}

TEST_CASE("Value NaN is unordered against numbers", "[core]") {
  const Value nan(std::nan(""));
  CHECK((nan <=> Value(1)) == std::partial_ordering::unordered);
  CHECK((Value(1) <=> nan) == std::partial_ordering::unordered);
  CHECK((nan <=> Value(1.0)) == std::partial_ordering::unordered);
  CHECK(nan < Value("text"));
}

TEST_CASE("Value compares text and blobs byte by byte", "[core]") {
  CHECK(Value("B") < Value("a"));
  CHECK(Value("a") < Value("ab"));
  CHECK(Value("z") < Value("\xc3\xa9"));  // 'é' sorts after ASCII as bytes
  CHECK(Value("z") < Value("\xff"));      // bytes are unsigned
  CHECK(equivalent(Value("same"), Value(std::string("same"))));
  CHECK(Value(std::string("a\0b", 3)) > Value("a"));

  CHECK(Value(Blob{0x01}) < Value(Blob{0x01, 0x00}));
  CHECK(Value(Blob{0x01, 0x00}) < Value(Blob{0x02}));
  CHECK(Value(Blob{0x7f}) < Value(Blob{0x80}));
  CHECK(Value(Blob{}) < Value(Blob{0x00}));
}

TEST_CASE("Value::to_string quotes like SQL", "[core]") {
  CHECK(Value().to_string() == "NULL");
  CHECK(Value(42).to_string() == "42");
  CHECK(Value(kInt64Min).to_string() == "-9223372036854775808");
  CHECK(Value(1.5).to_string() == "1.5");
  CHECK(Value(2.0).to_string() == "2.0");
  CHECK(Value(0.1).to_string() == "0.1");
  CHECK(Value(1e20).to_string() == "1e+20");
  CHECK(Value(-0.0).to_string() == "-0.0");
  CHECK(Value(kInf).to_string() == "Inf");
  CHECK(Value(-kInf).to_string() == "-Inf");
  CHECK(Value(std::nan("")).to_string() == "NaN");
  CHECK(Value("it's").to_string() == "'it''s'");
  CHECK(Value("").to_string() == "''");
  CHECK(Value(Blob{0x00, 0xff}).to_string() == "x'00ff'");
  CHECK(Value(Blob{}).to_string() == "x''");
}
