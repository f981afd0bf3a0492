// CommitQueue: the daemon's one writer of pushes (group commit). A push is
// handed to the queue's thread; the pushes that arrive while a commit syncs
// to disk wait, then commit together in one store transaction
// (Store::write_group), in the order they came. The threads that serve
// requests never wait for the disk, and a sync to disk is paid per group,
// not per push.
//
// Thread-safety: submit() and stop() from any thread; every `done` runs on
// the queue's thread, or in submit() once the queue has stopped.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
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

  // Called on the queue's thread after each group is answered: how many
  // bodies it held and how long from taking them to their answers.
  using GroupObserver =
      std::function<void(std::size_t bodies, std::chrono::steady_clock::duration)>;

  explicit CommitQueue(Store& store, GroupObserver observer = {});
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
  const GroupObserver observer_;
  std::mutex mu_;
  std::condition_variable queued_;
  std::vector<Pending> queue_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace lumbung::server
