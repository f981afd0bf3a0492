// Conflict: a conflict record as the daemon keeps it, the public
// ConflictRecord (lumbung/sync.hpp) with enums for its policy and outcome.
// Their names appear only where a record leaves the daemon: on the wire
// (conflict_wire.hpp) and in a store's columns.
//
// Thread-safety: a value.
#pragma once

#include <cstdint>
#include <string>

#include "core/merge.hpp"
#include "lumbung/value.hpp"

namespace lumbung::server {

// Fields that designated initializers may leave out are initialized.
struct Conflict {
  std::uint64_t id = 0;
  std::string table;
  std::string row_id;
  std::string column;  // empty when a delete met an edit of the row
  core::ConflictPolicy policy = core::ConflictPolicy::kLastWriterWins;
  Value server_value;
  std::string server_device;
  std::int64_t server_hlc = 0;
  Value device_value;
  std::string device_id;
  std::int64_t device_hlc = 0;
  // Set by the merge; a resolution turns kPendingReview into a kResolved* one.
  core::ConflictOutcome outcome = core::ConflictOutcome::kNone;
  std::string scope;
  // Set by the resolution: the value it wrote, the reviewer's officer id
  // (empty without authentication), their device, and the server's time.
  Value resolved_value{};
  std::string resolved_by{};
  std::string resolved_device{};
  std::int64_t resolved_ms = 0;  // ms since the Unix epoch; 0: not resolved
};

}  // namespace lumbung::server
