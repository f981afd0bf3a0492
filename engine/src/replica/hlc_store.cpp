#include "replica/hlc_store.hpp"

#include <algorithm>
#include <limits>

namespace lumbung::replica {
namespace {

Status store_clock(db::Database& db, core::Hlc hlc) {
  Result<db::Statement*> stmt = db.cached("UPDATE _lumbung_clock SET hlc = ?1");
  if (!stmt.is_ok()) return stmt.status();
  (*stmt)->bind(1, Value(hlc.packed()));
  return (*stmt)->run();
}

}  // namespace

Result<core::Hlc> last_stamp(db::Database& db) {
  // The capture log's entries are stamped in order; its last one is the
  // newest stamp of writes not yet folded into the outbox.
  Result<db::Statement*> stmt = db.cached(
      "SELECT max(hlc, COALESCE((SELECT hlc FROM _lumbung_log ORDER BY seq DESC LIMIT 1), 0)) "
      "FROM _lumbung_clock");
  if (!stmt.is_ok()) return stmt.status();
  Result<bool> row = (*stmt)->step();
  if (!row.is_ok()) return row.status();
  if (!*row) return Status(ErrorCode::kCorrupt, "_lumbung_clock has no row");
  const core::Hlc last((*stmt)->column_int(0));
  (*stmt)->reset();
  return last;
}

Status advance_clock(db::Database& db, core::Hlc hlc) {
  Result<core::Hlc> last = last_stamp(db);
  if (!last.is_ok()) return last.status();
  return *last < hlc ? store_clock(db, hlc) : Status::ok();
}

Status receive_clock(db::Database& db, Clock& clock, std::int64_t remote) {
  if (remote <= 0 || remote == std::numeric_limits<std::int64_t>::max()) return Status::ok();
  Result<core::Hlc> last = last_stamp(db);
  if (!last.is_ok()) return last.status();
  return store_clock(db, std::max(core::hlc_next(*last, clock.now_ms()), core::Hlc(remote + 1)));
}

}  // namespace lumbung::replica
