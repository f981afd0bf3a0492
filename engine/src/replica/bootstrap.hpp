// A fresh replica's first download from the server's snapshots
// (docs/protocol.md, "Snapshot"): instead of pulling every row of its
// villages in pages, a replica that has never pulled, and holds no row and no
// pending change, downloads each village's snapshot file in chunks, checks
// it, builds the schema's indexes in it, and copies its tables in whole, the
// way SQLite copies a table into an identical empty one (page by page, not
// row by row). The pull that follows starts at the snapshot's seq.
//
// The copy is one transaction: a kill at any point leaves the replica fresh
// or holding the whole snapshot with its cursor. The download resumes from
// the bytes already on disk when the snapshot is still the one listed. Any
// failure but a cancellation leaves the replica as it was, and the device
// pulls instead; a snapshot never has to work for a sync to succeed.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/sync.hpp"
#include "replica/exchange.hpp"

namespace lumbung::replica {

struct BootstrapResult {
  std::int64_t rows = 0;                  // rows adopted
  std::vector<ConflictRecord> conflicts;  // conflict records adopted
};

class Bootstrapper {
 public:
  // `path` is the replica's file; the work files go beside it.
  Bootstrapper(db::Database& db, const core::Schema& schema, std::string path);

  // Whether the replica may start from snapshots: a plain (unencrypted) file
  // that has never pulled and holds no row, conflict or pending change.
  Result<bool> eligible();

  // Downloads and adopts the snapshots the server lists, `chunk_bytes` per
  // request; calls `on_rows` with the ids of each table's adopted rows, a
  // batch at a time. Only kCancelled is returned as an error.
  Result<BootstrapResult> run(Exchanger& exchanger, std::uint32_t chunk_bytes,
                              const std::function<void(const std::vector<ChangedRows>&)>& on_rows);

  // Removes what a download left beside the replica: called for a replica no
  // longer fresh, whose download will not be resumed.
  void remove_work_files();

 private:
  // Appends the snapshot's bytes to the packed work file, from where an
  // earlier download of the same snapshot stopped.
  Status download(Exchanger& exchanger, const v1::RequestHeader& header,
                  const v1::SnapshotInfo& info, std::uint32_t chunk_bytes);
  Result<std::int64_t> unpack_and_adopt(const v1::SnapshotInfo& info);
  // Checks the unpacked file, notes which of its tables hold rows, and builds
  // their indexes in it.
  Status prepare(const v1::SnapshotInfo& info);
  Result<std::int64_t> adopt(const v1::SnapshotInfo& info);
  Status report_rows(const std::string& scope,
                     const std::function<void(const std::vector<ChangedRows>&)>& on_rows);

  db::Database& db_;
  const core::Schema& schema_;
  const std::string path_;
  const std::string packed_path_;    // the download, as it comes
  const std::string unpacked_path_;  // the SQLite file it unpacks to
  std::set<std::string> filled_;     // the snapshot's tables that hold rows (prepare())
};

}  // namespace lumbung::replica
