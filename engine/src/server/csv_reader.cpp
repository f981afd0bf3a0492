#include "server/csv_reader.hpp"

#include <string_view>

namespace lumbung::server {

bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code = 0;
    if ((byte & 0xe0) == 0xc0) {
      length = 2;
      code = byte & 0x1f;
    } else if ((byte & 0xf0) == 0xe0) {
      length = 3;
      code = byte & 0x0f;
    } else if ((byte & 0xf8) == 0xf0) {
      length = 4;
      code = byte & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    constexpr std::uint32_t kLeast[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kLeast[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += length;
  }
  return true;
}

CsvReader::CsvReader(std::istream& in, std::size_t max_record_bytes)
    : in_(in), max_record_bytes_(max_record_bytes) {}

int CsvReader::get() {
  const int c = in_.rdbuf()->sbumpc();
  return c == std::char_traits<char>::eof() ? -1 : c;
}

int CsvReader::peek() {
  const int c = in_.rdbuf()->sgetc();
  return c == std::char_traits<char>::eof() ? -1 : c;
}

CsvReader::Next CsvReader::next(CsvRecord* record, CsvProblem* problem) {
  if (ended_) return Next::kEnd;
  if (!started_) {
    started_ = true;
    // A byte order mark, EF BB BF, is skipped; the bytes of a part of one
    // begin the first field (where the UTF-8 check reports them).
    if (peek() == 0xef) {
      std::string mark(1, static_cast<char>(get()));
      if (peek() == 0xbb) mark += static_cast<char>(get());
      if (mark.size() == 2 && peek() == 0xbf) {
        get();
      } else {
        pending_bytes_ = std::move(mark);
      }
    }
  }
  // Empty lines are no records.
  for (;;) {
    const int c = peek();
    if (c == -1 && pending_bytes_.empty()) return Next::kEnd;
    if (!pending_bytes_.empty() || (c != '\n' && c != '\r')) break;
    end_line();
  }
  record->line = line_;
  record->fields.clear();
  std::size_t bytes = 0;
  const auto fail = [&](std::string message, bool fatal) {
    *problem = {.line = record->line,
                .field = record->fields.size() - 1,
                .message = std::move(message),
                .fatal = fatal};
    if (fatal) {
      ended_ = true;
    } else {
      skip_line();
    }
    return Next::kMalformed;
  };
  const auto too_long = [&] {
    return fail("the record is longer than " + std::to_string(max_record_bytes_) +
                    " bytes (a quote left open?); the file is not read further",
                true);
  };
  for (;;) {  // one field
    CsvField& field = record->fields.emplace_back();
    // The bytes of a partial byte order mark begin the first field.
    field.text = std::move(pending_bytes_);
    pending_bytes_.clear();
    bytes += field.text.size();
    int c = peek();
    if (c == '"' && field.text.empty()) {
      get();
      field.quoted = true;
      for (;;) {
        c = get();
        if (c == -1) {
          return fail("a quoted field is still open at the end of the file", true);
        }
        if (c == '"') {
          if (peek() != '"') break;
          get();
        } else if (c == '\n' || (c == '\r' && peek() != '\n')) {
          ++line_;
        }
        field.text += static_cast<char>(c);
        if (++bytes > max_record_bytes_) return too_long();
      }
      c = peek();
      if (c != ',' && c != '\n' && c != '\r' && c != -1) {
        return fail(
            "text after the closing '\"' of a quoted field (write each '\"' inside it twice)",
            false);
      }
    } else {
      for (;;) {
        c = peek();
        if (c == ',' || c == '\n' || c == '\r' || c == -1) break;
        if (c == '"') {
          return fail(
              "a '\"' inside an unquoted field (quote the whole field and write each '\"' twice)",
              false);
        }
        field.text += static_cast<char>(get());
        if (++bytes > max_record_bytes_) return too_long();
      }
    }
    if (c == ',') {
      get();
      continue;
    }
    end_line();
    break;
  }
  for (std::size_t i = 0; i < record->fields.size(); ++i) {
    if (!is_utf8(record->fields[i].text)) {
      *problem = {.line = record->line, .field = i, .message = "not UTF-8 text", .fatal = false};
      return Next::kMalformed;
    }
  }
  return Next::kRecord;
}

void CsvReader::end_line() {
  const int c = get();
  if (c == -1) return;
  if (c == '\r' && peek() == '\n') get();
  ++line_;
}

void CsvReader::skip_line() {
  for (;;) {
    const int c = peek();
    if (c == -1) return;
    if (c == '\n' || c == '\r') return end_line();
    get();
  }
}

}  // namespace lumbung::server
