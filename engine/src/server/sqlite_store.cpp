#include "server/sqlite_store.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <system_error>
#include <utility>

#include "auth/private_file.hpp"
#include "db/file_format.hpp"
#include "server/sql_transactions.hpp"
#include "server/sqlite_row_tables.hpp"
#include "server/sqlite_sql.hpp"

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
// retention (docs/decisions/0028-audit-retention.md); 8: row tables
// (docs/decisions/0033-row-tables.md); 9: the change log's writers
// (docs/decisions/0043-pull-past-own-writes.md).
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
    // The change log's entries say whose write they are ('' for those
    // written before), so that a device's pull reads past its own unread.
    {9, R"sql(
ALTER TABLE _lumbung_changes ADD COLUMN device TEXT NOT NULL DEFAULT '';
)sql"},
};
constexpr db::FileFormat kStoreFormat{2, kUpgrades};

using ReadTxn = sql::ReadTransactionOver<SqliteSql>;
using WriteTxn = sql::WriteTransactionOver<SqliteSql>;

// Moves the rows a store of format 7 or older kept cell by cell into the row
// tables through `txn`, with their cells' versions and change log entries,
// then drops the legacy tables. kSchemaIncompatible for a row of a table, or
// a cell of a column, that the row tables lack.
Status move_legacy_rows(db::Database& db, const RowTables& tables, WriteTxn& txn) {
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query legacy,
      db::Query::prepared(db,
                          "SELECT r.tbl, r.row_id, r.scope, r.created_seq, c.col, c.value, c.hlc, "
                          "c.device, c.seq FROM _lumbung_legacy_rows AS r "
                          "JOIN _lumbung_legacy_cells AS c ON c.tbl = r.tbl AND c.row_id = "
                          "r.row_id ORDER BY r.tbl, r.row_id"));
  std::string table;
  std::string row_id;
  std::string scope;
  std::int64_t created_seq = 0;
  std::vector<StoredCell> cells;
  const auto move_row = [&]() -> Status {
    if (cells.empty()) return Status::ok();
    const RowTable* rows = tables.find(table);
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
    LUMBUNG_RETURN_IF_ERROR(txn.insert_row(table, row_id, scope, created_seq, cells));
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
  return db.exec("DROP TABLE _lumbung_legacy_cells; DROP TABLE _lumbung_legacy_rows");
}

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
    ReadTxn reader(SqliteSql(db), *adopted);
    LUMBUNG_ASSIGN_OR_RETURN(std::int64_t last_seq, reader.last_seq());
    WriteTxn txn(SqliteSql(db), *adopted, last_seq);
    if (legacy) LUMBUNG_RETURN_IF_ERROR(move_legacy_rows(db, *adopted, txn));
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
        ReadTxn reader(SqliteSql(db), *tables);
        LUMBUNG_ASSIGN_OR_RETURN(std::int64_t last_seq, reader.last_seq());
        WriteTxn txn(SqliteSql(db), *tables, last_seq);
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
      SqliteSql conn(db);
      LUMBUNG_RETURN_IF_ERROR(sql::write_sighting(conn, pending.latest, pending.first_ms, false));
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
  ReadTxn txn(SqliteSql(db), *tables);
  const Status status = body(txn);
  const Status ended = db.exec(status.is_ok() ? "COMMIT" : "ROLLBACK");
  // A connection left inside a transaction would pin its snapshot forever.
  if (sqlite3_get_autocommit(db.handle())) return_reader(std::move(reader));
  return status.is_ok() ? ended : status;
}

}  // namespace lumbung::server
