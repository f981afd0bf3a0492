#include "server/csv_table.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/credential_store.hpp"
#include "auth/token_authority.hpp"
#include "core/hex.hpp"
#include "core/hlc.hpp"
#include "db/check_judge.hpp"
#include "protocol/wire.hpp"
#include "server/csv_reader.hpp"
#include "server/csv_writer.hpp"
#include "server/push_merge.hpp"
#include "server/regions.hpp"

namespace lumbung::server {
namespace {

// Stamps of the import are the server's own: none runs ahead of its clock.
constexpr std::int64_t kMaxSkewMs = 300'000;

std::string in_quotes(std::string_view name) { return "'" + std::string(name) + "'"; }

// What `officer` may write, as a push with a token of theirs could.
Result<auth::Grant> grant_of(const CsvImportOptions& options, const core::Schema& schema,
                             Store& store) {
  const std::string& officer = options.officer;
  const std::string path = options.data_dir + "/" + auth::kCredentialsFileName;
  std::error_code ec;
  const std::string unknown = "officer " + in_quotes(officer) +
                              " is not known to this server: grant them villages first "
                              "('lumbungd grant --officer " +
                              officer + " ...')";
  if (options.store_url.empty() && !std::filesystem::exists(path, ec)) {
    return Status(ErrorCode::kNotFound, unknown);
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<auth::CredentialStore> credentials,
                           auth::CredentialStore::open_for(options.data_dir, options.store_url));
  LUMBUNG_ASSIGN_OR_RETURN(auth::OfficerGrant recorded, credentials->officer_grant(officer));
  if (!recorded.role) return Status(ErrorCode::kNotFound, unknown);
  if (*recorded.role != auth::Role::kAdmin && recorded.grants_nothing()) {
    return Status(ErrorCode::kForbidden,
                  "officer " + in_quotes(officer) + " is granted no village to import into");
  }
  auth::Grant grant;
  grant.officer = officer;
  grant.role = *recorded.role;
  grant.every_village = recorded.every_village;
  grant.villages = std::move(recorded.villages);
  grant.districts = std::move(recorded.districts);
  grant.provinces = std::move(recorded.provinces);
  Regions regions(schema);
  LUMBUNG_RETURN_IF_ERROR(regions.load(store));
  grant.regions = regions.current();
  return grant;
}

// One import, inside its write transaction.
class Importer {
 public:
  Importer(const CsvImportOptions& options, const core::Schema& schema, const core::Table& table,
           const auth::Grant& grant, db::CheckJudge& judge, WriteTransaction& txn,
           std::ostream& problems)
      : options_(options),
        schema_(schema),
        table_(table),
        grant_(grant),
        judge_(judge),
        txn_(txn),
        problems_(problems),
        clock_(options.clock ? options.clock : system_clock()),
        hlc_(clock_) {}

  // Reads the whole input; the summary, or an error whose transaction must
  // be rolled back (refused lines among them).
  Result<CsvImportSummary> run(CsvReader& reader) {
    LUMBUNG_ASSIGN_OR_RETURN(seq_before_, txn_.last_seq());
    LUMBUNG_ASSIGN_OR_RETURN(const std::int64_t last_hlc, meta_int64(txn_, kHlcMetaKey));
    hlc_.receive(core::Hlc(last_hlc));
    LUMBUNG_RETURN_IF_ERROR(read_header(reader));
    request_.mutable_header()->set_device_id(import_author(options_.officer));
    v1::TableColumns* names = request_.add_tables();
    names->set_table(table_.name);
    for (const core::Column* column : columns_) names->add_columns(column->name);
    CsvRecord record;
    CsvProblem problem;
    for (;;) {
      const CsvReader::Next next = reader.next(&record, &problem);
      if (next == CsvReader::Next::kEnd) break;
      ++summary_.lines;
      if (next == CsvReader::Next::kMalformed) {
        refuse(problem.line, column_name(problem.field), problem.message);
        continue;
      }
      LUMBUNG_RETURN_IF_ERROR(add_line(record));
      if (lines_.size() + reports_.size() >= options_.lines_per_batch) {
        LUMBUNG_RETURN_IF_ERROR(merge());
      }
    }
    LUMBUNG_RETURN_IF_ERROR(merge());
    if (refused_ > 0) {
      return Status(ErrorCode::kInvalidArgument, options_.source + ": " + std::to_string(refused_) +
                                                     " of " + std::to_string(summary_.lines) +
                                                     " lines refused; nothing was imported");
    }
    LUMBUNG_RETURN_IF_ERROR(txn_.set_meta(kHlcMetaKey, std::to_string(hlc_.last().packed())));
    LUMBUNG_ASSIGN_OR_RETURN(const std::int64_t seq_after, txn_.last_seq());
    if (seq_after > seq_before_) {
      summary_.first_seq = seq_before_ + 1;
      summary_.last_seq = seq_after;
    }
    return summary_;
  }

 private:
  std::string prefix() const { return "table " + in_quotes(table_.name) + ": "; }

  std::string column_name(std::size_t field) const {
    return field < columns_.size() ? columns_[field]->name : std::string();
  }

  // Reports a refused line; `column` is named unless the message names it.
  // The reports wait for the batch's merge (emit()), to come in line order.
  void refuse(std::int64_t line, const std::string& column, const std::string& why) {
    ++refused_;
    std::string report = options_.source + ':' + std::to_string(line) + ": ";
    if (!column.empty() && why.find("column " + in_quotes(column)) == std::string::npos) {
      report += "column " + in_quotes(column) + ": ";
    }
    report += why;
    reports_.emplace_back(line, std::move(report));
  }

  // Writes the reports waiting, in line order.
  void emit() {
    std::stable_sort(reports_.begin(), reports_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [line, report] : reports_) problems_ << report << '\n';
    reports_.clear();
  }

  // The header line: the columns the fields of every line are in.
  Status read_header(CsvReader& reader) {
    CsvRecord header;
    CsvProblem problem;
    const CsvReader::Next next = reader.next(&header, &problem);
    if (next == CsvReader::Next::kEnd) {
      return Status(ErrorCode::kInvalidArgument,
                    options_.source + ": no header line naming the columns of table " +
                        in_quotes(table_.name));
    }
    if (next == CsvReader::Next::kMalformed) {
      refuse(problem.line, "", "the header line: " + problem.message);
    } else {
      std::set<std::string, std::less<>> seen;
      for (const CsvField& field : header.fields) {
        const core::Column* column = table_.find_column(field.text);
        if (column == nullptr) {
          refuse(header.line, "", prefix() + "unknown column " + in_quotes(field.text));
        } else if (!seen.insert(field.text).second) {
          refuse(header.line, "", prefix() + "column " + in_quotes(field.text) + " named twice");
        }
        columns_.push_back(column);
      }
      for (const core::Column& column : table_.columns) {
        const bool needed = column.primary_key || (column.not_null && !column.default_value);
        if (needed && !seen.contains(column.name)) {
          refuse(header.line, "",
                 prefix() + "the header names no column " + in_quotes(column.name) +
                     (column.primary_key ? " (each row's id)" : " (NOT NULL, without a default)"));
        }
      }
    }
    if (refused_ == 0) return Status::ok();
    emit();
    return Status(ErrorCode::kInvalidArgument,
                  options_.source + ": the header line is refused; nothing was imported");
  }

  // Types the line's fields and adds its change to the batch, or refuses it.
  Status add_line(const CsvRecord& record) {
    if (record.fields.size() != columns_.size()) {
      refuse(record.line, "",
             std::to_string(record.fields.size()) + " fields, but the header names " +
                 std::to_string(columns_.size()) + " columns");
      return Status::ok();
    }
    values_.clear();
    std::optional<std::string> row_id;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const CsvField& field = record.fields[i];
      const core::Column& column = *columns_[i];
      if (!field.quoted && field.text.empty()) {
        values_.emplace_back();  // NULL
        continue;
      }
      Result<Value> value = core::parse_value_text(table_, column, field.text);
      if (!value) {
        refuse(record.line, column.name, value.status().message());
        return Status::ok();
      }
      if (column.primary_key) row_id = value->as_text();
      values_.push_back(std::move(value).value());
    }
    if (!row_id || row_id->empty()) {
      refuse(record.line, "id", prefix() + "a row without an id");
      return Status::ok();
    }
    // A second line of a row would merge into the first: a register lists a
    // row once.
    bool repeated = batch_rows_.contains(*row_id);
    if (!repeated) {
      LUMBUNG_ASSIGN_OR_RETURN(const std::optional<StoredRow> stored,
                               txn_.row(table_.name, *row_id));
      repeated = stored && stored->created_seq > seq_before_;
    }
    if (repeated) {
      refuse(record.line, "id",
             prefix() + "row " + in_quotes(*row_id) + " is on an earlier line too");
      return Status::ok();
    }
    v1::Change* change = request_.add_changes();
    change->set_id(static_cast<std::uint32_t>(lines_.size()));
    change->set_table(0);
    change->set_op(v1::CHANGE_OP_INSERT);
    change->set_row_id(*row_id);
    change->set_hlc(hlc_.send().packed());
    // The import has seen every change before it: a cell it overwrites is
    // no concurrent edit (no conflict is recorded), it is newer.
    change->set_base_seq(seq_before_);
    for (std::size_t i = 0; i < values_.size(); ++i) {
      change->add_columns(static_cast<std::uint32_t>(i));
      protocol::to_wire(values_[i], change->add_values());
    }
    lines_.push_back(record.line);
    batch_rows_.insert(std::move(*row_id));
    return Status::ok();
  }

  // Merges the batch's changes as a push's, and reports its refused lines.
  Status merge() {
    if (lines_.empty()) {
      emit();
      return Status::ok();
    }
    v1::PushResponse response;
    std::set<std::string> scopes;
    const MergeClock clock{.hlc = &hlc_, .now_ms = clock_->now_ms(), .max_skew_ms = kMaxSkewMs};
    LUMBUNG_RETURN_IF_ERROR(
        merge_batch(schema_, judge_, clock, txn_, grant_, request_, &response, &scopes));
    for (int i = 0; i < response.outcomes_size(); ++i) {
      const v1::ChangeOutcome& outcome = response.outcomes(i);
      switch (outcome.outcome()) {
        case v1::OUTCOME_APPLIED:
          ++summary_.applied;
          break;
        case v1::OUTCOME_SUPERSEDED:
          ++summary_.superseded;
          break;
        default:
          refuse(lines_[outcome.id()],
                 outcome.reason() == v1::REFUSAL_REASON_OUT_OF_SCOPE ? table_.scope_column : "",
                 outcome.message());
          break;
      }
    }
    request_.clear_changes();
    lines_.clear();
    batch_rows_.clear();
    emit();
    return Status::ok();
  }

  const CsvImportOptions& options_;
  const core::Schema& schema_;
  const core::Table& table_;
  const auth::Grant& grant_;
  db::CheckJudge& judge_;
  WriteTransaction& txn_;
  std::ostream& problems_;
  const std::shared_ptr<Clock> clock_;
  core::HlcClock hlc_;
  std::int64_t seq_before_ = 0;
  std::vector<const core::Column*> columns_;  // of the header's fields
  CsvImportSummary summary_;
  std::int64_t refused_ = 0;  // lines
  // The batch: its changes, each one's line, and its rows.
  v1::PushRequest request_;
  std::vector<std::int64_t> lines_;
  std::set<std::string, std::less<>> batch_rows_;
  std::vector<Value> values_;                                  // of the line being read
  std::vector<std::pair<std::int64_t, std::string>> reports_;  // line, report: not yet written
};

// The field a value is written as (and imported back from).
void write_value(CsvWriter& writer, const Value& value) {
  char digits[32];
  switch (value.type()) {
    case ValueType::kNull:
      return writer.field("");
    case ValueType::kInteger: {
      const auto end = std::to_chars(digits, digits + sizeof digits, value.as_integer()).ptr;
      return writer.field(std::string_view(digits, static_cast<std::size_t>(end - digits)));
    }
    case ValueType::kReal: {
      // The fewest digits that read back as the same double.
      const auto end = std::to_chars(digits, digits + sizeof digits, value.as_real()).ptr;
      return writer.field(std::string_view(digits, static_cast<std::size_t>(end - digits)));
    }
    case ValueType::kText:
      return writer.field(value.as_text(), value.as_text().empty());
    case ValueType::kBlob: {
      const Blob& bytes = value.as_blob();
      return writer.field(core::to_hex(bytes.data(), bytes.size()), bytes.empty());
    }
  }
}

}  // namespace

std::string import_author(const std::string& officer) { return "import:" + officer; }

Result<CsvImportSummary> import_csv(const CsvImportOptions& options, const core::Schema& schema,
                                    Store& store, std::istream& in, std::ostream& problems) {
  const core::Table* table = schema.find_table(options.table);
  if (table == nullptr) {
    return Status(ErrorCode::kNotFound,
                  "schema " + in_quotes(schema.name) + " has no table " + in_quotes(options.table));
  }
  if (options.lines_per_batch == 0) {
    return Status(ErrorCode::kInvalidArgument, "CsvImportOptions.lines_per_batch is 0");
  }
  LUMBUNG_ASSIGN_OR_RETURN(const auth::Grant grant, grant_of(options, schema, store));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::CheckJudge> judge, db::CheckJudge::open(schema));
  CsvReader reader(in);
  CsvImportSummary summary;
  const Status written = store.write([&](WriteTransaction& txn) -> Status {
    txn.set_officer(options.officer);
    Importer importer(options, schema, *table, grant, *judge, txn, problems);
    LUMBUNG_ASSIGN_OR_RETURN(summary, importer.run(reader));
    if (in.bad()) return Status(ErrorCode::kIo, options.source + ": cannot be read to its end");
    return Status::ok();
  });
  if (!written) return written;
  return summary;
}

Result<std::int64_t> export_csv(const CsvExportOptions& options, const core::Schema& schema,
                                Store& store, std::ostream& out) {
  const core::Table* table = schema.find_table(options.table);
  if (table == nullptr) {
    return Status(ErrorCode::kNotFound,
                  "schema " + in_quotes(schema.name) + " has no table " + in_quotes(options.table));
  }
  CsvWriter writer(out);
  for (const core::Column& column : table->columns) writer.field(column.name);
  writer.end_record();

  std::vector<std::optional<std::size_t>> positions;  // of the schema's columns in the store's
  std::int64_t rows = 0;
  const Status read = store.read([&](ReadTransaction& txn) {
    return txn.scan_rows(table->name, options.village, [&](const LiveRow& row) {
      if (positions.empty()) {
        for (const core::Column& column : table->columns) {
          const auto found = std::find(row.columns.begin(), row.columns.end(), column.name);
          positions.push_back(found == row.columns.end()
                                  ? std::nullopt
                                  : std::optional<std::size_t>(found - row.columns.begin()));
        }
      }
      // A column the store does not have yet is empty; one the schema no
      // longer has is left out.
      for (const std::optional<std::size_t>& position : positions) {
        write_value(writer, position ? row.values[*position] : Value());
      }
      writer.end_record();
      ++rows;
    });
  });
  if (!read) return read;
  out.flush();
  if (!out) return Status(ErrorCode::kIo, "the CSV output cannot be written");
  return rows;
}

}  // namespace lumbung::server
