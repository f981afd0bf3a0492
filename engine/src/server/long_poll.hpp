// Long polls (docs/protocol.md, PullRequest.wait_seconds): pulls that found
// nothing new, held as data until a push commits a change or their time runs
// out. No thread waits: whoever commits or calls tick() answers them.
//
// Thread-safety: all members may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "lumbung/http.hpp"
#include "server/pull_page.hpp"

namespace lumbung::server {

struct PullWaiter {
  PullQuery query;
  std::function<void(HttpResponse)> respond;
  std::int64_t deadline_ms = 0;  // on the server's clock
};

class LongPolls {
 public:
  // `committed_seq`: the last seq committed when the server opened.
  explicit LongPolls(std::int64_t committed_seq) : committed_seq_(committed_seq) {}

  // Holds `waiter` unless a change committed after `seen_seq` (the snapshot
  // its page was read from) or stop() was called; then returns false and
  // leaves `waiter` as it was, to be answered now.
  bool hold(PullWaiter& waiter, std::int64_t seen_seq);
  // Records that changes up to `seq` committed and hands back every waiter,
  // to be answered anew.
  std::vector<PullWaiter> committed(std::int64_t seq);
  // Hands back the waiters whose deadline is at or before `now_ms`.
  std::vector<PullWaiter> expired(std::int64_t now_ms);
  // Hands back every waiter; later hold() calls fail.
  std::vector<PullWaiter> stop();

 private:
  std::mutex mu_;
  std::int64_t committed_seq_;
  bool stopped_ = false;
  std::vector<PullWaiter> waiters_;
};

}  // namespace lumbung::server
