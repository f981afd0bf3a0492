// The schema's indexes, left out while a fresh device downloads its villages
// (docs/decisions/0017): SQLite inserts rows with random keys (UUIDs) into a
// table about twice as fast when it does not also keep its secondary indexes,
// and builds an index afterwards by sorting, in a fraction of that time.
//
// Crash-safe: the indexes are dropped in the transaction that records that
// they are ("indexes_deferred" in _lumbung_meta), and made again in the one
// that clears the record; opening a replica makes again any a killed sync
// left out. The schema's indexes are never UNIQUE, so leaving them out
// changes how fast a query runs, never what it returns or what a write may do.
#pragma once

#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/status.hpp"

namespace lumbung::replica {

// Drops every index of `schema`'s tables and records that they are left out.
Status defer_indexes(db::Database& db, const core::Schema& schema);

// When indexes are recorded as left out: makes every index of `schema`'s
// tables that is missing, and clears the record. Does nothing otherwise.
Status restore_indexes(db::Database& db, const core::Schema& schema);

}  // namespace lumbung::replica
