#include "lumbung/value.hpp"

#include <cmath>

#include "core/canonical_json.hpp"
#include "core/hex.hpp"

namespace lumbung {

namespace {

// Exact: an int64 next to a double may not be representable as one, and a
// double may be far outside int64 range, so neither converts to the other
// blindly (2^53 + 1 must sort above 2^53 as a double).
std::partial_ordering compare_integer_real(std::int64_t i, double d) {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  constexpr double kTwoTo63 = 9223372036854775808.0;
  if (d >= kTwoTo63) return std::partial_ordering::less;
  if (d < -kTwoTo63) return std::partial_ordering::greater;
  const double whole = std::trunc(d);
  const auto whole_int = static_cast<std::int64_t>(whole);  // in range: checked above
  if (i != whole_int) return i <=> whole_int;
  return 0.0 <=> d - whole;
}

// Storage classes in SQLite's sort order; integers and reals share one.
int class_rank(ValueType type) {
  switch (type) {
    case ValueType::kNull:
      return 0;
    case ValueType::kInteger:
    case ValueType::kReal:
      return 1;
    case ValueType::kText:
      return 2;
    case ValueType::kBlob:
      return 3;
  }
  return 4;
}

}  // namespace

std::partial_ordering Value::operator<=>(const Value& other) const {
  const int rank = class_rank(type());
  const int other_rank = class_rank(other.type());
  if (rank != other_rank) return rank <=> other_rank;
  switch (type()) {
    case ValueType::kNull:
      return std::partial_ordering::equivalent;
    case ValueType::kInteger:
      if (other.type() == ValueType::kInteger) return as_integer() <=> other.as_integer();
      return compare_integer_real(as_integer(), other.as_real());
    case ValueType::kReal:
      if (other.type() == ValueType::kReal) return as_real() <=> other.as_real();
      return 0 <=> compare_integer_real(other.as_integer(), as_real());
    case ValueType::kText:
      // std::char_traits<char> compares as unsigned char: byte order, like memcmp.
      return as_text().compare(other.as_text()) <=> 0;
    case ValueType::kBlob:
      return as_blob() <=> other.as_blob();
  }
  return std::partial_ordering::unordered;
}

std::string Value::to_string() const {
  switch (type()) {
    case ValueType::kNull:
      return "NULL";
    case ValueType::kInteger:
      return std::to_string(as_integer());
    case ValueType::kReal: {
      const double d = as_real();
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Inf" : "-Inf";
      return core::format_real(d);
    }
    case ValueType::kText: {
      std::string out = "'";
      for (char c : as_text()) {
        if (c == '\'') out += '\'';
        out += c;
      }
      out += '\'';
      return out;
    }
    case ValueType::kBlob: {
      std::string out = "x'";
      core::append_hex(out, as_blob().data(), as_blob().size());
      out += '\'';
      return out;
    }
  }
  return "?";
}

std::string_view type_name(ValueType type) {
  switch (type) {
    case ValueType::kNull:
      return "null";
    case ValueType::kInteger:
      return "integer";
    case ValueType::kReal:
      return "real";
    case ValueType::kText:
      return "text";
    case ValueType::kBlob:
      return "blob";
  }
  return "unknown";
}

}  // namespace lumbung
