// Schema: the declarative description of the synced tables, loaded from one
// JSON file shared by the server and every device (docs/schema-format.md).
// Loading validates everything; a loaded Schema is known to be safe to turn
// into SQL: every identifier matches [a-z][a-z0-9_]* and every CHECK is a
// parsed expression over the table's own columns. Every table starts with the
// column "id" (TEXT PRIMARY KEY, not_null set by the loader), has a TEXT NOT
// NULL scope column, and every foreign key points at some table's "id".
//
// Thread-safety: values; a loaded Schema may be shared read-only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check_expr.hpp"
#include "lumbung/status.hpp"
#include "lumbung/value.hpp"

namespace lumbung::core {

enum class ColumnType { kInteger, kReal, kText, kBlob };

// "INTEGER", "REAL", "TEXT", "BLOB".
std::string_view sql_type_name(ColumnType type);

enum class MergeKind {
  kLastWriterWins,   // "last_writer_wins": the greater (HLC, device id) stamp wins
  kServerWins,       // "server_wins": a concurrent device edit loses to the server's value
  kFirstWriterWins,  // "first_writer_wins": the value already on the server stays
  kManualReview,     // "manual_review": keep the server's value, record for a supervisor
};

std::string_view merge_kind_name(MergeKind kind);
// The kind merge_kind_name() names `name`; nullopt for any other name.
std::optional<MergeKind> parse_merge_kind(std::string_view name);

struct MergePolicy {
  MergeKind kind = MergeKind::kLastWriterWins;
  // When set, `kind` applies only while the server's current value equals it;
  // otherwise last-writer-wins. ("first_writer_wins when 1": a verification,
  // once made, is not silently undone.)
  std::optional<Value> only_when_current;

  bool operator==(const MergePolicy&) const = default;
};

struct ForeignKey {
  std::string table;
  std::string column = "id";
  bool operator==(const ForeignKey&) const = default;
};

enum class Sensitivity { kNone, kPersonal, kSpecific };  // PII, PII-S (UU 27/2022)

struct Column {
  std::string name;
  ColumnType type = ColumnType::kText;
  bool primary_key = false;            // only "id"
  bool not_null = false;               // always true for "id"
  std::optional<Value> default_value;  // a literal
  std::optional<ForeignKey> references;
  std::optional<CheckExpr> check;  // column-level CHECK
  Sensitivity sensitivity = Sensitivity::kNone;
  std::optional<MergePolicy> policy;  // overrides the table's
};

struct Index {
  std::string name;
  std::vector<std::string> columns;
  bool operator==(const Index&) const = default;
};

struct Table {
  std::string name;
  std::vector<Column> columns;    // declaration order; columns[0] is "id"
  std::string scope_column;       // e.g. "village_id"
  MergePolicy policy;             // default for its columns
  std::vector<CheckExpr> checks;  // table-level CHECKs
  std::vector<Index> indexes;
  // The columns that say which district and province each row's scope lies
  // in, read by grants (docs/schema-format.md, "Regions"); empty when the
  // table declares none. At most one table of a schema declares them.
  std::string district_column;
  std::string province_column;

  bool has_regions() const { return !district_column.empty() || !province_column.empty(); }
  bool is_region_column(std::string_view column) const {
    return !column.empty() && (column == district_column || column == province_column);
  }
  const Column* find_column(std::string_view column) const;
  const MergePolicy& policy_for(std::string_view column) const;
};

struct Schema {
  std::string name;
  int version = 0;
  std::vector<Table> tables;  // declaration order

  const Table* find_table(std::string_view table) const;
  // The table that declares "regions"; null when none does.
  const Table* region_table() const;
};

// Parses and validates a schema, but for a column default against its CHECK,
// which SQLite judges (db::load_schema does both). `source` names the file in messages, which
// name the place outermost first: "desmigratif.json: table 'person': column
// 'sex': CHECK: at offset 0: unknown column 'sexx'"; JSON syntax errors give
// line and column. Errors are kSchemaInvalid.
Result<Schema> load_schema(std::string_view json_text, std::string_view source);
// Reads the file, then load_schema() with `path` as the source. A file that
// cannot be opened is kNotFound.
Result<Schema> load_schema_file(const std::string& path);

// The Desmigratif schema of examples/desmigratif/schema.json, built in.
std::string_view builtin_schema_text();

// [a-z][a-z0-9_]{0,62}, and not starting with the reserved prefix "_lumbung".
bool is_valid_identifier(std::string_view name);
// "name" in double quotes. REQUIRES: is_valid_identifier(name).
std::string quote_identifier(std::string_view name);

// How sql_literal() writes a real's digits: the fewest that read back as the
// same double (CHECKs), or 17 significant ones, printf's %.17g (DEFAULT
// clauses). Both are in the DDL of existing replica files, which adopting a
// snapshot compares byte for byte, so each keeps its own.
enum class RealDigits { kShortest, kSeventeen };

// A SQL literal: NULL, 42, 1.5, 2.0 (a real keeps a '.' or an exponent, so
// that SQLite reads it back as a REAL), 'it''s', X'00FF'.
std::string sql_literal(const Value& value, RealDigits digits = RealDigits::kShortest);
// 'text' with each ' doubled.
std::string sql_text_literal(std::string_view text);

// Converts `value` to the column's storage class by SQLite's affinity rules
// where no information is lost (an integer a double holds exactly into a REAL
// column, a real with an integral value into an INTEGER column); anything else
// (text into a number column, a number into a TEXT column, NaN or infinity) is
// kTypeMismatch: "table 'person': column 'deceased': expected integer, got
// text 'x'". Null passes (NOT NULL is checked by validate_cells).
Result<Value> coerce_value(const Table& table, const Column& column, const Value& value);
// Parses text typed by a person (CLI) into the column's type: the whole text
// must be the value, without spaces: "42" or "+42" (int64 range), "1.5" or
// "1e3" (decimal only; no inf/nan), any text, hex for blobs ("00ff"; even
// length). Never NULL: how a person writes NULL is the caller's choice.
// kTypeMismatch: "table 'person': column 'deceased': not an integer: 'x'".
Result<Value> parse_value_text(const Table& table, const Column& column, std::string_view text);

// Validates the cells of a whole row (every column of the table present,
// defaults applied and values coerced by the caller; a missing column counts
// as NULL), all but its CHECKs, which SQLite judges (db::CheckJudge): first
// that every column exists (kNotFound: "table 'person': unknown column
// 'nik2'"), then types (kTypeMismatch, exact storage class) and NOT NULL
// (kConstraint: "table 'person': column 'full_name' is NOT NULL") in column
// order.
Status validate_cells(const Table& table, const Row& row);
// The same checks of a row given as `values`, one per column of the table in
// its order: every column exists. REQUIRES: values.size() == columns.size().
Status validate_cells(const Table& table, const std::vector<Value>& values);

// "integer 5", "real 1.5", "text 'x'", "blob of 3 bytes", "NULL": a value
// for a message.
std::string describe_value(const Value& value);

}  // namespace lumbung::core
