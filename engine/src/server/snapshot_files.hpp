// The snapshots a daemon keeps in DATA/snapshots (docs/protocol.md,
// "Snapshot"): per village, a zstd-compressed SQLite file of its rows at a
// seq, which a fresh device downloads whole instead of pulling every row.
// Written by the snapshot builder (snapshot/snapshot_builder.hpp), read by
// POST /v1/snapshot. A file is published by rename, so a reader sees whole
// files only; the newest two of a village are kept, so that a download in
// progress survives one rebuild.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lumbung/status.hpp"

namespace lumbung::server {

struct SnapshotFile {
  std::string scope;
  std::int64_t seq = 0;
  std::int64_t rows = 0;
  std::uint64_t bytes = 0;
  std::string path;
};

// The snapshots' directory in a data directory, and its path DATA/snapshots.
inline constexpr const char* kSnapshotDirName = "snapshots";
std::string snapshot_dir(const std::string& data_dir);

// The newest snapshot of each village in `dir`, ordered by village; none
// when `dir` does not exist.
Result<std::vector<SnapshotFile>> newest_snapshots(const std::string& dir);

// The snapshot of `scope` at `seq`, if `dir` still keeps it.
Result<std::optional<SnapshotFile>> find_snapshot(const std::string& dir, std::string_view scope,
                                                  std::int64_t seq);

// Removes the compressed files in `dir` that are not snapshots of the
// current format: those of an older one, which no device adopts any more,
// and a work file a builder left.
Status remove_stale_snapshots(const std::string& dir);

// Makes the finished file `written` the snapshot of `scope` at `seq`: syncs
// it, renames it into place, syncs the directory, and removes all but the
// newest two snapshots of the village.
Result<SnapshotFile> publish_snapshot(const std::string& dir, const std::string& written,
                                      const std::string& scope, std::int64_t seq,
                                      std::int64_t rows);

// Up to `max_bytes` bytes of `file` from `offset`.
Result<std::string> read_snapshot_chunk(const SnapshotFile& file, std::uint64_t offset,
                                        std::uint32_t max_bytes);

}  // namespace lumbung::server
