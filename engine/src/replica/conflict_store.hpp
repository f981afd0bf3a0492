// Conflicts the server reported (_lumbung_conflict): concurrent edits it
// resolved, with both sides and the outcome, kept for the app and for review.
// A conflict can arrive twice (in a push response and again in a pull page);
// it is stored once, by the server's id. A reviewer's resolution of a
// pending_review conflict arrives as the same record, resolved.
#pragma once

#include <vector>

#include "db/database.hpp"
#include "lumbung/status.hpp"
#include "lumbung/sync.hpp"
#include "lumbung/v1/sync.pb.h"

namespace lumbung::replica {

ConflictRecord conflict_from_wire(const v1::Conflict& conflict);

// Stores `conflict` unless one with its id is stored, in which case its
// resolution (store_resolution); true when it was new or newly resolved.
Result<bool> store_conflict(db::Database& db, const ConflictRecord& conflict);

// Stores the outcome and resolution of a resolved `conflict` over the stored,
// still unresolved record with its id; true when one was updated.
Result<bool> store_resolution(db::Database& db, const ConflictRecord& conflict);

// Every stored conflict, oldest first (the server numbers them in order).
Result<std::vector<ConflictRecord>> load_conflicts(db::Database& db);

}  // namespace lumbung::replica
