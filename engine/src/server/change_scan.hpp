// The merge of ReadTransaction::scan_changes(): every scope's change log,
// tombstones and conflict records are seq-ordered ChangeSources (those of
// server/sql_transactions.hpp, for both stores); merge_change_sources()
// visits their items in seq order across them, and end_of_row_run() says how
// far a kRow item's cells reach, so that a source skips the log entries the
// item already carries.
//
// Thread-safety: a ChangeSource belongs to the transaction that made it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "lumbung/status.hpp"
#include "server/store.hpp"

namespace lumbung::server {

// One of the seq-ordered sources that scan_changes() merges.
class ChangeSource {
 public:
  virtual ~ChangeSource() = default;
  // Loads the next item; done() once there is none.
  virtual Status advance() = 0;
  bool done() const { return done_; }
  const ChangeItem& item() const { return item_; }

 protected:
  bool done_ = false;
  ChangeItem item_;
};

// Advances every source once, then calls `visit` with the items of all of
// them in seq order, until it returns false or none is left.
Status merge_change_sources(const std::vector<std::unique_ptr<ChangeSource>>& sources,
                            const std::function<bool(const ChangeItem&)>& visit);

// The last seq of the run item.seq, item.seq + 1, ... that cells of the kRow
// item `item` hold: a seq is never given twice, so no other change of the
// scope is among them, and a log read on after it misses nothing.
std::int64_t end_of_row_run(const ChangeItem& item);

}  // namespace lumbung::server
