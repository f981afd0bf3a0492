// Builds the snapshots lumbungd serves to fresh devices (docs/protocol.md,
// "Snapshot"; `lumbungd snapshot`). The builder is a device of the daemon's
// own: a replica kept in DATA/snapshots that syncs with the store in process,
// with the device's code, so that a snapshot holds exactly what a pull would
// have brought, in the device's own table layout, and the replica's
// checksum check vouches for it. Each village's rows are then copied into a
// file of their own, without the schema's secondary indexes (the device
// builds those: they would double the download), and packed with zstd.
//
// A rebuild pulls only what changed since the last one. Safe to run while
// `lumbungd serve` runs on the same directory; not twice at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lumbung/status.hpp"

namespace lumbung::snapshot {

struct SnapshotBuildOptions {
  std::string data_dir;   // REQUIRED
  std::string store_url;  // the PostgreSQL store's (ServerOptions::store_url); empty: DIR's
  // Empty: the schema the data directory was served with, else the built-in one.
  std::string schema_text;
  std::string schema_source = "schema";
  std::optional<std::string> village;  // only this village; default: every village
  int zstd_level = 19;
};

struct BuiltSnapshot {
  std::string scope;
  std::int64_t seq = 0;
  std::int64_t rows = 0;
  std::uint64_t bytes = 0;
  bool rebuilt = false;  // false: the newest snapshot was already at this seq
};

Result<std::vector<BuiltSnapshot>> build_snapshots(const SnapshotBuildOptions& options);

}  // namespace lumbung::snapshot
