// What a snapshot file holds (docs/protocol.md, "Snapshot"): the schema's
// tables, the stamps of their rows' versions (versions.hpp) and the conflict
// records, as the device makes them, and a stamp naming the snapshot. Written by
// snapshot/snapshot_builder.cpp, read by replica/bootstrap.cpp.
#pragma once

#include <set>
#include <string>

#include "core/schema.hpp"

namespace lumbung::replica {

// The table naming the snapshot: one row.
inline constexpr const char* kSnapshotStamp = "_lumbung_snapshot";
inline constexpr const char* kCreateSnapshotStamp =
    "CREATE TABLE _lumbung_snapshot (scope TEXT NOT NULL, seq INTEGER NOT NULL, "
    "rows INTEGER NOT NULL)";

// The versions of the snapshot's live rows: no tombstone, no other scope.
inline constexpr const char* kSnapshotVersions = "_lumbung_version";

// The tables a snapshot copies, with their rows of one scope.
inline std::set<std::string> snapshot_tables(const core::Schema& schema) {
  std::set<std::string> tables;
  for (const core::Table& table : schema.tables) tables.insert(table.name);
  tables.insert("_lumbung_conflict");
  tables.insert(kSnapshotVersions);
  return tables;
}

}  // namespace lumbung::replica
