#include "core/base64.hpp"

#include <algorithm>
#include <array>

namespace lumbung::core {

namespace {

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlSafe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr int kInvalid = -1;

using DecodeTable = std::array<int, 256>;

constexpr DecodeTable make_decode_table(const char* alphabet) {
  DecodeTable table{};
  table.fill(kInvalid);
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(alphabet[i])] = i;
  return table;
}
constexpr DecodeTable kStandardDecode = make_decode_table(kStandard);
constexpr DecodeTable kUrlSafeDecode = make_decode_table(kUrlSafe);

std::string encode(const Blob& bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group = bytes[i] << 16 | bytes[i + 1] << 8 | bytes[i + 2];
    out += alphabet[group >> 18];
    out += alphabet[(group >> 12) & 63];
    out += alphabet[(group >> 6) & 63];
    out += alphabet[group & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    const std::uint32_t group = bytes[i] << 16 | (rest == 2 ? bytes[i + 1] << 8 : 0);
    out += alphabet[group >> 18];
    out += alphabet[(group >> 12) & 63];
    if (rest == 2) out += alphabet[(group >> 6) & 63];
    if (pad) out.append(3 - rest, '=');
  }
  return out;
}

// Decodes groups of 4 digits, the last of which may be cut to 2 or 3;
// padding, if any, is already stripped.
std::optional<Blob> decode(std::string_view digits, const DecodeTable& table) {
  if (digits.size() % 4 == 1) return std::nullopt;
  Blob out;
  out.reserve(digits.size() / 4 * 3 + 2);
  for (std::size_t i = 0; i < digits.size(); i += 4) {
    const std::size_t count = std::min<std::size_t>(4, digits.size() - i);
    std::uint32_t group = 0;
    for (std::size_t k = 0; k < count; ++k) {
      const int digit = table[static_cast<unsigned char>(digits[i + k])];
      if (digit == kInvalid) return std::nullopt;
      group = group << 6 | static_cast<std::uint32_t>(digit);
    }
    group <<= 6 * (4 - count);
    // Canonical form: the bits that a short group leaves over must be zero.
    if ((count == 3 && (group & 0xff) != 0) || (count == 2 && (group & 0xffff) != 0)) {
      return std::nullopt;
    }
    out.push_back(static_cast<std::uint8_t>(group >> 16));
    if (count >= 3) out.push_back(static_cast<std::uint8_t>(group >> 8));
    if (count == 4) out.push_back(static_cast<std::uint8_t>(group));
  }
  return out;
}

}  // namespace

std::string base64_encode(const Blob& bytes) { return encode(bytes, kStandard, true); }

std::optional<Blob> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && text.size() > padding && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  return decode(text.substr(0, text.size() - padding), kStandardDecode);
}

std::string base64url_encode(const Blob& bytes) { return encode(bytes, kUrlSafe, false); }

std::optional<Blob> base64url_decode(std::string_view text) { return decode(text, kUrlSafeDecode); }

}  // namespace lumbung::core
