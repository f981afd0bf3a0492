// Moving a data directory's SQLite store into a PostgreSQL database
// (`lumbungd migrate-store --data DIR --to URL`, docs/operations.md): every
// table of the store, row tables and the store's own (seqs, versions, change
// log, tombstones, conflicts, audit log, devices, schema texts, the epoch)
// and the credential store's (DIR/credentials.sqlite: roles, grants, issued
// and revoked tokens, bindings), copied as it is in one PostgreSQL transaction, so that devices go
// on from their cursors and pushes in flight stay exactly-once. The two stores have the same tables
// (docs/decisions/0035-one-store-over-sql.md); values of any type (columns SQLite declares without
// a type) become PostgreSQL's tagged bytea, and 0/1 become booleans where PostgreSQL keeps
// booleans.
//
// The data directory is locked for the copy (no `serve` may run on it) and
// left as it was; the database must hold no store yet, or an empty one.
// After the copy the two stores are compared: their last seq, every scope's
// checksum and live rows, and the number of rows of every table.
//
// The same copier serves `lumbungd backup --store URL` and `lumbungd restore
// --store URL` (docs/decisions/0040-backup-of-a-postgresql-store.md): out of
// the database into a SQLite store of the current format, the format a
// backup file holds, and back in.
//
// Thread-safety: free functions; each opens connections of its own.
#pragma once

#include <cstdint>
#include <string>

#include "lumbung/status.hpp"

namespace lumbung::server {

struct MigrationSummary {
  std::int64_t last_seq = 0;
  std::int64_t scopes = 0;
  std::int64_t tables = 0;  // copied, the store's own and the row tables
  std::int64_t rows = 0;    // copied, of every table
};

// Copies the store of `data_dir` into the PostgreSQL database `url`. The
// schema the data directory was served with is adopted on both sides first
// (as `serve` would at its first start). kBusy when a daemon holds the data
// directory; kInvalidArgument when the database already holds a store with
// data; kCorrupt when the copy does not compare equal (nothing committed).
Result<MigrationSummary> migrate_store(const std::string& data_dir, const std::string& url);

// Copies the PostgreSQL store at `url`, and its credential tables when it
// has them, into a new SQLite store in `dir` (DIR/lumbung.db of the current
// format, with the row tables of the schema the database was served with)
// and DIR/credentials.sqlite: every table read in one REPEATABLE READ READ
// ONLY transaction, so the copy is the committed state of one moment and
// daemons serving the database go on writing meanwhile; tagged values
// become SQLite values, booleans 0 and 1. Returns the copy's last seq and
// its tables and rows. kNotFound when the database holds no store,
// kCorrupt when its store has another format. REQUIRES: `dir` exists and
// holds neither file.
Result<MigrationSummary> copy_store_out_of_postgresql(const std::string& url,
                                                      const std::string& dir);

// Loads the SQLite store in `dir` (DIR/lumbung.db, and DIR/credentials.sqlite
// when there is one) into the PostgreSQL database `url`, in one transaction:
// its commit is the moment the database's store becomes the loaded one; a
// failure, or a kill, before it leaves the store as it was. The loaded store
// replaces the database's, row tables and all (those of its own schema);
// a database without a store first gets the store's empty tables, as at
// serve's first start. Refuses, committing nothing: kBusy while another
// lumbungd is connected to the database (a daemon caches the epoch and seqs
// it started with); kInvalidArgument when the database's store holds data
// and not `force`. Returns the loaded store's last seq, scopes, tables and
// rows.
Result<MigrationSummary> load_store_into_postgresql(const std::string& dir, const std::string& url,
                                                    bool force);

}  // namespace lumbung::server
