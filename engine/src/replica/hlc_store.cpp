#include "replica/hlc_store.hpp"

#include <algorithm>
#include <limits>

namespace lumbung::replica {
namespace {

Status store_clock(db::Database& db, core::Hlc hlc) {
  return db::run_cached(db, "UPDATE _lumbung_clock SET hlc = ?1", {Value(hlc.packed())});
}

}  // namespace

Result<core::Hlc> last_stamp(db::Database& db) {
  // The capture log's entries are stamped in order; its last one is the
  // newest stamp of writes not yet folded into the outbox.
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::cached(
          db,
          "SELECT max(hlc, COALESCE((SELECT hlc FROM _lumbung_log ORDER BY seq DESC LIMIT 1), 0)) "
          "FROM _lumbung_clock"));
  LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
  if (!row) return Status(ErrorCode::kCorrupt, "_lumbung_clock has no row");
  return core::Hlc(query.integer(0));
}

Status advance_clock(db::Database& db, core::Hlc hlc) {
  LUMBUNG_ASSIGN_OR_RETURN(core::Hlc last, last_stamp(db));
  return last < hlc ? store_clock(db, hlc) : Status::ok();
}

Status receive_clock(db::Database& db, Clock& clock, std::int64_t remote) {
  if (remote <= 0 || remote == std::numeric_limits<std::int64_t>::max()) return Status::ok();
  LUMBUNG_ASSIGN_OR_RETURN(core::Hlc last, last_stamp(db));
  return store_clock(db, std::max(core::hlc_next(last, clock.now_ms()), core::Hlc(remote + 1)));
}

}  // namespace lumbung::replica
