// CommitQueue: the daemon's one writer of pushes (group commit). A push is
// handed to the queue's thread; the pushes that arrive while a commit syncs
// to disk wait, then commit together in one store transaction
// (Store::write_group), in the order they came. The threads that serve
// requests never wait for the disk, and a sync to disk is paid per group,
// not per push.
//
// Thread-safety: submit() and stop() from any thread; every `done` runs on
// the queue's thread, or in submit() once the queue has stopped.
//
// Defined here, in the header: small, and used by SyncServer alone.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <iterator>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "lumbung/status.hpp"
#include "server/store.hpp"

namespace lumbung::server {

class CommitQueue {
 public:
  // Called with the body's status once its group committed (or failed).
  using Done = std::function<void(const Status&)>;

  explicit CommitQueue(Store& store);
  ~CommitQueue();  // stop()
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Queues `body`; `done` gets its status. Once stopped: kUnavailable at once.
  void submit(WriteBody body, Done done);

  // Commits and answers what is queued, then ends the thread. Idempotent;
  // not called from two threads at once.
  void stop();

 private:
  struct Pending {
    WriteBody body;
    Done done;
  };

  void run();

  Store& store_;
  std::mutex mu_;
  std::condition_variable queued_;
  std::vector<Pending> queue_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// The most bodies one transaction takes: a group's answers all wait for its
// last body, so a long queue commits in a few groups rather than one.
inline constexpr std::size_t kMaxCommitGroup = 64;

inline CommitQueue::CommitQueue(Store& store) : store_(store), thread_([this] { run(); }) {}

inline CommitQueue::~CommitQueue() { stop(); }

inline void CommitQueue::submit(WriteBody body, Done done) {
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

inline void CommitQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  queued_.notify_one();
  if (thread_.joinable()) thread_.join();
}

inline void CommitQueue::run() {
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
    std::vector<WriteBody> bodies;
    bodies.reserve(group.size());
    for (Pending& pending : group) bodies.push_back(std::move(pending.body));
    const std::vector<Status> statuses = store_.write_group(bodies);
    for (std::size_t i = 0; i < group.size(); ++i) group[i].done(statuses[i]);
  }
}

}  // namespace lumbung::server
