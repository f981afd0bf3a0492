// `lumbungd backup` (docs/lumbungd.md, "backup"): the state of a data
// directory in one backup file (server/backup_file.hpp), taken while `serve`
// runs on it. The store and the credential store are copied with SQLite's
// online backup, each in one read transaction, so each copy is the
// committed state of one moment and the daemon's writes go on meanwhile; the
// signing keys are copied as files. `lumbungd restore` (server/restore.hpp)
// reads it back.
//
// With a PostgreSQL store (`--store URL`), the database's store and
// credential tables are copied into a SQLite store and credential store of
// the current format in one REPEATABLE READ READ ONLY transaction
// (server/store_migration.hpp), so that the file is the same whichever store
// it came from, and one restore reads either
// (docs/decisions/0040-backup-of-a-postgresql-store.md); the keys still come
// from the data directory.
//
// Thread-safety: back_up() may run on any thread and beside a daemon in
// another process; it takes no lock on the data directory.
#pragma once

#include <cstdint>
#include <string>

#include "lumbung/status.hpp"

namespace lumbung::server {

struct BackupOptions {
  std::string
      data_dir;  // REQUIRED: a data directory that holds a store, or the keys of `store_url`
  // Default empty: the store is DIR's SQLite store. A PostgreSQL URL
  // (server/open_store.hpp): the store and credentials are the database's.
  std::string store_url;
  std::string out;              // REQUIRED: the backup file; an existing one is replaced
  bool with_snapshots = false;  // default false: without DIR/snapshots (rebuilt by 'snapshot')
};

struct BackupSummary {
  std::string path;           // `out`, absolute
  std::uint64_t bytes = 0;    // the backup file's size
  std::int64_t last_seq = 0;  // the store's last seq in the copy
};

// Writes the backup file. Everything is written into a folder OUT.tmp-XXXXXX
// beside `out` (mode 0700), synced, and renamed to `out` (mode 0600) at the
// end, its directory synced: a failure or a crash never leaves part of a
// backup under the name `out`, and a failure removes the folder. The
// snapshots, with `with_snapshots`, are copied before the store, so that
// none is newer than the store's copy. kNotFound when `data_dir` holds no
// store (with `store_url`: when `data_dir` is no directory or the database
// holds no store); kInvalidArgument for a `store_url` that is not a
// PostgreSQL URL; the errno's error, naming `out`, when `out` cannot be
// written. No message holds the URL's password.
Result<BackupSummary> back_up(const BackupOptions& options);

}  // namespace lumbung::server
