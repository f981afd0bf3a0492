// Hex, the text form of bytes: token and key ids, UUIDs, snapshot file names,
// blob literals and the \xNN of messages. Two digits a byte, high nibble first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lumbung::core {

// Lower case ("00ff") unless a format says otherwise (SQL's X'00FF' in DDL).
enum class HexCase { kLower, kUpper };

// Appends the hex of `size` bytes at `data`.
inline void append_hex(std::string& out, const void* data, std::size_t size,
                       HexCase letters = HexCase::kLower) {
  const char* digits = letters == HexCase::kLower ? "0123456789abcdef" : "0123456789ABCDEF";
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
}

inline std::string to_hex(const void* data, std::size_t size, HexCase letters = HexCase::kLower) {
  std::string out;
  out.reserve(2 * size);
  append_hex(out, data, size, letters);
  return out;
}

inline std::string to_hex(std::string_view bytes, HexCase letters = HexCase::kLower) {
  return to_hex(bytes.data(), bytes.size(), letters);
}

// 0-15 for a hex digit of either case; -1 for anything else.
inline int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline bool is_lower_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// True when `text` is exactly `digits` lower-case hex digits.
inline bool is_lower_hex(std::string_view text, std::size_t digits) {
  if (text.size() != digits) return false;
  for (char c : text) {
    if (!is_lower_hex_digit(c)) return false;
  }
  return true;
}

// The bytes `text` is the hex of (digits of either case); nullopt when its
// length is odd or it holds anything but hex digits.
inline std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> bytes;
  bytes.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int high = hex_digit_value(text[i]);
    const int low = hex_digit_value(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes.push_back(static_cast<std::uint8_t>(high * 16 + low));
  }
  return bytes;
}

}  // namespace lumbung::core
