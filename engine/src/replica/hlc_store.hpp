// The replica's hybrid logical clock as persisted: _lumbung_clock.hlc, or the
// last entry of the capture log (capture_log.hpp) when that is newer. The
// capture triggers tick it in SQL (capture_sql.hpp); these functions apply the
// same rules (core/hlc.hpp) from C++, inside the caller's transaction, so the
// clock moves with the data it stamps.
#pragma once

#include <cstdint>

#include "core/hlc.hpp"
#include "db/database.hpp"
#include "lumbung/clock.hpp"
#include "lumbung/status.hpp"

namespace lumbung::replica {

// The newest stamp issued or received.
Result<core::Hlc> last_stamp(db::Database& db);

// Moves the stored clock to `hlc` if it is behind: for stamps issued outside
// the capture log (CaptureLog::next_stamp) and stored elsewhere.
Status advance_clock(db::Database& db, core::Hlc hlc);

// Receive rule with the server's stamp: the stored clock moves past it, so
// that every later local write is stamped after what the server has seen.
// A value that cannot be a stamp (not positive, or INT64_MAX, which has no
// successor) is ignored.
Status receive_clock(db::Database& db, Clock& clock, std::int64_t remote);

}  // namespace lumbung::replica
