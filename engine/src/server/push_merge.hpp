// Merges the changes of one push batch into the store (docs/protocol.md,
// "Push"): each change is validated on its own and refused, applied or
// superseded by the merge rule (core/merge.hpp); conflicts are recorded and
// every decision goes to the audit log. Runs inside the store's write
// transaction; store-independent.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "auth/grant.hpp"
#include "core/hlc.hpp"
#include "core/schema.hpp"
#include "db/check_judge.hpp"
#include "lumbung/status.hpp"
#include "lumbung/v1/sync.pb.h"
#include "server/store.hpp"

namespace lumbung::server {

struct MergeClock {
  core::HlcClock* hlc = nullptr;  // the server's; follows the receive rule
  std::int64_t now_ms = 0;        // physical time of the push
  std::int64_t max_skew_ms = 0;   // stamps further ahead are re-stamped
};

// Merges `request.changes` into `txn`, adding one outcome per change and the
// conflicts they caused to `response`, and the scope of every row written or
// deleted and conflict recorded to `changed_scopes`; `judge` judges the
// CHECKs of the rows the changes make. A change to a row in a scope `grant`
// may not write, or one that would put a row there, is refused (out of
// scope). A refused change changes nothing; an error is the store's, and the
// transaction must be rolled back.
Status merge_batch(const core::Schema& schema, db::CheckJudge& judge, const MergeClock& clock,
                   WriteTransaction& txn, const auth::Grant& grant, const v1::PushRequest& request,
                   v1::PushResponse* response, std::set<std::string>* changed_scopes);

}  // namespace lumbung::server
