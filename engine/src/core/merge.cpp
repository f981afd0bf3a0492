#include "core/merge.hpp"

#include <algorithm>
#include <iterator>

namespace lumbung::core {
namespace {

// By ConflictOutcome; kNone has no name.
constexpr std::string_view kOutcomeNames[] = {"",
                                              "device_applied",
                                              "server_kept",
                                              "pending_review",
                                              "resolved_server",
                                              "resolved_device",
                                              "resolved_value"};
constexpr std::string_view kDeleteWinsName = "delete_wins";
static_assert(std::size(kOutcomeNames) ==
              static_cast<std::size_t>(ConflictOutcome::kResolvedValue) + 1);

// Whether the device's concurrent edit beats the server's version under `kind`.
// first_writer_wins keeps the value already on the server, like server_wins:
// with "first_writer_wins when 1" a verification stays, whatever the stamp of
// an edit that crossed it (docs/schema-format.md).
bool device_wins(MergeKind kind, const Stamp& server, const Stamp& device) {
  switch (kind) {
    case MergeKind::kLastWriterWins:
      return device > server;
    case MergeKind::kServerWins:
    case MergeKind::kFirstWriterWins:
    case MergeKind::kManualReview:
      return false;
  }
  return false;
}

MergeDecision without_conflict(bool applied) {
  MergeDecision decision;
  decision.applied = applied;
  return decision;
}

MergeDecision with_conflict(bool applied, ConflictOutcome outcome, ConflictPolicy policy) {
  MergeDecision decision;
  decision.applied = applied;
  decision.conflict = outcome;
  decision.policy = policy;
  return decision;
}

}  // namespace

bool made_on_top_of(const ServerVersion& server, const DeviceEdit& edit) {
  return server.seq <= edit.base_seq ||
         (!edit.reoffer && server.stamp.device_id == edit.stamp.device_id);
}

std::string_view conflict_outcome_name(ConflictOutcome outcome) {
  return kOutcomeNames[static_cast<int>(outcome)];
}

std::optional<ConflictOutcome> parse_conflict_outcome(std::string_view name) {
  const auto it = std::find(std::begin(kOutcomeNames) + 1, std::end(kOutcomeNames), name);
  if (it == std::end(kOutcomeNames)) return std::nullopt;
  return static_cast<ConflictOutcome>(it - std::begin(kOutcomeNames));
}

ConflictPolicy conflict_policy(MergeKind kind) { return static_cast<ConflictPolicy>(kind); }

std::string_view conflict_policy_name(ConflictPolicy policy) {
  if (policy == ConflictPolicy::kDeleteWins) return kDeleteWinsName;
  return merge_kind_name(static_cast<MergeKind>(policy));
}

std::optional<ConflictPolicy> parse_conflict_policy(std::string_view name) {
  if (name == kDeleteWinsName) return ConflictPolicy::kDeleteWins;
  const std::optional<MergeKind> kind = parse_merge_kind(name);
  if (!kind) return std::nullopt;
  return conflict_policy(*kind);
}

MergeDecision merge_cell(const std::optional<ServerCell>& current, const Value& value,
                         const DeviceEdit& edit, const MergePolicy& policy) {
  if (!current) return without_conflict(true);
  if (edit.reoffer && current->version.stamp == edit.stamp) return without_conflict(false);
  if (made_on_top_of(current->version, edit)) return without_conflict(true);
  const MergeKind kind = policy.only_when_current && !(current->value == *policy.only_when_current)
                             ? MergeKind::kLastWriterWins
                             : policy.kind;
  const bool applied = device_wins(kind, current->version.stamp, edit.stamp);
  if (value == current->value) return without_conflict(applied);  // rule 4: not a conflict
  ConflictOutcome outcome = ConflictOutcome::kDeviceApplied;
  if (!applied) {
    outcome = kind == MergeKind::kManualReview ? ConflictOutcome::kPendingReview
                                               : ConflictOutcome::kServerKept;
  }
  return with_conflict(applied, outcome, conflict_policy(kind));
}

MergeDecision merge_write_into_tombstone(const ServerVersion& tombstone, const DeviceEdit& edit) {
  if (made_on_top_of(tombstone, edit)) return without_conflict(false);
  return with_conflict(false, ConflictOutcome::kServerKept, ConflictPolicy::kDeleteWins);
}

DeleteDecision merge_delete(RowState state, std::span<const ServerVersion> cells,
                            const DeviceEdit& edit) {
  DeleteDecision decision;
  if (state != RowState::kLive) return decision;
  decision.applied = true;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (made_on_top_of(cells[i], edit)) continue;
    if (!decision.concurrent_cell || cells[i].seq > cells[*decision.concurrent_cell].seq) {
      decision.concurrent_cell = i;
    }
  }
  if (decision.concurrent_cell) decision.conflict = ConflictOutcome::kDeviceApplied;
  return decision;
}

}  // namespace lumbung::core
