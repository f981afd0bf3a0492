// Pull (docs/protocol.md, "Pull" and "The device"): pages of the server's
// state after the device's cursors. Each page is applied whole, with its
// cursors, in one transaction, so that a broken pull resumes where the last
// applied page left it and never applies a change twice or skips one.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/clock.hpp"
#include "lumbung/http.hpp"
#include "lumbung/status.hpp"
#include "lumbung/sync.hpp"
#include "lumbung/v1/sync.pb.h"
#include "replica/reseed.hpp"

namespace lumbung::replica {

// What applying a page did.
struct PulledPage {
  std::int64_t rows = 0;                      // rows the page carried
  std::vector<ConflictRecord> new_conflicts;  // not stored before
  std::vector<ChangedRows> changed_rows;      // written or deleted
  std::vector<std::string> dropped_scopes;    // no longer granted: removed
  // The page names a table or column this device does not know: the server's
  // schema is newer, and its checksums cover cells the device does not keep.
  bool names_unknown = false;
  // The page was not applied: it showed that the server or the replica went
  // back in time, and the replica began re-seeding or re-identified
  // (docs/protocol.md, "Going back in time"). Pull again from the stored cursors.
  bool restart = false;
  // Re-seeding queued re-offers (in this page or an earlier one of this
  // Puller): they wait in the outbox for a push.
  bool reoffered = false;
};

class Puller {
 public:
  Puller(db::Database& db, const core::Schema& schema, Clock& clock)
      : db_(db), schema_(schema), clock_(clock), reseeder_(db, schema) {}

  // The request for the next page, from the stored cursors.
  Result<HttpRequest> next_request(std::uint32_t page_budget_bytes, std::uint32_t wait_seconds);
  // The request for the page after `page`, made before `page` is applied:
  // with the cursors that applying it stores. It may go out while `page` is
  // being applied; its answer must be applied only after `page` committed.
  Result<HttpRequest> request_after(const v1::PullPage& page, std::uint32_t page_budget_bytes);

  // Applies `page` in one transaction: its rows under the pending overlay
  // (server_state.hpp), its cursors, its conflicts, and the HLC receive rule.
  // Rows of tables and cells of columns the device does not know are left
  // out. kProtocol, changing nothing, for a page that does not hold together.
  // A page showing that the server or the replica went back in time is not
  // applied (PulledPage::restart).
  Result<PulledPage> apply_page(const v1::PullPage& page);

  // Starts re-seeding `scope` (its checksum differed). REQUIRES: inside a
  // transaction.
  Status reseed(const std::string& scope);

 private:
  using Cursors = std::map<std::string, std::int64_t>;  // by scope
  // Which side of the sync went back in time, by what the page says of the
  // server's state (docs/protocol.md, "Going back in time").
  enum class Rewind { kNone, kServer, kReplica };
  Result<Cursors> stored_cursors();
  Result<HttpRequest> request(const Cursors& cursors, std::uint32_t page_budget_bytes,
                              std::uint32_t wait_seconds);
  Result<Rewind> rewind_of(const v1::PullPage& page);
  // Begins re-seeding every scope, or re-identifies; in one transaction.
  Status recover(Rewind rewind, const v1::PullPage& page);

  db::Database& db_;
  const core::Schema& schema_;
  Clock& clock_;
  Reseeder reseeder_;
};

}  // namespace lumbung::replica
