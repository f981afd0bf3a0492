// CsvWriter: writes CSV (RFC 4180) field by field to a stream, as CsvReader
// reads it (docs/decisions/0029-csv-import-export.md, "Dialect"): fields
// separated by ',', records ended by CRLF, a field quoted when it holds ',',
// '"', CR or LF (each '"' written twice) or when the caller asks (an empty
// text, told apart from an empty unquoted field). Holds nothing but the
// stream.
//
// Thread-safety: a CsvWriter is used by one thread at a time.
#pragma once

#include <ostream>
#include <string_view>

namespace lumbung::server {

class CsvWriter {
 public:
  // Writes to `out`, which must outlive the writer; the caller checks its state.
  explicit CsvWriter(std::ostream& out) : out_(out) {}

  // Appends a field to the current record; `quote` quotes it even when it
  // needs no quotes.
  void field(std::string_view text, bool quote = false);
  // Ends the current record.
  void end_record();

 private:
  std::ostream& out_;
  bool first_ = true;  // no field of the current record written yet
};

}  // namespace lumbung::server
