// SqliteStore: the daemon's embedded store, one SQLite file DATA_DIR/lumbung.db
// in WAL mode with synchronous=FULL, so that a push acknowledged after its
// commit survives kill -9 and power loss.
//
// One write connection, serialized by a mutex; reads (pull pages, dumps) run on
// a pool of read connections, each in one read transaction: a consistent
// snapshot, in parallel with the writer. What pulls tell of devices is kept
// in memory and written with the next write transaction (note_sighting).
// Each synced table is a table of its own (server/sqlite_row_tables.hpp), the
// store's own tables carry the reserved prefix "_lumbung_"; SQL is built only
// from checked, quoted identifiers. The SQL stays within SQLite 3.15 (the
// SQLCipher build): no UPSERT, RETURNING, window functions or JSON1.
//
// Thread-safety: as Store.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "server/sighting_buffer.hpp"
#include "server/sqlite_row_tables.hpp"
#include "server/store.hpp"

namespace lumbung::server {

// The store's file in a data directory.
inline constexpr const char* kStoreFileName = "lumbung.db";

class SqliteStore : public Store {
 public:
  // Opens or creates the store in `data_dir` (created when missing, mode
  // 0700; the file is created 0600, and an older version's wider modes of
  // both are narrowed). An older format is upgraded in place. kIo when the
  // directory or file cannot be created, kCorrupt for a file this version
  // does not know.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& data_dir);
  ~SqliteStore() override;

  Status adopt_schema(const core::Schema& schema) override;
  Status write(const WriteBody& body) override;
  std::vector<Status> write_group(const std::vector<WriteBody>& bodies) override;
  Status read(const std::function<Status(ReadTransaction&)>& body) override;
  bool note_sighting(const DeviceSighting& sighting) override;

 private:
  SqliteStore(std::string path, std::unique_ptr<db::Database> writer,
              std::shared_ptr<const RowTables> tables);

  // The row tables as last adopted: each transaction keeps the ones it began with.
  std::shared_ptr<const RowTables> row_tables() const;

  // A read connection from the pool, or a new one.
  Result<std::unique_ptr<db::Database>> take_reader();
  void return_reader(std::unique_ptr<db::Database> reader);

  const std::string path_;
  std::mutex write_mu_;
  std::unique_ptr<db::Database> writer_;
  mutable std::mutex tables_mu_;
  std::shared_ptr<const RowTables> tables_;  // guarded by tables_mu_
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<db::Database>> idle_readers_;
  SightingBuffer sightings_;
};

}  // namespace lumbung::server
