#include "server/csv_writer.hpp"

namespace lumbung::server {

void CsvWriter::field(std::string_view text, bool quote) {
  if (!first_) out_.put(',');
  first_ = false;
  if (!quote && text.find_first_of(",\"\r\n") == std::string_view::npos) {
    out_.write(text.data(), static_cast<std::streamsize>(text.size()));
    return;
  }
  out_.put('"');
  for (std::size_t start = 0;;) {
    const std::size_t quote_at = text.find('"', start);
    const std::string_view piece = text.substr(start, quote_at - start);
    out_.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    if (quote_at == std::string_view::npos) break;
    out_.write("\"\"", 2);
    start = quote_at + 1;
  }
  out_.put('"');
}

void CsvWriter::end_record() {
  out_.write("\r\n", 2);
  first_ = true;
}

}  // namespace lumbung::server
