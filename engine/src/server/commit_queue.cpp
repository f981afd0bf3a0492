#include "server/commit_queue.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace lumbung::server {
namespace {

// The most bodies one transaction takes: a group's answers all wait for its
// last body, so a long queue commits in a few groups rather than one.
constexpr std::size_t kMaxCommitGroup = 64;

}  // namespace

CommitQueue::CommitQueue(Store& store, GroupObserver observer)
    : store_(store), observer_(std::move(observer)), thread_([this] { run(); }) {}

CommitQueue::~CommitQueue() { stop(); }

void CommitQueue::submit(WriteBody body, Done done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back({std::move(body), std::move(done)});
      queued_.notify_one();
      return;
    }
  }
  done(Status(ErrorCode::kUnavailable, "the server is stopping"));
}

void CommitQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  queued_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void CommitQueue::run() {
  for (;;) {
    std::vector<Pending> group;
    {
      std::unique_lock lock(mu_);
      queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything answered
      const std::size_t taken = std::min(queue_.size(), kMaxCommitGroup);
      group.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(taken)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(taken));
    }
    const auto taken = std::chrono::steady_clock::now();
    std::vector<WriteBody> bodies;
    bodies.reserve(group.size());
    for (Pending& pending : group) bodies.push_back(std::move(pending.body));
    const std::vector<Status> statuses = store_.write_group(bodies);
    for (std::size_t i = 0; i < group.size(); ++i) group[i].done(statuses[i]);
    if (observer_) observer_(group.size(), std::chrono::steady_clock::now() - taken);
  }
}

}  // namespace lumbung::server
