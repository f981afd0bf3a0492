// Stores of earlier formats, made by taking a current store back step by step
// (with the test's SQLite, which may use DROP COLUMN), so that the tests can
// check that SqliteStore::open upgrades them in place.
#pragma once

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/cell_versions.hpp"

namespace lumbung::test {

// The SQL statements of `sql`, run on `db`.
inline void run_on(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  INFO(sql << ": " << (error == nullptr ? "" : error));
  sqlite3_free(error);
  REQUIRE(rc == SQLITE_OK);
}

// A statement of `db`, finalized when it ends.
class TestStatement {
 public:
  TestStatement(sqlite3* db, const std::string& sql) {
    INFO(sql);
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) == SQLITE_OK);
  }
  ~TestStatement() { sqlite3_finalize(stmt_); }
  TestStatement(const TestStatement&) = delete;
  TestStatement& operator=(const TestStatement&) = delete;
  sqlite3_stmt* get() const { return stmt_; }
  bool step() const {
    const int rc = sqlite3_step(stmt_);
    REQUIRE((rc == SQLITE_ROW || rc == SQLITE_DONE));
    return rc == SQLITE_ROW;
  }
  std::string text(int i) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return text == nullptr ? std::string() : std::string(text);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Format 9 to 8: the change log's entries without their writers.
inline void downgrade_to_8(const std::string& data_dir) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((data_dir + "/lumbung.db").c_str(), &db) == SQLITE_OK);
  run_on(db, "ALTER TABLE _lumbung_changes DROP COLUMN device; PRAGMA user_version = 8;");
  REQUIRE(sqlite3_close(db) == SQLITE_OK);
}

// Format 8 to 7: the rows of the row tables back into the cells of
// synced_rows and cells (each cell at its version's seq: an insert's cells
// share one, which format 7 never wrote but reads alike), tombstones back into
// synced_rows, and the store's own tables without their prefix.
inline void downgrade_to_7(const std::string& data_dir) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((data_dir + "/lumbung.db").c_str(), &db) == SQLITE_OK);
  run_on(db,
         "BEGIN;"
         "CREATE TABLE synced_rows (tbl TEXT NOT NULL, row_id TEXT NOT NULL, scope TEXT NOT NULL,"
         "  created_seq INTEGER NOT NULL, deleted_seq INTEGER, deleted_hlc INTEGER,"
         "  deleted_device TEXT, PRIMARY KEY (tbl, row_id)) WITHOUT ROWID;"
         "CREATE TABLE cells (tbl TEXT NOT NULL, row_id TEXT NOT NULL, col TEXT NOT NULL, value,"
         "  hlc INTEGER NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL,"
         "  scope TEXT NOT NULL DEFAULT '', PRIMARY KEY (tbl, row_id, col)) WITHOUT ROWID;"
         "CREATE INDEX cells_scope_seq ON cells (scope, seq);"
         "CREATE INDEX synced_rows_tombstones ON synced_rows (scope, deleted_seq)"
         "  WHERE deleted_seq IS NOT NULL;"
         "INSERT INTO synced_rows SELECT tbl, row_id, scope, created_seq, seq, hlc, device"
         "  FROM _lumbung_tombstones;");
  std::vector<std::pair<std::string, std::string>> tables;  // name, scope column
  {
    TestStatement listed(db, "SELECT tbl, scope_column FROM _lumbung_tables");
    while (listed.step()) tables.emplace_back(listed.text(0), listed.text(1));
  }
  {  // its statements finalized before the connection closes
    TestStatement add_row(db,
                          "INSERT INTO synced_rows (tbl, row_id, scope, created_seq) "
                          "VALUES (?1, ?2, ?3, ?4)");
    TestStatement add_cell(db, "INSERT INTO cells VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    for (const auto& [table, scope_column] : tables) {
      std::vector<std::string> columns;
      {
        TestStatement info(db, "PRAGMA table_info(\"" + table + "\")");
        while (info.step()) {
          if (!info.text(1).starts_with("_lumbung")) columns.push_back(info.text(1));
        }
      }
      std::string listed;
      for (const std::string& column : columns) listed += "\"" + column + "\", ";
      TestStatement rows(db, "SELECT " + listed + "\"" + scope_column +
                                 "\", _lumbung_created_seq, _lumbung_hlc, "
                                 "_lumbung_device, _lumbung_versions FROM \"" +
                                 table + "\"");
      const int n = static_cast<int>(columns.size());
      while (rows.step()) {
        const std::string scope = rows.text(n);
        const std::int64_t created_seq = sqlite3_column_int64(rows.get(), n + 1);
        const core::ServerVersion row_version{
            .stamp = {core::Hlc(sqlite3_column_int64(rows.get(), n + 2)), rows.text(n + 3)},
            .seq = created_seq};
        const auto* bytes = static_cast<const char*>(sqlite3_column_blob(rows.get(), n + 4));
        const Result<server::CellVersions> versions = server::CellVersions::decode(std::string_view(
            bytes, static_cast<std::size_t>(sqlite3_column_bytes(rows.get(), n + 4))));
        REQUIRE(versions.is_ok());
        std::string row_id;
        for (int i = 0; i < n; ++i) {
          if (columns[static_cast<std::size_t>(i)] == "id") row_id = rows.text(i);
        }
        sqlite3_reset(add_row.get());
        sqlite3_bind_text(add_row.get(), 1, table.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(add_row.get(), 2, row_id.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(add_row.get(), 3, scope.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(add_row.get(), 4, created_seq);
        REQUIRE(!add_row.step());
        for (int i = 0; i < n; ++i) {
          const std::string& column = columns[static_cast<std::size_t>(i)];
          const core::ServerVersion& version = versions->of(column, row_version);
          sqlite3_reset(add_cell.get());
          sqlite3_bind_text(add_cell.get(), 1, table.c_str(), -1, SQLITE_TRANSIENT);
          sqlite3_bind_text(add_cell.get(), 2, row_id.c_str(), -1, SQLITE_TRANSIENT);
          sqlite3_bind_text(add_cell.get(), 3, column.c_str(), -1, SQLITE_TRANSIENT);
          sqlite3_bind_value(add_cell.get(), 4, sqlite3_column_value(rows.get(), i));
          sqlite3_bind_int64(add_cell.get(), 5, version.stamp.hlc.packed());
          sqlite3_bind_text(add_cell.get(), 6, version.stamp.device_id.c_str(), -1,
                            SQLITE_TRANSIENT);
          sqlite3_bind_int64(add_cell.get(), 7, version.seq);
          sqlite3_bind_text(add_cell.get(), 8, scope.c_str(), -1, SQLITE_TRANSIENT);
          REQUIRE(!add_cell.step());
        }
      }
    }
  }
  std::string drops;
  for (const auto& [table, scope_column] : tables) drops += "DROP TABLE \"" + table + "\";";
  run_on(db, drops);
  run_on(db,
         "DROP TABLE _lumbung_tables; DROP TABLE _lumbung_changes; DROP TABLE _lumbung_tombstones;"
         "DROP TRIGGER _lumbung_audit_log_no_update; DROP TRIGGER _lumbung_audit_log_no_delete;"
         "ALTER TABLE _lumbung_audit_log DROP COLUMN scope;"
         "ALTER TABLE _lumbung_meta RENAME TO meta;"
         "ALTER TABLE _lumbung_scopes RENAME TO scopes;"
         "ALTER TABLE _lumbung_devices RENAME TO devices;"
         "ALTER TABLE _lumbung_device_answers RENAME TO device_answers;"
         "ALTER TABLE _lumbung_conflicts RENAME TO conflicts;"
         "ALTER TABLE _lumbung_device_activity RENAME TO device_activity;"
         "ALTER TABLE _lumbung_device_refusals RENAME TO device_refusals;"
         "ALTER TABLE _lumbung_audit_archiving RENAME TO audit_archiving;"
         "ALTER TABLE _lumbung_audit_log RENAME TO audit_log;"
         "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
         "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
         "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
         "  WHEN NOT EXISTS (SELECT 1 FROM audit_archiving WHERE OLD.time_ms < before_ms"
         "                   AND OLD.id BETWEEN first_id AND last_id)"
         "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
         "PRAGMA user_version = 7;"
         "COMMIT;");
  REQUIRE(sqlite3_close(db) == SQLITE_OK);
}

// Format 7 to 6: an audit log that nothing leaves.
constexpr const char* kDowngradeTo6 =
    "DROP TRIGGER audit_log_no_delete;"
    "DROP TABLE audit_archiving;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "PRAGMA user_version = 6;";

// Format 6 to 5: no fleet view.
constexpr const char* kDowngradeTo5 =
    "DROP TABLE device_activity;"
    "DROP TABLE device_refusals;"
    "PRAGMA user_version = 5;";

// Format 5 to 4: the answers to the devices' last batches back in their rows
// of `devices`.
constexpr const char* kDowngradeTo4 =
    "CREATE TABLE devices_with_answers ("
    "  device_id TEXT PRIMARY KEY NOT NULL, last_batch INTEGER NOT NULL,"
    "  request_digest INTEGER NOT NULL, response BLOB NOT NULL)"
    "  WITHOUT ROWID;"
    "INSERT INTO devices_with_answers SELECT d.device_id, d.last_batch, d.request_digest, "
    "  a.response FROM devices AS d JOIN device_answers AS a ON a.device_id = d.device_id;"
    "DROP TABLE devices;"
    "DROP TABLE device_answers;"
    "ALTER TABLE devices_with_answers RENAME TO devices;"
    "PRAGMA user_version = 4;";

// Format 4 to 3: cells without their scope, the log indexed by seq alone.
constexpr const char* kDowngradeTo3 =
    "DROP INDEX cells_scope_seq;"
    "DROP INDEX synced_rows_tombstones;"
    "DROP INDEX conflicts_scope_seq;"
    "ALTER TABLE cells DROP COLUMN scope;"
    // Not UNIQUE as format 3 had it: an insert's cells now share a seq.
    "CREATE INDEX cells_seq ON cells (seq);"
    "CREATE INDEX synced_rows_deleted_seq ON synced_rows (deleted_seq);"
    "PRAGMA user_version = 3;";

// Format 3 to 2: no resolutions, no officers.
constexpr const char* kDowngradeTo2 =
    "ALTER TABLE conflicts DROP COLUMN resolved_value;"
    "ALTER TABLE conflicts DROP COLUMN resolved_by;"
    "ALTER TABLE conflicts DROP COLUMN resolved_device;"
    "ALTER TABLE conflicts DROP COLUMN resolved_ms;"
    "ALTER TABLE audit_log DROP COLUMN officer;"
    "ALTER TABLE audit_log DROP COLUMN conflict_id;"
    "PRAGMA user_version = 2;";

// Runs `sql` on the closed store in `data_dir`.
inline void rewrite_store(const std::string& data_dir, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((data_dir + "/lumbung.db").c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  INFO((error == nullptr ? "" : error));
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

}  // namespace lumbung::test
