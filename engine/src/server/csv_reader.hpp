// CsvReader: reads CSV (RFC 4180) record by record from a stream, holding
// one record at a time, whatever the size of the input
// (docs/decisions/0029-csv-import-export.md, "Dialect").
//
// - Fields are separated by ',' and records end with LF, CRLF or a lone CR.
// - A field that begins with '"' is quoted: it may hold ',', '"' (written
//   twice) and line ends, and ends at the next lone '"', which must be
//   followed by ',' or the record's end. A '"' inside an unquoted field is
//   malformed; so is anything after a quoted field's closing quote.
// - Text is UTF-8; a UTF-8 byte order mark at the very start is skipped.
// - An empty line (no character before its end) is no record: spreadsheets
//   end files with them.
// Each field says whether it was quoted, so that a caller can tell an empty
// unquoted field from "".
//
// A malformed record is skipped to its end and reported with the line it
// begins on; reading goes on with the next record, so that every problem of
// a file can be reported in one pass. A record longer than the reader's
// bound, or a quoted field still open at the end of the input, ends the
// reading (nothing after it can be told apart reliably).
//
// Thread-safety: a CsvReader is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace lumbung::server {

struct CsvField {
  std::string text;
  bool quoted = false;
};

struct CsvRecord {
  std::int64_t line = 0;  // the line it begins on, from 1
  std::vector<CsvField> fields;
};

// Why a record was not read.
struct CsvProblem {
  std::int64_t line = 0;  // the line the record begins on
  std::size_t field = 0;  // the field (from 0) the problem is in
  std::string message;    // e.g. "a '\"' inside an unquoted field"
  bool fatal = false;     // the reading ended with it
};

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or
// code points beyond U+10FFFF).
bool is_utf8(std::string_view text);

class CsvReader {
 public:
  static constexpr std::size_t kDefaultMaxRecordBytes = 1u << 20;

  // Reads from `in`, which must outlive the reader. A record of more than
  // `max_record_bytes` bytes is a fatal problem.
  explicit CsvReader(std::istream& in, std::size_t max_record_bytes = kDefaultMaxRecordBytes);

  enum class Next { kRecord, kEnd, kMalformed };
  // Reads the next record into `record` (its buffers are reused): kRecord;
  // kEnd at the end of the input (and after a fatal problem); kMalformed
  // with `problem` filled. Reading errors of the stream end the input as
  // well; the caller checks the stream's state.
  Next next(CsvRecord* record, CsvProblem* problem);

 private:
  // The next byte of input, or -1 at its end.
  int get();
  int peek();
  // Takes a line end (LF, CRLF or CR) and counts the line; nothing at the
  // end of the input.
  void end_line();
  // Skips what is left of the line, its end included.
  void skip_line();

  std::istream& in_;
  const std::size_t max_record_bytes_;
  std::int64_t line_ = 1;      // the line the next byte is on
  bool started_ = false;       // the byte order mark has been looked for
  bool ended_ = false;         // after a fatal problem
  std::string pending_bytes_;  // of a partial byte order mark, not yet in a field
};

}  // namespace lumbung::server
