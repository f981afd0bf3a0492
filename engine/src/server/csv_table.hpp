// A table of the server's state as CSV (docs/decisions/0029-csv-import-export.md):
// `lumbungd import` loads a register kept in a spreadsheet as ordinary
// changes of an officer, merged, validated and audited as a push of theirs
// would be, all of it or nothing; `lumbungd export` writes a table's merged
// rows. Both stream: memory stays flat whatever the number of rows.
//
// How a field is typed (CsvReader reads the fields): an empty unquoted field
// is NULL; any other field, quoted or not, is the column's value in the text
// form of core::parse_value_text ("42", "1.5", any text, hex for a blob).
// Exporting writes NULL as an empty field and an empty text as "", so that
// an export imports back to the same rows.
//
// Thread-safety: functions over a Store, which is safe to share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "core/schema.hpp"
#include "lumbung/clock.hpp"
#include "lumbung/status.hpp"
#include "server/store.hpp"

namespace lumbung::server {

struct CsvImportOptions {
  // The data directory whose credential store says what `officer` is
  // granted. REQUIRED. The caller holds its lock (no `serve` runs on it).
  std::string data_dir;
  // The PostgreSQL store whose credentials say it instead; empty: DIR's.
  std::string store_url;
  std::string table;    // REQUIRED
  std::string officer;  // REQUIRED: on whose behalf the rows are written
  // The input's name at the start of each problem reported.
  std::string source = "csv";
  // Physical time behind the import's HLC stamps. Null: the system clock.
  std::shared_ptr<Clock> clock;
  // Lines merged at a time; what a batch holds is all the import keeps in
  // memory of the file. At least 1.
  std::size_t lines_per_batch = 1000;
};

struct CsvImportSummary {
  std::int64_t lines = 0;       // records read after the header
  std::int64_t applied = 0;     // lines whose whole row was written
  std::int64_t superseded = 0;  // lines of which some cell lost to a newer one
  std::int64_t first_seq = 0;   // the seqs the import gave; both 0: none
  std::int64_t last_seq = 0;
};

// The device id the import's changes carry, as a push's carry their
// device's: in every cell it writes, its audit entries and its conflicts.
std::string import_author(const std::string& officer);

// Imports the CSV `in` into `options.table` as inserts of the officer's
// (the header line names the columns; "id" is the row id): each line is one
// change, checked and merged as merge_batch() does a push's, with the
// officer's grant, stamped with the server's HLC. In one write transaction:
// when any line is refused, every refused line is written to `problems`,
// one a line, "SOURCE:LINE: column 'C': why" (or "SOURCE:LINE: why"), and
// nothing is applied: kInvalidArgument "N of M lines refused; nothing was
// imported". kNotFound for an unknown table or an officer the store has no
// record of; kForbidden for an officer granted nothing.
Result<CsvImportSummary> import_csv(const CsvImportOptions& options, const core::Schema& schema,
                                    Store& store, std::istream& in, std::ostream& problems);

struct CsvExportOptions {
  std::string table;                   // REQUIRED
  std::optional<std::string> village;  // only the rows of this scope
};

// Writes the live rows of `options.table` as CSV to `out`: a header line of
// the table's columns in schema order ("id" first), then one line per row,
// in order of id, from one consistent snapshot. Returns the number of rows
// written. kNotFound for an unknown table; kIo when `out` fails.
Result<std::int64_t> export_csv(const CsvExportOptions& options, const core::Schema& schema,
                                Store& store, std::ostream& out);

}  // namespace lumbung::server
