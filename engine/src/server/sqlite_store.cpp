#include "server/sqlite_store.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <system_error>
#include <utility>

#include "auth/private_file.hpp"
#include "core/checksum.hpp"
#include "db/file_format.hpp"
#include "server/cell_versions.hpp"
#include "server/change_scan.hpp"
#include "server/sqlite_row_tables.hpp"

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
    // Row tables (docs/decisions/0033-row-tables.md): the store's own tables
    // take the reserved prefix, so that the synced tables can have their
    // schema's names; the audit log keeps each entry's scope (the row
    // registry it was read from goes); tombstones get a table of their own.
    // The cells of live rows wait in the legacy tables until the store adopts
    // a schema (SqliteStore::adopt_schema), which knows the columns' types.
    // SQLite 3.15 renames no table inside a trigger's body: the audit log's
    // triggers are made again.
    {8, R"sql(
DROP TRIGGER audit_log_no_update;
DROP TRIGGER audit_log_no_delete;
ALTER TABLE meta RENAME TO _lumbung_meta;
ALTER TABLE scopes RENAME TO _lumbung_scopes;
ALTER TABLE devices RENAME TO _lumbung_devices;
ALTER TABLE device_answers RENAME TO _lumbung_device_answers;
ALTER TABLE conflicts RENAME TO _lumbung_conflicts;
ALTER TABLE device_activity RENAME TO _lumbung_device_activity;
ALTER TABLE device_refusals RENAME TO _lumbung_device_refusals;
ALTER TABLE audit_archiving RENAME TO _lumbung_audit_archiving;
ALTER TABLE audit_log RENAME TO _lumbung_audit_log;
ALTER TABLE _lumbung_audit_log ADD COLUMN scope TEXT NOT NULL DEFAULT '';
UPDATE _lumbung_audit_log SET scope = coalesce((SELECT r.scope FROM synced_rows AS r
  WHERE r.tbl = _lumbung_audit_log.tbl AND r.row_id = _lumbung_audit_log.row_id), '');
CREATE TRIGGER _lumbung_audit_log_no_update BEFORE UPDATE ON _lumbung_audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER _lumbung_audit_log_no_delete BEFORE DELETE ON _lumbung_audit_log
  WHEN NOT EXISTS (SELECT 1 FROM _lumbung_audit_archiving WHERE OLD.time_ms < before_ms
                   AND OLD.id BETWEEN first_id AND last_id)
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE _lumbung_tombstones (
  tbl TEXT NOT NULL, row_id TEXT NOT NULL, scope TEXT NOT NULL, created_seq INTEGER NOT NULL,
  seq INTEGER NOT NULL, hlc INTEGER NOT NULL, device TEXT NOT NULL,
  PRIMARY KEY (tbl, row_id)) WITHOUT ROWID;
CREATE INDEX _lumbung_tombstones_scope_seq ON _lumbung_tombstones (scope, seq);
INSERT INTO _lumbung_tombstones (tbl, row_id, scope, created_seq, seq, hlc, device)
  SELECT tbl, row_id, scope, created_seq, deleted_seq, deleted_hlc, deleted_device
  FROM synced_rows WHERE deleted_seq IS NOT NULL;
DELETE FROM synced_rows WHERE deleted_seq IS NOT NULL;
CREATE TABLE _lumbung_changes (
  scope TEXT NOT NULL, seq INTEGER NOT NULL, tbl TEXT NOT NULL, row_id TEXT NOT NULL,
  col TEXT NOT NULL, PRIMARY KEY (scope, seq)) WITHOUT ROWID;
CREATE TABLE _lumbung_tables (
  tbl TEXT PRIMARY KEY NOT NULL, scope_column TEXT NOT NULL, position INTEGER NOT NULL)
  WITHOUT ROWID;
ALTER TABLE synced_rows RENAME TO _lumbung_legacy_rows;
ALTER TABLE cells RENAME TO _lumbung_legacy_cells;
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
                                  "INSERT OR IGNORE INTO _lumbung_device_activity (device_id, "
                                  "first_seen_ms) VALUES (?1, ?2)",
                                  {Value(sighting.device_id), Value(first_ms)}));
  // A row from before format 6 has no first sighting (0).
  LUMBUNG_RETURN_IF_ERROR(execute(
      db,
      "UPDATE _lumbung_device_activity SET officer = ?2, schema_version = ?3, app_version = ?4, "
      "first_seen_ms = CASE WHEN first_seen_ms = 0 OR first_seen_ms > ?5 THEN ?5 "
      "  ELSE first_seen_ms END, "
      "last_seen_ms = max(last_seen_ms, ?6) WHERE device_id = ?1",
      {Value(sighting.device_id), Value(sighting.officer),
       Value(static_cast<std::int64_t>(sighting.schema_version)), Value(sighting.app_version),
       Value(first_ms), Value(sighting.time_ms)}));
  if (pushed) {
    LUMBUNG_RETURN_IF_ERROR(
        execute(db,
                "UPDATE _lumbung_device_activity SET last_push_ms = max(last_push_ms, ?2) "
                "WHERE device_id = ?1",
                {Value(sighting.device_id), Value(sighting.time_ms)}));
  }
  if (!sighting.pulled) return Status::ok();
  return execute(
      db,
      "UPDATE _lumbung_device_activity SET all_villages = ?2, villages = ?3 WHERE device_id = ?1",
      {Value(sighting.device_id), Value(std::int64_t{sighting.all_villages}),
       Value(joined_villages(sighting.villages))});
}

Status no_live_row(std::string_view what, std::string_view table, std::string_view row_id) {
  return Status(ErrorCode::kInternal, std::string(what) + ": table '" + std::string(table) +
                                          "' has no live row '" + std::string(row_id) + "'");
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
  std::vector<StoredCell> cells(const RowTable& table) const {
    std::vector<StoredCell> cells;
    cells.reserve(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      cells.push_back({table.columns[i], {values[i], versions.of(table.columns[i], row_version)}});
    }
    return cells;
  }
};

// Reads row `row_id` of `table` into *row; false when it has no live row.
Result<bool> load_row(db::Database& db, const RowTable& table, std::string_view row_id,
                      LoadedRow* row) {
  LUMBUNG_ASSIGN_OR_RETURN(Query query, cached_query(db, table.select_row, {Value(row_id)}));
  LUMBUNG_ASSIGN_OR_RETURN(const bool found, query.step());
  if (!found) return false;
  const int n = static_cast<int>(table.columns.size());
  row->table = table.name;
  row->row_id = row_id;
  row->values.resize(table.columns.size());
  for (int i = 0; i < n; ++i) row->values[static_cast<std::size_t>(i)] = query.value(i);
  const Value& scope = row->values[table.scope_position];
  row->scope = scope.type() == ValueType::kText ? scope.as_text() : std::string();
  row->row_version = {.stamp = {core::Hlc(query.integer(n + 1)), query.text(n + 2)},
                      .seq = query.integer(n)};
  const Value versions = query.value(n + 3);
  if (versions.type() != ValueType::kBlob) {
    return Status(ErrorCode::kCorrupt, "store: row '" + std::string(row_id) + "' of table '" +
                                           table.name + "' has no cell versions");
  }
  const Blob& bytes = versions.as_blob();
  LUMBUNG_ASSIGN_OR_RETURN(row->versions,
                           CellVersions::decode(std::string_view(
                               reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  return true;
}

Value versions_blob(const CellVersions& versions) {
  const std::string bytes = versions.encode();
  return Value(Blob(bytes.begin(), bytes.end()));
}

Status add_change(db::Database& db, std::string_view scope, std::int64_t seq,
                  std::string_view table, std::string_view row_id, std::string_view column) {
  return execute(db,
                 "INSERT INTO _lumbung_changes (scope, seq, tbl, row_id, col) "
                 "VALUES (?1, ?2, ?3, ?4, ?5)",
                 {Value(scope), Value(seq), Value(table), Value(row_id), Value(column)});
}

Status remove_change(db::Database& db, std::string_view scope, std::int64_t seq) {
  return execute(db, "DELETE FROM _lumbung_changes WHERE scope = ?1 AND seq = ?2",
                 {Value(scope), Value(seq)});
}

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

// The changes of live rows of one scope in seq order, read from the change
// log (_lumbung_changes: an insert's entry, column '', and one entry per cell
// written since), each row read once for a run of its entries. A row newer
// than after_seq becomes one kRow item that carries its cells, given once;
// the log is then read on from after the run of seqs its cells hold from
// that item's on, so that a row costs one step of the log.
class RowChangeSource final : public ChangeSource {
 public:
  RowChangeSource(db::Database& db, const RowTables& tables, Query log, const std::string& scope,
                  std::int64_t after_seq)
      : db_(db), tables_(tables), log_(std::move(log)), after_seq_(after_seq) {
    item_.scope = scope;
  }

  Status advance() override {
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(bool found, log_.step());
      done_ = !found;
      if (done_) return Status::ok();
      const std::string_view table = log_.text_view(1);
      const std::string_view row_id = log_.text_view(2);
      if (table != row_.table || row_id != row_.row_id) {
        LUMBUNG_RETURN_IF_ERROR(load(table, row_id));
      }
      item_.seq = log_.integer(0);
      item_.table = row_.table;
      item_.row_id = row_.row_id;
      item_.row_created_seq = row_.created_seq();
      if (row_.created_seq() > after_seq_) {
        if (!rows_given_.emplace(row_.table, row_.row_id).second) continue;
        item_.kind = ChangeItem::Kind::kRow;
        item_.column.clear();
        item_.value = Value();
        item_.cells = row_.cells(*table_);
        skip_run_of_row();
        return Status::ok();
      }
      item_.kind = ChangeItem::Kind::kCell;
      item_.cells.clear();
      item_.column = log_.text(3);
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
  Status load(std::string_view table, std::string_view row_id) {
    table_ = tables_.find(table);
    if (table_ == nullptr) {
      return Status(ErrorCode::kCorrupt, "store: the change log names table '" +
                                             std::string(table) + "', which it lacks");
    }
    LUMBUNG_ASSIGN_OR_RETURN(const bool live, load_row(db_, *table_, row_id, &row_));
    if (!live) return no_live_row("scan_changes", table, row_id);
    return Status::ok();
  }

  // Moves the log past the seqs item_.seq, item_.seq + 1, ... that cells of
  // the kRow item's row hold: a seq is never given twice, so no other
  // change is among them.
  void skip_run_of_row() {
    const std::int64_t last = end_of_row_run(item_);
    if (last > item_.seq) log_.restart({Value(item_.scope), Value(last)});
  }

  db::Database& db_;
  const RowTables& tables_;
  Query log_;
  const std::int64_t after_seq_;
  const RowTable* table_ = nullptr;  // of row_
  LoadedRow row_;
  std::set<std::pair<std::string, std::string>> rows_given_;  // table, row id: as kRow
};

class SqliteReadTransaction : public virtual ReadTransaction {
 public:
  SqliteReadTransaction(db::Database& db, const RowTables& tables) : db_(db), tables_(tables) {}

  Result<std::int64_t> last_seq() override { return meta_int64(*this, kLastSeqKey); }

  Result<std::string> meta(std::string_view key) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query,
        cached_query(db_, "SELECT value FROM _lumbung_meta WHERE key = ?1", {Value(key)}));
    LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
    return found ? query.text(0) : std::string();
  }

  Result<std::optional<StoredRow>> row(std::string_view table, std::string_view row_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(const RowTable* rows, row_table(table));
    LUMBUNG_ASSIGN_OR_RETURN(Query live, cached_query(db_, rows->select_head, {Value(row_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, live.step());
    if (found) {
      return std::optional<StoredRow>(
          StoredRow{.scope = live.text(0), .created_seq = live.integer(1), .tombstone = {}});
    }
    LUMBUNG_ASSIGN_OR_RETURN(
        Query tombstone,
        cached_query(db_,
                     "SELECT scope, created_seq, seq, hlc, device FROM _lumbung_tombstones "
                     "WHERE tbl = ?1 AND row_id = ?2",
                     {Value(table), Value(row_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(const bool deleted, tombstone.step());
    if (!deleted) return std::optional<StoredRow>();
    return std::optional<StoredRow>(StoredRow{
        .scope = tombstone.text(0),
        .created_seq = tombstone.integer(1),
        .tombstone =
            core::ServerVersion{.stamp = {core::Hlc(tombstone.integer(3)), tombstone.text(4)},
                                .seq = tombstone.integer(2)}});
  }

  Result<std::vector<StoredCell>> cells(std::string_view table, std::string_view row_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(const RowTable* rows, row_table(table));
    LoadedRow live;
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, load_row(db_, *rows, row_id, &live));
    if (!found) return std::vector<StoredCell>();
    return live.cells(*rows);
  }

  Result<std::vector<ScopeState>> scopes() override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query,
        cached_query(db_, "SELECT scope, checksum, live_rows FROM _lumbung_scopes ORDER BY scope"));
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
          Query query,
          cached_query(db_, "SELECT checksum, live_rows FROM _lumbung_scopes WHERE scope = ?1",
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
    // Each scope's rows, tombstones and conflicts are read in seq order from
    // their own index; merging them by seq is the change log of the scopes.
    std::vector<std::unique_ptr<ChangeSource>> sources;
    for (const auto& [scope, after_seq] : cursors) {
      LUMBUNG_RETURN_IF_ERROR(add_scope_sources(scope, after_seq, &sources));
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
    LUMBUNG_ASSIGN_OR_RETURN(Query query,
                             cached_query(db_,
                                          "SELECT last_batch, request_digest FROM _lumbung_devices "
                                          "WHERE device_id = ?1",
                                          {Value(device_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
    if (!found) return std::optional<DeviceBatch>();
    return std::optional<DeviceBatch>(DeviceBatch{static_cast<std::uint64_t>(query.integer(0)),
                                                  static_cast<std::uint64_t>(query.integer(1))});
  }

  Result<std::string> device_answer(std::string_view device_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query,
        cached_query(db_, "SELECT response FROM _lumbung_device_answers WHERE device_id = ?1",
                     {Value(device_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
    const Value response = found ? query.value(0) : Value();
    if (response.type() != ValueType::kBlob) return std::string();
    return std::string(response.as_blob().begin(), response.as_blob().end());
  }

  Result<std::uint64_t> last_batch(std::string_view device_id) override {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query,
        cached_query(db_, "SELECT last_batch FROM _lumbung_devices WHERE device_id = ?1",
                     {Value(device_id)}));
    LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
    return found ? static_cast<std::uint64_t>(query.integer(0)) : std::uint64_t{0};
  }

  Result<std::optional<Conflict>> conflict(std::uint64_t id) override {
    LUMBUNG_ASSIGN_OR_RETURN(Query query, cached_query(db_,
                                                       std::string("SELECT ") + kConflictColumns +
                                                           " FROM _lumbung_conflicts WHERE id = ?1",
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
                     "a.villages, (SELECT count(*) FROM _lumbung_device_refusals AS r "
                     "             WHERE r.device_id = a.device_id) "
                     "FROM _lumbung_device_activity AS a ORDER BY a.device_id"));
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
    LUMBUNG_ASSIGN_OR_RETURN(
        Query query,
        cached_query(
            db_,
            "SELECT seq, time_ms, officer, device_id, tbl, row_id, col, old_value, new_value, "
            "outcome, detail, conflict_id, scope, id FROM _lumbung_audit_log "
            "WHERE (?1 IS NULL OR scope = ?1) AND (?2 IS NULL OR tbl = ?2) "
            "AND (?3 IS NULL OR row_id = ?3) AND (?4 IS NULL OR time_ms < ?4) ORDER BY id",
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
  // The row table `name`; kInternal when the store has none (a schema not
  // adopted, or a caller's mistake).
  Result<const RowTable*> row_table(std::string_view name) const {
    const RowTable* table = tables_.find(name);
    if (table != nullptr) return table;
    return Status(ErrorCode::kInternal, "store: no table '" + std::string(name) +
                                            "' (the store has not adopted a schema with it)");
  }

  db::Database& db_;
  const RowTables& tables_;

 private:
  Status scan_table(const RowTable& table, const std::optional<std::string>& scope,
                    const RowVisitor& visit) {
    LUMBUNG_ASSIGN_OR_RETURN(Query query, scope
                                              ? cached_query(db_, table.scan_scope, {Value(*scope)})
                                              : cached_query(db_, table.scan));
    std::vector<Value> values(table.columns.size());
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(bool found, query.step());
      if (!found) return Status::ok();
      for (std::size_t i = 0; i < values.size(); ++i) {
        values[i] = query.value(static_cast<int>(i));
      }
      const Value& row_scope = values[table.scope_position];
      const Value& id = values[table.id_position];
      const auto text = [](const Value& value) {
        return value.type() == ValueType::kText ? std::string_view(value.as_text())
                                                : std::string_view();
      };
      visit(LiveRow{.table = table.name,
                    .scope = text(row_scope),
                    .row_id = text(id),
                    .columns = table.columns,
                    .values = values});
    }
  }

  // The sources of one scope's change log after `after_seq`, each with a
  // statement of its own: several scopes' logs are open at once.
  Status add_scope_sources(const std::string& scope, std::int64_t after_seq,
                           std::vector<std::unique_ptr<ChangeSource>>* sources) {
    const Value name(scope);
    const Value after(after_seq);
    LUMBUNG_ASSIGN_OR_RETURN(Query log,
                             prepared_query(db_,
                                            "SELECT seq, tbl, row_id, col FROM _lumbung_changes "
                                            "WHERE scope = ?1 AND seq > ?2 ORDER BY seq",
                                            {name, after}));
    LUMBUNG_ASSIGN_OR_RETURN(
        Query tombstones,
        prepared_query(db_,
                       "SELECT seq, scope, tbl, row_id, hlc, device FROM _lumbung_tombstones "
                       "WHERE scope = ?1 AND seq > ?2 ORDER BY seq",
                       {name, after}));
    LUMBUNG_ASSIGN_OR_RETURN(
        Query conflicts,
        prepared_query(db_,
                       std::string("SELECT seq, ") + kConflictColumns +
                           " FROM _lumbung_conflicts WHERE scope = ?1 AND seq > ?2 ORDER BY seq",
                       {name, after}));
    sources->push_back(
        std::make_unique<RowChangeSource>(db_, tables_, std::move(log), scope, after_seq));
    sources->push_back(
        std::make_unique<RecordSource>(std::move(tombstones), ChangeItem::Kind::kTombstone));
    sources->push_back(
        std::make_unique<RecordSource>(std::move(conflicts), ChangeItem::Kind::kConflict));
    return Status::ok();
  }
};

class SqliteWriteTransaction final : public WriteTransaction, public SqliteReadTransaction {
 public:
  SqliteWriteTransaction(db::Database& db, const RowTables& tables, std::int64_t last_seq)
      : SqliteReadTransaction(db, tables), stored_last_seq_(last_seq), last_seq_(last_seq) {}

  Result<std::int64_t> last_seq() override { return last_seq_; }
  std::int64_t next_seq() override { return ++last_seq_; }

  Status set_meta(std::string_view key, std::string_view value) override {
    return execute(db_, "INSERT OR REPLACE INTO _lumbung_meta (key, value) VALUES (?1, ?2)",
                   {Value(key), Value(value)});
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
    // The columns' values, bound without a copy (a column not given holds
    // NULL), then the row's version.
    static const Value kNull;
    std::vector<const Value*> values(rows->columns.size(), &kNull);
    CellVersions versions;
    for (const StoredCell& cell : cells) {
      const std::optional<std::size_t> position = rows->position(cell.column);
      if (!position) {
        return Status(ErrorCode::kInternal,
                      "insert_row: table '" + rows->name + "' has no column '" + cell.column + "'");
      }
      values[*position] = &cell.cell.value;
      versions.set(cell.column, cell.cell.version, row_version);
    }
    LUMBUNG_ASSIGN_OR_RETURN(Query insert, cached_query(db_, rows->insert_row));
    db::Statement& statement = insert.statement();
    const core::RowCellHasher hasher(table, row_id);
    std::uint64_t added = 0;
    int index = 1;
    for (std::size_t i = 0; i < values.size(); ++i, ++index) {
      added += hasher.cell(rows->columns[i], *values[i]);
      statement.bind_borrowed(index, *values[i]);
    }
    const Value versions_value = versions_blob(versions);
    statement.bind(index++, Value(created_seq));
    statement.bind(index++, Value(row_version.stamp.hlc.packed()));
    statement.bind_borrowed_text(index++, row_version.stamp.device_id);
    statement.bind_borrowed(index, versions_value);
    LUMBUNG_RETURN_IF_ERROR(insert.run());
    LUMBUNG_RETURN_IF_ERROR(add_change(db_, scope, created_seq, table, row_id, ""));
    for (const CellVersion& cell : versions.cells()) {
      if (cell.version.seq != created_seq) {
        LUMBUNG_RETURN_IF_ERROR(
            add_change(db_, scope, cell.version.seq, table, row_id, cell.column));
      }
    }
    adjust_scope(scope, added, 0, +1);
    return Status::ok();
  }

  Status write_cell(std::string_view table, std::string_view row_id, std::string_view column,
                    const core::ServerCell& cell) override {
    LUMBUNG_ASSIGN_OR_RETURN(const RowTable* rows, row_table(table));
    LoadedRow row;
    LUMBUNG_ASSIGN_OR_RETURN(const bool live, load_row(db_, *rows, row_id, &row));
    if (!live) return no_live_row("write_cell", table, row_id);
    const std::optional<std::size_t> position = rows->position(column);
    if (!position) {
      return Status(ErrorCode::kInternal, "write_cell: table '" + rows->name + "' has no column '" +
                                              std::string(column) + "'");
    }
    const std::int64_t old_seq = row.versions.of(column, row.row_version).seq;
    row.versions.set(column, cell.version, row.row_version);
    LUMBUNG_RETURN_IF_ERROR(execute(db_, rows->update_cell[*position],
                                    {Value(row_id), cell.value, versions_blob(row.versions)}));
    // The insert's entry stays for the row's other cells; a cell's own
    // entry names only that cell.
    if (old_seq != row.created_seq())
      LUMBUNG_RETURN_IF_ERROR(remove_change(db_, row.scope, old_seq));
    if (cell.version.seq != row.created_seq()) {
      LUMBUNG_RETURN_IF_ERROR(add_change(db_, row.scope, cell.version.seq, table, row_id, column));
    }
    adjust_scope(row.scope, core::cell_hash(table, row_id, column, cell.value),
                 core::cell_hash(table, row_id, column, row.values[*position]), 0);
    return Status::ok();
  }

  Status delete_row(std::string_view table, std::string_view row_id,
                    const core::ServerVersion& tombstone) override {
    LUMBUNG_ASSIGN_OR_RETURN(const RowTable* rows, row_table(table));
    LoadedRow row;
    LUMBUNG_ASSIGN_OR_RETURN(const bool live, load_row(db_, *rows, row_id, &row));
    if (!live) return no_live_row("delete_row", table, row_id);
    const core::RowCellHasher hasher(table, row_id);
    std::uint64_t removed = 0;
    for (std::size_t i = 0; i < row.values.size(); ++i) {
      removed += hasher.cell(rows->columns[i], row.values[i]);
    }
    LUMBUNG_RETURN_IF_ERROR(remove_change(db_, row.scope, row.created_seq()));
    for (const CellVersion& cell : row.versions.cells()) {
      if (cell.version.seq != row.created_seq()) {
        LUMBUNG_RETURN_IF_ERROR(remove_change(db_, row.scope, cell.version.seq));
      }
    }
    LUMBUNG_RETURN_IF_ERROR(execute(db_, rows->delete_row, {Value(row_id)}));
    LUMBUNG_RETURN_IF_ERROR(
        execute(db_,
                "INSERT INTO _lumbung_tombstones (tbl, row_id, scope, created_seq, seq, hlc, "
                "device) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                {Value(table), Value(row_id), Value(row.scope), Value(row.created_seq()),
                 Value(tombstone.seq), Value(tombstone.stamp.hlc.packed()),
                 Value(tombstone.stamp.device_id)}));
    adjust_scope(row.scope, 0, removed, -1);
    return Status::ok();
  }

  Result<std::uint64_t> add_conflict(const Conflict& c, std::int64_t seq) override {
    LUMBUNG_ASSIGN_OR_RETURN(const std::uint64_t id, unused_conflict_id());
    LUMBUNG_RETURN_IF_ERROR(execute(
        db_,
        "INSERT INTO _lumbung_conflicts (id, seq, scope, tbl, row_id, col, policy, server_value, "
        "server_device, server_hlc, device_value, device_id, device_hlc, outcome) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        {Value(static_cast<std::int64_t>(id)), Value(seq), Value(c.scope), Value(c.table),
         Value(c.row_id), Value(c.column), Value(core::conflict_policy_name(c.policy)),
         c.server_value, Value(c.server_device), Value(c.server_hlc), c.device_value,
         Value(c.device_id), Value(c.device_hlc), Value(core::conflict_outcome_name(c.outcome))}));
    return id;
  }

  Status update_conflict(const Conflict& c, std::int64_t seq) override {
    LUMBUNG_RETURN_IF_ERROR(
        execute(db_,
                "UPDATE _lumbung_conflicts SET seq = ?2, outcome = ?3, resolved_value = ?4, "
                "resolved_by = ?5, resolved_device = ?6, resolved_ms = ?7 WHERE id = ?1",
                {Value(static_cast<std::int64_t>(c.id)), Value(seq),
                 Value(core::conflict_outcome_name(c.outcome)), c.resolved_value,
                 Value(c.resolved_by), Value(c.resolved_device), Value(c.resolved_ms)}));
    if (sqlite3_changes(db_.handle()) == 1) return Status::ok();
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
    return execute(
        db_,
        "INSERT INTO _lumbung_audit_log (seq, time_ms, officer, device_id, tbl, row_id, col, "
        "old_value, new_value, outcome, detail, conflict_id, scope) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        {e.seq == 0 ? Value() : Value(e.seq), Value(e.time_ms), Value(officer_), Value(e.device_id),
         Value(e.table), Value(e.row_id), Value(e.column), e.old_value, e.new_value,
         Value(e.outcome), Value(e.detail), Value(static_cast<std::int64_t>(e.conflict_id)),
         Value(scope)});
  }

  Result<std::int64_t> remove_archived_audit(std::int64_t before_ms, std::int64_t first_id,
                                             std::int64_t last_id) override {
    // The guard row lives only inside this transaction (kUpgrades, format 7).
    LUMBUNG_RETURN_IF_ERROR(
        execute(db_,
                "INSERT INTO _lumbung_audit_archiving (before_ms, first_id, last_id) "
                "VALUES (?1, ?2, ?3)",
                {Value(before_ms), Value(first_id), Value(last_id)}));
    LUMBUNG_RETURN_IF_ERROR(
        execute(db_, "DELETE FROM _lumbung_audit_log WHERE id BETWEEN ?2 AND ?3 AND time_ms < ?1",
                {Value(before_ms), Value(first_id), Value(last_id)}));
    const std::int64_t removed = sqlite3_changes(db_.handle());
    LUMBUNG_RETURN_IF_ERROR(execute(db_, "DELETE FROM _lumbung_audit_archiving", {}));
    return removed;
  }

  Status set_device_batch(std::string_view device_id, const DeviceBatch& batch,
                          std::string_view response) override {
    LUMBUNG_RETURN_IF_ERROR(
        execute(db_,
                "INSERT OR REPLACE INTO _lumbung_devices (device_id, last_batch, "
                "request_digest) VALUES (?1, ?2, ?3)",
                {Value(device_id), int64_bits(batch.batch), int64_bits(batch.request_digest)}));
    return execute(
        db_, "INSERT OR REPLACE INTO _lumbung_device_answers (device_id, response) VALUES (?1, ?2)",
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
          cached_query(db_, "SELECT 1 FROM _lumbung_device_refusals WHERE device_id = ?1 LIMIT 1",
                       {device}));
      LUMBUNG_ASSIGN_OR_RETURN(const bool any, pending.step());
      for (std::size_t i = 0; any && i < accepted.size(); ++i) {
        LUMBUNG_RETURN_IF_ERROR(
            execute(db_,
                    "DELETE FROM _lumbung_device_refusals WHERE device_id = ?1 "
                    "AND tbl = ?2 AND row_id = ?3",
                    {device, Value(accepted[i].first), Value(accepted[i].second)}));
      }
    }
    if (refused.empty()) return Status::ok();
    // What a device may make the server keep is bounded: a device that
    // pushes refused changes of ever new rows stops adding at the bound.
    LUMBUNG_ASSIGN_OR_RETURN(
        Query counted,
        cached_query(db_, "SELECT count(*) FROM _lumbung_device_refusals WHERE device_id = ?1",
                     {device}));
    LUMBUNG_RETURN_IF_ERROR(counted.step().status());
    std::int64_t kept = counted.integer(0);
    for (const auto& [table, row_id] : refused) {
      if (kept >= kMaxRefusalsKeptPerDevice) break;
      LUMBUNG_RETURN_IF_ERROR(
          execute(db_,
                  "INSERT OR REPLACE INTO _lumbung_device_refusals (device_id, tbl, row_id, "
                  "refused_ms) VALUES (?1, ?2, ?3, ?4)",
                  {device, Value(table), Value(row_id), Value(sighting.time_ms)}));
      ++kept;  // a row kept already counts again: the bound errs on the small side
    }
    return Status::ok();
  }

  // Moves the rows a store of format 7 or older kept cell by cell into the
  // row tables, with their cells' versions and change log entries, then
  // drops the legacy tables. kSchemaIncompatible for a row of a table, or a
  // cell of a column, that the row tables lack.
  Status move_legacy_rows() {
    LUMBUNG_ASSIGN_OR_RETURN(
        Query legacy,
        prepared_query(db_,
                       "SELECT r.tbl, r.row_id, r.scope, r.created_seq, c.col, c.value, c.hlc, "
                       "c.device, c.seq FROM _lumbung_legacy_rows AS r "
                       "JOIN _lumbung_legacy_cells AS c ON c.tbl = r.tbl AND c.row_id = r.row_id "
                       "ORDER BY r.tbl, r.row_id",
                       {}));
    std::string table;
    std::string row_id;
    std::string scope;
    std::int64_t created_seq = 0;
    std::vector<StoredCell> cells;
    const auto move_row = [&]() -> Status {
      if (cells.empty()) return Status::ok();
      const RowTable* rows = tables_.find(table);
      if (rows == nullptr) {
        return Status(ErrorCode::kSchemaIncompatible,
                      "the store holds rows of table '" + table + "', which the schema lacks");
      }
      for (const StoredCell& cell : cells) {
        if (!rows->position(cell.column)) {
          return Status(ErrorCode::kSchemaIncompatible, "the store holds cells of column '" +
                                                            cell.column + "' of table '" + table +
                                                            "', which the schema lacks");
        }
      }
      LUMBUNG_RETURN_IF_ERROR(insert_row(table, row_id, scope, created_seq, cells));
      cells.clear();
      return Status::ok();
    };
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool found, legacy.step());
      if (!found) break;
      if (legacy.text_view(0) != table || legacy.text_view(1) != row_id) {
        LUMBUNG_RETURN_IF_ERROR(move_row());
        table = legacy.text(0);
        row_id = legacy.text(1);
        scope = legacy.text(2);
        created_seq = legacy.integer(3);
      }
      cells.push_back(
          {legacy.text(4),
           {legacy.value(5),
            {.stamp = {core::Hlc(legacy.integer(6)), legacy.text(7)}, .seq = legacy.integer(8)}}});
    }
    LUMBUNG_RETURN_IF_ERROR(move_row());
    return db_.exec("DROP TABLE _lumbung_legacy_cells; DROP TABLE _lumbung_legacy_rows");
  }

  // Counts every scope's checksum and live rows again from the row tables:
  // after rows moved in, or columns were added to tables that had rows.
  Status recount_scopes() {
    LUMBUNG_RETURN_IF_ERROR(db_.exec("UPDATE _lumbung_scopes SET checksum = 0, live_rows = 0"));
    scope_deltas_.clear();
    return scan_rows(std::nullopt, std::nullopt, [&](const LiveRow& row) {
      const core::RowCellHasher hasher(row.table, row.row_id);
      std::uint64_t sum = 0;
      for (std::size_t i = 0; i < row.values.size(); ++i) {
        sum += hasher.cell(row.columns[i], row.values[i]);
      }
      adjust_scope(row.scope, sum, 0, +1);
    });
  }

  // A random conflict id no record has yet.
  Result<std::uint64_t> unused_conflict_id() {
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const std::uint64_t id, random_conflict_id());
      LUMBUNG_ASSIGN_OR_RETURN(Query taken,
                               cached_query(db_, "SELECT 1 FROM _lumbung_conflicts WHERE id = ?1",
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
          cached_query(db_, "SELECT checksum, live_rows FROM _lumbung_scopes WHERE scope = ?1",
                       {Value(scope)}));
      LUMBUNG_ASSIGN_OR_RETURN(bool found, current.step());
      std::uint64_t checksum = delta.checksum;
      std::int64_t live_rows = delta.live_rows;
      if (found) {
        checksum += static_cast<std::uint64_t>(current.integer(0));
        live_rows += current.integer(1);
      }
      LUMBUNG_RETURN_IF_ERROR(execute(
          db_,
          "INSERT OR REPLACE INTO _lumbung_scopes (scope, checksum, live_rows) VALUES (?1, ?2, ?3)",
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

SqliteStore::SqliteStore(std::string path, std::unique_ptr<db::Database> writer,
                         std::shared_ptr<const RowTables> tables)
    : path_(std::move(path)), writer_(std::move(writer)), tables_(std::move(tables)) {}

SqliteStore::~SqliteStore() {
  // The sightings of the last pulls: best effort, as the store closes.
  if (!sightings_.empty()) (void)write_group({});
}

bool SqliteStore::note_sighting(const DeviceSighting& sighting) {
  return sightings_.note(sighting);
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
  LUMBUNG_ASSIGN_OR_RETURN(std::shared_ptr<const RowTables> tables, RowTables::load(db));
  return std::unique_ptr<SqliteStore>(new SqliteStore(path, std::move(writer), std::move(tables)));
}

std::shared_ptr<const RowTables> SqliteStore::row_tables() const {
  std::lock_guard lock(tables_mu_);
  return tables_;
}

Status SqliteStore::adopt_schema(const core::Schema& schema) {
  std::lock_guard lock(write_mu_);
  db::Database& db = *writer_;
  std::shared_ptr<const RowTables> adopted;
  LUMBUNG_RETURN_IF_ERROR(db::in_transaction(db, [&] {
    bool columns_added = false;
    LUMBUNG_RETURN_IF_ERROR(create_row_tables(db, schema, &columns_added));
    LUMBUNG_ASSIGN_OR_RETURN(adopted, RowTables::load(db));
    LUMBUNG_ASSIGN_OR_RETURN(
        const bool legacy,
        db::returns_row(db, "SELECT 1 FROM sqlite_master WHERE name = '_lumbung_legacy_rows'"));
    if (!legacy && !columns_added) return Status::ok();
    SqliteReadTransaction reader(db, *adopted);
    LUMBUNG_ASSIGN_OR_RETURN(std::int64_t last_seq, reader.last_seq());
    SqliteWriteTransaction txn(db, *adopted, last_seq);
    if (legacy) LUMBUNG_RETURN_IF_ERROR(txn.move_legacy_rows());
    LUMBUNG_RETURN_IF_ERROR(txn.recount_scopes());
    return txn.flush();
  }));
  std::lock_guard tables_lock(tables_mu_);
  tables_ = std::move(adopted);
  return Status::ok();
}

Status SqliteStore::write(const WriteBody& body) { return write_group({body}).front(); }

std::vector<Status> SqliteStore::write_group(const std::vector<WriteBody>& bodies) {
  std::lock_guard lock(write_mu_);
  db::Database& db = *writer_;
  std::vector<Status> statuses(bodies.size());
  // Taken now, written after the bodies; put back when the commit fails.
  SightingBuffer::Sightings sightings = sightings_.take();
  if (bodies.empty() && sightings.empty()) return statuses;
  const std::shared_ptr<const RowTables> tables = row_tables();
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
        SqliteReadTransaction reader(db, *tables);
        LUMBUNG_ASSIGN_OR_RETURN(std::int64_t last_seq, reader.last_seq());
        SqliteWriteTransaction txn(db, *tables, last_seq);
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
    sightings_.put_back(std::move(sightings));  // for the next commit to write
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
  const std::shared_ptr<const RowTables> tables = row_tables();
  LUMBUNG_RETURN_IF_ERROR(db.exec("BEGIN"));
  SqliteReadTransaction txn(db, *tables);
  const Status status = body(txn);
  const Status ended = db.exec(status.is_ok() ? "COMMIT" : "ROLLBACK");
  // A connection left inside a transaction would pin its snapshot forever.
  if (sqlite3_get_autocommit(db.handle())) return_reader(std::move(reader));
  return status.is_ok() ? ended : status;
}

}  // namespace lumbung::server
