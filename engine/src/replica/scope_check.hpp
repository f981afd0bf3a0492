// Verified checkpoints (docs/protocol.md, "Checksum" and "The device"): after
// the last page the device compares each scope's checksum with its own state
// and heals a scope that differs by re-seeding it (reseed.hpp): only that
// scope, never the whole replica, and never by deleting what the server
// lacks. A scope with pending or refused changes is not compared: its local
// state differs from the server's on purpose.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/status.hpp"
#include "lumbung/v1/sync.pb.h"

namespace lumbung::replica {

class ScopeVerifier {
 public:
  ScopeVerifier(db::Database& db, const core::Schema& schema) : db_(db), schema_(schema) {}

  // Compares the checksums of `last_page` (the page with more = false) with
  // the local rows. Each scope that differs, and is not in `spared`, starts
  // re-seeding, so that the next pull brings it whole; all in one
  // transaction, which also checks that nothing is pending. Returns the
  // scopes re-seeded.
  Result<std::vector<std::string>> heal_mismatches(const v1::PullPage& last_page,
                                                   const std::set<std::string>& spared);

 private:
  struct ScopeSum {
    std::uint64_t checksum = 0;
    std::int64_t rows = 0;
  };
  // The scopes with pending or refused changes; nullopt when a change's scope
  // cannot be told (a deleted row's scope is gone with the row).
  Result<std::optional<std::set<std::string>>> scopes_with_changes();
  Result<ScopeSum> local_sum(const std::string& scope);

  db::Database& db_;
  const core::Schema& schema_;
};

}  // namespace lumbung::replica
