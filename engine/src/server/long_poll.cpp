#include "server/long_poll.hpp"

#include <algorithm>
#include <utility>

namespace lumbung::server {

LongPolls::Hold LongPolls::hold(PullWaiter& waiter, std::int64_t seen_seq) {
  std::lock_guard lock(mu_);
  // A commit between the waiter's snapshot and now found no one to wake.
  if (stopped_ || committed_seq_ > seen_seq) return Hold::kAnswerNow;
  // Unauthenticated waiters (insecure_no_auth) name no officer.
  const std::string& officer = waiter.query.grant.officer;
  if (per_officer_ > 0 && !officer.empty() &&
      std::count_if(waiters_.begin(), waiters_.end(), [&](const PullWaiter& held) {
        return held.query.grant.officer == officer;
      }) >= per_officer_) {
    return Hold::kOverLimit;
  }
  waiters_.push_back(std::move(waiter));
  return Hold::kHeld;
}

std::vector<PullWaiter> LongPolls::committed(std::int64_t seq) {
  std::lock_guard lock(mu_);
  committed_seq_ = std::max(committed_seq_, seq);
  return std::exchange(waiters_, {});
}

std::vector<PullWaiter> LongPolls::expired(std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  const auto waiting = std::stable_partition(
      waiters_.begin(), waiters_.end(),
      [now_ms](const PullWaiter& waiter) { return waiter.deadline_ms > now_ms; });
  std::vector<PullWaiter> due(std::make_move_iterator(waiting),
                              std::make_move_iterator(waiters_.end()));
  waiters_.erase(waiting, waiters_.end());
  return due;
}

std::vector<PullWaiter> LongPolls::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  return std::exchange(waiters_, {});
}

}  // namespace lumbung::server
