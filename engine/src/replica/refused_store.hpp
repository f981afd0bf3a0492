// Changes the server refused (_lumbung_refused): set aside so that they never
// block the changes after them, listed for the app, and queued again on
// request once the cause is fixed (docs/protocol.md, "The device").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/status.hpp"
#include "lumbung/sync.hpp"
#include "lumbung/v1/sync.pb.h"
#include "replica/capture_log.hpp"
#include "replica/outbox.hpp"

namespace lumbung::replica {

// Stores `entry` as refused, replacing an earlier refusal of its cell or row.
Status set_aside(db::Database& db, const OutboxEntry& entry, const std::string& reason,
                 const std::string& message);

// Forgets the refusals that a later acknowledged change made moot: those of
// the same cell, or of any cell of the row for a row insert or delete,
// stamped before `hlc`.
Status forget_refusals_before(db::Database& db, const OutboxEntry& acknowledged);

// Whether any change is set aside as refused.
Result<bool> holds_refusals(db::Database& db);

// Every refused change, oldest first.
Result<std::vector<RefusedChange>> load_refused(db::Database& db);

// Moves every refused change back into the outbox with a fresh stamp, oldest
// first, in the caller's transaction. Its value is read from the table when it
// is pushed, so a fixed value goes out. A re-queued insert carries every
// current cell, so the row's pending cell changes fold into it (pushed before
// it, they would update a row the server does not have). A refusal that no
// longer matches the table (an insert or update of a row deleted since, a
// delete of a row that exists again) is dropped.
Status requeue_refused(db::Database& db, const core::Schema& schema, CaptureLog& capture);

}  // namespace lumbung::replica
