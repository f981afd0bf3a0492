// The outbox (_lumbung_outbox): one entry per pending cell or row change,
// written by the capture triggers (capture_sql.hpp) in the transaction of the
// write or folded in from the capture log (capture_log.hpp) before it is
// read, and emptied only by acknowledged pushes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "lumbung/status.hpp"
#include "replica/capture_sql.hpp"

namespace lumbung::replica {

struct OutboxEntry {
  std::string table;
  std::string row_id;
  std::string column;  // the changed cell; empty for a row insert or delete
  OutboxOp op = OutboxOp::kUpdate;
  std::int64_t hlc = 0;   // the stamp of the latest local write
  std::int64_t base = 0;  // the server seq the change was edited from
  // A re-offer's author (reseed.hpp): the change is a version of the
  // server's history, stamped `hlc` by that device. Empty: a local write.
  std::string author = {};
};

// read_outbox()'s statement: the entries in the order they are pushed, from
// the one after the place (?2, ?3, ?4, ?5) = (hlc, tbl, row_id, col), read by
// the index _lumbung_outbox_order (never a sort of the whole outbox).
inline constexpr const char* kOutboxInPushOrderSql =
    "SELECT tbl, row_id, col, op, hlc, base, COALESCE(author, '') FROM _lumbung_outbox "
    "WHERE (hlc, tbl, row_id, col) > (?2, ?3, ?4, ?5) ORDER BY hlc, tbl, row_id, col LIMIT ?1";

// Up to `limit` entries (every one when negative), oldest first; with
// `after`, those that come after the place of `after` in that order.
Result<std::vector<OutboxEntry>> read_outbox(db::Database& db, int limit,
                                             const OutboxEntry* after = nullptr);

// Removes the entry of (table, row_id, column) if it still carries `hlc`, and
// says whether it did: a local write made since keeps its entry pending.
Result<bool> remove_if_unchanged(db::Database& db, const std::string& table,
                                 const std::string& row_id, const std::string& column,
                                 std::int64_t hlc);

// Writes `entry`, replacing the one of the same cell or row.
Status write_outbox_entry(db::Database& db, const OutboxEntry& entry);

// Removes the cell entries (not the row's own entry) of one row.
Status remove_cell_entries(db::Database& db, const std::string& table, const std::string& row_id);

}  // namespace lumbung::replica
