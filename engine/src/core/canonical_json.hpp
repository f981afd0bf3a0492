// Canonical JSON: the one text form of synced data that the device's
// `lumbung dump` and the server's `lumbungd dump` both print, so that two
// states are equal exactly when their dumps are equal byte for byte.
//
// {"table":{"id":{"col":value}}} on one line, no spaces, keys sorted by byte
// order. Values: null; integers as integers; reals in the shortest form that
// reads back to the same double, always with a '.' or exponent (2.0, 1e+20) so
// that they stay distinct from integers; text as JSON strings (UTF-8 kept,
// control characters escaped); blobs as {"base64":"..."}.
//
// Nothing is lost, so nothing that differs can dump equal:
// - Reals that JSON has no number for: {"real":"inf"}, {"real":"-inf"},
//   {"real":"nan"}. (SQLite stores NaN as NULL, so "nan" only shows up for
//   values that never went through SQLite.)
// - Text (values and keys) that is not valid UTF-8: each byte that does not
//   belong to a valid sequence is written as the lone surrogate \udcXX
//   (0x80 <= XX <= 0xff), Python's "surrogateescape". Valid UTF-8 cannot hold
//   a surrogate, so this is unambiguous; Python reads the bytes back with
//   json.loads(s).encode("utf-8", "surrogateescape").
// - Control characters (U+0000-U+001F, U+007F-U+009F) are escaped as \b \f \n
//   \r \t or \u00xx (lower-case hex); '"' and '\' as \" and \\.
//
// Written by hand rather than with nlohmann::json: its dump() cannot write
// invalid UTF-8 without losing bytes, turns inf and NaN into null, and its
// Grisu2 float output is not guaranteed to be the shortest form.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lumbung/value.hpp"

namespace lumbung::core {

// table -> row id -> row
using TableRows = std::map<std::string, std::map<std::string, Row>>;

std::string canonical_json(const TableRows& tables);
// One value in the same form as inside canonical_json().
std::string canonical_json(const Value& value);
// One row as a JSON object, keys sorted (`lumbung get`).
std::string canonical_json(const Row& row);

// Writes rows of the same columns as canonical_json(const Row&) does, each
// given as a value per column: the keys' order and text are worked out once,
// for every row of a table.
class RowJsonWriter {
 public:
  // REQUIRES: the names differ.
  explicit RowJsonWriter(const std::vector<std::string_view>& names);
  // REQUIRES: values[i] is the value of names[i], for each name.
  std::string write(const std::vector<Value>& values) const;

 private:
  std::vector<std::pair<std::size_t, std::string>> keys_;  // value index, "name": in key order
};

// A finite double in its shortest round-trip form, with ".0" added when it
// would otherwise read as an integer: 2.0, 1.5, 1e+20, -0.0. Shared with
// Value::to_string(). REQUIRES: std::isfinite(value).
std::string format_real(double value);

}  // namespace lumbung::core
