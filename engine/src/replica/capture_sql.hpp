// Change capture: the replica's bookkeeping tables and the triggers that
// record every local write made on other connections than the replica's own
// into the outbox, in the same transaction (docs/decisions/0003 and 0016; the
// replica's own writes go through the capture log, capture_log.hpp).
//
// The outbox holds one entry per pending cell (col = column name, op update)
// or per pending row operation (col = '', op insert or delete); a later write
// to the same cell or row replaces the entry, so it always carries the latest
// stamp, and the value is read from the table itself when pushed.
//
// Stamps are computed in SQL with the HLC send rule of core/hlc.hpp:
// hlc = max(last + 1, now_ms << 16), persisted in _lumbung_clock with the write.
// The SQL stays within SQLite 3.15 (SQLCipher 3.4.1).
#pragma once

#include <string>
#include <vector>

#include "core/schema.hpp"
#include "db/file_format.hpp"

namespace lumbung::replica {

// Outbox operation codes, as stored in _lumbung_outbox.op.
enum class OutboxOp : int { kInsert = 1, kUpdate = 2, kDelete = 3 };

// CREATE TABLE statements for the bookkeeping tables (meta, clock, outbox,
// scope cursors, refused changes, push batches, conflicts received).
std::vector<std::string> bookkeeping_tables_sql();
// The formats of the bookkeeping tables, N of 'lumbung-replica/N' in
// _lumbung_meta: 2, what bookkeeping_tables_sql() makes; 3, conflict
// resolutions; 4, the capture log; 5, re-seeding a server that went back in
// time. A new file takes every step (db/file_format.hpp).
extern const db::FileFormat kBookkeepingFormat;

// DROP TRIGGER statements for every capture trigger of `schema`'s tables.
std::vector<std::string> drop_capture_triggers_sql(const core::Schema& schema);
// CREATE TRIGGER statements capturing inserts, updates (one trigger per
// column) and deletes of `table`, and refusing changes to its id.
std::vector<std::string> create_capture_triggers_sql(const core::Table& table);

}  // namespace lumbung::replica
