#include "core/canonical_json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>

#include "core/base64.hpp"
#include "core/hex.hpp"

namespace lumbung::core {

namespace {

bool in_range(unsigned char byte, unsigned char low, unsigned char high) {
  return byte >= low && byte <= high;
}

// Length of the well-formed UTF-8 sequence starting at text[i] (Unicode
// table 3-7: no overlongs, no surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) {
    return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0;
  };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  if (in_range(lead, 0xc2, 0xdf)) return in_range(byte(1), 0x80, 0xbf) ? 2 : 0;
  if (in_range(lead, 0xe0, 0xef)) {
    const unsigned char low = lead == 0xe0 ? 0xa0 : 0x80;
    const unsigned char high = lead == 0xed ? 0x9f : 0xbf;
    return in_range(byte(1), low, high) && in_range(byte(2), 0x80, 0xbf) ? 3 : 0;
  }
  if (in_range(lead, 0xf0, 0xf4)) {
    const unsigned char low = lead == 0xf0 ? 0x90 : 0x80;
    const unsigned char high = lead == 0xf4 ? 0x8f : 0xbf;
    return in_range(byte(1), low, high) && in_range(byte(2), 0x80, 0xbf) &&
                   in_range(byte(3), 0x80, 0xbf)
               ? 4
               : 0;
  }
  return 0;
}

void append_u_escape(std::string& out, unsigned code_unit) {
  out += "\\u";
  const unsigned char bytes[] = {static_cast<unsigned char>(code_unit >> 8),
                                 static_cast<unsigned char>(code_unit)};
  append_hex(out, bytes, 2);
}

void append_string(std::string& out, std::string_view text) {
  out += '"';
  const auto plain = [](unsigned char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; };
  for (std::size_t i = 0; i < text.size();) {
    // Runs of printable ASCII, most of any text, are copied as they are.
    std::size_t run = i;
    while (run < text.size() && plain(static_cast<unsigned char>(text[run]))) ++run;
    if (run > i) {
      out.append(text.substr(i, run - i));
      i = run;
      continue;
    }
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) {
      append_u_escape(out, 0xdc00 | lead);  // surrogateescape
      i += 1;
      continue;
    }
    if (length == 1) {
      switch (lead) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (lead < 0x20 || lead == 0x7f) {
            append_u_escape(out, lead);
          } else {
            out += static_cast<char>(lead);
          }
      }
    } else if (lead == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0) {
      append_u_escape(out, static_cast<unsigned char>(text[i + 1]));  // C1 control U+0080-U+009F
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  out += '"';
}

void append_value(std::string& out, const Value& value) {
  switch (value.type()) {
    case ValueType::kNull:
      out += "null";
      return;
    case ValueType::kInteger:
      out += std::to_string(value.as_integer());
      return;
    case ValueType::kReal: {
      const double d = value.as_real();
      if (std::isnan(d)) {
        out += R"({"real":"nan"})";
      } else if (std::isinf(d)) {
        out += d > 0 ? R"({"real":"inf"})" : R"({"real":"-inf"})";
      } else {
        out += format_real(d);
      }
      return;
    }
    case ValueType::kText:
      append_string(out, value.as_text());
      return;
    case ValueType::kBlob:
      out += R"({"base64":)";
      append_string(out, base64_encode(value.as_blob()));
      out += '}';
      return;
  }
}

// std::map keys are std::string, ordered by std::char_traits<char>, which
// compares as unsigned char: byte order, as the format requires.
template <typename Map, typename AppendMapped>
void append_object(std::string& out, const Map& map, AppendMapped append_mapped) {
  out += '{';
  bool first = true;
  for (const auto& [key, mapped] : map) {
    if (!first) out += ',';
    first = false;
    append_string(out, key);
    out += ':';
    append_mapped(out, mapped);
  }
  out += '}';
}

void append_row(std::string& out, const Row& row) { append_object(out, row, append_value); }

}  // namespace

std::string format_real(double value) {
  char text[32];
  const auto result = std::to_chars(text, text + sizeof(text), value);
  std::string out(text, result.ptr);
  if (out.find_first_of(".e") == std::string::npos) out += ".0";
  return out;
}

std::string canonical_json(const TableRows& tables) {
  std::string out;
  append_object(out, tables, [](std::string& table_out, const auto& rows) {
    append_object(table_out, rows, append_row);
  });
  return out;
}

std::string canonical_json(const Value& value) {
  std::string out;
  append_value(out, value);
  return out;
}

std::string canonical_json(const Row& row) {
  std::string out;
  append_row(out, row);
  return out;
}

RowJsonWriter::RowJsonWriter(const std::vector<std::string_view>& names) {
  std::vector<std::size_t> order(names.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  // string_view compares as std::char_traits<char>: byte order, as std::map's keys.
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return names[a] < names[b]; });
  for (const std::size_t i : order) {
    std::string key;
    append_string(key, names[i]);
    keys_.emplace_back(i, key + ':');
  }
}

std::string RowJsonWriter::write(const std::vector<Value>& values) const {
  std::string out = "{";
  for (const auto& [index, key] : keys_) {
    if (out.size() > 1) out += ',';
    out += key;
    append_value(out, values[index]);
  }
  out += '}';
  return out;
}

}  // namespace lumbung::core
