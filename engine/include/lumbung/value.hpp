// Value: one cell's content, typed like SQLite's storage classes (null,
// integer, real, text, blob). Rows are maps from column name to Value.
//
// Thread-safety: a value type; no shared state.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "lumbung/export.hpp"

namespace lumbung {

enum class ValueType : int { kNull = 0, kInteger = 1, kReal = 2, kText = 3, kBlob = 4 };

using Blob = std::vector<std::uint8_t>;

class LUMBUNG_EXPORT Value {
 public:
  Value() = default;  // null
  Value(std::nullptr_t) {}
  Value(int v) : v_(static_cast<std::int64_t>(v)) {}
  Value(std::int64_t v) : v_(v) {}
  Value(double v) : v_(v) {}
  Value(std::string v) : v_(std::move(v)) {}
  Value(std::string_view v) : v_(std::string(v)) {}
  Value(const char* v) : v_(std::string(v)) {}
  Value(Blob v) : v_(std::move(v)) {}

  ValueType type() const { return static_cast<ValueType>(v_.index()); }
  bool is_null() const { return type() == ValueType::kNull; }

  // REQUIRES: type() is the matching type.
  std::int64_t as_integer() const { return std::get<std::int64_t>(v_); }
  double as_real() const { return std::get<double>(v_); }
  const std::string& as_text() const { return std::get<std::string>(v_); }
  const Blob& as_blob() const { return std::get<Blob>(v_); }

  // SQLite's order: null < numbers (integers and reals compared by value) < text < blob.
  std::partial_ordering operator<=>(const Value& other) const;
  // Same storage class and same content (1 and 1.0 differ).
  bool operator==(const Value& other) const { return v_ == other.v_; }

  // A short human-readable form: NULL, 42, 1.5, 'text', x'00ff'.
  std::string to_string() const;

 private:
  std::variant<std::monostate, std::int64_t, double, std::string, Blob> v_;
};

// "null", "integer", "real", "text", "blob".
LUMBUNG_EXPORT std::string_view type_name(ValueType type);

// A row: column name -> value. Sorted by column name.
using Row = std::map<std::string, Value>;

}  // namespace lumbung
