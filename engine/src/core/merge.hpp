// The merge rule of docs/protocol.md ("The merge rule"), as pure decisions:
// given the server's current version of a cell or row and a device's pushed
// edit, what happens. No storage, no I/O: the daemon's stores and tests call
// these with values.
//
// Thread-safety: free functions over values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/hlc.hpp"
#include "core/schema.hpp"
#include "lumbung/value.hpp"

namespace lumbung::core {

// Who wrote a version the server holds (a cell's or a row's tombstone), and
// the seq it got.
struct ServerVersion {
  Stamp stamp;
  std::int64_t seq = 0;
};

// The server's current version of one cell.
struct ServerCell {
  Value value;
  ServerVersion version;
};

// A pushed edit: its stamp (whose device id is the author) and the seq of the
// server state it was made on.
struct DeviceEdit {
  Stamp stamp;
  std::int64_t base_seq = 0;
  // A re-offer: a version of the server's history that a device holds, not a
  // write of the pushing device (docs/protocol.md, "Going back in time").
  bool reoffer = false;
};

// Rule 2: true when `edit` was made on top of `server` (the device had seen it,
// or wrote it itself), so that the two are not concurrent. A re-offer was
// made on top only of what its device had seen: its author may have written
// newer versions since.
bool made_on_top_of(const ServerVersion& server, const DeviceEdit& edit);

enum class ConflictOutcome {
  kNone,           // no conflict
  kDeviceApplied,  // "device_applied": the device's edit won
  kServerKept,     // "server_kept": the server's version stayed
  kPendingReview,  // "pending_review": the server's version stays until a person decides
  // A reviewer settled a pending_review conflict (docs/protocol.md, "Resolve")
  // with the server's value, the device's, or a new one. Never a merge decision.
  kResolvedServer,  // "resolved_server"
  kResolvedDevice,  // "resolved_device"
  kResolvedValue,   // "resolved_value"
};

// The names above: a conflict record's outcome on the wire and in stores.
// REQUIRES: outcome != kNone.
std::string_view conflict_outcome_name(ConflictOutcome outcome);
// The outcome conflict_outcome_name() names `name`; nullopt for any other name.
std::optional<ConflictOutcome> parse_conflict_outcome(std::string_view name);

// The policy that decided a conflict: a column's merge kind, or delete-wins.
enum class ConflictPolicy {
  kLastWriterWins = static_cast<int>(MergeKind::kLastWriterWins),
  kServerWins = static_cast<int>(MergeKind::kServerWins),
  kFirstWriterWins = static_cast<int>(MergeKind::kFirstWriterWins),
  kManualReview = static_cast<int>(MergeKind::kManualReview),
  kDeleteWins,  // "delete_wins": a delete met an edit of the row
};

ConflictPolicy conflict_policy(MergeKind kind);
// merge_kind_name() of a column's merge kind; "delete_wins".
std::string_view conflict_policy_name(ConflictPolicy policy);
// The policy conflict_policy_name() names `name`; nullopt for any other name.
std::optional<ConflictPolicy> parse_conflict_policy(std::string_view name);

struct MergeDecision {
  bool applied = false;  // false: superseded
  ConflictOutcome conflict = ConflictOutcome::kNone;
  // The policy that decided the conflict, when there is one.
  ConflictPolicy policy = ConflictPolicy::kLastWriterWins;
};

// Rules 1-4 for one cell: `current` is the server's version (nullopt: the cell
// does not exist), `value` and `edit` the device's, `policy` the column's. A
// re-offer of the very version the server holds (the same stamp) is
// superseded, without a conflict.
// With policy.only_when_current set and the current value different from it,
// the policy is last-writer-wins.
MergeDecision merge_cell(const std::optional<ServerCell>& current, const Value& value,
                         const DeviceEdit& edit, const MergePolicy& policy);

// An INSERT or UPDATE of a deleted row: deletes win, so it is superseded; a
// conflict (server_kept) when the delete was concurrent with the edit.
MergeDecision merge_write_into_tombstone(const ServerVersion& tombstone, const DeviceEdit& edit);

enum class RowState { kMissing, kLive, kDeleted };

struct DeleteDecision {
  bool applied = false;  // false: superseded (the row is missing or already deleted)
  ConflictOutcome conflict = ConflictOutcome::kNone;
  // Index into the row's cells of the newest (greatest seq) concurrent write
  // the delete overrides; set exactly when there is a conflict.
  std::optional<std::size_t> concurrent_cell;
};

// A DELETE of a row in `state` whose current cells are `cells` (only looked
// at for a live row): a live row is deleted, recording a conflict
// (device_applied) when some cell was written concurrently.
DeleteDecision merge_delete(RowState state, std::span<const ServerVersion> cells,
                            const DeviceEdit& edit);

}  // namespace lumbung::core
