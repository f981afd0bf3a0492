#include "replica/hlc_store.hpp"

#include <algorithm>
#include <limits>

namespace lumbung::replica {
namespace {

Result<core::Hlc> stored_clock(db::Database& db) {
  Result<db::Statement*> stmt = db.cached("SELECT hlc FROM _lumbung_clock");
  if (!stmt.is_ok()) return stmt.status();
  Result<bool> row = (*stmt)->step();
  if (!row.is_ok()) return row.status();
  if (!*row) return Status(ErrorCode::kCorrupt, "_lumbung_clock has no row");
  const core::Hlc last((*stmt)->column_int(0));
  (*stmt)->reset();
  return last;
}

Status store_clock(db::Database& db, core::Hlc hlc) {
  Result<db::Statement*> stmt = db.cached("UPDATE _lumbung_clock SET hlc = ?1");
  if (!stmt.is_ok()) return stmt.status();
  (*stmt)->bind(1, Value(hlc.packed()));
  return (*stmt)->run();
}

}  // namespace

Result<core::Hlc> tick_clock(db::Database& db, Clock& clock) {
  Result<core::Hlc> last = stored_clock(db);
  if (!last.is_ok()) return last.status();
  const core::Hlc next = core::hlc_next(*last, clock.now_ms());
  LUMBUNG_RETURN_IF_ERROR(store_clock(db, next));
  return next;
}

Status receive_clock(db::Database& db, Clock& clock, std::int64_t remote) {
  if (remote <= 0 || remote == std::numeric_limits<std::int64_t>::max()) return Status::ok();
  Result<core::Hlc> last = stored_clock(db);
  if (!last.is_ok()) return last.status();
  return store_clock(db, std::max(core::hlc_next(*last, clock.now_ms()), core::Hlc(remote + 1)));
}

}  // namespace lumbung::replica
