// Lists written as one string ("V1,V2"), on command lines and in
// _lumbung_meta. Header-only: a few lines, for the tools and the replica.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lumbung::core {

// The pieces of `text` between `separator`s, empty ones kept (so that a
// caller can refuse them by name): "a,,b" gives "a", "", "b"; "" gives "".
inline std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> pieces;
  for (;;) {
    const std::size_t end = text.find(separator);
    pieces.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) return pieces;
    text.remove_prefix(end + 1);
  }
}

}  // namespace lumbung::core
