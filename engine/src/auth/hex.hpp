// Lower-case hex, the text form of token and key ids.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lumbung::auth {

inline std::string lower_hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

// True when `text` is exactly `digits` lower-case hex digits.
inline bool is_lower_hex(std::string_view text, std::size_t digits) {
  return text.size() == digits && text.find_first_not_of("0123456789abcdef") == text.npos;
}

}  // namespace lumbung::auth
