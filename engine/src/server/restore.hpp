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
// store fails SQLite's integrity check or is no lumbungd store.
Result<RestoreSummary> restore_backup(const RestoreOptions& options);

// Takes `data_dir`'s lock (DataDirLock::acquire) and finishes a restore a
// crash interrupted after its commit, or removes one interrupted before it.
// `serve` calls it before it opens the store.
Result<std::unique_ptr<DataDirLock>> lock_data_dir(const std::string& data_dir);

}  // namespace lumbung::server
