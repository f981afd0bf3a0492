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

}  // namespace lumbung::server
