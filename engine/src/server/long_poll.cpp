#include "server/long_poll.hpp"

#include <algorithm>
#include <utility>

namespace lumbung::server {

bool LongPolls::hold(PullWaiter& waiter, std::int64_t seen_seq) {
  std::lock_guard lock(mu_);
  // A commit between the waiter's snapshot and now found no one to wake.
  if (stopped_ || committed_seq_ > seen_seq) return false;
  waiters_.push_back(std::move(waiter));
  return true;
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
