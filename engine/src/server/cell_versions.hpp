// CellVersions: how a row table keeps the versions of a row's cells in one
// value beside its columns (docs/decisions/0033-row-tables.md). Most cells of
// a row hold the version of the insert that made the row (its stamp and
// created seq, kept in the row's own metadata columns); only the cells written
// since, or inserted with stamps of their own, are listed here, by column name.
//
// Encoding: a format byte (1), then per cell: varint length and bytes of the
// column name, varint HLC, varint seq, varint length and bytes of the device
// id. Empty (no bytes) when no cell differs.
//
// Thread-safety: values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/merge.hpp"
#include "lumbung/status.hpp"

namespace lumbung::server {

struct CellVersion {
  std::string column;
  core::ServerVersion version;
};

class CellVersions {
 public:
  // kCorrupt for bytes this encoding did not write.
  static Result<CellVersions> decode(std::string_view bytes);
  std::string encode() const;

  // The version of `column`: its own, or `row_version` when it has none.
  const core::ServerVersion& of(std::string_view column,
                                const core::ServerVersion& row_version) const;
  // Sets the version of `column`; a version equal to `row_version` is not kept.
  void set(std::string_view column, const core::ServerVersion& version,
           const core::ServerVersion& row_version);
  const std::vector<CellVersion>& cells() const { return cells_; }

 private:
  std::vector<CellVersion> cells_;  // at most one per column
};

bool same_version(const core::ServerVersion& a, const core::ServerVersion& b);

}  // namespace lumbung::server
