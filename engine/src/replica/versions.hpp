// _lumbung_version: the stamp (HLC and author) of the version of each cell the
// device holds from the server, and of each row the server deleted, so that a
// device can re-offer what a server that went back in time lacks, with its
// original stamps (docs/protocol.md, "Going back in time").
//
// A row's entry (col '') holds the stamp its cells share unless a cell has an
// entry of its own, and the row's scope; `deleted` marks a tombstone, whose
// entry holds the delete's stamp. A cell with no known stamp (a row of a
// replica from before format 5) counts as (0, ''), older than any write.
// Pending local writes are not here: their stamps are the outbox's until the
// server acknowledges them. Runs in the caller's transaction.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/hlc.hpp"
#include "db/database.hpp"
#include "lumbung/status.hpp"
#include "lumbung/value.hpp"

namespace lumbung::replica {

// The stamp of a version the device never learnt.
inline const core::Stamp kUnknownStamp{};

// What the device knows of one row.
struct RowVersions {
  bool known = false;    // the row has an entry
  bool deleted = false;  // a tombstone
  std::string scope;
  core::Stamp row;                                         // the row's entry
  std::vector<std::pair<std::string, core::Stamp>> cells;  // cells with stamps of their own

  // The stamp of `column`'s version.
  const core::Stamp& cell(const std::string& column) const;
};

class Versions {
 public:
  explicit Versions(db::Database& db) : db_(db) {}

  Result<RowVersions> read(const std::string& table, const std::string& row_id);

  // The row's cells all hold versions stamped `stamp`, but those of
  // `own_cells` (column and stamp); `fresh` when the row had no entry (it
  // was just created), which saves a delete.
  Status set_row(const std::string& table, const std::string& row_id, const std::string& scope,
                 const core::Stamp& stamp,
                 const std::vector<std::pair<std::string, core::Stamp>>& own_cells, bool fresh);
  // One cell's version; the row keeps its entry (made with kUnknownStamp when
  // it has none).
  Status set_cell(const std::string& table, const std::string& row_id, const std::string& scope,
                  const std::string& column, const core::Stamp& stamp);
  // The row is deleted, by a delete stamped `stamp`; `scope` empty: the one
  // its entry had.
  Status set_deleted(const std::string& table, const std::string& row_id, const std::string& scope,
                     const core::Stamp& stamp);
  // Forgets every version of the rows of `scope`, tombstones included.
  Status forget_scope(const std::string& scope);

 private:
  // Drops the entries of a row's cells, keeping its own.
  Status forget_cells(const std::string& table, const std::string& row_id);

  db::Database& db_;
};

}  // namespace lumbung::replica
