// JSON lines as the tools print them, through nlohmann::json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace lumbung::tools {

using Json = nlohmann::ordered_json;  // keys in the order they are set

// One line of JSON; invalid UTF-8 in a string is replaced rather than thrown on.
inline std::string dump_line(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace lumbung::tools
