// The capture log (_lumbung_log): how the replica records its own writes
// (decision 0016). The replica's connection runs with triggers off; each write
// through the API appends one row to the log in the write's transaction,
// stamped by the HLC send rule, instead of a trigger probing and replacing the
// outbox entry of the cell. While the log holds entries
// (_lumbung_clock.logging), the capture triggers of other connections append
// to it too, so that the log keeps every write since the first in order.
// fold_capture_log() replays the log into the outbox by the triggers' rule
// before anything reads the outbox: the outbox is the same as if the triggers
// had recorded every write when it was made.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/hlc.hpp"
#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/clock.hpp"
#include "lumbung/status.hpp"
#include "lumbung/value.hpp"
#include "replica/capture_sql.hpp"

namespace lumbung::replica {

class CaptureLog {
 public:
  CaptureLog(db::Database& db, Clock& clock) : db_(db), clock_(clock) {}

  // Records a write of `column` ('' for a row insert or delete) of `row_id`.
  // `scope` is the row's scope as the write left it, or null when the write
  // did not read it: the fold then takes the row's current scope, which
  // fix_scope() keeps right when the row moves.
  // REQUIRES: a transaction is open on the database.
  Status append(const core::Table& table, std::string_view row_id, std::string_view column,
                OutboxOp op, const Value& scope);

  // Gives `scope` to the row's entries logged without one; called before the
  // row moves to another scope. REQUIRES: a transaction is open.
  Status fix_scope(const core::Table& table, std::string_view row_id, const Value& scope);

  // The send rule: a stamp greater than every one issued or received before.
  // Within one transaction the last stamp is kept in memory, so that a bulk
  // write reads the clock once. REQUIRES: a transaction is open.
  Result<core::Hlc> next_stamp();

 private:
  db::Database& db_;
  Clock& clock_;
  std::uint64_t transaction_ = 0;  // the db's transaction serial `last_` belongs to
  core::Hlc last_;
  std::uint64_t logging_transaction_ = 0;  // the last one that set `logging`
  db::Statement* append_ = nullptr;        // the prepared INSERT, kept by the db
};

// Replays every entry of the log into the outbox, oldest first, and empties
// the log. REQUIRES: a transaction is open.
Status fold_capture_log(db::Database& db, const core::Schema& schema);

Result<bool> capture_log_empty(db::Database& db);

}  // namespace lumbung::replica
