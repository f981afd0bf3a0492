#include "server/push_merge.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/canonical_json.hpp"
#include "core/merge.hpp"
#include "protocol/wire.hpp"
#include "server/conflict_wire.hpp"

namespace lumbung::server {
namespace {

// The longest device id a re-offer may name as a write's author.
constexpr std::size_t kMaxAuthorBytes = 128;
// Refused changes of one push that get an audit entry each; those beyond
// are counted, one entry per reason, so that a push of refused changes does
// not add an entry per change (the device learns of each from its outcome).
constexpr std::int64_t kRefusalsAuditedPerPush = 100;

struct Refusal {
  v1::RefusalReason reason = v1::REFUSAL_REASON_MALFORMED;
  std::string message;
};

// A change whose names resolved against the schema and whose values were
// coerced to their columns' types.
struct ParsedChange {
  const core::Table* table = nullptr;
  std::string row_id;
  v1::ChangeOp op = v1::CHANGE_OP_UNSPECIFIED;
  std::vector<std::pair<const core::Column*, Value>> cells;
  core::Hlc hlc;
  std::int64_t base_seq = 0;
  std::string author;  // a re-offer's; empty for the pushing device's own write
  // A re-offered insert's stamp per cell, in `cells` order; empty: `hlc`.
  std::vector<core::Stamp> cell_stamps;
};

// The edits a change makes after the clock-skew rule: `edit` for every cell,
// or, for a re-offered insert with stamps of its own, for_cell(i).
struct ChangeEdits {
  core::DeviceEdit edit;
  std::vector<core::Stamp> cell_stamps;

  core::DeviceEdit for_cell(std::size_t i) const {
    return {.stamp = stamp_of(i), .base_seq = edit.base_seq, .reoffer = edit.reoffer};
  }
  const core::Stamp& stamp_of(std::size_t i) const {
    return cell_stamps.empty() ? edit.stamp : cell_stamps[i];
  }
};

std::string quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

std::string table_prefix(const core::Table& table) { return "table " + quoted(table.name) + ": "; }

v1::RefusalReason reason_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kConstraint:
      return v1::REFUSAL_REASON_CONSTRAINT;
    case ErrorCode::kTypeMismatch:
      return v1::REFUSAL_REASON_TYPE_MISMATCH;
    case ErrorCode::kNotFound:
      return v1::REFUSAL_REASON_UNKNOWN_COLUMN;
    default:
      return v1::REFUSAL_REASON_MALFORMED;
  }
}

std::optional<Refusal> check_author(const std::string& author, const std::string& prefix) {
  if (!author.empty() && author.size() <= kMaxAuthorBytes) return std::nullopt;
  return Refusal{v1::REFUSAL_REASON_MALFORMED, prefix + "a re-offer names an author of " +
                                                   std::to_string(author.size()) + " bytes (1 to " +
                                                   std::to_string(kMaxAuthorBytes) + ")"};
}

// The author and cell stamps of a re-offer (docs/protocol.md, "Going back in time").
std::optional<Refusal> parse_reoffer(const v1::Change& change, const std::string& prefix,
                                     ParsedChange* out) {
  const int stamps = change.cell_hlcs_size();
  if (change.author().empty()) {
    if (stamps == 0 && change.cell_authors_size() == 0) return std::nullopt;
    return Refusal{v1::REFUSAL_REASON_MALFORMED,
                   prefix + "cell stamps are for re-offers, which name their author"};
  }
  if (std::optional<Refusal> refusal = check_author(change.author(), prefix)) return refusal;
  out->author = change.author();
  if (stamps == 0 && change.cell_authors_size() == 0) return std::nullopt;
  if (change.op() != v1::CHANGE_OP_INSERT || stamps != change.values_size() ||
      change.cell_authors_size() != stamps) {
    return Refusal{
        v1::REFUSAL_REASON_MALFORMED,
        prefix + "a re-offered insert has a stamp and an author for each value, or none"};
  }
  for (int i = 0; i < stamps; ++i) {
    if (change.cell_hlcs(i) < 0) {
      return Refusal{v1::REFUSAL_REASON_MALFORMED,
                     prefix + "row " + quoted(change.row_id()) + ": negative HLC stamp"};
    }
    if (std::optional<Refusal> refusal = check_author(change.cell_authors(i), prefix)) {
      return refusal;
    }
    out->cell_stamps.push_back({core::Hlc(change.cell_hlcs(i)), change.cell_authors(i)});
  }
  return std::nullopt;
}

// The checks that need no server state.
std::optional<Refusal> parse(const core::Schema& schema, const v1::PushRequest& request,
                             const v1::Change& change, ParsedChange* out) {
  if (change.table() >= static_cast<std::uint32_t>(request.tables_size())) {
    return Refusal{v1::REFUSAL_REASON_MALFORMED,
                   "change " + std::to_string(change.id()) + ": table index " +
                       std::to_string(change.table()) + " is not in the request's " +
                       std::to_string(request.tables_size()) + " tables"};
  }
  const v1::TableColumns& names = request.tables(static_cast<int>(change.table()));
  const core::Table* table = schema.find_table(names.table());
  if (table == nullptr) {
    return Refusal{v1::REFUSAL_REASON_UNKNOWN_TABLE, "unknown table " + quoted(names.table())};
  }
  const std::string prefix = table_prefix(*table);
  if (change.row_id().empty()) {
    return Refusal{v1::REFUSAL_REASON_MALFORMED, prefix + "a change without a row id"};
  }
  if (change.hlc() < 0) {
    return Refusal{v1::REFUSAL_REASON_MALFORMED,
                   prefix + "row " + quoted(change.row_id()) + ": negative HLC stamp"};
  }
  if (change.columns_size() != change.values_size()) {
    return Refusal{v1::REFUSAL_REASON_MALFORMED,
                   prefix + std::to_string(change.columns_size()) + " columns but " +
                       std::to_string(change.values_size()) + " values"};
  }
  const int cells = change.columns_size();
  switch (change.op()) {
    case v1::CHANGE_OP_INSERT:
      break;
    case v1::CHANGE_OP_UPDATE:
      if (cells != 1) {
        return Refusal{v1::REFUSAL_REASON_MALFORMED,
                       prefix + "an UPDATE changes exactly one cell, not " + std::to_string(cells)};
      }
      break;
    case v1::CHANGE_OP_DELETE:
      if (cells != 0) {
        return Refusal{v1::REFUSAL_REASON_MALFORMED, prefix + "a DELETE carries no cells"};
      }
      break;
    default:
      return Refusal{v1::REFUSAL_REASON_MALFORMED,
                     prefix + "unknown operation " + std::to_string(change.op())};
  }
  out->table = table;
  out->row_id = change.row_id();
  out->op = change.op();
  out->hlc = core::Hlc(change.hlc());
  out->base_seq = change.base_seq();
  if (std::optional<Refusal> refusal = parse_reoffer(change, prefix, out)) return refusal;
  for (int i = 0; i < cells; ++i) {
    const std::uint32_t index = change.columns(i);
    if (index >= static_cast<std::uint32_t>(names.columns_size())) {
      return Refusal{v1::REFUSAL_REASON_MALFORMED,
                     prefix + "column index " + std::to_string(index) +
                         " is not in the request's " + std::to_string(names.columns_size()) +
                         " columns"};
    }
    const std::string& name = names.columns(static_cast<int>(index));
    const core::Column* column = table->find_column(name);
    if (column == nullptr) {
      return Refusal{v1::REFUSAL_REASON_UNKNOWN_COLUMN, prefix + "unknown column " + quoted(name)};
    }
    const bool repeated = std::any_of(out->cells.begin(), out->cells.end(),
                                      [&](const auto& cell) { return cell.first == column; });
    if (repeated) {
      return Refusal{v1::REFUSAL_REASON_MALFORMED,
                     prefix + "column " + quoted(name) + " appears twice in one change"};
    }
    Result<Value> value =
        core::coerce_value(*table, *column, protocol::from_wire(change.values(i)));
    if (!value.is_ok()) {
      return Refusal{v1::REFUSAL_REASON_TYPE_MISMATCH, value.status().message()};
    }
    if (column->primary_key && out->op == v1::CHANGE_OP_UPDATE) {
      return Refusal{v1::REFUSAL_REASON_CONSTRAINT,
                     prefix + "row " + quoted(out->row_id) + ": the id of a row cannot change"};
    }
    if (column->primary_key && !(*value == Value(out->row_id))) {
      return Refusal{v1::REFUSAL_REASON_MALFORMED, prefix + "row " + quoted(out->row_id) +
                                                       ": the inserted id " + value->to_string() +
                                                       " differs"};
    }
    out->cells.emplace_back(column, std::move(value).value());
  }
  return std::nullopt;
}

class BatchMerger {
 public:
  BatchMerger(const core::Schema& schema, db::CheckJudge& judge, const MergeClock& clock,
              WriteTransaction& txn, const auth::Grant& grant, const v1::PushRequest& request,
              v1::PushResponse* response, std::set<std::string>* changed_scopes)
      : schema_(schema),
        judge_(judge),
        clock_(clock),
        txn_(txn),
        grant_(grant),
        request_(request),
        response_(response),
        changed_scopes_(changed_scopes),
        device_id_(request.header().device_id()) {}

  Status merge() {
    // Parsed first (it needs no server state), so that the rows the changes
    // name are read together before they merge.
    std::vector<std::variant<ParsedChange, Refusal>> changes;
    changes.reserve(static_cast<std::size_t>(request_.changes_size()));
    for (const v1::Change& change : request_.changes()) {
      ParsedChange parsed;
      if (std::optional<Refusal> refusal = parse(schema_, request_, change, &parsed)) {
        changes.emplace_back(std::move(*refusal));
      } else {
        changes.emplace_back(std::move(parsed));
      }
    }
    LUMBUNG_RETURN_IF_ERROR(read_named_rows(changes));
    for (int i = 0; i < request_.changes_size(); ++i) {
      const v1::Change& change = request_.changes(i);
      v1::ChangeOutcome* outcome = response_->add_outcomes();
      outcome->set_id(change.id());
      const auto& parsed = changes[static_cast<std::size_t>(i)];
      if (const auto* refusal = std::get_if<Refusal>(&parsed)) {
        const int table = static_cast<int>(change.table());
        const std::string table_name =
            table < request_.tables_size() ? request_.tables(table).table() : std::string();
        LUMBUNG_RETURN_IF_ERROR(refuse(table_name, change.row_id(), *refusal, outcome));
        continue;
      }
      LUMBUNG_RETURN_IF_ERROR(merge_change(std::get<ParsedChange>(parsed), outcome));
    }
    LUMBUNG_RETURN_IF_ERROR(audit_refusals_beyond_limit());
    return fill_current();
  }

 private:
  using RowKey = std::pair<std::string, std::string>;  // table, row id

  // Reads the rows the parsed changes name, a few statements per table
  // (ReadTransaction::rows), into named_rows_.
  Status read_named_rows(const std::vector<std::variant<ParsedChange, Refusal>>& changes) {
    std::map<std::string, std::vector<std::string>> ids_by_table;
    for (const auto& change : changes) {
      if (const auto* parsed = std::get_if<ParsedChange>(&change)) {
        ids_by_table[parsed->table->name].push_back(parsed->row_id);
      }
    }
    for (auto& [table, ids] : ids_by_table) {
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      LUMBUNG_ASSIGN_OR_RETURN(auto found, txn_.rows(table, ids));
      for (const std::string& id : ids) {
        auto it = found.find(id);
        named_rows_[{table, id}] =
            it == found.end() ? std::optional<StoredRow>() : std::move(it->second);
      }
    }
    return Status::ok();
  }

  // The row `change` names as the store holds it now: as read before the
  // batch merged for the first change of the row, and read again for the
  // next (the one before may have changed it).
  Result<std::optional<StoredRow>> named_row(const ParsedChange& change) {
    const auto it = named_rows_.find(RowKey(change.table->name, change.row_id));
    if (it == named_rows_.end()) return txn_.row(change.table->name, change.row_id);
    std::optional<StoredRow> row = std::move(it->second);
    named_rows_.erase(it);
    return row;
  }

  // The next seq, for a write in `scope`: every seq the batch gives is
  // counted in changed_scopes_, which wakes the long polls of those scopes.
  std::int64_t next_seq(const std::string& scope) {
    changed_scopes_->insert(scope);
    return txn_.next_seq();
  }

  Status merge_change(const ParsedChange& change, v1::ChangeOutcome* outcome) {
    LUMBUNG_ASSIGN_OR_RETURN(std::optional<StoredRow> row, named_row(change));
    // An update or delete of a row beyond the grant is answered as if the
    // row did not exist, so that answers tell nothing of other villages'
    // rows; the audit keeps the truth. (An insert of its id cannot be: the
    // id is taken.)
    if (row && !grant_.may_write(row->scope) && change.op != v1::CHANGE_OP_INSERT) {
      if (change.op == v1::CHANGE_OP_UPDATE) {
        set_refused(no_row_to_update(change), outcome);
      } else {
        answer_missing_row_deleted(change, outcome);
      }
      return audit_refusal(change.table->name, change.row_id, *check_grant(change, row));
    }
    if (std::optional<Refusal> refusal = check_grant(change, row)) {
      return refuse(change.table->name, change.row_id, *refusal, outcome);
    }
    LUMBUNG_ASSIGN_OR_RETURN(std::optional<Refusal> moves_village, check_regions(change, row));
    if (moves_village) return refuse(change.table->name, change.row_id, *moves_village, outcome);
    switch (change.op) {
      case v1::CHANGE_OP_INSERT:
        return merge_insert(change, row, outcome);
      case v1::CHANGE_OP_UPDATE:
        return merge_update(change, row, outcome);
      default:
        return merge_delete(change, row, outcome);
    }
  }

  Status merge_insert(const ParsedChange& change, const std::optional<StoredRow>& row,
                      v1::ChangeOutcome* outcome) {
    const core::Table& table = *change.table;
    // The row as the insert makes it; a sent cell's index in change.cells by column.
    std::vector<Value> inserted = row_values(table, {});
    inserted[0] = Value(change.row_id);  // columns[0] is "id"
    std::vector<std::size_t> sent(table.columns.size(), change.cells.size());
    for (std::size_t i = 0; i < change.cells.size(); ++i) {
      const std::size_t at = index_of(table, *change.cells[i].first);
      inserted[at] = change.cells[i].second;
      sent[at] = i;
    }
    if (std::optional<Refusal> refusal = check_row(table, inserted)) {
      return refuse(table.name, change.row_id, *refusal, outcome);
    }
    const std::string scope =
        inserted[index_of(table, *table.find_column(table.scope_column))].as_text();
    if (row && !row->tombstone && row->scope != scope) {
      return refuse(table.name, change.row_id, scope_change(change, row->scope), outcome);
    }
    const ChangeEdits edits = stamp(change, outcome);
    if (row && row->tombstone) {
      return supersede_by_tombstone(change, *row, edits.edit, nullptr, outcome);
    }
    if (!row) {
      // The whole row is one change: one seq for all its cells.
      const std::int64_t seq = next_seq(scope);
      // One audit entry for the whole row, its cells as one canonical JSON
      // object: the values stay in the log at a fraction of an entry a cell
      // (docs/decisions/0028-audit-retention.md).
      Value json(row_json(table).write(inserted));
      std::vector<StoredCell> cells;
      cells.reserve(table.columns.size());
      for (std::size_t i = 0; i < table.columns.size(); ++i) {
        // A column the device did not send takes its default, as the change's write.
        const core::Stamp& stamp =
            sent[i] == change.cells.size() ? edits.edit.stamp : edits.stamp_of(sent[i]);
        cells.push_back({table.columns[i].name, {std::move(inserted[i]), {stamp, seq}}});
      }
      LUMBUNG_RETURN_IF_ERROR(txn_.insert_row(table.name, change.row_id, scope, seq, cells));
      LUMBUNG_RETURN_IF_ERROR(
          audit(change, edits.edit, seq, "", Value(), std::move(json), "applied", scope));
      outcome->set_outcome(v1::OUTCOME_APPLIED);
      outcome->set_seq(seq);
      return Status::ok();
    }
    // The row exists: each cell the device sent merges on its own.
    LUMBUNG_ASSIGN_OR_RETURN(auto current, current_cells(change.table->name, change.row_id));
    bool all_applied = true;
    for (std::size_t i = 0; i < change.cells.size(); ++i) {
      const auto& [column, value] = change.cells[i];
      if (column->primary_key) continue;  // equal to the row's id, checked by parse()
      LUMBUNG_ASSIGN_OR_RETURN(bool applied, merge_cell(change, row->scope, *column, value, current,
                                                        edits.for_cell(i), outcome));
      all_applied = all_applied && applied;
    }
    set_merged(all_applied, outcome);
    return Status::ok();
  }

  Status merge_update(const ParsedChange& change, const std::optional<StoredRow>& row,
                      v1::ChangeOutcome* outcome) {
    const core::Table& table = *change.table;
    if (!row) return refuse(table.name, change.row_id, no_row_to_update(change), outcome);
    const auto& [column, value] = change.cells.front();
    if (row->tombstone) {
      return supersede_by_tombstone(change, *row, stamp(change, outcome).edit,
                                    &change.cells.front(), outcome);
    }
    if (column->name == table.scope_column && !(value == Value(row->scope))) {
      return refuse(table.name, change.row_id, scope_change(change, row->scope), outcome);
    }
    LUMBUNG_ASSIGN_OR_RETURN(auto current, current_cells(change.table->name, change.row_id));
    std::vector<Value> updated = row_values(table, current);  // the row as the update makes it
    updated[index_of(table, *column)] = value;
    if (std::optional<Refusal> refusal = check_row(table, updated)) {
      return refuse(table.name, change.row_id, *refusal, outcome);
    }
    const core::DeviceEdit edit = stamp(change, outcome).edit;
    LUMBUNG_ASSIGN_OR_RETURN(
        bool applied, merge_cell(change, row->scope, *column, value, current, edit, outcome));
    set_merged(applied, outcome);
    return Status::ok();
  }

  Status merge_delete(const ParsedChange& change, const std::optional<StoredRow>& row,
                      v1::ChangeOutcome* outcome) {
    const core::DeviceEdit edit = stamp(change, outcome).edit;
    core::RowState state = core::RowState::kMissing;
    std::vector<StoredCell> cells;
    if (row) state = row->tombstone ? core::RowState::kDeleted : core::RowState::kLive;
    if (state == core::RowState::kLive) {
      LUMBUNG_ASSIGN_OR_RETURN(std::vector<StoredCell> stored,
                               txn_.cells(change.table->name, change.row_id));
      cells = std::move(stored);
    }
    std::vector<core::ServerVersion> versions;
    for (const StoredCell& cell : cells) versions.push_back(cell.cell.version);
    const core::DeleteDecision decision = core::merge_delete(state, versions, edit);
    if (!decision.applied) {
      set_row_deleted(outcome);
      return audit(change, edit, 0, "", Value(), Value(), "superseded");
    }
    if (decision.concurrent_cell) {
      const core::ServerVersion& concurrent = versions[*decision.concurrent_cell];
      LUMBUNG_RETURN_IF_ERROR(
          record_conflict(change, row->scope, "", core::ConflictPolicy::kDeleteWins, Value(),
                          concurrent.stamp, Value(), edit, decision.conflict, outcome));
    }
    const std::int64_t seq = next_seq(row->scope);
    LUMBUNG_RETURN_IF_ERROR(txn_.delete_row(change.table->name, change.row_id, {edit.stamp, seq}));
    outcome->set_outcome(v1::OUTCOME_APPLIED);
    outcome->set_seq(seq);
    return audit(change, edit, seq, "", Value(), Value(), "applied", row->scope);
  }

  // An INSERT (`cell` null) or UPDATE of a deleted row: deletes win.
  Status supersede_by_tombstone(const ParsedChange& change, const StoredRow& row,
                                const core::DeviceEdit& edit,
                                const std::pair<const core::Column*, Value>* cell,
                                v1::ChangeOutcome* outcome) {
    const std::string column = cell ? cell->first->name : std::string();
    const Value value = cell ? cell->second : Value();
    const core::MergeDecision decision = core::merge_write_into_tombstone(*row.tombstone, edit);
    if (decision.conflict != core::ConflictOutcome::kNone) {
      LUMBUNG_RETURN_IF_ERROR(record_conflict(change, row.scope, column, decision.policy, Value(),
                                              row.tombstone->stamp, value, edit, decision.conflict,
                                              outcome));
    }
    set_row_deleted(outcome);
    return audit(change, edit, 0, column, Value(), value, "superseded");
  }

  // Merges one cell of a live row; true when the device's value was applied.
  Result<bool> merge_cell(const ParsedChange& change, const std::string& scope,
                          const core::Column& column, const Value& value,
                          const std::map<std::string, core::ServerCell>& current,
                          const core::DeviceEdit& edit, v1::ChangeOutcome* outcome) {
    const auto it = current.find(column.name);
    const std::optional<core::ServerCell> server =
        it == current.end() ? std::nullopt : std::optional<core::ServerCell>(it->second);
    const core::MergeDecision decision =
        core::merge_cell(server, value, edit, change.table->policy_for(column.name));
    std::int64_t seq = 0;
    if (decision.applied) {
      seq = next_seq(scope);
      LUMBUNG_RETURN_IF_ERROR(txn_.write_cell(change.table->name, change.row_id, column.name,
                                              {value, {edit.stamp, seq}}));
      outcome->set_seq(seq);
    }
    if (decision.conflict != core::ConflictOutcome::kNone) {
      LUMBUNG_RETURN_IF_ERROR(record_conflict(change, scope, column.name, decision.policy,
                                              server->value, server->version.stamp, value, edit,
                                              decision.conflict, outcome));
    }
    const Value old_value = server ? server->value : Value();
    LUMBUNG_RETURN_IF_ERROR(audit(change, edit, seq, column.name, old_value, value,
                                  decision.applied ? "applied" : "superseded", scope));
    return decision.applied;
  }

  Status record_conflict(const ParsedChange& change, const std::string& scope,
                         const std::string& column, core::ConflictPolicy policy,
                         const Value& server_value, const core::Stamp& server_stamp,
                         const Value& device_value, const core::DeviceEdit& edit,
                         core::ConflictOutcome result, v1::ChangeOutcome* outcome) {
    Conflict conflict{.table = change.table->name,
                      .row_id = change.row_id,
                      .column = column,
                      .policy = policy,
                      .server_value = server_value,
                      .server_device = server_stamp.device_id,
                      .server_hlc = server_stamp.hlc.packed(),
                      .device_value = device_value,
                      .device_id = edit.stamp.device_id,
                      .device_hlc = edit.stamp.hlc.packed(),
                      .outcome = result,
                      .scope = scope};
    // A conflict gets a seq of its own, so that pulls deliver it in order.
    LUMBUNG_ASSIGN_OR_RETURN(std::uint64_t id, txn_.add_conflict(conflict, next_seq(scope)));
    conflict.id = id;
    to_wire(conflict, response_->add_conflicts());
    if (outcome->conflict_id() == 0) outcome->set_conflict_id(id);
    return Status::ok();
  }

  Status refuse(const std::string& table, const std::string& row_id, const Refusal& refusal,
                v1::ChangeOutcome* outcome) {
    set_refused(refusal, outcome);
    return audit_refusal(table, row_id, refusal);
  }

  static void set_refused(const Refusal& refusal, v1::ChangeOutcome* outcome) {
    outcome->set_outcome(v1::OUTCOME_REFUSED);
    outcome->set_reason(refusal.reason);
    outcome->set_message(refusal.message);
  }

  // A delete of a row that is gone, or never was: superseded, the device
  // drops its copy.
  static void set_row_deleted(v1::ChangeOutcome* outcome) {
    outcome->set_outcome(v1::OUTCOME_SUPERSEDED);
    outcome->set_row_deleted(true);
  }

  // The answer to a delete of a row that does not exist, as merge_delete
  // gives it, without writing anything.
  void answer_missing_row_deleted(const ParsedChange& change, v1::ChangeOutcome* outcome) {
    stamp(change, outcome);
    set_row_deleted(outcome);
  }

  // True of a row that does not exist and of one beyond the grant alike: an
  // officer who lost a village reads why their edit there was refused.
  Refusal no_row_to_update(const ParsedChange& change) const {
    return {v1::REFUSAL_REASON_NO_SUCH_ROW,
            table_prefix(*change.table) + "no row " + quoted(change.row_id) +
                " to update in a village granted to officer " + quoted(grant_.officer)};
  }

  Status audit_refusal(const std::string& table, const std::string& row_id,
                       const Refusal& refusal) {
    if (++refused_ > kRefusalsAuditedPerPush) {
      ++refused_unaudited_[refusal.reason];
      return Status::ok();
    }
    AuditEntry entry = audit_entry(table, row_id, "refused");
    entry.detail = refusal.message;
    return txn_.append_audit(entry);
  }

  // One entry per reason for the refusals beyond kRefusalsAuditedPerPush:
  // no table, no row, their number in the detail.
  Status audit_refusals_beyond_limit() {
    for (const auto& [reason, count] : refused_unaudited_) {
      AuditEntry entry = audit_entry("", "", "refused");
      entry.detail = std::to_string(count) + " more changes of this push refused as " +
                     protocol::refusal_reason_name(reason) + " (only the first " +
                     std::to_string(kRefusalsAuditedPerPush) +
                     " refusals of a push are recorded one by one)";
      LUMBUNG_RETURN_IF_ERROR(txn_.append_audit(entry));
    }
    return Status::ok();
  }

  // The entry of a change's decision; a re-offer's names the write's author,
  // the entry's device being the one that pushed it. `scope`: the row's,
  // when known (the store looks it up otherwise).
  Status audit(const ParsedChange& change, const core::DeviceEdit& edit, std::int64_t seq,
               const std::string& column, const Value& old_value, Value new_value,
               const char* result, const std::string& scope = {}) {
    AuditEntry entry = audit_entry(change.table->name, change.row_id, result);
    entry.scope = scope;
    if (edit.reoffer)
      entry.detail = "re-offered; written by device " + quoted(edit.stamp.device_id);
    entry.seq = seq;
    entry.column = column;
    entry.old_value = old_value;
    entry.new_value = std::move(new_value);
    return txn_.append_audit(entry);
  }

  AuditEntry audit_entry(const std::string& table, const std::string& row_id,
                         const char* result) const {
    AuditEntry entry;
    entry.time_ms = clock_.now_ms;
    entry.device_id = device_id_;
    entry.table = table;
    entry.row_id = row_id;
    entry.outcome = result;
    return entry;
  }

  // The change's stamps after the clock-skew rule: one further ahead of
  // server time than allowed re-stamps the whole change with the server's
  // HLC; otherwise the server's HLC receives them.
  ChangeEdits stamp(const ParsedChange& change, v1::ChangeOutcome* outcome) {
    const bool reoffer = !change.author.empty();
    ChangeEdits edits{.edit = {.stamp = {change.hlc, reoffer ? change.author : device_id_},
                               .base_seq = change.base_seq,
                               .reoffer = reoffer},
                      .cell_stamps = change.cell_stamps};
    core::Hlc newest = change.hlc;
    for (const core::Stamp& cell : change.cell_stamps) newest = std::max(newest, cell.hlc);
    if (newest.physical_ms() - clock_.now_ms > clock_.max_skew_ms) {
      edits.edit.stamp.hlc = clock_.hlc->send();
      edits.cell_stamps.clear();
      outcome->set_restamped(true);
      outcome->set_hlc(edits.edit.stamp.hlc.packed());
    } else {
      clock_.hlc->receive(newest);
    }
    return edits;
  }

  // A value per column of `table`, in its order: its cell, else its default
  // (a column added to the schema after the row was written), else NULL.
  static std::vector<Value> row_values(const core::Table& table,
                                       const std::map<std::string, core::ServerCell>& cells) {
    std::vector<Value> values;
    values.reserve(table.columns.size());
    for (const core::Column& column : table.columns) {
      const auto it = cells.find(column.name);
      values.push_back(it != cells.end() ? it->second.value
                                         : column.default_value.value_or(Value()));
    }
    return values;
  }

  static std::size_t index_of(const core::Table& table, const core::Column& column) {
    return static_cast<std::size_t>(&column - table.columns.data());
  }

  // The writer of canonical JSON for rows of `table`, made once a batch.
  const core::RowJsonWriter& row_json(const core::Table& table) {
    auto it = row_json_.find(&table);
    if (it == row_json_.end()) {
      std::vector<std::string_view> names;
      for (const core::Column& column : table.columns) names.push_back(column.name);
      it = row_json_.emplace(&table, core::RowJsonWriter(names)).first;
    }
    return it->second;
  }

  std::optional<Refusal> check_row(const core::Table& table, const std::vector<Value>& values) {
    const Status valid = judge_.validate_row(table, values);
    if (valid.is_ok()) return std::nullopt;
    return Refusal{reason_for(valid.code()), valid.message()};
  }

  // Refuses a change to a row whose scope the grant may not write, and one
  // that names such a scope in the scope column (an insert, or an attempt to
  // move the row), before anything else is checked: the caller learns nothing
  // about rows beyond the grant.
  std::optional<Refusal> check_grant(const ParsedChange& change,
                                     const std::optional<StoredRow>& row) const {
    const core::Table& table = *change.table;
    const std::string prefix = table_prefix(table) + "row " + quoted(change.row_id) + ": ";
    const std::string whom = " granted to officer " + quoted(grant_.officer) + " for writing";
    // The village a stored row lives in is not named: it is beyond the grant.
    if (row && !grant_.may_write(row->scope)) {
      return Refusal{v1::REFUSAL_REASON_OUT_OF_SCOPE, prefix + "not in a scope" + whom};
    }
    for (const auto& [column, value] : change.cells) {
      if (column->name != table.scope_column) continue;
      const std::string scope = value.type() == ValueType::kText ? value.as_text() : "";
      if (!grant_.may_write(scope)) {
        return Refusal{v1::REFUSAL_REASON_OUT_OF_SCOPE,
                       prefix + "scope " + quoted(scope) + " is not" + whom};
      }
    }
    return std::nullopt;
  }

  // Refuses a change that would move a village into or out of a district's
  // or province's grant unless an admin makes it: a delete of a live row of
  // the table that declares the regions, or a change of its region columns.
  // A new village's first values are its creator's to give, as for any row.
  Result<std::optional<Refusal>> check_regions(const ParsedChange& change,
                                               const std::optional<StoredRow>& row) {
    const core::Table& table = *change.table;
    if (!table.has_regions() || grant_.may_write_regions() || !row || row->tombstone) {
      return std::optional<Refusal>();
    }
    const std::string prefix = table_prefix(table) + "row " + quoted(change.row_id) + ": ";
    const std::string why = ": it says which districts' and provinces' grants cover a village";
    if (change.op == v1::CHANGE_OP_DELETE) {
      return std::optional<Refusal>(
          Refusal{v1::REFUSAL_REASON_READ_ONLY, prefix + "only an admin deletes it" + why});
    }
    std::optional<std::map<std::string, core::ServerCell>> current;
    for (const auto& [column, value] : change.cells) {
      if (!table.is_region_column(column->name)) continue;
      if (!current) {
        LUMBUNG_ASSIGN_OR_RETURN(current, current_cells(table.name, change.row_id));
      }
      const auto stored = current->find(column->name);
      if (stored != current->end() && stored->second.value == value) continue;
      return std::optional<Refusal>(
          Refusal{v1::REFUSAL_REASON_READ_ONLY,
                  prefix + "only an admin changes column " + quoted(column->name) + why});
    }
    return std::optional<Refusal>();
  }

  static Refusal scope_change(const ParsedChange& change, const std::string& scope) {
    const core::Table& table = *change.table;
    return {v1::REFUSAL_REASON_CONSTRAINT,
            table_prefix(table) + "row " + quoted(change.row_id) + " belongs to scope " +
                quoted(scope) + "; its column " + quoted(table.scope_column) +
                " cannot change (delete the row and insert it anew)"};
  }

  Result<std::map<std::string, core::ServerCell>> current_cells(const std::string& table,
                                                                const std::string& row_id) {
    LUMBUNG_ASSIGN_OR_RETURN(std::vector<StoredCell> cells, txn_.cells(table, row_id));
    std::map<std::string, core::ServerCell> by_column;
    for (StoredCell& cell : cells) by_column.emplace(cell.column, std::move(cell.cell));
    return by_column;
  }

  // A change whose cells were not all applied is superseded: the device takes
  // the server's cells (fill_current) instead of its own.
  void set_merged(bool all_applied, v1::ChangeOutcome* outcome) {
    outcome->set_outcome(all_applied ? v1::OUTCOME_APPLIED : v1::OUTCOME_SUPERSEDED);
  }

  // The server's row at the end of the batch for every superseded change, so
  // that a later change of the batch is not undone on the device.
  Status fill_current() {
    for (int i = 0; i < response_->outcomes_size(); ++i) {
      v1::ChangeOutcome* outcome = response_->mutable_outcomes(i);
      if (outcome->outcome() != v1::OUTCOME_SUPERSEDED || outcome->row_deleted()) continue;
      const v1::Change& change = request_.changes(i);
      const core::Table& table =
          *schema_.find_table(request_.tables(static_cast<int>(change.table())).table());
      LUMBUNG_ASSIGN_OR_RETURN(std::optional<StoredRow> row, txn_.row(table.name, change.row_id()));
      if (row && row->tombstone) {
        outcome->set_row_deleted(true);
        continue;
      }
      LUMBUNG_ASSIGN_OR_RETURN(auto cells, current_cells(table.name, change.row_id()));
      for (const core::Column& column : table.columns) {
        const auto it = cells.find(column.name);
        if (it == cells.end()) continue;
        v1::Cell* cell = outcome->add_current();
        cell->set_column(column.name);
        protocol::to_wire(it->second.value, cell->mutable_value());
        cell->set_hlc(it->second.version.stamp.hlc.packed());
        cell->set_device(it->second.version.stamp.device_id);
      }
    }
    return Status::ok();
  }

  const core::Schema& schema_;
  db::CheckJudge& judge_;
  const MergeClock& clock_;
  WriteTransaction& txn_;
  const auth::Grant& grant_;
  const v1::PushRequest& request_;
  v1::PushResponse* response_;
  std::set<std::string>* changed_scopes_;
  const std::string device_id_;
  std::int64_t refused_ = 0;  // changes of the push refused so far
  std::map<v1::RefusalReason, std::int64_t> refused_unaudited_;
  // The rows the batch's changes name as read before any merged, until the
  // first change of each merges.
  std::map<RowKey, std::optional<StoredRow>> named_rows_;
  std::map<const core::Table*, core::RowJsonWriter> row_json_;
};

}  // namespace

Status merge_batch(const core::Schema& schema, db::CheckJudge& judge, const MergeClock& clock,
                   WriteTransaction& txn, const auth::Grant& grant, const v1::PushRequest& request,
                   v1::PushResponse* response, std::set<std::string>* changed_scopes) {
  return BatchMerger(schema, judge, clock, txn, grant, request, response, changed_scopes).merge();
}

}  // namespace lumbung::server
