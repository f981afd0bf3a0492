// `lumbungd restore` (docs/lumbungd.md, "restore"): a data directory's state
// from a backup file (server/backup_file.hpp), checked whole before it
// replaces anything, swapped in so that a crash never leaves a mix of the
// old state and the new, and marked with a new server epoch
// (server/epoch.hpp): the restored state lacks what the server acknowledged
// after the backup, and devices must learn that (docs/protocol.md, "Going
// back in time").
//
// The swap: the backup is unpacked and checked in DIR/restore-staging/new;
// then the file DIR/restore-staging/committed is written and synced, the
// moment the restore takes effect; then each part of the state (lumbung.db,
// credentials.sqlite, keys/, snapshots/) is moved aside into
// DIR/restore-staging/old and its new version moved in, and the staging
// folder is removed. A crash before the mark leaves the old state whole; one
// after it is finished by the next `serve` or `restore` on DIR
// (lock_data_dir()), which moves in what is left.
//
// With a PostgreSQL store (`--store URL`,
// docs/decisions/0040-backup-of-a-postgresql-store.md), the staged store and
// credentials, checked and given their new epoch as above, are loaded into
// the database in one transaction (server/store_migration.hpp), whose commit
// is the moment the restore takes effect; then the keys (and snapshots) are
// swapped into DIR as above. The restore is refused while any other lumbungd
// is connected to the database.
//
// Thread-safety: free functions; one restore at a time per data directory
// (the lock sees to it across processes).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "lumbung/status.hpp"
#include "server/data_dir.hpp"

namespace lumbung::server {

struct RestoreOptions {
  std::string from;      // REQUIRED: the backup file
  std::string data_dir;  // REQUIRED: created when missing
  // Default false: a data directory holding anything but its lock file is
  // refused. True: its store, credentials, keys and snapshots are replaced
  // (snapshots of the old state go); other files in it are left alone.
  bool force = false;
  // Default empty: the state goes into DIR's SQLite store. A PostgreSQL URL
  // (server/open_store.hpp): the store and credentials go into that
  // database, DIR gets the keys and snapshots. `force` then also allows
  // replacing a store with data in the database.
  std::string store_url;
};

struct RestoreSummary {
  std::string data_dir;       // absolute
  std::string epoch;          // the restored state's new server epoch
  std::int64_t last_seq = 0;  // the restored store's last seq
};

// Restores `from` into `data_dir`, holding the data directory's lock
// throughout. Refuses, leaving `data_dir` as it was: kBusy when another
// process holds its lock; kInvalidArgument when it is not empty and not
// `force`; kCorrupt when `from` is not a whole, intact backup file or its
// store fails SQLite's integrity check or is no lumbungd store. With
// `store_url`, also leaving the database's store as it was: kBusy while
// another lumbungd is connected to the database; kInvalidArgument when its
// store holds data and not `force`. Should the process die between the
// database's commit and the keys' swap into DIR, the same restore run again
// with `force` finishes it (with yet another epoch).
Result<RestoreSummary> restore_backup(const RestoreOptions& options);

// Takes `data_dir`'s lock (DataDirLock::acquire) and finishes a restore a
// crash interrupted after its commit, or removes one interrupted before it.
// `serve` calls it before it opens the store.
Result<std::unique_ptr<DataDirLock>> lock_data_dir(const std::string& data_dir);

}  // namespace lumbung::server
