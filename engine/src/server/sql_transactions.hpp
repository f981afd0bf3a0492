// The store's transactions, written once over SQL for both stores
// (docs/decisions/0035-one-store-over-sql.md): what rows, cell versions,
// change log entries, checksums, devices, conflicts and audit entries a write
// makes, and how a scan merges the log. `Sql` is the database's side: a
// connection's statements and its dialect, SqliteSql (server/sqlite_sql.hpp)
// or PgSql (server/pg_sql.hpp):
//
//   Sql::Rows                    step() -> Result<bool>; value, is_null, integer,
//                                text, text_view of a column
//   query(sql, params)           rows of a statement (the cached one: one open
//                                per text at a time)
//   query_own(sql, params)       rows kept open beside others of the same text
//   run, run_counted, run_borrowed, exec
//   upsert, insert_or_ignore     statement texts, built once
//   kGreatest, any_value, from_any_value
//
// Statements are written with ?1, ?2, ... and within SQLite 3.15's SQL (no
// UPSERT but through Sql::upsert). Every scan that can be long reads pages of
// kChunk rows (libpq holds a result whole), in both stores: one change source.
//
// What stays per store: opening and upgrading, the connection pools, and
// the write-group drivers (transactions, savepoints, the seq lock, retries).
//
// Thread-safety: a transaction belongs to the thread that runs its body.
#pragma once

#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/checksum.hpp"
#include "server/cell_versions.hpp"
#include "server/change_scan.hpp"
#include "server/pending_inserts.hpp"
#include "server/sqlite_row_tables.hpp"
#include "server/store.hpp"

namespace lumbung::server::sql {

// Rows a paged statement reads at most at once (its LIMIT).
inline constexpr int kChunk = 512;

inline constexpr const char* kLastSeqKey = "last_seq";

// A conflict record's columns, in the order conflict_at() reads them.
inline constexpr const char* kConflictColumns =
    "scope, tbl, row_id, id, col, policy, server_value, server_device, server_hlc, device_value, "
    "device_id, device_hlc, outcome, resolved_value, resolved_by, resolved_device, resolved_ms";

// A random conflict id below 2^53, so that it stays exact as a JSON number
// and tells nothing of how many conflicts there are.
Result<std::uint64_t> random_conflict_id();

inline Value int64_bits(std::uint64_t value) { return Value(static_cast<std::int64_t>(value)); }

// The villages of a sighting as _lumbung_device_activity.villages holds them.
std::string joined_villages(const std::vector<std::string>& villages);
std::vector<std::string> split_villages(const std::string& text);

Status no_live_row(std::string_view what, std::string_view table, std::string_view row_id);

Value versions_blob(const CellVersions& versions);

// The enumerator `parse` finds for `name`, a field of conflict `id`;
// kCorrupt for a name it does not know.
template <typename Enum>
Result<Enum> parse_name(const std::string& name, std::string_view field, std::uint64_t id,
                        std::optional<Enum> (*parse)(std::string_view name)) {
  const std::optional<Enum> parsed = parse(name);
  if (!parsed) {
    return Status(ErrorCode::kCorrupt, "store: conflict " + std::to_string(id) +
                                           " has an unknown " + std::string(field) + " '" + name +
                                           "'");
  }
  return *parsed;
}

// The conflict record whose kConflictColumns start at column `first` of `rows`.
template <typename Sql>
Result<Conflict> conflict_at(const typename Sql::Rows& rows, int first) {
  Conflict c;
  c.scope = rows.text(first);
  c.table = rows.text(first + 1);
  c.row_id = rows.text(first + 2);
  c.id = static_cast<std::uint64_t>(rows.integer(first + 3));
  c.column = rows.text(first + 4);
  LUMBUNG_ASSIGN_OR_RETURN(
      c.policy, parse_name(rows.text(first + 5), "policy", c.id, core::parse_conflict_policy));
  LUMBUNG_ASSIGN_OR_RETURN(c.server_value,
                           Sql::from_any_value(rows.value(first + 6), "a conflict's server value"));
  c.server_device = rows.text(first + 7);
  c.server_hlc = rows.integer(first + 8);
  LUMBUNG_ASSIGN_OR_RETURN(c.device_value,
                           Sql::from_any_value(rows.value(first + 9), "a conflict's device value"));
  c.device_id = rows.text(first + 10);
  c.device_hlc = rows.integer(first + 11);
  LUMBUNG_ASSIGN_OR_RETURN(
      c.outcome, parse_name(rows.text(first + 12), "outcome", c.id, core::parse_conflict_outcome));
  LUMBUNG_ASSIGN_OR_RETURN(
      c.resolved_value, Sql::from_any_value(rows.value(first + 13), "a conflict's resolved value"));
  c.resolved_by = rows.text(first + 14);
  c.resolved_device = rows.text(first + 15);
  c.resolved_ms = rows.integer(first + 16);
  return c;
}

// Records `sighting` in _lumbung_device_activity, seen first at `first_ms`
// at the earliest; `pushed`: its time is that of an applied push too.
template <typename Sql>
Status write_sighting(Sql& sql, const DeviceSighting& sighting, std::int64_t first_ms,
                      bool pushed) {
  static const std::string kAdd = Sql::insert_or_ignore(
      "INSERT INTO _lumbung_device_activity (device_id, first_seen_ms) VALUES (?1, ?2)",
      "device_id");
  static const std::string kSeen =
      "UPDATE _lumbung_device_activity SET officer = ?2, schema_version = ?3, app_version = ?4, "
      "first_seen_ms = CASE WHEN first_seen_ms = 0 OR first_seen_ms > ?5 THEN ?5 "
      "  ELSE first_seen_ms END, last_seen_ms = " +
      std::string(Sql::kGreatest) + "(last_seen_ms, ?6) WHERE device_id = ?1";
  static const std::string kPushed =
      "UPDATE _lumbung_device_activity SET last_push_ms = " + std::string(Sql::kGreatest) +
      "(last_push_ms, ?2) WHERE device_id = ?1";
  LUMBUNG_RETURN_IF_ERROR(sql.run(kAdd, {Value(sighting.device_id), Value(first_ms)}));
  // A row from before format 6 has no first sighting (0).
  LUMBUNG_RETURN_IF_ERROR(
      sql.run(kSeen, {Value(sighting.device_id), Value(sighting.officer),
                      Value(static_cast<std::int64_t>(sighting.schema_version)),
                      Value(sighting.app_version), Value(first_ms), Value(sighting.time_ms)}));
  if (pushed) {
    LUMBUNG_RETURN_IF_ERROR(sql.run(kPushed, {Value(sighting.device_id), Value(sighting.time_ms)}));
  }
  if (!sighting.pulled) return Status::ok();
  return sql.run(
      "UPDATE _lumbung_device_activity SET all_villages = ?2, villages = ?3 WHERE device_id = ?1",
      {Value(sighting.device_id), Value(std::int64_t{sighting.all_villages}),
       Value(joined_villages(sighting.villages))});
}

// A live row as its row table holds it.
struct LoadedRow {
  std::string table;
  std::string row_id;
  std::string scope;
  core::ServerVersion row_version;  // of the insert: every cell's but those `versions` lists
  std::vector<Value> values;        // in the order of the table's columns
  CellVersions versions;

  std::int64_t created_seq() const { return row_version.seq; }
  std::vector<StoredCell> cells(const RowTable& table) const;
};

// Binds the ids from `begin` to `end` (at most IdListSql::kLong) as
// params[at...], then NULLs to the length of the list they take.
template <typename Ids>
void bind_id_list(Ids begin, Ids end, std::size_t at, std::vector<Value>* params) {
  const auto count = static_cast<std::size_t>(std::distance(begin, end));
  params->resize(at + IdListSql::length(count));
  std::size_t i = at;
  for (Ids id = begin; id != end; ++id) (*params)[i++] = Value(*id);
  for (; i < params->size(); ++i) (*params)[i] = Value();
}

// The deleted row whose tombstone `rows` holds from column `at` on: its
// scope, created seq, seq, HLC and device.
template <typename Rows>
StoredRow deleted_row(const Rows& rows, int at) {
  return {.scope = rows.text(at),
          .created_seq = rows.integer(at + 1),
          .tombstone =
              core::ServerVersion{.stamp = {core::Hlc(rows.integer(at + 3)), rows.text(at + 4)},
                                  .seq = rows.integer(at + 2)}};
}

// Reads the current row of `rows` (a statement reading the table's columns,
// then its created seq, HLC, device and versions) into *row.
template <typename Rows>
Status read_loaded_row(const Rows& rows, const RowTable& table, LoadedRow* row) {
  const int n = static_cast<int>(table.columns.size());
  row->table = table.name;
  row->values.resize(table.columns.size());
  for (int i = 0; i < n; ++i) row->values[static_cast<std::size_t>(i)] = rows.value(i);
  const Value& id = row->values[table.id_position];
  row->row_id = id.type() == ValueType::kText ? id.as_text() : std::string();
  const Value& scope = row->values[table.scope_position];
  row->scope = scope.type() == ValueType::kText ? scope.as_text() : std::string();
  row->row_version = {.stamp = {core::Hlc(rows.integer(n + 1)), rows.text(n + 2)},
                      .seq = rows.integer(n)};
  const Value versions = rows.value(n + 3);
  if (versions.type() != ValueType::kBlob) {
    return Status(ErrorCode::kCorrupt, "store: row '" + row->row_id + "' of table '" + table.name +
                                           "' has no cell versions");
  }
  const Blob& bytes = versions.as_blob();
  LUMBUNG_ASSIGN_OR_RETURN(row->versions,
                           CellVersions::decode(std::string_view(
                               reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  return Status::ok();
}

// Reads row `row_id` of `table` into *row; false when it has no live row.
template <typename Sql>
Result<bool> load_row(Sql& sql, const RowTable& table, std::string_view row_id, LoadedRow* row) {
  LUMBUNG_ASSIGN_OR_RETURN(typename Sql::Rows rows, sql.query(table.select_row, {Value(row_id)}));
  LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
  if (!found) return false;
  LUMBUNG_RETURN_IF_ERROR(read_loaded_row(rows, table, row));
  return true;
}

// The rows of `sql` (parameters: the scope, the seq to read after, and
// `more` when given; a LIMIT of kChunk) page by page, read on after the last
// seq read or skipped to: a scan that stops early never reads the rest of a
// scope's log.
template <typename Sql>
class ChunkedLog {
 public:
  ChunkedLog(Sql sql, const std::string& text, std::string scope, std::int64_t after_seq,
             std::optional<Value> more = std::nullopt)
      : sql_(sql),
        text_(text),
        scope_(std::move(scope)),
        after_(after_seq),
        more_(std::move(more)) {}

  // Moves to the next row with a seq (column 0) past the last; false at the end.
  Result<bool> next() {
    for (;;) {
      if (rows_) {
        LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows_->step());
        if (found) {
          ++read_;
          const std::int64_t seq = rows_->integer(0);
          if (seq <= after_) continue;
          after_ = seq;
          return true;
        }
        if (read_ < kChunk) return false;
      }
      rows_.reset();
      Result<typename Sql::Rows> rows =
          more_ ? sql_.query_own(text_, {Value(scope_), Value(after_), *more_})
                : sql_.query_own(text_, {Value(scope_), Value(after_)});
      if (!rows.is_ok()) return rows.status();
      rows_.emplace(std::move(*rows));
      read_ = 0;
    }
  }
  // Reads on after `seq` (when it is past the last row read).
  void skip_through(std::int64_t seq) { after_ = std::max(after_, seq); }
  const typename Sql::Rows& rows() const { return *rows_; }

 private:
  Sql sql_;
  const std::string& text_;
  const std::string scope_;
  std::int64_t after_;
  const std::optional<Value> more_;
  int read_ = 0;  // rows of the current page
  std::optional<typename Sql::Rows> rows_;
};

// Tombstones or conflict records of one scope: one row per item.
template <typename Sql>
class RecordSource final : public ChangeSource {
 public:
  RecordSource(ChunkedLog<Sql> log, ChangeItem::Kind kind) : log_(std::move(log)) {
    item_.kind = kind;
  }

  Status advance() override {
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, log_.next());
    done_ = !found;
    if (done_) return Status::ok();
    const typename Sql::Rows& rows = log_.rows();
    item_.seq = rows.integer(0);
    item_.scope = rows.text(1);
    item_.table = rows.text(2);
    item_.row_id = rows.text(3);
    if (item_.kind == ChangeItem::Kind::kConflict) {
      LUMBUNG_ASSIGN_OR_RETURN(item_.conflict, conflict_at<Sql>(rows, 1));
    }
    if (item_.kind == ChangeItem::Kind::kTombstone) {
      item_.stamp = {core::Hlc(rows.integer(4)), rows.text(5)};
    }
    return Status::ok();
  }

 private:
  ChunkedLog<Sql> log_;
};

// The changes of live rows of one scope in seq order, read from the change
// log (_lumbung_changes: an insert's entry, column '', and one entry per cell
// written since, each with the device whose write it is, or '' when that is
// not known), each row read once for a run of its entries. A row newer
// than after_seq becomes one kRow item that carries its cells, given once;
// the log is then read on after the run of seqs its cells hold from that
// item's on, so that a row costs one step of the log.
template <typename Sql>
class RowChangeSource final : public ChangeSource {
 public:
  RowChangeSource(Sql sql, const RowTables& tables, ChunkedLog<Sql> log, const std::string& scope,
                  std::int64_t after_seq)
      : sql_(sql), tables_(tables), log_(std::move(log)), after_seq_(after_seq) {
    item_.scope = scope;
  }

  Status advance() override {
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool found, log_.next());
      done_ = !found;
      if (done_) return Status::ok();
      const typename Sql::Rows& entry = log_.rows();
      const auto table = entry.text_view(1);
      const auto row_id = entry.text_view(2);
      if (table != row_.table || row_id != row_.row_id) {
        LUMBUNG_RETURN_IF_ERROR(load(table, row_id));
      }
      item_.seq = entry.integer(0);
      item_.table = row_.table;
      item_.row_id = row_.row_id;
      item_.row_created_seq = row_.created_seq();
      if (row_.created_seq() > after_seq_) {
        if (!rows_given_.emplace(row_.table, row_.row_id).second) continue;
        item_.kind = ChangeItem::Kind::kRow;
        item_.column.clear();
        item_.value = Value();
        item_.cells = row_.cells(*table_);
        log_.skip_through(end_of_row_run(item_));
        return Status::ok();
      }
      item_.kind = ChangeItem::Kind::kCell;
      item_.cells.clear();
      item_.column = entry.text(3);
      const std::optional<std::size_t> position = table_->position(item_.column);
      if (!position) {
        return Status(ErrorCode::kCorrupt, "store: the change log names column '" + item_.column +
                                               "', which table '" + table_->name + "' lacks");
      }
      item_.value = row_.values[*position];
      item_.stamp = row_.versions.of(item_.column, row_.row_version).stamp;
      return Status::ok();
    }
  }

 private:
  // Loads the row of the current log entry.
  Status load(std::string_view table, std::string_view row_id) {
    table_ = tables_.find(table);
    if (table_ == nullptr) {
      return Status(ErrorCode::kCorrupt, "store: the change log names table '" +
                                             std::string(table) + "', which it lacks");
    }
    if constexpr (Sql::kReadsRowsInBatches) {
      const std::pair<std::string, std::string> key(table, row_id);
      auto found = read_ahead_.find(key);
      if (found == read_ahead_.end()) {
        LUMBUNG_RETURN_IF_ERROR(read_ahead());
        found = read_ahead_.find(key);
      }
      if (found != read_ahead_.end()) {
        row_ = found->second;
        return Status::ok();
      }
    }
    LUMBUNG_ASSIGN_OR_RETURN(const bool live, load_row(sql_, *table_, row_id, &row_));
    if (!live) return no_live_row("scan_changes", table, row_id);
    return Status::ok();
  }

  // Reads the rows the log's chunk names from the current entry on, a
  // statement per table and kRowsPerRead rows instead of one per row: over a
  // network, a round trip each. (The chunk is in memory: see kReadsRowsInBatches.)
  Status read_ahead() {
    read_ahead_.clear();
    const typename Sql::Rows& log = log_.rows();
    std::map<std::string, std::set<std::string>, std::less<>> ids_by_table;
    for (int i = log.position(); i < log.row_count(); ++i) {
      ids_by_table[log.text_at(i, 1)].insert(log.text_at(i, 2));
    }
    std::vector<Value> ids;
    for (const auto& [name, table_ids] : ids_by_table) {
      const RowTable* table = tables_.find(name);
      if (table == nullptr) continue;  // reported when its entry is reached
      auto first = table_ids.begin();
      while (first != table_ids.end()) {
        auto end = first;
        std::size_t count = 0;
        for (; end != table_ids.end() && count < IdListSql::kLong; ++end) ++count;
        bind_id_list(first, end, 0, &ids);
        first = end;
        LUMBUNG_ASSIGN_OR_RETURN(typename Sql::Rows rows,
                                 sql_.query_planned(table->select_rows.text(count), ids));
        for (;;) {
          LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
          if (!found) break;
          LoadedRow row;
          LUMBUNG_RETURN_IF_ERROR(read_loaded_row(rows, *table, &row));
          std::pair<std::string, std::string> key(table->name, row.row_id);
          read_ahead_.emplace(std::move(key), std::move(row));
        }
      }
    }
    return Status::ok();
  }

  Sql sql_;
  const RowTables& tables_;
  ChunkedLog<Sql> log_;
  const std::int64_t after_seq_;
  const RowTable* table_ = nullptr;  // of row_
  LoadedRow row_;
  std::set<std::pair<std::string, std::string>> rows_given_;  // table, row id: as kRow
  // By table and row id, when the database reads rows in batches.
  std::map<std::pair<std::string, std::string>, LoadedRow> read_ahead_;
};

template <typename Sql>
class ReadTransactionOver : public virtual ReadTransaction {
 public:
  using Rows = typename Sql::Rows;

  ReadTransactionOver(Sql sql, const RowTables& tables) : sql_(sql), tables_(tables) {}

  Result<std::int64_t> last_seq() override { return meta_int64(*this, kLastSeqKey); }

  Result<std::string> meta(std::string_view key) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Rows rows, sql_.query("SELECT value FROM _lumbung_meta WHERE key = ?1", {Value(key)}));
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
    return found ? rows.text(0) : std::string();
  }

  Result<std::optional<StoredRow>> row(std::string_view table, std::string_view row_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(const RowTable* rows, row_table(table));
    LUMBUNG_ASSIGN_OR_RETURN(Rows live, sql_.query(rows->select_head, {Value(row_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, live.step());
    if (found) {
      return std::optional<StoredRow>(
          StoredRow{.scope = live.text(0), .created_seq = live.integer(1), .tombstone = {}});
    }
    LUMBUNG_ASSIGN_OR_RETURN(
        Rows tombstone,
        sql_.query("SELECT scope, created_seq, seq, hlc, device FROM _lumbung_tombstones "
                   "WHERE tbl = ?1 AND row_id = ?2",
                   {Value(table), Value(row_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(const bool deleted, tombstone.step());
    if (!deleted) return std::optional<StoredRow>();
    return std::optional<StoredRow>(deleted_row(tombstone, 0));
  }

  Result<std::map<std::string, StoredRow, std::less<>>> rows(
      std::string_view table, const std::vector<std::string>& row_ids) override {
    static const IdListSql kSelectTombstones = IdListSql::build(
        "SELECT row_id, scope, created_seq, seq, hlc, device FROM _lumbung_tombstones "
        "WHERE tbl = ?1 AND row_id IN ",
        2);
    LUMBUNG_ASSIGN_OR_RETURN(const RowTable* rows, row_table(table));
    std::map<std::string, StoredRow, std::less<>> found;
    std::vector<Value> ids;
    std::vector<std::string> missing;
    std::vector<Value> deleted_ids{Value(table)};
    for (std::size_t first = 0; first < row_ids.size(); first += kRowsPerRead) {
      const std::size_t count = std::min(kRowsPerRead, row_ids.size() - first);
      const auto group = row_ids.begin() + static_cast<std::ptrdiff_t>(first);
      bind_id_list(group, group + static_cast<std::ptrdiff_t>(count), 0, &ids);
      LUMBUNG_ASSIGN_OR_RETURN(Rows live, sql_.query_planned(rows->select_heads.text(count), ids));
      for (;;) {
        LUMBUNG_ASSIGN_OR_RETURN(const bool more, live.step());
        if (!more) break;
        found[live.text(0)] = {
            .scope = live.text(1), .created_seq = live.integer(2), .tombstone = {}};
      }
      // The others may have been deleted.
      missing.clear();
      for (std::size_t i = 0; i < count; ++i) {
        if (!found.contains(row_ids[first + i])) missing.push_back(row_ids[first + i]);
      }
      if (missing.empty()) continue;
      bind_id_list(missing.begin(), missing.end(), 1, &deleted_ids);
      LUMBUNG_ASSIGN_OR_RETURN(
          Rows tombstones, sql_.query_planned(kSelectTombstones.text(missing.size()), deleted_ids));
      for (;;) {
        LUMBUNG_ASSIGN_OR_RETURN(const bool more, tombstones.step());
        if (!more) break;
        found[tombstones.text(0)] = deleted_row(tombstones, 1);
      }
    }
    return found;
  }

  Result<std::vector<StoredCell>> cells(std::string_view table, std::string_view row_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(const RowTable* rows, row_table(table));
    LoadedRow live;
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, load_row(sql_, *rows, row_id, &live));
    if (!found) return std::vector<StoredCell>();
    return live.cells(*rows);
  }

  Result<std::vector<ScopeState>> scopes() override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Rows rows,
        sql_.query("SELECT scope, checksum, live_rows FROM _lumbung_scopes ORDER BY scope"));
    std::vector<ScopeState> scopes;
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
      if (!found) return scopes;
      scopes.push_back(
          {rows.text(0), static_cast<std::uint64_t>(rows.integer(1)), rows.integer(2)});
    }
  }

  Result<std::vector<ScopeState>> scopes_among(const std::vector<std::string>& names) override {
    std::vector<ScopeState> scopes;
    for (const std::string& name : names) {
      LUMBUNG_ASSIGN_OR_RETURN(
          Rows rows, sql_.query("SELECT checksum, live_rows FROM _lumbung_scopes WHERE scope = ?1",
                                {Value(name)}));
      LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
      if (found) {
        scopes.push_back({name, static_cast<std::uint64_t>(rows.integer(0)), rows.integer(1)});
      }
    }
    return scopes;
  }

  Status scan_changes(const ScopeCursors& cursors, const OwnWrites& own,
                      const std::function<bool(const ChangeItem&)>& visit) override {
    // Each scope's rows, tombstones and conflicts are read in seq order from
    // their own index; merging them by seq is the change log of the scopes.
    const auto log_sql = [](const char* also) {
      return std::string(
                 "SELECT seq, tbl, row_id, col FROM _lumbung_changes WHERE scope = ?1 "
                 "AND seq > ?2 ") +
             also + "ORDER BY seq LIMIT " + std::to_string(kChunk);
    };
    static const std::string kLog = log_sql("");
    // A device pulling after its pushes reads past its own writes unread.
    static const std::string kLogOfOthers = log_sql("AND device <> ?3 ");
    static const std::string kTombstones =
        "SELECT seq, scope, tbl, row_id, hlc, device FROM _lumbung_tombstones "
        "WHERE scope = ?1 AND seq > ?2 ORDER BY seq LIMIT " +
        std::to_string(kChunk);
    static const std::string kConflicts =
        std::string("SELECT seq, ") + kConflictColumns +
        " FROM _lumbung_conflicts WHERE scope = ?1 AND seq > ?2 ORDER BY seq LIMIT " +
        std::to_string(kChunk);
    std::vector<std::unique_ptr<ChangeSource>> sources;
    for (const auto& [scope, after_seq] : cursors) {
      const bool others = !own.device_id.empty() && own.scopes.contains(scope);
      sources.push_back(std::make_unique<RowChangeSource<Sql>>(
          sql_, tables_,
          others ? ChunkedLog<Sql>(sql_, kLogOfOthers, scope, after_seq, Value(own.device_id))
                 : ChunkedLog<Sql>(sql_, kLog, scope, after_seq),
          scope, after_seq));
      sources.push_back(std::make_unique<RecordSource<Sql>>(
          ChunkedLog<Sql>(sql_, kTombstones, scope, after_seq), ChangeItem::Kind::kTombstone));
      sources.push_back(std::make_unique<RecordSource<Sql>>(
          ChunkedLog<Sql>(sql_, kConflicts, scope, after_seq), ChangeItem::Kind::kConflict));
    }
    return merge_change_sources(sources, visit);
  }

  Status scan_rows(const std::optional<std::string>& table, const std::optional<std::string>& scope,
                   const RowVisitor& visit) override {
    if (table) {
      LUMBUNG_ASSIGN_OR_RETURN(const RowTable* rows, row_table(*table));
      return scan_table(*rows, scope, visit);
    }
    for (const RowTable& rows : tables_.tables()) {
      LUMBUNG_RETURN_IF_ERROR(scan_table(rows, scope, visit));
    }
    return Status::ok();
  }

  Result<std::optional<DeviceBatch>> device_batch(std::string_view device_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(Rows rows, sql_.query("SELECT last_batch, request_digest FROM "
                                                   "_lumbung_devices WHERE device_id = ?1",
                                                   {Value(device_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
    if (!found) return std::optional<DeviceBatch>();
    return std::optional<DeviceBatch>(DeviceBatch{static_cast<std::uint64_t>(rows.integer(0)),
                                                  static_cast<std::uint64_t>(rows.integer(1))});
  }

  Result<std::string> device_answer(std::string_view device_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Rows rows, sql_.query("SELECT response FROM _lumbung_device_answers WHERE device_id = ?1",
                              {Value(device_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
    const Value response = found ? rows.value(0) : Value();
    if (response.type() != ValueType::kBlob) return std::string();
    return std::string(response.as_blob().begin(), response.as_blob().end());
  }

  Result<std::uint64_t> last_batch(std::string_view device_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Rows rows, sql_.query("SELECT last_batch FROM _lumbung_devices WHERE device_id = ?1",
                              {Value(device_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
    return found ? static_cast<std::uint64_t>(rows.integer(0)) : std::uint64_t{0};
  }

  Result<std::optional<Conflict>> conflict(std::uint64_t id) override {
    static const std::string kSelect =
        std::string("SELECT ") + kConflictColumns + " FROM _lumbung_conflicts WHERE id = ?1";
    LUMBUNG_ASSIGN_OR_RETURN(Rows rows,
                             sql_.query(kSelect, {Value(static_cast<std::int64_t>(id))}));
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
    if (!found) return std::optional<Conflict>();
    LUMBUNG_ASSIGN_OR_RETURN(Conflict conflict, conflict_at<Sql>(rows, 0));
    return std::optional<Conflict>(std::move(conflict));
  }

  Status scan_devices(const std::function<void(const DeviceRecord&)>& visit) override {
    static const std::string kSelect =
        "SELECT a.device_id, a.officer, a.first_seen_ms, a.last_seen_ms, a.last_push_ms, "
        "a.schema_version, a.app_version, a.all_villages, a.villages, "
        "(SELECT count(*) FROM _lumbung_device_refusals AS r WHERE r.device_id = a.device_id) "
        "FROM _lumbung_device_activity AS a WHERE ?1 OR a.device_id > ?2 "
        "ORDER BY a.device_id LIMIT " +
        std::to_string(kChunk);
    std::string after;
    for (bool first = true;; first = false) {
      LUMBUNG_ASSIGN_OR_RETURN(Rows rows,
                               sql_.query(kSelect, {Value(std::int64_t{first}), Value(after)}));
      int read = 0;
      for (;; ++read) {
        LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
        if (!found) break;
        DeviceRecord device{.device_id = rows.text(0),
                            .officer = rows.text(1),
                            .first_seen_ms = rows.integer(2),
                            .last_seen_ms = rows.integer(3),
                            .last_push_ms = rows.integer(4),
                            .schema_version = static_cast<std::uint32_t>(rows.integer(5)),
                            .app_version = rows.text(6),
                            .all_villages = rows.integer(7) != 0,
                            .villages = split_villages(rows.text(8)),
                            .refused_pending = rows.integer(9)};
        after = device.device_id;
        visit(device);
      }
      if (read < kChunk) return Status::ok();
    }
  }

  Status scan_audit(const AuditQuery& filter,
                    const std::function<void(const AuditEntry&)>& visit) override {
    static const std::string kSelect =
        "SELECT seq, time_ms, officer, device_id, tbl, row_id, col, old_value, new_value, "
        "outcome, detail, conflict_id, scope, id FROM _lumbung_audit_log "
        "WHERE (CAST(?1 AS TEXT) IS NULL OR scope = CAST(?1 AS TEXT)) "
        "AND (CAST(?2 AS TEXT) IS NULL OR tbl = CAST(?2 AS TEXT)) "
        "AND (CAST(?3 AS TEXT) IS NULL OR row_id = CAST(?3 AS TEXT)) "
        "AND (CAST(?4 AS BIGINT) IS NULL OR time_ms < CAST(?4 AS BIGINT)) AND id > ?5 "
        "ORDER BY id LIMIT " +
        std::to_string(kChunk);
    const auto param = [](const std::optional<std::string>& value) {
      return value ? Value(*value) : Value();
    };
    std::int64_t after = 0;
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(
          Rows rows,
          sql_.query(kSelect,
                     {param(filter.scope), param(filter.table), param(filter.row_id),
                      filter.before_ms ? Value(*filter.before_ms) : Value(), Value(after)}));
      int read = 0;
      for (;; ++read) {
        LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
        if (!found) break;
        AuditEntry entry{.seq = rows.is_null(0) ? 0 : rows.integer(0),
                         .time_ms = rows.integer(1),
                         .officer = rows.text(2),
                         .device_id = rows.text(3),
                         .table = rows.text(4),
                         .row_id = rows.text(5),
                         .column = rows.text(6),
                         .old_value = {},
                         .new_value = {},
                         .outcome = rows.text(9),
                         .detail = rows.text(10),
                         .conflict_id = static_cast<std::uint64_t>(rows.integer(11)),
                         .scope = rows.text(12),
                         .id = rows.integer(13)};
        LUMBUNG_ASSIGN_OR_RETURN(entry.old_value,
                                 Sql::from_any_value(rows.value(7), "an audit entry's old value"));
        LUMBUNG_ASSIGN_OR_RETURN(entry.new_value,
                                 Sql::from_any_value(rows.value(8), "an audit entry's new value"));
        after = entry.id;
        visit(entry);
      }
      if (read < kChunk) return Status::ok();
    }
  }

 protected:
  // The row table `name`; kInternal when the store has none (a schema not
  // adopted, or a caller's mistake).
  Result<const RowTable*> row_table(std::string_view name) const {
    const RowTable* table = tables_.find(name);
    if (table != nullptr) return table;
    return Status(ErrorCode::kInternal, "store: no table '" + std::string(name) +
                                            "' (the store has not adopted a schema with it)");
  }

  Sql sql_;
  const RowTables& tables_;

 private:
  // Pages of kChunk rows in order of id (RowTable::scan: ?1 the last id
  // read; scan_scope: and ?2 the scope).
  Status scan_table(const RowTable& table, const std::optional<std::string>& scope,
                    const RowVisitor& visit) {
    std::vector<Value> values(table.columns.size());
    std::string after;
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(Rows rows,
                               scope ? sql_.query(table.scan_scope, {Value(after), Value(*scope)})
                                     : sql_.query(table.scan, {Value(after)}));
      int read = 0;
      for (;; ++read) {
        LUMBUNG_ASSIGN_OR_RETURN(const bool found, rows.step());
        if (!found) break;
        for (std::size_t i = 0; i < values.size(); ++i) {
          values[i] = rows.value(static_cast<int>(i));
        }
        const Value& row_scope = values[table.scope_position];
        const Value& id = values[table.id_position];
        after = id.type() == ValueType::kText ? id.as_text() : "";
        visit(LiveRow{.table = table.name,
                      .scope = row_scope.type() == ValueType::kText
                                   ? std::string_view(row_scope.as_text())
                                   : std::string_view(),
                      .row_id = after,
                      .columns = table.columns,
                      .values = values});
      }
      if (read < kChunk) return Status::ok();
    }
  }
};

template <typename Sql>
class WriteTransactionOver final : public WriteTransaction, public ReadTransactionOver<Sql> {
  using Base = ReadTransactionOver<Sql>;
  using Rows = typename Sql::Rows;
  using Base::row_table;
  using Base::sql_;
  using Base::tables_;

 public:
  // REQUIRES: the caller's transaction holds the seq (the write lock, or the
  // seq lock), and `last_seq` is the stored one.
  WriteTransactionOver(Sql sql, const RowTables& tables, std::int64_t last_seq)
      : Base(sql, tables), stored_last_seq_(last_seq), last_seq_(last_seq) {}

  Result<std::int64_t> last_seq() override { return last_seq_; }
  std::int64_t next_seq() override { return ++last_seq_; }

  Status set_meta(std::string_view key, std::string_view value) override {
    static const std::string kUpsert =
        Sql::upsert("INSERT INTO _lumbung_meta (key, value) VALUES (?1, ?2)", "key");
    return sql_.run(kUpsert, {Value(key), Value(value)});
  }

  Status insert_row(std::string_view table, std::string_view row_id, std::string_view scope,
                    std::int64_t created_seq, const std::vector<StoredCell>& cells) override {
    LUMBUNG_ASSIGN_OR_RETURN(const RowTable* rows, row_table(table));
    // The row's version is the id cell's: an insert's (or, for a row of an
    // older store, its first cell's, written at the created seq).
    core::ServerVersion row_version{.stamp = {}, .seq = created_seq};
    for (const StoredCell& cell : cells) {
      if (cell.column == "id") row_version.stamp = cell.cell.version.stamp;
    }
    // The columns' values, bound without a copy where the database allows
    // (a column not given holds NULL), then the row's version.
    static const Value kNull;
    std::vector<const Value*> values;
    values.reserve(rows->columns.size() + 4);
    values.resize(rows->columns.size(), &kNull);
    CellVersions versions;
    std::size_t next = 0;  // cells usually come in the table's order
    for (const StoredCell& cell : cells) {
      const std::optional<std::size_t> position =
          next < rows->columns.size() && rows->columns[next] == cell.column
              ? std::optional<std::size_t>(next)
              : rows->position(cell.column);
      if (!position) {
        return Status(ErrorCode::kInternal,
                      "insert_row: table '" + rows->name + "' has no column '" + cell.column + "'");
      }
      values[*position] = &cell.cell.value;
      next = *position + 1;
      versions.set(cell.column, cell.cell.version, row_version);
    }
    const core::RowCellHasher hasher(table, row_id);
    std::uint64_t added = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
      added += hasher.cell(rows->columns[i], *values[i]);
    }
    const Value seq(created_seq);
    const Value hlc(row_version.stamp.hlc.packed());
    const Value device(row_version.stamp.device_id);
    const Value versions_value = versions_blob(versions);
    values.push_back(&seq);
    values.push_back(&hlc);
    values.push_back(&device);
    values.push_back(&versions_value);
    LUMBUNG_RETURN_IF_ERROR(sql_.run_borrowed(rows->insert_row, values));
    // The insert's entry stands for the cells written at its seq: whose
    // write it is, unless they are of several devices.
    std::string_view insert_device = row_version.stamp.device_id;
    for (const CellVersion& cell : versions.cells()) {
      if (cell.version.seq == created_seq) insert_device = {};
    }
    LUMBUNG_RETURN_IF_ERROR(add_change(scope, created_seq, table, row_id, "", insert_device));
    for (const CellVersion& cell : versions.cells()) {
      if (cell.version.seq != created_seq) {
        LUMBUNG_RETURN_IF_ERROR(add_change(scope, cell.version.seq, table, row_id, cell.column,
                                           cell.version.stamp.device_id));
      }
    }
    adjust_scope(scope, added, 0, +1);
    return Status::ok();
  }

  Status write_cell(std::string_view table, std::string_view row_id, std::string_view column,
                    const core::ServerCell& cell) override {
    LUMBUNG_ASSIGN_OR_RETURN(const RowTable* rows, row_table(table));
    LoadedRow row;
    LUMBUNG_ASSIGN_OR_RETURN(const bool live, load_row(sql_, *rows, row_id, &row));
    if (!live) return no_live_row("write_cell", table, row_id);
    const std::optional<std::size_t> position = rows->position(column);
    if (!position) {
      return Status(ErrorCode::kInternal, "write_cell: table '" + rows->name + "' has no column '" +
                                              std::string(column) + "'");
    }
    const std::int64_t old_seq = row.versions.of(column, row.row_version).seq;
    row.versions.set(column, cell.version, row.row_version);
    LUMBUNG_RETURN_IF_ERROR(sql_.run(rows->update_cell[*position],
                                     {Value(row_id), cell.value, versions_blob(row.versions)}));
    // The insert's entry stays for the row's other cells; a cell's own
    // entry names only that cell.
    if (old_seq != row.created_seq()) LUMBUNG_RETURN_IF_ERROR(remove_change(row.scope, old_seq));
    if (cell.version.seq != row.created_seq()) {
      LUMBUNG_RETURN_IF_ERROR(add_change(row.scope, cell.version.seq, table, row_id, column,
                                         cell.version.stamp.device_id));
    }
    adjust_scope(row.scope, core::cell_hash(table, row_id, column, cell.value),
                 core::cell_hash(table, row_id, column, row.values[*position]), 0);
    return Status::ok();
  }

  Status delete_row(std::string_view table, std::string_view row_id,
                    const core::ServerVersion& tombstone) override {
    LUMBUNG_ASSIGN_OR_RETURN(const RowTable* rows, row_table(table));
    LoadedRow row;
    LUMBUNG_ASSIGN_OR_RETURN(const bool live, load_row(sql_, *rows, row_id, &row));
    if (!live) return no_live_row("delete_row", table, row_id);
    const core::RowCellHasher hasher(table, row_id);
    std::uint64_t removed = 0;
    for (std::size_t i = 0; i < row.values.size(); ++i) {
      removed += hasher.cell(rows->columns[i], row.values[i]);
    }
    LUMBUNG_RETURN_IF_ERROR(remove_change(row.scope, row.created_seq()));
    for (const CellVersion& cell : row.versions.cells()) {
      if (cell.version.seq != row.created_seq()) {
        LUMBUNG_RETURN_IF_ERROR(remove_change(row.scope, cell.version.seq));
      }
    }
    LUMBUNG_RETURN_IF_ERROR(sql_.run(rows->delete_row, {Value(row_id)}));
    LUMBUNG_RETURN_IF_ERROR(
        sql_.run("INSERT INTO _lumbung_tombstones (tbl, row_id, scope, created_seq, seq, hlc, "
                 "device) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                 {Value(table), Value(row_id), Value(row.scope), Value(row.created_seq()),
                  Value(tombstone.seq), Value(tombstone.stamp.hlc.packed()),
                  Value(tombstone.stamp.device_id)}));
    adjust_scope(row.scope, 0, removed, -1);
    return Status::ok();
  }

  Result<std::uint64_t> add_conflict(const Conflict& c, std::int64_t seq) override {
    LUMBUNG_ASSIGN_OR_RETURN(const std::uint64_t id, unused_conflict_id());
    LUMBUNG_RETURN_IF_ERROR(sql_.run(
        "INSERT INTO _lumbung_conflicts (id, seq, scope, tbl, row_id, col, policy, server_value, "
        "server_device, server_hlc, device_value, device_id, device_hlc, outcome) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        {Value(static_cast<std::int64_t>(id)), Value(seq), Value(c.scope), Value(c.table),
         Value(c.row_id), Value(c.column), Value(core::conflict_policy_name(c.policy)),
         Sql::any_value(c.server_value), Value(c.server_device), Value(c.server_hlc),
         Sql::any_value(c.device_value), Value(c.device_id), Value(c.device_hlc),
         Value(core::conflict_outcome_name(c.outcome))}));
    return id;
  }

  Status update_conflict(const Conflict& c, std::int64_t seq) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        const std::int64_t updated,
        sql_.run_counted(
            "UPDATE _lumbung_conflicts SET seq = ?2, outcome = ?3, resolved_value = ?4, "
            "resolved_by = ?5, resolved_device = ?6, resolved_ms = ?7 WHERE id = ?1",
            {Value(static_cast<std::int64_t>(c.id)), Value(seq),
             Value(core::conflict_outcome_name(c.outcome)), Sql::any_value(c.resolved_value),
             Value(c.resolved_by), Value(c.resolved_device), Value(c.resolved_ms)}));
    if (updated == 1) return Status::ok();
    return Status(ErrorCode::kInternal,
                  "update_conflict: no conflict " + std::to_string(c.id) + " to update");
  }

  void set_officer(std::string_view officer) override { officer_ = officer; }

  Status append_audit(const AuditEntry& e) override {
    std::string scope = e.scope;
    if (scope.empty() && tables_.find(e.table) != nullptr) {
      LUMBUNG_ASSIGN_OR_RETURN(std::optional<StoredRow> row, this->row(e.table, e.row_id));
      if (row) scope = std::move(row->scope);
    }
    return audit_.add(
        sql_,
        {e.seq == 0 ? Value() : Value(e.seq), Value(e.time_ms), Value(officer_), Value(e.device_id),
         Value(e.table), Value(e.row_id), Value(e.column), Sql::any_value(e.old_value),
         Sql::any_value(e.new_value), Value(e.outcome), Value(e.detail),
         Value(static_cast<std::int64_t>(e.conflict_id)), Value(std::move(scope))});
  }

  Status scan_audit(const AuditQuery& filter,
                    const std::function<void(const AuditEntry&)>& visit) override {
    LUMBUNG_RETURN_IF_ERROR(audit_.flush(sql_));
    return Base::scan_audit(filter, visit);
  }

  Result<std::int64_t> remove_archived_audit(std::int64_t before_ms, std::int64_t first_id,
                                             std::int64_t last_id) override {
    LUMBUNG_RETURN_IF_ERROR(audit_.flush(sql_));
    // The guard row lives only inside this transaction (the audit log's
    // append-only trigger lets through the deletes it names).
    LUMBUNG_RETURN_IF_ERROR(
        sql_.run("INSERT INTO _lumbung_audit_archiving (before_ms, first_id, last_id) "
                 "VALUES (?1, ?2, ?3)",
                 {Value(before_ms), Value(first_id), Value(last_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(
        const std::int64_t removed,
        sql_.run_counted(
            "DELETE FROM _lumbung_audit_log WHERE id BETWEEN ?2 AND ?3 AND time_ms < ?1",
            {Value(before_ms), Value(first_id), Value(last_id)}));
    LUMBUNG_RETURN_IF_ERROR(sql_.run("DELETE FROM _lumbung_audit_archiving"));
    return removed;
  }

  Status set_device_batch(std::string_view device_id, const DeviceBatch& batch,
                          std::string_view response) override {
    static const std::string kBatch = Sql::upsert(
        "INSERT INTO _lumbung_devices (device_id, last_batch, request_digest) "
        "VALUES (?1, ?2, ?3)",
        "device_id");
    static const std::string kAnswer = Sql::upsert(
        "INSERT INTO _lumbung_device_answers (device_id, response) VALUES (?1, ?2)", "device_id");
    LUMBUNG_RETURN_IF_ERROR(sql_.run(
        kBatch, {Value(device_id), int64_bits(batch.batch), int64_bits(batch.request_digest)}));
    return sql_.run(kAnswer, {Value(device_id), Value(Blob(response.begin(), response.end()))});
  }

  Status record_push(const DeviceSighting& sighting, const std::vector<RowKey>& refused,
                     const std::vector<RowKey>& accepted) override {
    static const std::string kRefused = Sql::upsert(
        "INSERT INTO _lumbung_device_refusals (device_id, tbl, row_id, refused_ms) "
        "VALUES (?1, ?2, ?3, ?4)",
        "device_id, tbl, row_id");
    LUMBUNG_RETURN_IF_ERROR(write_sighting(sql_, sighting, sighting.time_ms, true));
    const Value device(sighting.device_id);
    // Most devices have no refusal pending: one read, and no write a change.
    if (!accepted.empty()) {
      LUMBUNG_ASSIGN_OR_RETURN(
          Rows pending,
          sql_.query("SELECT 1 FROM _lumbung_device_refusals WHERE device_id = ?1 LIMIT 1",
                     {device}));
      LUMBUNG_ASSIGN_OR_RETURN(const bool any, pending.step());
      for (std::size_t i = 0; any && i < accepted.size(); ++i) {
        LUMBUNG_RETURN_IF_ERROR(
            sql_.run("DELETE FROM _lumbung_device_refusals WHERE device_id = ?1 AND tbl = ?2 AND "
                     "row_id = ?3",
                     {device, Value(accepted[i].first), Value(accepted[i].second)}));
      }
    }
    if (refused.empty()) return Status::ok();
    // What a device may make the server keep is bounded: a device that
    // pushes refused changes of ever new rows stops adding at the bound.
    std::int64_t kept = 0;
    {
      LUMBUNG_ASSIGN_OR_RETURN(
          Rows counted,
          sql_.query("SELECT count(*) FROM _lumbung_device_refusals WHERE device_id = ?1",
                     {device}));
      LUMBUNG_ASSIGN_OR_RETURN(const bool found, counted.step());
      if (found) kept = counted.integer(0);
    }
    for (const auto& [table, row_id] : refused) {
      if (kept >= kMaxRefusalsKeptPerDevice) break;
      LUMBUNG_RETURN_IF_ERROR(
          sql_.run(kRefused, {device, Value(table), Value(row_id), Value(sighting.time_ms)}));
      ++kept;  // a row kept already counts again: the bound errs on the small side
    }
    return Status::ok();
  }

  // Counts every scope's checksum and live rows again from the row tables:
  // after rows moved in, or columns were added to tables that had rows.
  Status recount_scopes() {
    LUMBUNG_RETURN_IF_ERROR(sql_.run("UPDATE _lumbung_scopes SET checksum = 0, live_rows = 0"));
    scope_deltas_.clear();
    return this->scan_rows(std::nullopt, std::nullopt, [&](const LiveRow& row) {
      const core::RowCellHasher hasher(row.table, row.row_id);
      std::uint64_t sum = 0;
      for (std::size_t i = 0; i < row.values.size(); ++i) {
        sum += hasher.cell(row.columns[i], row.values[i]);
      }
      adjust_scope(row.scope, sum, 0, +1);
    });
  }

  Status scan_changes(const ScopeCursors& cursors, const OwnWrites& own,
                      const std::function<bool(const ChangeItem&)>& visit) override {
    LUMBUNG_RETURN_IF_ERROR(changes_.flush(sql_));
    return Base::scan_changes(cursors, own, visit);
  }

  // Writes what the transaction kept in memory: the change log's and the
  // audit log's new entries, the scopes' checksums, whose sums wrap modulo
  // 2^64 (SQL integers would overflow), and the seq counter.
  Status flush() {
    LUMBUNG_RETURN_IF_ERROR(changes_.flush(sql_));
    LUMBUNG_RETURN_IF_ERROR(audit_.flush(sql_));
    static const std::string kUpsert = Sql::upsert(
        "INSERT INTO _lumbung_scopes (scope, checksum, live_rows) VALUES (?1, ?2, ?3)", "scope");
    for (const auto& [scope, delta] : scope_deltas_) {
      std::uint64_t checksum = delta.checksum;
      std::int64_t live_rows = delta.live_rows;
      {
        LUMBUNG_ASSIGN_OR_RETURN(
            Rows current,
            sql_.query("SELECT checksum, live_rows FROM _lumbung_scopes WHERE scope = ?1",
                       {Value(scope)}));
        LUMBUNG_ASSIGN_OR_RETURN(const bool found, current.step());
        if (found) {
          checksum += static_cast<std::uint64_t>(current.integer(0));
          live_rows += current.integer(1);
        }
      }
      LUMBUNG_RETURN_IF_ERROR(
          sql_.run(kUpsert, {Value(scope), int64_bits(checksum), Value(live_rows)}));
    }
    if (last_seq_ == stored_last_seq_) return Status::ok();
    return set_meta(kLastSeqKey, std::to_string(last_seq_));
  }

 private:
  struct ScopeDelta {
    std::uint64_t checksum = 0;
    std::int64_t live_rows = 0;
  };

  Status add_change(std::string_view scope, std::int64_t seq, std::string_view table,
                    std::string_view row_id, std::string_view column, std::string_view device) {
    return changes_.add(sql_, {Value(scope), Value(seq), Value(table), Value(row_id), Value(column),
                               Value(device)});
  }

  Status remove_change(std::string_view scope, std::int64_t seq) {
    LUMBUNG_RETURN_IF_ERROR(changes_.flush(sql_));
    return sql_.run("DELETE FROM _lumbung_changes WHERE scope = ?1 AND seq = ?2",
                    {Value(scope), Value(seq)});
  }

  // A random conflict id no record has yet.
  Result<std::uint64_t> unused_conflict_id() {
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const std::uint64_t id, random_conflict_id());
      LUMBUNG_ASSIGN_OR_RETURN(Rows taken,
                               sql_.query("SELECT 1 FROM _lumbung_conflicts WHERE id = ?1",
                                          {Value(static_cast<std::int64_t>(id))}));
      LUMBUNG_ASSIGN_OR_RETURN(const bool found, taken.step());
      if (!found) return id;
    }
  }

  void adjust_scope(std::string_view scope, std::uint64_t add, std::uint64_t subtract,
                    std::int64_t live_rows) {
    auto it = scope_deltas_.find(scope);
    if (it == scope_deltas_.end())
      it = scope_deltas_.emplace(std::string(scope), ScopeDelta{}).first;
    it->second.checksum += add - subtract;
    it->second.live_rows += live_rows;
  }

  const std::int64_t stored_last_seq_;
  std::int64_t last_seq_;
  std::string officer_;
  std::map<std::string, ScopeDelta, std::less<>> scope_deltas_;
  PendingInserts<Sql> changes_{
      "INSERT INTO _lumbung_changes (scope, seq, tbl, row_id, col, device)", 6};
  PendingInserts<Sql> audit_{
      "INSERT INTO _lumbung_audit_log (seq, time_ms, officer, device_id, tbl, row_id, col, "
      "old_value, new_value, outcome, detail, conflict_id, scope)",
      13};
};

}  // namespace lumbung::server::sql
