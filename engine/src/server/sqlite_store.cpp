#include "server/sqlite_store.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <system_error>
#include <utility>

#include "auth/private_file.hpp"
#include "core/checksum.hpp"
#include "db/file_format.hpp"

namespace lumbung::server {
namespace {

// Names of the synced schema are values here (tbl, col), never identifiers.
// Integers the engine treats as unsigned (checksums, batch numbers) are
// stored as the int64 with the same bits.
constexpr const char* kCreateTables = R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE synced_rows (
  tbl TEXT NOT NULL, row_id TEXT NOT NULL, scope TEXT NOT NULL, created_seq INTEGER NOT NULL,
  deleted_seq INTEGER, deleted_hlc INTEGER, deleted_device TEXT,
  PRIMARY KEY (tbl, row_id)) WITHOUT ROWID;
CREATE INDEX synced_rows_deleted_seq ON synced_rows (deleted_seq);
CREATE TABLE cells (
  tbl TEXT NOT NULL, row_id TEXT NOT NULL, col TEXT NOT NULL, value,
  hlc INTEGER NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (tbl, row_id, col)) WITHOUT ROWID;
CREATE UNIQUE INDEX cells_seq ON cells (seq);
CREATE TABLE scopes (
  scope TEXT PRIMARY KEY NOT NULL, checksum INTEGER NOT NULL, live_rows INTEGER NOT NULL)
  WITHOUT ROWID;
CREATE TABLE devices (
  device_id TEXT PRIMARY KEY NOT NULL, last_batch INTEGER NOT NULL,
  request_digest INTEGER NOT NULL, response BLOB NOT NULL)
  WITHOUT ROWID;
CREATE TABLE conflicts (
  id INTEGER PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, scope TEXT NOT NULL,
  tbl TEXT NOT NULL, row_id TEXT NOT NULL, col TEXT NOT NULL, policy TEXT NOT NULL,
  server_value, server_device TEXT NOT NULL, server_hlc INTEGER NOT NULL,
  device_value, device_id TEXT NOT NULL, device_hlc INTEGER NOT NULL, outcome TEXT NOT NULL);
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY, seq INTEGER, time_ms INTEGER NOT NULL, device_id TEXT NOT NULL,
  tbl TEXT NOT NULL, row_id TEXT NOT NULL, col TEXT NOT NULL, old_value, new_value,
  outcome TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

// The store's formats (PRAGMA user_version), each step by the format it
// reaches. 2: devices.request_digest, where a new store starts (kCreateTables);
// 3: conflict resolutions; 4: the change log per scope; 5: the answers to
// devices' last batches in a table of their own; 6: the fleet view, what the
// daemon saw of each device (docs/decisions/0025-fleet-view.md); 7: audit
// retention (docs/decisions/0028-audit-retention.md).
constexpr db::FormatStep kUpgrades[] = {
    {3, R"sql(
ALTER TABLE conflicts ADD COLUMN resolved_value;
ALTER TABLE conflicts ADD COLUMN resolved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE conflicts ADD COLUMN resolved_device TEXT NOT NULL DEFAULT '';
ALTER TABLE conflicts ADD COLUMN resolved_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_log ADD COLUMN officer TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN conflict_id INTEGER NOT NULL DEFAULT 0;
)sql"},
    // A pull reads the change log of the scopes it serves, each from an index
    // on (scope, seq): cells carry their row's scope (which never changes),
    // and the log is no longer read by seq alone. Tombstones are indexed
    // apart from live rows (the query repeats the index's condition so that
    // SQLite 3.15 uses it).
    {4, R"sql(
ALTER TABLE cells ADD COLUMN scope TEXT NOT NULL DEFAULT '';
UPDATE cells SET scope =
  (SELECT r.scope FROM synced_rows AS r WHERE r.tbl = cells.tbl AND r.row_id = cells.row_id);
DROP INDEX cells_seq;
CREATE INDEX cells_scope_seq ON cells (scope, seq);
DROP INDEX synced_rows_deleted_seq;
CREATE INDEX synced_rows_tombstones ON synced_rows (scope, deleted_seq)
  WHERE deleted_seq IS NOT NULL;
CREATE INDEX conflicts_scope_seq ON conflicts (scope, seq);
)sql"},
    // Every push reads its device's row of `devices`; the answer a retry gets
    // back (up to megabytes) was stored in that row of a WITHOUT ROWID table,
    // among the others. It moves to a rowid table read only for a retry.
    // SQLite 3.15 has no DROP COLUMN: `devices` is rebuilt.
    {5, R"sql(
CREATE TABLE device_answers (device_id TEXT PRIMARY KEY NOT NULL, response BLOB NOT NULL);
INSERT INTO device_answers (device_id, response) SELECT device_id, response FROM devices;
CREATE TABLE devices_without_answers (
  device_id TEXT PRIMARY KEY NOT NULL, last_batch INTEGER NOT NULL,
  request_digest INTEGER NOT NULL)
  WITHOUT ROWID;
INSERT INTO devices_without_answers (device_id, last_batch, request_digest)
  SELECT device_id, last_batch, request_digest FROM devices;
DROP TABLE devices;
ALTER TABLE devices_without_answers RENAME TO devices;
)sql"},
    // A device's row is written with its push's commit group, or with the
    // sightings of pulls kept in memory (SqliteStore::note_sighting); times
    // of devices known from before are unknown (0). `villages`: the ids
    // served at the last pull, one a line.
    {6, R"sql(
CREATE TABLE device_activity (
  device_id TEXT PRIMARY KEY NOT NULL, officer TEXT NOT NULL DEFAULT '',
  first_seen_ms INTEGER NOT NULL DEFAULT 0, last_seen_ms INTEGER NOT NULL DEFAULT 0,
  last_push_ms INTEGER NOT NULL DEFAULT 0, schema_version INTEGER NOT NULL DEFAULT 0,
  app_version TEXT NOT NULL DEFAULT '', all_villages INTEGER NOT NULL DEFAULT 0,
  villages TEXT NOT NULL DEFAULT '')
  WITHOUT ROWID;
INSERT INTO device_activity (device_id) SELECT device_id FROM devices;
CREATE TABLE device_refusals (
  device_id TEXT NOT NULL, tbl TEXT NOT NULL, row_id TEXT NOT NULL, refused_ms INTEGER NOT NULL,
  PRIMARY KEY (device_id, tbl, row_id))
  WITHOUT ROWID;
)sql"},
    // An applied insert is one audit entry from now on (entries of the cells
    // of earlier inserts stay as they are), and archived entries may leave
    // the log: a delete passes the trigger only for an entry that the row of
    // audit_archiving names, a row that remove_archived_audit() inserts and
    // deletes inside its own transaction, so that none is ever committed.
    {7, R"sql(
CREATE TABLE audit_archiving (
  before_ms INTEGER NOT NULL, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL);
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  WHEN NOT EXISTS (SELECT 1 FROM audit_archiving WHERE OLD.time_ms < before_ms
                   AND OLD.id BETWEEN first_id AND last_id)
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql"},
};
constexpr db::FileFormat kStoreFormat{2, kUpgrades};

// A conflict record's columns, in the order conflict_at() reads them.
constexpr const char* kConflictColumns =
    "scope, tbl, row_id, id, col, policy, server_value, server_device, server_hlc, device_value, "
    "device_id, device_hlc, outcome, resolved_value, resolved_by, resolved_device, resolved_ms";

constexpr const char* kLastSeqKey = "last_seq";

// Conflict ids are random below 2^53, so that they stay exact as JSON
// numbers, and tell nothing of how many conflicts there are.
constexpr std::uint64_t kConflictIdBits = 53;

Result<std::uint64_t> random_conflict_id() {
  for (;;) {
    std::uint64_t id = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id) != 1) {
      return Status(ErrorCode::kInternal, "the random number generator failed");
    }
    id &= (std::uint64_t{1} << kConflictIdBits) - 1;
    if (id != 0) return id;
  }
}

Value int64_bits(std::uint64_t value) { return Value(static_cast<std::int64_t>(value)); }

using db::Query;

// The cached statement for `sql` with `params` bound (db::Query::cached); a
// statement that does not prepare is named in the error.
Result<Query> cached_query(db::Database& db, const std::string& sql,
                           std::initializer_list<Value> params = {}) {
  Result<Query> query = Query::cached(db, sql, params);
  if (!query.is_ok()) return db.last_error("preparing '" + sql + "'");
  return query;
}

// As cached_query(), with a statement of its own: for a query open while
// the same text is (one per scope of a scan).
Result<Query> prepared_query(db::Database& db, const std::string& sql,
                             std::initializer_list<Value> params) {
  Result<Query> query = Query::prepared(db, sql, params);
  if (!query.is_ok()) return db.last_error("preparing '" + sql + "'");
  return query;
}

// Runs a statement that returns no rows.
Status execute(db::Database& db, const std::string& sql, std::initializer_list<Value> params) {
  LUMBUNG_ASSIGN_OR_RETURN(Query query, cached_query(db, sql, params));
  return query.run();
}

// The enumerator `parse` finds for the name in column `column` of conflict
// `id`; kCorrupt for a name it does not know.
template <typename Enum>
Result<Enum> parse_column(const Query& query, int column, std::string_view field, std::uint64_t id,
                          std::optional<Enum> (*parse)(std::string_view name)) {
  const std::string_view name = query.text_view(column);
  const std::optional<Enum> parsed = parse(name);
  if (!parsed) {
    return Status(ErrorCode::kCorrupt, "store: conflict " + std::to_string(id) +
                                           " has an unknown " + std::string(field) + " '" +
                                           std::string(name) + "'");
  }
  return *parsed;
}

// The conflict record whose kConflictColumns start at column `first` of `query`.
Result<Conflict> conflict_at(const Query& query, int first) {
  Conflict c;
  c.scope = query.text(first);
  c.table = query.text(first + 1);
  c.row_id = query.text(first + 2);
  c.id = static_cast<std::uint64_t>(query.integer(first + 3));
  c.column = query.text(first + 4);
  LUMBUNG_ASSIGN_OR_RETURN(
      c.policy, parse_column(query, first + 5, "policy", c.id, core::parse_conflict_policy));
  c.server_value = query.value(first + 6);
  c.server_device = query.text(first + 7);
  c.server_hlc = query.integer(first + 8);
  c.device_value = query.value(first + 9);
  c.device_id = query.text(first + 10);
  c.device_hlc = query.integer(first + 11);
  LUMBUNG_ASSIGN_OR_RETURN(
      c.outcome, parse_column(query, first + 12, "outcome", c.id, core::parse_conflict_outcome));
  c.resolved_value = query.value(first + 13);
  c.resolved_by = query.text(first + 14);
  c.resolved_device = query.text(first + 15);
  c.resolved_ms = query.integer(first + 16);
  return c;
}

// The villages of a sighting as device_activity.villages holds them.
std::string joined_villages(const std::vector<std::string>& villages) {
  std::string text;
  for (const std::string& village : villages) {
    if (!text.empty()) text += '\n';
    text += village;
  }
  return text;
}

// Records `sighting` in device_activity, seen first at `first_ms` at the
// earliest; `pushed`: its time is that of an applied push too.
Status write_sighting(db::Database& db, const DeviceSighting& sighting, std::int64_t first_ms,
                      bool pushed) {
  LUMBUNG_RETURN_IF_ERROR(execute(db,
                                  "INSERT OR IGNORE INTO device_activity (device_id, "
                                  "first_seen_ms) VALUES (?1, ?2)",
                                  {Value(sighting.device_id), Value(first_ms)}));
  // A row from before format 6 has no first sighting (0).
  LUMBUNG_RETURN_IF_ERROR(
      execute(db,
              "UPDATE device_activity SET officer = ?2, schema_version = ?3, app_version = ?4, "
              "first_seen_ms = CASE WHEN first_seen_ms = 0 OR first_seen_ms > ?5 THEN ?5 "
              "  ELSE first_seen_ms END, "
              "last_seen_ms = max(last_seen_ms, ?6) WHERE device_id = ?1",
              {Value(sighting.device_id), Value(sighting.officer),
               Value(static_cast<std::int64_t>(sighting.schema_version)),
               Value(sighting.app_version), Value(first_ms), Value(sighting.time_ms)}));
  if (pushed) {
    LUMBUNG_RETURN_IF_ERROR(
        execute(db,
                "UPDATE device_activity SET last_push_ms = max(last_push_ms, ?2) "
                "WHERE device_id = ?1",
                {Value(sighting.device_id), Value(sighting.time_ms)}));
  }
  if (!sighting.pulled) return Status::ok();
  return execute(db,
                 "UPDATE device_activity SET all_villages = ?2, villages = ?3 WHERE device_id = ?1",
                 {Value(sighting.device_id), Value(std::int64_t{sighting.all_villages}),
                  Value(joined_villages(sighting.villages))});
}

Status no_live_row(std::string_view what, std::string_view table, std::string_view row_id) {
  return Status(ErrorCode::kInternal, std::string(what) + ": table '" + std::string(table) +
                                          "' has no live row '" + std::string(row_id) + "'");
}

// The current cells of a row, in column order; none for a deleted or
// missing row.
Result<std::vector<StoredCell>> read_cells(db::Database& db, std::string_view table,
                                           std::string_view row_id) {
  LUMBUNG_ASSIGN_OR_RETURN(
      Query query,
      cached_query(db,
                   "SELECT col, value, hlc, device, seq FROM cells WHERE tbl = ?1 AND row_id = ?2",
                   {Value(table), Value(row_id)}));
  std::vector<StoredCell> cells;
  cells.reserve(32);  // enough for most tables' rows: one allocation
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
    if (!found) return cells;
    cells.push_back(
        StoredCell{.column = query.text(0),
                   .cell = {.value = query.value(1),
                            .version = {.stamp = {core::Hlc(query.integer(2)), query.text(3)},
                                        .seq = query.integer(4)}}});
  }
}

// One of the seq-ordered sources that scan_changes() merges.
class ChangeSource {
 public:
  virtual ~ChangeSource() = default;
  // Loads the next item; done() once there is none.
  virtual Status advance() = 0;
  bool done() const { return done_; }
  const ChangeItem& item() const { return item_; }

 protected:
  bool done_ = false;
  ChangeItem item_;
};

// Tombstones or conflict records: one row of `query` per item.
class RecordSource final : public ChangeSource {
 public:
  RecordSource(Query query, ChangeItem::Kind kind) : query_(std::move(query)) { item_.kind = kind; }

  Status advance() override {
    LUMBUNG_ASSIGN_OR_RETURN(bool row, query_.step());
    done_ = !row;
    if (done_) return Status::ok();
    item_.seq = query_.integer(0);
    item_.scope = query_.text(1);
    item_.table = query_.text(2);
    item_.row_id = query_.text(3);
    if (item_.kind == ChangeItem::Kind::kConflict) {
      LUMBUNG_ASSIGN_OR_RETURN(item_.conflict, conflict_at(query_, 1));
    }
    if (item_.kind == ChangeItem::Kind::kTombstone) {
      item_.stamp = {core::Hlc(query_.integer(4)), query_.text(5)};
    }
    return Status::ok();
  }

 private:
  Query query_;
};

// The cells of live rows of one scope in seq order, read from the index on
// (scope, seq) alone (it holds each cell's key): the row of a cell is looked
// up once for a run of its cells, and a value is read only for a cell of a
// row older than after_seq. The cells of a newer row become one kRow item
// that carries them, given once; the log is then read on from after the run
// of seqs they hold from that item's on (an insert's cells, seq after seq),
// so that a new row costs one step of the log rather than one a cell.
class CellSource final : public ChangeSource {
 public:
  CellSource(db::Database& db, Query log, const std::string& scope, std::int64_t after_seq)
      : db_(db), log_(std::move(log)), after_seq_(after_seq) {
    item_.scope = scope;
  }

  Status advance() override {
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(bool found, log_.step());
      done_ = !found;
      if (done_) return Status::ok();
      const std::string_view table = log_.text_view(1);
      const std::string_view row_id = log_.text_view(2);
      const bool same_row = table == item_.table && row_id == item_.row_id;
      if (!same_row) LUMBUNG_RETURN_IF_ERROR(load_row(table, row_id));
      item_.seq = log_.integer(0);
      if (item_.row_created_seq > after_seq_) {
        if (!rows_given_.emplace(item_.table, item_.row_id).second) continue;
        item_.kind = ChangeItem::Kind::kRow;
        item_.column.clear();
        item_.value = Value();
        LUMBUNG_ASSIGN_OR_RETURN(std::vector<StoredCell> cells,
                                 read_cells(db_, item_.table, item_.row_id));
        item_.cells = std::move(cells);
        skip_run_of_row();
        return Status::ok();
      }
      item_.kind = ChangeItem::Kind::kCell;
      item_.cells.clear();
      item_.column = log_.text(3);
      return load_value();
    }
  }

 private:
  // Moves the log past the seqs item_.seq, item_.seq + 1, ... that cells of
  // the kRow item's row hold: a seq is never given twice, so no other cell
  // is among them.
  void skip_run_of_row() {
    std::vector<std::int64_t> seqs;
    seqs.reserve(item_.cells.size());
    for (const StoredCell& cell : item_.cells) seqs.push_back(cell.cell.version.seq);
    std::sort(seqs.begin(), seqs.end());
    std::int64_t last = item_.seq;
    while (std::binary_search(seqs.begin(), seqs.end(), last + 1)) ++last;
    if (last > item_.seq) log_.restart({Value(item_.scope), Value(last)});
  }

  Status load_row(std::string_view table, std::string_view row_id) {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query row,
        cached_query(db_, "SELECT created_seq FROM synced_rows WHERE tbl = ?1 AND row_id = ?2",
                     {Value(table), Value(row_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(bool found, row.step());
    if (!found) return no_live_row("scan_changes", table, row_id);
    item_.table = table;
    item_.row_id = row_id;
    item_.row_created_seq = row.integer(0);
    return Status::ok();
  }

  Status load_value() {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query cell,
        cached_query(
            db_, "SELECT value, hlc, device FROM cells WHERE tbl = ?1 AND row_id = ?2 AND col = ?3",
            {Value(item_.table), Value(item_.row_id), Value(item_.column)}));
    LUMBUNG_ASSIGN_OR_RETURN(bool found, cell.step());
    if (!found) return no_live_row("scan_changes", item_.table, item_.row_id);
    item_.value = cell.value(0);
    item_.stamp = {core::Hlc(cell.integer(1)), cell.text(2)};
    return Status::ok();
  }

  db::Database& db_;
  Query log_;
  const std::int64_t after_seq_;
  std::set<std::pair<std::string, std::string>> rows_given_;  // table, row id: as kRow
};

class SqliteReadTransaction : public virtual ReadTransaction {
 public:
  explicit SqliteReadTransaction(db::Database& db) : db_(db) {}

  Result<std::int64_t> last_seq() override { return meta_int64(*this, kLastSeqKey); }

  Result<std::string> meta(std::string_view key) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query, cached_query(db_, "SELECT value FROM meta WHERE key = ?1", {Value(key)}));
    LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
    return found ? query.text(0) : std::string();
  }

  Result<std::optional<StoredRow>> row(std::string_view table, std::string_view row_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query, cached_query(db_,
                                  "SELECT scope, created_seq, deleted_seq, deleted_hlc, "
                                  "deleted_device FROM synced_rows WHERE tbl = ?1 AND row_id = ?2",
                                  {Value(table), Value(row_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
    if (!found) return std::optional<StoredRow>();
    StoredRow row;
    row.scope = query.text(0);
    row.created_seq = query.integer(1);
    if (!query.value(2).is_null()) {
      row.tombstone = core::ServerVersion{.stamp = {core::Hlc(query.integer(3)), query.text(4)},
                                          .seq = query.integer(2)};
    }
    return std::optional<StoredRow>(std::move(row));
  }

  Result<std::vector<StoredCell>> cells(std::string_view table, std::string_view row_id) override {
    return read_cells(db_, table, row_id);
  }

  Result<std::vector<ScopeState>> scopes() override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query,
        cached_query(db_, "SELECT scope, checksum, live_rows FROM scopes ORDER BY scope"));
    std::vector<ScopeState> scopes;
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
      if (!found) return scopes;
      scopes.push_back(
          {query.text(0), static_cast<std::uint64_t>(query.integer(1)), query.integer(2)});
    }
  }

  Result<std::vector<ScopeState>> scopes_among(const std::vector<std::string>& names) override {
    std::vector<ScopeState> scopes;
    for (const std::string& name : names) {
      LUMBUNG_ASSIGN_OR_RETURN(
          Query query, cached_query(db_, "SELECT checksum, live_rows FROM scopes WHERE scope = ?1",
                                    {Value(name)}));
      LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
      if (found) {
        scopes.push_back({name, static_cast<std::uint64_t>(query.integer(0)), query.integer(1)});
      }
    }
    return scopes;
  }

  Status scan_changes(const ScopeCursors& cursors,
                      const std::function<bool(const ChangeItem&)>& visit) override {
    // Each scope's cells, tombstones and conflicts are read in seq order from
    // their own index; merging them by seq is the change log of the scopes.
    std::vector<std::unique_ptr<ChangeSource>> sources;
    for (const auto& [scope, after_seq] : cursors) {
      LUMBUNG_RETURN_IF_ERROR(add_scope_sources(scope, after_seq, &sources));
    }
    const auto later = [](const ChangeSource* a, const ChangeSource* b) {
      return a->item().seq > b->item().seq;
    };
    std::priority_queue<ChangeSource*, std::vector<ChangeSource*>, decltype(later)> pending(later);
    for (const std::unique_ptr<ChangeSource>& source : sources) {
      LUMBUNG_RETURN_IF_ERROR(source->advance());
      if (!source->done()) pending.push(source.get());
    }
    while (!pending.empty()) {
      ChangeSource* next = pending.top();
      if (!visit(next->item())) return Status::ok();
      pending.pop();
      LUMBUNG_RETURN_IF_ERROR(next->advance());
      if (!next->done()) pending.push(next);
    }
    return Status::ok();
  }

  Status scan_live_cells(const std::optional<std::string>& scope,
                         const CellVisitor& visit) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query,
        scope ? cached_query(db_, "SELECT tbl, row_id, col, value FROM cells WHERE scope = ?1",
                             {Value(*scope)})
              : cached_query(db_, "SELECT tbl, row_id, col, value FROM cells"));
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
      if (!found) return Status::ok();
      visit(query.text(0), query.text(1), query.text(2), query.value(3));
    }
  }

  Status scan_table_cells(std::string_view table, const TableCellVisitor& visit) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query,
        cached_query(db_, "SELECT scope, col, value FROM cells WHERE tbl = ?1", {Value(table)}));
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
      if (!found) return Status::ok();
      visit(query.text(0), query.text(1), query.value(2));
    }
  }

  Result<std::optional<DeviceBatch>> device_batch(std::string_view device_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query,
        cached_query(db_, "SELECT last_batch, request_digest FROM devices WHERE device_id = ?1",
                     {Value(device_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
    if (!found) return std::optional<DeviceBatch>();
    return std::optional<DeviceBatch>(DeviceBatch{static_cast<std::uint64_t>(query.integer(0)),
                                                  static_cast<std::uint64_t>(query.integer(1))});
  }

  Result<std::string> device_answer(std::string_view device_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query, cached_query(db_, "SELECT response FROM device_answers WHERE device_id = ?1",
                                  {Value(device_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
    const Value response = found ? query.value(0) : Value();
    if (response.type() != ValueType::kBlob) return std::string();
    return std::string(response.as_blob().begin(), response.as_blob().end());
  }

  Result<std::uint64_t> last_batch(std::string_view device_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query, cached_query(db_, "SELECT last_batch FROM devices WHERE device_id = ?1",
                                  {Value(device_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
    return found ? static_cast<std::uint64_t>(query.integer(0)) : std::uint64_t{0};
  }

  Result<std::optional<Conflict>> conflict(std::uint64_t id) override {
    LUMBUNG_ASSIGN_OR_RETURN(Query query, cached_query(db_,
                                                       std::string("SELECT ") + kConflictColumns +
                                                           " FROM conflicts WHERE id = ?1",
                                                       {Value(static_cast<std::int64_t>(id))}));
    LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
    if (!found) return std::optional<Conflict>();
    LUMBUNG_ASSIGN_OR_RETURN(Conflict conflict, conflict_at(query, 0));
    return std::optional<Conflict>(std::move(conflict));
  }

  Status scan_devices(const std::function<void(const DeviceRecord&)>& visit) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query,
        cached_query(db_,
                     "SELECT a.device_id, a.officer, a.first_seen_ms, a.last_seen_ms, "
                     "a.last_push_ms, a.schema_version, a.app_version, a.all_villages, "
                     "a.villages, (SELECT count(*) FROM device_refusals AS r "
                     "             WHERE r.device_id = a.device_id) "
                     "FROM device_activity AS a ORDER BY a.device_id"));
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
      if (!found) return Status::ok();
      DeviceRecord device{.device_id = query.text(0),
                          .officer = query.text(1),
                          .first_seen_ms = query.integer(2),
                          .last_seen_ms = query.integer(3),
                          .last_push_ms = query.integer(4),
                          .schema_version = static_cast<std::uint32_t>(query.integer(5)),
                          .app_version = query.text(6),
                          .all_villages = query.integer(7) != 0,
                          .villages = {},
                          .refused_pending = query.integer(9)};
      const std::string villages = query.text(8);
      for (std::size_t start = 0; start < villages.size();) {
        const std::size_t end = std::min(villages.find('\n', start), villages.size());
        device.villages.push_back(villages.substr(start, end - start));
        start = end + 1;
      }
      visit(device);
    }
  }

  Status scan_audit(const AuditQuery& filter,
                    const std::function<void(const AuditEntry&)>& visit) override {
    const auto param = [](const std::optional<std::string>& value) {
      return value ? Value(*value) : Value();
    };
    // A row's scope never changes: the row tells an entry's scope.
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query,
        cached_query(
            db_,
            "SELECT a.seq, a.time_ms, a.officer, a.device_id, a.tbl, a.row_id, a.col, a.old_value, "
            "a.new_value, a.outcome, a.detail, a.conflict_id, r.scope, a.id FROM audit_log AS a "
            "LEFT JOIN synced_rows AS r ON r.tbl = a.tbl AND r.row_id = a.row_id "
            "WHERE (?1 IS NULL OR r.scope = ?1) AND (?2 IS NULL OR a.tbl = ?2) "
            "AND (?3 IS NULL OR a.row_id = ?3) AND (?4 IS NULL OR a.time_ms < ?4) ORDER BY a.id",
            {param(filter.scope), param(filter.table), param(filter.row_id),
             filter.before_ms ? Value(*filter.before_ms) : Value()}));
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
      if (!found) return Status::ok();
      visit(AuditEntry{.seq = query.integer(0),
                       .time_ms = query.integer(1),
                       .officer = query.text(2),
                       .device_id = query.text(3),
                       .table = query.text(4),
                       .row_id = query.text(5),
                       .column = query.text(6),
                       .old_value = query.value(7),
                       .new_value = query.value(8),
                       .outcome = query.text(9),
                       .detail = query.text(10),
                       .conflict_id = static_cast<std::uint64_t>(query.integer(11)),
                       .scope = query.text(12),
                       .id = query.integer(13)});
    }
  }

 protected:
  db::Database& db_;

 private:
  // The sources of one scope's change log after `after_seq`, each with a
  // statement of its own: several scopes' logs are open at once.
  Status add_scope_sources(const std::string& scope, std::int64_t after_seq,
                           std::vector<std::unique_ptr<ChangeSource>>* sources) {
    const Value name(scope);
    const Value after(after_seq);
    LUMBUNG_ASSIGN_OR_RETURN(
        Query cells,
        prepared_query(
            db_,
            "SELECT seq, tbl, row_id, col FROM cells WHERE scope = ?1 AND seq > ?2 ORDER BY seq",
            {name, after}));
    LUMBUNG_ASSIGN_OR_RETURN(
        Query tombstones,
        prepared_query(db_,
                       "SELECT deleted_seq, scope, tbl, row_id, deleted_hlc, deleted_device "
                       "FROM synced_rows WHERE scope = ?1 "
                       "AND deleted_seq IS NOT NULL AND deleted_seq > ?2 ORDER BY deleted_seq",
                       {name, after}));
    LUMBUNG_ASSIGN_OR_RETURN(
        Query conflicts,
        prepared_query(db_,
                       std::string("SELECT seq, ") + kConflictColumns +
                           " FROM conflicts WHERE scope = ?1 AND seq > ?2 ORDER BY seq",
                       {name, after}));
    sources->push_back(std::make_unique<CellSource>(db_, std::move(cells), scope, after_seq));
    sources->push_back(
        std::make_unique<RecordSource>(std::move(tombstones), ChangeItem::Kind::kTombstone));
    sources->push_back(
        std::make_unique<RecordSource>(std::move(conflicts), ChangeItem::Kind::kConflict));
    return Status::ok();
  }
};

class SqliteWriteTransaction final : public WriteTransaction, public SqliteReadTransaction {
 public:
  SqliteWriteTransaction(db::Database& db, std::int64_t last_seq)
      : SqliteReadTransaction(db), stored_last_seq_(last_seq), last_seq_(last_seq) {}

  Result<std::int64_t> last_seq() override { return last_seq_; }
  std::int64_t next_seq() override { return ++last_seq_; }

  Status set_meta(std::string_view key, std::string_view value) override {
    return execute(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                   {Value(key), Value(value)});
  }

  Status insert_row(std::string_view table, std::string_view row_id, std::string_view scope,
                    std::int64_t created_seq) override {
    LUMBUNG_RETURN_IF_ERROR(execute(
        db_, "INSERT INTO synced_rows (tbl, row_id, scope, created_seq) VALUES (?1, ?2, ?3, ?4)",
        {Value(table), Value(row_id), Value(scope), Value(created_seq)}));
    adjust_scope(scope, 0, 0, +1);
    return Status::ok();
  }

  Status write_cell(std::string_view table, std::string_view row_id, std::string_view column,
                    const core::ServerCell& cell) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query old, cached_query(db_,
                                "SELECT r.scope, c.seq, c.value FROM synced_rows AS r "
                                "LEFT JOIN cells AS c ON c.tbl = r.tbl AND c.row_id = r.row_id "
                                "AND c.col = ?3 WHERE r.tbl = ?1 AND r.row_id = ?2 "
                                "AND r.deleted_seq IS NULL",
                                {Value(table), Value(row_id), Value(column)}));
    LUMBUNG_ASSIGN_OR_RETURN(bool live, old.step());
    if (!live) return no_live_row("write_cell", table, row_id);
    const std::string scope = old.text(0);
    const std::uint64_t old_hash =
        old.value(1).is_null() ? 0 : core::cell_hash(table, row_id, column, old.value(2));
    LUMBUNG_RETURN_IF_ERROR(
        execute(db_,
                "INSERT OR REPLACE INTO cells (tbl, row_id, col, value, hlc, "
                "device, seq, scope) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                {Value(table), Value(row_id), Value(column), cell.value,
                 Value(cell.version.stamp.hlc.packed()), Value(cell.version.stamp.device_id),
                 Value(cell.version.seq), Value(scope)}));
    adjust_scope(scope, core::cell_hash(table, row_id, column, cell.value), old_hash, 0);
    return Status::ok();
  }

  Status delete_row(std::string_view table, std::string_view row_id,
                    const core::ServerVersion& tombstone) override {
    LUMBUNG_ASSIGN_OR_RETURN(std::optional<StoredRow> row, this->row(table, row_id));
    if (!row || row->tombstone) return no_live_row("delete_row", table, row_id);
    LUMBUNG_ASSIGN_OR_RETURN(const std::vector<StoredCell> cells, this->cells(table, row_id));
    std::uint64_t removed = 0;
    for (const StoredCell& cell : cells) {
      removed += core::cell_hash(table, row_id, cell.column, cell.cell.value);
    }
    LUMBUNG_RETURN_IF_ERROR(execute(db_, "DELETE FROM cells WHERE tbl = ?1 AND row_id = ?2",
                                    {Value(table), Value(row_id)}));
    LUMBUNG_RETURN_IF_ERROR(
        execute(db_,
                "UPDATE synced_rows SET deleted_seq = ?3, deleted_hlc = ?4, "
                "deleted_device = ?5 WHERE tbl = ?1 AND row_id = ?2",
                {Value(table), Value(row_id), Value(tombstone.seq),
                 Value(tombstone.stamp.hlc.packed()), Value(tombstone.stamp.device_id)}));
    adjust_scope(row->scope, 0, removed, -1);
    return Status::ok();
  }

  Result<std::uint64_t> add_conflict(const Conflict& c, std::int64_t seq) override {
    LUMBUNG_ASSIGN_OR_RETURN(const std::uint64_t id, unused_conflict_id());
    LUMBUNG_RETURN_IF_ERROR(execute(
        db_,
        "INSERT INTO conflicts (id, seq, scope, tbl, row_id, col, policy, server_value, "
        "server_device, server_hlc, device_value, device_id, device_hlc, outcome) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        {Value(static_cast<std::int64_t>(id)), Value(seq), Value(c.scope), Value(c.table),
         Value(c.row_id), Value(c.column), Value(core::conflict_policy_name(c.policy)),
         c.server_value, Value(c.server_device), Value(c.server_hlc), c.device_value,
         Value(c.device_id), Value(c.device_hlc), Value(core::conflict_outcome_name(c.outcome))}));
    return id;
  }

  Status update_conflict(const Conflict& c, std::int64_t seq) override {
    LUMBUNG_RETURN_IF_ERROR(execute(
        db_,
        "UPDATE conflicts SET seq = ?2, outcome = ?3, resolved_value = ?4, resolved_by = ?5, "
        "resolved_device = ?6, resolved_ms = ?7 WHERE id = ?1",
        {Value(static_cast<std::int64_t>(c.id)), Value(seq),
         Value(core::conflict_outcome_name(c.outcome)), c.resolved_value, Value(c.resolved_by),
         Value(c.resolved_device), Value(c.resolved_ms)}));
    if (sqlite3_changes(db_.handle()) == 1) return Status::ok();
    return Status(ErrorCode::kInternal,
                  "update_conflict: no conflict " + std::to_string(c.id) + " to update");
  }

  void set_officer(std::string_view officer) override { officer_ = officer; }

  Status append_audit(const AuditEntry& e) override {
    return execute(
        db_,
        "INSERT INTO audit_log (seq, time_ms, officer, device_id, tbl, row_id, col, "
        "old_value, new_value, outcome, detail, conflict_id) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        {e.seq == 0 ? Value() : Value(e.seq), Value(e.time_ms), Value(officer_), Value(e.device_id),
         Value(e.table), Value(e.row_id), Value(e.column), e.old_value, e.new_value,
         Value(e.outcome), Value(e.detail), Value(static_cast<std::int64_t>(e.conflict_id))});
  }

  Result<std::int64_t> remove_archived_audit(std::int64_t before_ms, std::int64_t first_id,
                                             std::int64_t last_id) override {
    // The guard row lives only inside this transaction (kUpgrades, format 7).
    LUMBUNG_RETURN_IF_ERROR(execute(
        db_, "INSERT INTO audit_archiving (before_ms, first_id, last_id) VALUES (?1, ?2, ?3)",
        {Value(before_ms), Value(first_id), Value(last_id)}));
    LUMBUNG_RETURN_IF_ERROR(
        execute(db_, "DELETE FROM audit_log WHERE id BETWEEN ?2 AND ?3 AND time_ms < ?1",
                {Value(before_ms), Value(first_id), Value(last_id)}));
    const std::int64_t removed = sqlite3_changes(db_.handle());
    LUMBUNG_RETURN_IF_ERROR(execute(db_, "DELETE FROM audit_archiving", {}));
    return removed;
  }

  Status set_device_batch(std::string_view device_id, const DeviceBatch& batch,
                          std::string_view response) override {
    LUMBUNG_RETURN_IF_ERROR(
        execute(db_,
                "INSERT OR REPLACE INTO devices (device_id, last_batch, "
                "request_digest) VALUES (?1, ?2, ?3)",
                {Value(device_id), int64_bits(batch.batch), int64_bits(batch.request_digest)}));
    return execute(db_,
                   "INSERT OR REPLACE INTO device_answers (device_id, response) VALUES (?1, ?2)",
                   {Value(device_id), Value(Blob(response.begin(), response.end()))});
  }

  Status record_push(const DeviceSighting& sighting, const std::vector<RowKey>& refused,
                     const std::vector<RowKey>& accepted) override {
    LUMBUNG_RETURN_IF_ERROR(write_sighting(db_, sighting, sighting.time_ms, true));
    const Value device(sighting.device_id);
    // Most devices have no refusal pending: one read, and no write a change.
    if (!accepted.empty()) {
      LUMBUNG_ASSIGN_OR_RETURN(
          Query pending,
          cached_query(db_, "SELECT 1 FROM device_refusals WHERE device_id = ?1 LIMIT 1",
                       {device}));
      LUMBUNG_ASSIGN_OR_RETURN(const bool any, pending.step());
      for (std::size_t i = 0; any && i < accepted.size(); ++i) {
        LUMBUNG_RETURN_IF_ERROR(execute(
            db_, "DELETE FROM device_refusals WHERE device_id = ?1 AND tbl = ?2 AND row_id = ?3",
            {device, Value(accepted[i].first), Value(accepted[i].second)}));
      }
    }
    if (refused.empty()) return Status::ok();
    // What a device may make the server keep is bounded: a device that
    // pushes refused changes of ever new rows stops adding at the bound.
    LUMBUNG_ASSIGN_OR_RETURN(
        Query counted,
        cached_query(db_, "SELECT count(*) FROM device_refusals WHERE device_id = ?1", {device}));
    LUMBUNG_RETURN_IF_ERROR(counted.step().status());
    std::int64_t kept = counted.integer(0);
    for (const auto& [table, row_id] : refused) {
      if (kept >= kMaxRefusalsKeptPerDevice) break;
      LUMBUNG_RETURN_IF_ERROR(
          execute(db_,
                  "INSERT OR REPLACE INTO device_refusals (device_id, tbl, row_id, refused_ms) "
                  "VALUES (?1, ?2, ?3, ?4)",
                  {device, Value(table), Value(row_id), Value(sighting.time_ms)}));
      ++kept;  // a row kept already counts again: the bound errs on the small side
    }
    return Status::ok();
  }

  // A random conflict id no record has yet.
  Result<std::uint64_t> unused_conflict_id() {
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const std::uint64_t id, random_conflict_id());
      LUMBUNG_ASSIGN_OR_RETURN(Query taken,
                               cached_query(db_, "SELECT 1 FROM conflicts WHERE id = ?1",
                                            {Value(static_cast<std::int64_t>(id))}));
      LUMBUNG_ASSIGN_OR_RETURN(const bool found, taken.step());
      if (!found) return id;
    }
  }

  // Writes what the transaction kept in memory: the seq counter and the
  // scopes' checksums, whose sums wrap modulo 2^64 (SQL integers would
  // overflow into reals).
  Status flush() {
    for (const auto& [scope, delta] : scope_deltas_) {
      LUMBUNG_ASSIGN_OR_RETURN(
          Query current,
          cached_query(db_, "SELECT checksum, live_rows FROM scopes WHERE scope = ?1",
                       {Value(scope)}));
      LUMBUNG_ASSIGN_OR_RETURN(bool found, current.step());
      std::uint64_t checksum = delta.checksum;
      std::int64_t live_rows = delta.live_rows;
      if (found) {
        checksum += static_cast<std::uint64_t>(current.integer(0));
        live_rows += current.integer(1);
      }
      LUMBUNG_RETURN_IF_ERROR(execute(
          db_, "INSERT OR REPLACE INTO scopes (scope, checksum, live_rows) VALUES (?1, ?2, ?3)",
          {Value(scope), int64_bits(checksum), Value(live_rows)}));
    }
    if (last_seq_ == stored_last_seq_) return Status::ok();
    return set_meta(kLastSeqKey, std::to_string(last_seq_));
  }

 private:
  struct ScopeDelta {
    std::uint64_t checksum = 0;
    std::int64_t live_rows = 0;
  };

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
};

}  // namespace

SqliteStore::SqliteStore(std::string path, std::unique_ptr<db::Database> writer)
    : path_(std::move(path)), writer_(std::move(writer)) {}

SqliteStore::~SqliteStore() {
  // The sightings of the last pulls: best effort, as the store closes.
  bool pending = false;
  {
    std::lock_guard lock(sightings_mu_);
    pending = !sightings_.empty();
  }
  if (pending) (void)write_group({});
}

bool SqliteStore::note_sighting(const DeviceSighting& sighting) {
  std::lock_guard lock(sightings_mu_);
  auto [it, added] = sightings_.try_emplace(sighting.device_id);
  PendingSighting& pending = it->second;
  if (added) {
    pending.first_ms = sighting.time_ms;
    pending.latest = sighting;
  } else {
    pending.first_ms = std::min(pending.first_ms, sighting.time_ms);
    // The villages of the last pull stay when a push comes after it.
    const bool pulled = pending.latest.pulled;
    if (sighting.time_ms >= pending.latest.time_ms) {
      if (!sighting.pulled && pulled) {
        DeviceSighting kept = std::move(pending.latest);
        pending.latest = sighting;
        pending.latest.pulled = true;
        pending.latest.all_villages = kept.all_villages;
        pending.latest.villages = std::move(kept.villages);
      } else {
        pending.latest = sighting;
      }
    }
  }
  if (oldest_sighting_ms_ == 0 || sighting.time_ms < oldest_sighting_ms_) {
    oldest_sighting_ms_ = sighting.time_ms;
  }
  // Asked once until a write takes the sightings.
  if (flush_asked_ || sighting.time_ms - oldest_sighting_ms_ < kSightingFlushMs) return false;
  flush_asked_ = true;
  return true;
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& data_dir) {
  LUMBUNG_RETURN_IF_ERROR(auth::make_owner_only_dir(data_dir));
  const std::string path = (std::filesystem::path(data_dir) / kStoreFileName).string();
  LUMBUNG_RETURN_IF_ERROR(db::create_private_file(path));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> writer, db::Database::open(path, true));
  db::Database& db = *writer;
  LUMBUNG_RETURN_IF_ERROR(
      db.exec("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL"));
  LUMBUNG_ASSIGN_OR_RETURN(const int format, db::user_version(db));
  if (format != 0 && !kStoreFormat.opens(format)) {
    return Status(ErrorCode::kCorrupt, "'" + path + "' is not a lumbungd store of format " +
                                           std::to_string(kStoreFormat.oldest) + " to " +
                                           std::to_string(kStoreFormat.newest()) + " (it has " +
                                           std::to_string(format) + ")");
  }
  if (format != kStoreFormat.newest()) {
    LUMBUNG_RETURN_IF_ERROR(db::in_transaction(db, [&] {
      if (format == 0) LUMBUNG_RETURN_IF_ERROR(db.exec(kCreateTables));
      LUMBUNG_RETURN_IF_ERROR(kStoreFormat.upgrade(db, format == 0 ? kStoreFormat.oldest : format));
      return db::set_user_version(db, kStoreFormat.newest());
    }));
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(path, std::move(writer)));
}

Status SqliteStore::write(const WriteBody& body) { return write_group({body}).front(); }

std::vector<Status> SqliteStore::write_group(const std::vector<WriteBody>& bodies) {
  std::lock_guard lock(write_mu_);
  db::Database& db = *writer_;
  std::vector<Status> statuses(bodies.size());
  // Taken now, written after the bodies; put back when the commit fails.
  std::map<std::string, PendingSighting, std::less<>> sightings;
  {
    std::lock_guard sightings_lock(sightings_mu_);
    sightings.swap(sightings_);
    oldest_sighting_ms_ = 0;
    flush_asked_ = false;
  }
  if (bodies.empty() && sightings.empty()) return statuses;
  const Status committed = db::in_transaction(db, [&] {
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      // A savepoint each, so that a body that fails takes none of the others
      // with it.
      statuses[i] = db::in_transaction(db, [&] {
        // The seq counter is read and advanced inside this transaction, which
        // holds SQLite's write lock until it commits: transactions commit one
        // at a time, in the order of the seqs they give out. A reader whose
        // snapshot shows seq N therefore sees every change with seq <= N, and
        // no change committing later can get a seq at or below one a cursor
        // has passed.
        SqliteReadTransaction reader(db);
        LUMBUNG_ASSIGN_OR_RETURN(std::int64_t last_seq, reader.last_seq());
        SqliteWriteTransaction txn(db, last_seq);
        LUMBUNG_RETURN_IF_ERROR(bodies[i](txn));
        return txn.flush();
      });
      // Some errors (a full disk, I/O) make SQLite roll back the whole
      // transaction: the bodies before this one are undone too.
      if (sqlite3_get_autocommit(db.handle())) {
        return statuses[i].is_ok()
                   ? Status(ErrorCode::kInternal, "store: the write transaction ended early")
                   : statuses[i];
      }
    }
    for (const auto& [device_id, pending] : sightings) {
      LUMBUNG_RETURN_IF_ERROR(write_sighting(db, pending.latest, pending.first_ms, false));
    }
    return Status::ok();
  });
  if (!committed.is_ok()) {
    for (Status& status : statuses) {
      if (status.is_ok()) status = committed;
    }
    // Noted again, for the next commit to write; newer sightings win.
    std::lock_guard sightings_lock(sightings_mu_);
    for (auto& [device_id, pending] : sightings) {
      if (!sightings_.contains(device_id)) sightings_.emplace(device_id, std::move(pending));
    }
  }
  return statuses;
}

Result<std::unique_ptr<db::Database>> SqliteStore::take_reader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<db::Database> reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return reader;
    }
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> reader, db::Database::open(path_, false));
  LUMBUNG_RETURN_IF_ERROR(reader->exec("PRAGMA busy_timeout = 5000; PRAGMA query_only = 1"));
  return reader;
}

void SqliteStore::return_reader(std::unique_ptr<db::Database> reader) {
  std::lock_guard lock(readers_mu_);
  idle_readers_.push_back(std::move(reader));
}

Status SqliteStore::read(const std::function<Status(ReadTransaction&)>& body) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> reader, take_reader());
  db::Database& db = *reader;
  // In WAL mode the snapshot is taken by the first read after BEGIN and held
  // until the transaction ends: every read of `body` sees the same state.
  LUMBUNG_RETURN_IF_ERROR(db.exec("BEGIN"));
  SqliteReadTransaction txn(db);
  const Status status = body(txn);
  const Status ended = db.exec(status.is_ok() ? "COMMIT" : "ROLLBACK");
  // A connection left inside a transaction would pin its snapshot forever.
  if (sqlite3_get_autocommit(db.handle())) return_reader(std::move(reader));
  return status.is_ok() ? ended : status;
}

}  // namespace lumbung::server
