// JSON lines as the tools print them: nlohmann::json for what they build,
// canonical JSON (core/canonical_json.hpp) for synced values.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace lumbung::tools {

using Json = nlohmann::ordered_json;  // keys in the order they are set

// One line of JSON; invalid UTF-8 in a string is replaced rather than thrown on.
inline std::string dump_line(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// A member whose value is JSON text already.
using JsonMember = std::pair<std::string, std::string>;

// One object on one line, its members in the order given; and one array of
// elements that are JSON texts already. For JSON that holds synced values in
// their canonical form (core::canonical_json), which nlohmann::json cannot
// write byte for byte: it has no form for invalid UTF-8 but a replacement
// character (canonical JSON escapes each such byte as \udcXX), writes
// U+007F-U+009F unescaped, and its shortest reals are not always the
// shortest. Keys and every other value come from dump_line().
inline std::string json_object(const std::vector<JsonMember>& members) {
  std::string text = "{";
  for (const auto& [key, value] : members) {
    if (text.size() > 1) text += ',';
    text += dump_line(Json(key)) + ':' + value;
  }
  return text + '}';
}

inline std::string json_array(const std::vector<std::string>& elements) {
  std::string text = "[";
  for (const std::string& element : elements) {
    if (text.size() > 1) text += ',';
    text += element;
  }
  return text + ']';
}

}  // namespace lumbung::tools
