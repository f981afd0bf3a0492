// PgStore: the daemon's state in a PostgreSQL 15 database
// (docs/decisions/0034-postgresql-store.md), the same tables and semantics as
// the SQLite store (server/sqlite_store.hpp): the synced tables as row tables
// of their own (server/pg_row_tables.hpp), and the store's own tables with the
// reserved prefix "_lumbung_". The store creates them on first open and
// records its format in _lumbung_meta ('store_format'), so that later versions
// can upgrade it.
//
// One write connection, serialized by a mutex: a write group is one
// transaction, each body in a savepoint of its own, and it begins by locking
// the _lumbung_meta row 'last_seq' (SELECT ... FOR UPDATE), which it writes
// at its end: writers commit one at a time in the order of the seqs they give
// out. Reads run on a small pool of connections, each in one REPEATABLE READ
// READ ONLY transaction: one snapshot. What pulls tell of devices is kept in
// memory and written with the next write group (note_sighting).
//
// Thread-safety: as Store.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pg/connection.hpp"
#include "server/pg_row_tables.hpp"
#include "server/sighting_buffer.hpp"
#include "server/store.hpp"

namespace lumbung::server {

class PgStore : public Store {
 public:
  // The format a new store is created with (_lumbung_meta 'store_format'),
  // and to which open() upgrades an older one.
  static constexpr int kFormat = 9;

  // Connects to the database at `url` (a postgresql:// URL or a libpq
  // conninfo) and creates the store's tables there when it has none.
  // kUnavailable when the server cannot be reached, kCorrupt for a database
  // whose store has another format. No message holds the URL's password.
  static Result<std::unique_ptr<PgStore>> open(const std::string& url);
  ~PgStore() override;

  Status adopt_schema(const core::Schema& schema) override;
  Status write(const WriteBody& body) override;
  std::vector<Status> write_group(const std::vector<WriteBody>& bodies) override;
  Status read(const std::function<Status(ReadTransaction&)>& body) override;
  bool note_sighting(const DeviceSighting& sighting) override;

 private:
  PgStore(std::string url, std::unique_ptr<pg::Connection> writer,
          std::shared_ptr<const RowTables> tables);

  std::shared_ptr<const RowTables> row_tables() const;
  // One attempt at a write group; *started: the seq lock was taken (bodies
  // may have run). REQUIRES: write_mu_ held.
  Status run_group(const std::vector<WriteBody>& bodies, const SightingBuffer::Sightings& sightings,
                   std::vector<Status>* statuses, bool* started);
  Result<std::unique_ptr<pg::Connection>> take_reader();
  void return_reader(std::unique_ptr<pg::Connection> reader);

  const std::string url_;  // never shown: it may hold a password
  std::mutex write_mu_;
  std::unique_ptr<pg::Connection> writer_;  // guarded by write_mu_
  mutable std::mutex tables_mu_;
  std::shared_ptr<const RowTables> tables_;  // guarded by tables_mu_
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<pg::Connection>> idle_readers_;  // guarded by readers_mu_
  SightingBuffer sightings_;
};

}  // namespace lumbung::server
