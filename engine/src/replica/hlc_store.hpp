// The replica's hybrid logical clock as persisted in _lumbung_clock.hlc. The
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

// Send rule: stores and returns a stamp greater than every one before.
Result<core::Hlc> tick_clock(db::Database& db, Clock& clock);

// Receive rule with the server's stamp: the stored clock moves past it, so
// that every later local write is stamped after what the server has seen.
// A value that cannot be a stamp (not positive, or INT64_MAX, which has no
// successor) is ignored.
Status receive_clock(db::Database& db, Clock& clock, std::int64_t remote);

}  // namespace lumbung::replica
