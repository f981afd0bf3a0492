#include "server/pull_page.hpp"

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/checksum.hpp"
#include "protocol/wire.hpp"
#include "server/conflict_wire.hpp"

namespace lumbung::server {
namespace {

// What a message adds to its parent as a length-delimited field with a
// one-byte tag.
std::size_t field_bytes(std::size_t message_bytes) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(message_bytes) + message_bytes;
}

// An upper bound of what a scope costs in cursors and checksums, so that the
// page stays within its budget once they are filled in.
std::size_t scope_bytes(const std::string& scope) {
  const std::size_t name = field_bytes(scope.size());
  const std::size_t cursor = name + 1 + 10;            // seq: tag and varint
  const std::size_t checksum = name + 1 + 8 + 1 + 10;  // fixed64 checksum, varint rows
  return field_bytes(cursor) + field_bytes(checksum);
}

// server_hlc, more, last_seq, device_batch and the epoch (a UUID).
constexpr std::size_t kPageFixedBytes = (1 + 10) + (1 + 1) + (1 + 10) + (1 + 10) + (2 + 36);

// What one value's stamp costs at most: an hlc and an author index.
constexpr std::size_t kStampBytes = (1 + 10) + (1 + 5);

struct ServedScope {
  std::int64_t cursor = 0;
  std::uint64_t checksum = 0;
  std::int64_t live_rows = 0;
};

// Collects the rows and conflicts of one page in the order of the change log.
//
// The page covers a prefix of the log: every change with seq up to some P
// (P is the new cursor of every scope). A row the device already has (its
// insert is at or below the device's cursor) gets the cells the prefix
// holds. A row new to the device is sent whole, with its current cells: a
// device cannot insert half a row. Its cells beyond P are then sent again
// in a later page, which costs a few bytes and never loses a change.
class PageBuilder {
 public:
  PageBuilder(const SchemaView& view, const PullQuery& query,
              const std::vector<ScopeState>& stored_scopes, bool own_writes_held)
      : schema_(*view.schema), view_(view), query_(query), own_writes_held_(own_writes_held) {
    for (const ScopeState& scope : stored_scopes) {
      if (query.grant.may_read(scope.scope)) {
        scopes_[scope.scope] = {0, scope.checksum, scope.live_rows};
      }
    }
    for (const auto& [scope, cursor] : query.cursors) {
      if (query.grant.may_read(scope)) {
        scopes_[scope].cursor = cursor;
      } else {
        dropped_.push_back(scope);
      }
    }
    page_bytes_ = kPageFixedBytes;
    for (const auto& [scope, served] : scopes_) page_bytes_ += scope_bytes(scope);
    for (const std::string& scope : dropped_) page_bytes_ += field_bytes(scope.size());
  }

  // Whether no scope is served: no scope the grant may read has ever had a
  // row, and the device names none.
  bool serves_nothing() const { return scopes_.empty(); }

  // Where the change log of each served scope is read from.
  ScopeCursors cursors() const {
    ScopeCursors cursors;
    for (const auto& [scope, served] : scopes_) cursors.emplace(scope, served.cursor);
    return cursors;
  }

  // The device's writes that the log need not give: add() leaves them out.
  OwnWrites own_writes() const {
    OwnWrites own{.device_id = query_.device_id, .scopes = {}};
    for (const auto& [scope, served] : scopes_) {
      if (leaves_out_own(scope)) own.scopes.insert(scope);
    }
    return own;
  }

  // Adds `item`, a change of a served scope after its cursor (as cursors()
  // asks), to the page; false (and nothing added) when the page is full.
  Result<bool> add(const ChangeItem& item) {
    // What the device's schema version lacks is not its to read.
    if (item.kind == ChangeItem::Kind::kConflict) {
      const Conflict& conflict = item.conflict;
      if (view_.hides(conflict.table) || view_.hides(conflict.table, conflict.column)) return true;
      return add_conflict(conflict);
    }
    if (view_.hides(item.table)) return true;
    if (item.kind == ChangeItem::Kind::kTombstone) return add_tombstone(item);
    if (item.kind == ChangeItem::Kind::kCell &&
        (view_.hides(item.table, item.column) ||
         (item.stamp.device_id == query_.device_id && leaves_out_own(item.scope)))) {
      return true;
    }
    const RowKey key{item.table, item.row_id};
    // A kRow is a row new to the device; a kCell a change of a row it has.
    if (item.kind == ChangeItem::Kind::kRow) return add_row(item, key);
    return add_cell(item, key);
  }

  // What the device compares with its own state: the snapshot's last seq
  // and the server's last batch from the device.
  void set_server_state(std::int64_t last_seq, std::uint64_t device_batch) {
    last_seq_ = last_seq;
    device_batch_ = device_batch;
  }

  // Takes from each served scope's checksum and live rows what the device's
  // schema version lacks: the cells of its hidden columns and the rows of its
  // hidden tables, read from `txn` (a cost only devices of older versions
  // bring, on their last page).
  Status leave_out_hidden(ReadTransaction& txn) {
    if (view_.hides_nothing()) return Status::ok();
    const auto subtract = [&](const LiveRow& row) {
      const auto served = scopes_.find(row.scope);
      if (served == scopes_.end()) return;
      const bool whole = view_.hides(row.table);
      const core::RowCellHasher hasher(row.table, row.row_id);
      for (std::size_t i = 0; i < row.columns.size(); ++i) {
        if (whole || view_.hides(row.table, row.columns[i])) {
          served->second.checksum -= hasher.cell(row.columns[i], row.values[i]);
        }
      }
      if (whole) --served->second.live_rows;
    };
    std::vector<std::string> tables(view_.hidden_tables.begin(), view_.hidden_tables.end());
    for (const auto& [table, columns] : view_.hidden_columns) tables.push_back(table);
    for (const std::string& table : tables) {
      if (query_.grant.all_villages()) {
        LUMBUNG_RETURN_IF_ERROR(txn.scan_rows(table, std::nullopt, subtract));
        continue;
      }
      for (const auto& [scope, served] : scopes_) {
        LUMBUNG_RETURN_IF_ERROR(txn.scan_rows(table, scope, subtract));
      }
    }
    return Status::ok();
  }

  PulledPage finish(bool more, std::int64_t covered_seq, std::int64_t snapshot_seq) {
    PulledPage pulled;
    pulled.snapshot_seq = snapshot_seq;
    v1::PullPage& page = pulled.page;
    page.set_last_seq(last_seq_);
    page.set_device_batch(device_batch_);
    std::stable_sort(rows_.begin(), rows_.end(), [](const v1::RowState& a, const v1::RowState& b) {
      return a.seq() < b.seq();
    });
    for (v1::RowState& row : rows_) *page.add_rows() = std::move(row);
    *page.mutable_tables() = std::move(tables_);
    *page.mutable_authors() = std::move(authors_);
    *page.mutable_conflicts() = std::move(conflicts_);
    page.set_more(more);
    for (const std::string& scope : dropped_) page.add_dropped_scopes(scope);
    for (const auto& [scope, served] : scopes_) {
      v1::ScopeCursor* cursor = page.add_cursors();
      cursor->set_scope(scope);
      cursor->set_seq(std::max(served.cursor, covered_seq));
      if (more) continue;
      v1::ScopeChecksum* checksum = page.add_checksums();
      checksum->set_scope(scope);
      checksum->set_checksum(served.checksum);
      checksum->set_rows(served.live_rows);
    }
    return pulled;
  }

 private:
  using RowKey = std::pair<std::string, std::string>;  // table, row id

  bool empty() const { return rows_.empty() && conflicts_.empty(); }

  // Whether the device's own writes in `scope` are left out: it made every
  // push the server has from it, and has not deleted the scope's rows since
  // (a scope it resets is named with cursor 0; docs/protocol.md, "Pull").
  bool leaves_out_own(const std::string& scope) const {
    if (!own_writes_held_) return false;
    const auto named = query_.cursors.find(scope);
    return named == query_.cursors.end() || named->second > 0;
  }

  // Whether the requesting device inserted the row of `cells`.
  bool created_by_device(const std::vector<StoredCell>& cells) const {
    return std::any_of(cells.begin(), cells.end(), [&](const StoredCell& cell) {
      return cell.column == "id" && cell.cell.version.stamp.device_id == query_.device_id;
    });
  }

  // The index of `device` in the page's authors, added when new (its cost
  // then counted).
  std::uint32_t author_index(const std::string& device) {
    const auto [it, added] = author_indexes_.try_emplace(device, authors_.size());
    if (added) {
      *authors_.Add() = device;
      page_bytes_ += field_bytes(device.size());
    }
    return it->second;
  }

  // Adds the stamp of the value just added to `row`: one entry stands for
  // every value while they share it, then each value gets its own.
  void add_stamp(v1::RowState& row, const core::Stamp& stamp) {
    const std::int64_t hlc = stamp.hlc.packed();
    const std::uint32_t author = author_index(stamp.device_id);
    if (row.hlcs_size() == 0) {
      row.add_hlcs(hlc);
      row.add_authors(author);
      return;
    }
    const bool shared = row.hlcs_size() == 1 && row.values_size() > 1;
    if (shared && row.hlcs(0) == hlc && row.authors(0) == author) return;
    if (shared) {
      for (int i = 1; i < row.values_size() - 1; ++i) {
        row.add_hlcs(row.hlcs(0));
        row.add_authors(row.authors(0));
      }
    }
    row.add_hlcs(hlc);
    row.add_authors(author);
  }

  // Whether `bytes` more fit; the first thing always does.
  bool fits(std::size_t bytes) const {
    return empty() || page_bytes_ + bytes <= query_.budget_bytes;
  }

  // The page's dictionary entry of `table_name`: every column of the
  // schema's table, in order, so that a RowState without columns means all.
  struct TableEntry {
    const core::Table* table = nullptr;
    std::uint32_t index = 0;
    std::size_t new_bytes = 0;  // what adding the entry costs; 0 once it is there
  };

  Result<TableEntry> table_entry(const std::string& table_name) const {
    const core::Table* table = schema_.find_table(table_name);
    if (table == nullptr) {
      return Status(ErrorCode::kInternal, "store: table '" + table_name + "' is not in the schema");
    }
    for (int i = 0; i < tables_.size(); ++i) {
      if (tables_.Get(i).table() == table_name)
        return TableEntry{table, static_cast<std::uint32_t>(i), 0};
    }
    return TableEntry{table, static_cast<std::uint32_t>(tables_.size()),
                      field_bytes(dictionary_entry(*table).ByteSizeLong())};
  }

  static v1::TableColumns dictionary_entry(const core::Table& table) {
    v1::TableColumns entry;
    entry.set_table(table.name);
    for (const core::Column& column : table.columns) entry.add_columns(column.name);
    return entry;
  }

  void commit_table(const TableEntry& entry) {
    if (entry.new_bytes == 0) return;
    *tables_.Add() = dictionary_entry(*entry.table);
    page_bytes_ += entry.new_bytes;
  }

  // Looked up by name, once per cell of every row, so indexed per table.
  Result<std::uint32_t> column_index(const core::Table& table, const std::string& column) {
    auto [indexes, added] = column_indexes_.try_emplace(&table);
    if (added) {
      for (std::size_t i = 0; i < table.columns.size(); ++i) {
        indexes->second.emplace(table.columns[i].name, static_cast<std::uint32_t>(i));
      }
    }
    const auto found = indexes->second.find(column);
    if (found != indexes->second.end()) return found->second;
    return Status(ErrorCode::kInternal, "store: table '" + table.name + "': column '" + column +
                                            "' is not in the schema");
  }

  // Appends `row` when it fits.
  bool append_row(v1::RowState row, const TableEntry& entry, const RowKey& key) {
    const std::size_t bytes = field_bytes(row.ByteSizeLong());
    if (!fits(bytes + entry.new_bytes)) return false;
    commit_table(entry);
    page_bytes_ += bytes;
    row_index_[key] = rows_.size();
    rows_.push_back(std::move(row));
    return true;
  }

  Result<bool> add_conflict(const Conflict& conflict) {
    // The device that caused a conflict got it in its PushResponse; its
    // resolution, later, it learns here like every other device.
    if (conflict.device_id == query_.device_id && conflict.resolved_ms == 0) return true;
    v1::Conflict wire;
    to_wire(conflict, &wire);
    const std::size_t bytes = field_bytes(wire.ByteSizeLong());
    if (!fits(bytes)) return false;
    page_bytes_ += bytes;
    *conflicts_.Add() = std::move(wire);
    return true;
  }

  Result<bool> add_tombstone(const ChangeItem& item) {
    LUMBUNG_ASSIGN_OR_RETURN(TableEntry entry, table_entry(item.table));
    v1::RowState row;
    row.set_table(entry.index);
    row.set_row_id(item.row_id);
    row.set_seq(item.seq);
    row.set_deleted(true);
    add_stamp(row, item.stamp);
    return append_row(std::move(row), entry, {item.table, item.row_id});
  }

  // Adds the row whole, with its current cells, as one RowState (a row the
  // device created: the other devices' cells alone).
  Result<bool> add_row(const ChangeItem& item, const RowKey& key) {
    LUMBUNG_ASSIGN_OR_RETURN(TableEntry entry, table_entry(item.table));
    const core::Table& table = *entry.table;
    const bool leave_out_own = leaves_out_own(item.scope) && created_by_device(item.cells);
    std::vector<const StoredCell*> by_column(table.columns.size(), nullptr);
    for (const StoredCell& cell : item.cells) {
      if (leave_out_own && cell.cell.version.stamp.device_id == query_.device_id) continue;
      if (view_.hides(item.table, cell.column)) continue;
      LUMBUNG_ASSIGN_OR_RETURN(std::uint32_t index, column_index(table, cell.column));
      by_column[index] = &cell;
    }
    // Columns are listed only when some cell is missing (a column added to
    // the schema after the row was written).
    const bool complete = std::find(by_column.begin(), by_column.end(), nullptr) == by_column.end();
    v1::RowState row;
    row.set_table(entry.index);
    row.set_row_id(item.row_id);
    std::int64_t seq = 0;
    for (std::size_t i = 0; i < by_column.size(); ++i) {
      if (by_column[i] == nullptr) continue;
      if (!complete) row.add_columns(static_cast<std::uint32_t>(i));
      protocol::to_wire(by_column[i]->cell.value, row.add_values());
      add_stamp(row, by_column[i]->cell.version.stamp);
      seq = std::max(seq, by_column[i]->cell.version.seq);
    }
    row.set_seq(seq);
    if (row.values_size() > 0 && !append_row(std::move(row), entry, key)) return false;
    return true;
  }

  Result<bool> add_cell(const ChangeItem& item, const RowKey& key) {
    LUMBUNG_ASSIGN_OR_RETURN(TableEntry entry, table_entry(item.table));
    LUMBUNG_ASSIGN_OR_RETURN(std::uint32_t column, column_index(*entry.table, item.column));
    v1::RowState cell_row;
    cell_row.set_table(entry.index);
    cell_row.set_row_id(item.row_id);
    cell_row.set_seq(item.seq);
    cell_row.add_columns(column);
    protocol::to_wire(item.value, cell_row.add_values());
    const auto existing = row_index_.find(key);
    if (existing == row_index_.end()) {
      add_stamp(cell_row, item.stamp);
      return append_row(std::move(cell_row), entry, key);
    }
    // Joining a row already on the page costs less than a row of its own,
    // and its values' stamps if they stop sharing one; counting both keeps
    // the page within its budget.
    v1::RowState& row = rows_[existing->second];
    const std::size_t bytes = field_bytes(cell_row.ByteSizeLong()) +
                              kStampBytes * static_cast<std::size_t>(row.values_size() + 1);
    if (!fits(bytes)) return false;
    page_bytes_ += bytes;
    row.add_columns(column);
    *row.add_values() = std::move(*cell_row.mutable_values(0));
    add_stamp(row, item.stamp);
    row.set_seq(item.seq);
    return true;
  }

  const core::Schema& schema_;  // the device's version
  const SchemaView& view_;
  const PullQuery& query_;
  const bool own_writes_held_;
  std::int64_t last_seq_ = 0;
  std::uint64_t device_batch_ = 0;
  std::map<std::string, ServedScope, std::less<>> scopes_;  // the scopes the grant may read
  std::vector<std::string> dropped_;                        // named by the query, not readable
  std::size_t page_bytes_ = 0;
  std::vector<v1::RowState> rows_;
  google::protobuf::RepeatedPtrField<v1::TableColumns> tables_;
  google::protobuf::RepeatedPtrField<std::string> authors_;
  std::unordered_map<std::string, std::uint32_t> author_indexes_;
  google::protobuf::RepeatedPtrField<v1::Conflict> conflicts_;
  std::map<RowKey, std::size_t> row_index_;
  std::map<const core::Table*, std::unordered_map<std::string_view, std::uint32_t>> column_indexes_;
};

}  // namespace

Result<PulledPage> build_pull_page(const SchemaView& view, ReadTransaction& txn,
                                   const PullQuery& query) {
  LUMBUNG_ASSIGN_OR_RETURN(std::int64_t snapshot_seq, txn.last_seq());
  LUMBUNG_ASSIGN_OR_RETURN(std::vector<ScopeState> scopes, query.grant.all_villages()
                                                               ? txn.scopes()
                                                               : txn.scopes_among(query.villages));
  LUMBUNG_ASSIGN_OR_RETURN(std::uint64_t last_batch, txn.last_batch(query.device_id));
  PageBuilder builder(view, query, scopes, last_batch == query.pushed_batch);
  builder.set_server_state(snapshot_seq, last_batch);
  // Everything up to `covered_seq` is on the page: the whole snapshot, or
  // the log up to the first change that did not fit.
  std::int64_t covered_seq = snapshot_seq;
  bool more = false;
  Status failed;
  if (builder.serves_nothing()) return builder.finish(false, covered_seq, snapshot_seq);
  LUMBUNG_RETURN_IF_ERROR(
      txn.scan_changes(builder.cursors(), builder.own_writes(), [&](const ChangeItem& item) {
        Result<bool> added = builder.add(item);
        if (!added.is_ok()) {
          failed = added.status();
          return false;
        }
        if (*added) return true;
        more = true;
        covered_seq = item.seq - 1;
        return false;
      }));
  LUMBUNG_RETURN_IF_ERROR(failed);
  if (!more) LUMBUNG_RETURN_IF_ERROR(builder.leave_out_hidden(txn));
  return builder.finish(more, covered_seq, snapshot_seq);
}

}  // namespace lumbung::server
