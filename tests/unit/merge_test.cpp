// The merge rule of docs/protocol.md as pure decisions: every policy, causal
// and concurrent edits, own-device edits, and deletes against edits.
#include "core/merge.hpp"

#include <catch2/catch.hpp>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using lumbung::Value;
using lumbung::core::conflict_policy_name;
using lumbung::core::ConflictOutcome;
using lumbung::core::ConflictPolicy;
using lumbung::core::DeviceEdit;
using lumbung::core::Hlc;
using lumbung::core::merge_cell;
using lumbung::core::merge_delete;
using lumbung::core::merge_write_into_tombstone;
using lumbung::core::MergeKind;
using lumbung::core::MergePolicy;
using lumbung::core::RowState;
using lumbung::core::ServerCell;
using lumbung::core::ServerVersion;

constexpr std::int64_t kMs = 1795838846123;

ServerVersion version(std::int64_t ms, const char* device, std::int64_t seq) {
  return {{Hlc::from_parts(ms, 0), device}, seq};
}

ServerCell server_cell(Value value, std::int64_t ms, const char* device, std::int64_t seq) {
  return {std::move(value), version(ms, device, seq)};
}

DeviceEdit edit(std::int64_t ms, const char* device, std::int64_t base_seq) {
  return {{Hlc::from_parts(ms, 0), device}, base_seq};
}

MergePolicy policy(MergeKind kind, std::optional<Value> when = std::nullopt) {
  return {kind, std::move(when)};
}

// The server holds "old" written by device "a" at seq 10; "b" edited from seq 5.
const ServerCell kServer = server_cell("old", kMs, "a", 10);

}  // namespace

TEST_CASE("merge: a cell the server does not have is applied", "[core][merge]") {
  const auto decision = merge_cell(std::nullopt, "new", edit(kMs - 5000, "b", 0), {});
  CHECK(decision.applied);
  CHECK(decision.conflict == ConflictOutcome::kNone);
}

TEST_CASE("merge: an edit made on top of the server's version is applied, whatever its stamp",
          "[core][merge]") {
  for (MergeKind kind : {MergeKind::kLastWriterWins, MergeKind::kServerWins,
                         MergeKind::kFirstWriterWins, MergeKind::kManualReview}) {
    // An older stamp than the server's: the device's clock is slow, but it had seen seq 10.
    const auto causal = merge_cell(kServer, "new", edit(kMs - 5000, "b", 10), policy(kind));
    CHECK(causal.applied);
    CHECK(causal.conflict == ConflictOutcome::kNone);
    // The device's own earlier write is never a conflict either.
    const auto own = merge_cell(kServer, "new", edit(kMs - 5000, "a", 0), policy(kind));
    CHECK(own.applied);
    CHECK(own.conflict == ConflictOutcome::kNone);
  }
}

TEST_CASE("merge: last_writer_wins lets the greater stamp win a concurrent edit", "[core][merge]") {
  const auto newer = merge_cell(kServer, "new", edit(kMs + 1, "b", 5), {});
  CHECK(newer.applied);
  CHECK(newer.conflict == ConflictOutcome::kDeviceApplied);
  CHECK(conflict_policy_name(newer.policy) == "last_writer_wins");

  const auto older = merge_cell(kServer, "new", edit(kMs - 1, "b", 5), {});
  CHECK(!older.applied);
  CHECK(older.conflict == ConflictOutcome::kServerKept);

  // Equal clocks: the device id breaks the tie, bytewise.
  CHECK(merge_cell(kServer, "new", edit(kMs, "b", 5), {}).applied);
  CHECK(!merge_cell(server_cell("old", kMs, "c", 10), "new", edit(kMs, "b", 5), {}).applied);
}

TEST_CASE("merge: last_writer_wins does not depend on arrival order", "[core][merge]") {
  // Two concurrent writes from seq 0, merged in both orders, end equal.
  struct Write {
    Value value;
    DeviceEdit edit;
  };
  const Write x{"x", edit(kMs + 7, "a", 0)};
  const Write y{"y", edit(kMs + 3, "b", 0)};
  const auto run = [](const Write& first, const Write& second) {
    ServerCell cell{first.value, {first.edit.stamp, 1}};
    if (merge_cell(cell, second.value, second.edit, {}).applied) cell.value = second.value;
    return cell.value;
  };
  CHECK(run(x, y) == Value("x"));
  CHECK(run(y, x) == Value("x"));
}

TEST_CASE("merge: server_wins and first_writer_wins keep the server's value", "[core][merge]") {
  for (MergeKind kind : {MergeKind::kServerWins, MergeKind::kFirstWriterWins}) {
    for (std::int64_t offset : {-1000, 1000}) {  // device stamp older, then newer
      const auto decision = merge_cell(kServer, "new", edit(kMs + offset, "b", 5), policy(kind));
      CHECK(!decision.applied);
      CHECK(decision.conflict == ConflictOutcome::kServerKept);
      CHECK(conflict_policy_name(decision.policy) == lumbung::core::merge_kind_name(kind));
    }
  }
}

TEST_CASE("merge: manual_review keeps the server's value pending review", "[core][merge]") {
  const auto decision =
      merge_cell(kServer, "new", edit(kMs + 1000, "b", 5), policy(MergeKind::kManualReview));
  CHECK(!decision.applied);
  CHECK(decision.conflict == ConflictOutcome::kPendingReview);
  CHECK(conflict_policy_name(decision.policy) == "manual_review");
}

TEST_CASE("merge: a policy with only_when_current applies only while the server holds that value",
          "[core][merge]") {
  const MergePolicy verified = policy(MergeKind::kFirstWriterWins, Value(1));
  // Verified on the server: a concurrent un-verify loses, older or newer.
  const ServerCell one = server_cell(Value(1), kMs, "a", 10);
  for (std::int64_t offset : {-1000, 1000}) {
    const auto decision = merge_cell(one, Value(0), edit(kMs + offset, "b", 5), verified);
    CHECK(!decision.applied);
    CHECK(decision.conflict == ConflictOutcome::kServerKept);
    CHECK(conflict_policy_name(decision.policy) == "first_writer_wins");
  }
  // Not verified: last writer wins, and is recorded as such.
  const ServerCell zero = server_cell(Value(0), kMs, "a", 10);
  const auto newer = merge_cell(zero, Value(1), edit(kMs + 1000, "b", 5), verified);
  CHECK(newer.applied);
  CHECK(newer.conflict == ConflictOutcome::kDeviceApplied);
  CHECK(conflict_policy_name(newer.policy) == "last_writer_wins");
  CHECK(!merge_cell(zero, Value(1), edit(kMs - 1000, "b", 5), verified).applied);
}

TEST_CASE("merge: equal values are not a conflict", "[core][merge]") {
  const auto wins = merge_cell(kServer, "old", edit(kMs + 1, "b", 5), {});
  CHECK(wins.applied);
  CHECK(wins.conflict == ConflictOutcome::kNone);
  const auto loses = merge_cell(kServer, "old", edit(kMs - 1, "b", 5), {});
  CHECK(!loses.applied);
  CHECK(loses.conflict == ConflictOutcome::kNone);
  const auto review =
      merge_cell(kServer, "old", edit(kMs + 1, "b", 5), policy(MergeKind::kManualReview));
  CHECK(!review.applied);
  CHECK(review.conflict == ConflictOutcome::kNone);
  // 1 and 1.0 are different values.
  const auto typed =
      merge_cell(server_cell(Value(1), kMs, "a", 10), Value(1.0), edit(kMs - 1, "b", 5), {});
  CHECK(typed.conflict == ConflictOutcome::kServerKept);
}

TEST_CASE("merge: a write into a deleted row is superseded; a concurrent delete is a conflict",
          "[core][merge]") {
  const ServerVersion tombstone = version(kMs, "a", 10);
  const auto concurrent = merge_write_into_tombstone(tombstone, edit(kMs + 1000, "b", 5));
  CHECK(!concurrent.applied);
  CHECK(concurrent.conflict == ConflictOutcome::kServerKept);
  CHECK(conflict_policy_name(concurrent.policy) == "delete_wins");
  for (const DeviceEdit& seen : {edit(kMs + 1000, "b", 10), edit(kMs + 1000, "a", 0)}) {
    const auto decision = merge_write_into_tombstone(tombstone, seen);
    CHECK(!decision.applied);
    CHECK(decision.conflict == ConflictOutcome::kNone);
  }
}

TEST_CASE("merge: a delete of a live row is applied; concurrent cells make it a conflict",
          "[core][merge]") {
  const std::vector<ServerVersion> cells = {version(kMs, "a", 3), version(kMs, "c", 12),
                                            version(kMs, "c", 9), version(kMs, "b", 20)};
  const auto decision = merge_delete(RowState::kLive, cells, edit(kMs - 1000, "b", 5));
  CHECK(decision.applied);
  CHECK(decision.conflict == ConflictOutcome::kDeviceApplied);
  REQUIRE(decision.concurrent_cell);
  CHECK(*decision.concurrent_cell == 1);  // the newest write by another device after seq 5

  const auto seen = merge_delete(RowState::kLive, cells, edit(kMs - 1000, "b", 12));
  CHECK(seen.applied);
  CHECK(seen.conflict == ConflictOutcome::kNone);
  CHECK(!seen.concurrent_cell);
}

TEST_CASE("merge: a delete of a missing or deleted row is superseded", "[core][merge]") {
  for (RowState state : {RowState::kMissing, RowState::kDeleted}) {
    const auto decision = merge_delete(state, {}, edit(kMs, "b", 0));
    CHECK(!decision.applied);
    CHECK(decision.conflict == ConflictOutcome::kNone);
  }
}

TEST_CASE("merge: a re-offer is made on what its device saw, not on its author's writes",
          "[core][merge]") {
  // "b" re-offers an older write of "a"'s, after "a" wrote the server's value.
  DeviceEdit reoffer = edit(kMs - 1000, "a", 5);
  reoffer.reoffer = true;
  const auto concurrent = merge_cell(kServer, "older", reoffer, policy(MergeKind::kLastWriterWins));
  CHECK_FALSE(concurrent.applied);
  CHECK(concurrent.conflict == ConflictOutcome::kServerKept);
  reoffer.base_seq = 10;  // its device had seen the server's value
  CHECK(merge_cell(kServer, "older", reoffer, policy(MergeKind::kServerWins)).applied);
}

TEST_CASE("merge: a re-offer of the version the server holds changes nothing", "[core][merge]") {
  DeviceEdit same = edit(kMs, "a", 10);
  same.reoffer = true;
  const auto decision = merge_cell(kServer, "old", same, policy(MergeKind::kLastWriterWins));
  CHECK_FALSE(decision.applied);
  CHECK(decision.conflict == ConflictOutcome::kNone);
}

// The names are the wire's and the daemon's store's: they never change.
TEST_CASE("merge: each conflict outcome and policy has one name, read back as itself",
          "[core][merge]") {
  const std::pair<ConflictOutcome, std::string_view> outcomes[] = {
      {ConflictOutcome::kDeviceApplied, "device_applied"},
      {ConflictOutcome::kServerKept, "server_kept"},
      {ConflictOutcome::kPendingReview, "pending_review"},
      {ConflictOutcome::kResolvedServer, "resolved_server"},
      {ConflictOutcome::kResolvedDevice, "resolved_device"},
      {ConflictOutcome::kResolvedValue, "resolved_value"}};
  for (const auto& [outcome, name] : outcomes) {
    CHECK(lumbung::core::conflict_outcome_name(outcome) == name);
    CHECK(lumbung::core::parse_conflict_outcome(name) == outcome);
  }
  const std::pair<ConflictPolicy, std::string_view> policies[] = {
      {ConflictPolicy::kLastWriterWins, "last_writer_wins"},
      {ConflictPolicy::kServerWins, "server_wins"},
      {ConflictPolicy::kFirstWriterWins, "first_writer_wins"},
      {ConflictPolicy::kManualReview, "manual_review"},
      {ConflictPolicy::kDeleteWins, "delete_wins"}};
  for (const auto& [policy, name] : policies) {
    CHECK(conflict_policy_name(policy) == name);
    CHECK(lumbung::core::parse_conflict_policy(name) == policy);
  }
  for (MergeKind kind : {MergeKind::kLastWriterWins, MergeKind::kServerWins,
                         MergeKind::kFirstWriterWins, MergeKind::kManualReview}) {
    CHECK(lumbung::core::parse_merge_kind(lumbung::core::merge_kind_name(kind)) == kind);
    CHECK(lumbung::core::conflict_policy_name(lumbung::core::conflict_policy(kind)) ==
          lumbung::core::merge_kind_name(kind));
  }

  for (std::string_view unknown : {"", "none", "Server_Kept", "resolved", "delete_wins "}) {
    CHECK_FALSE(lumbung::core::parse_conflict_outcome(unknown).has_value());
    CHECK_FALSE(lumbung::core::parse_conflict_policy(unknown).has_value());
  }
  CHECK_FALSE(lumbung::core::parse_merge_kind("delete_wins").has_value());
}
