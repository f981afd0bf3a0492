// Stores of earlier formats, made by taking a current store back step by step
// (with the test's SQLite, which may use DROP COLUMN), so that the tests can
// check that SqliteStore::open upgrades them in place.
#pragma once

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <string>

namespace lumbung::test {

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
    "CREATE UNIQUE INDEX cells_seq ON cells (seq);"
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
