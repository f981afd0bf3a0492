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
  // `committed_seq`: the last seq committed when the server opened;
  // `per_officer`: how many waiters one officer may have held (0: any).
  LongPolls(std::int64_t committed_seq, std::uint32_t per_officer)
      : committed_seq_(committed_seq), per_officer_(per_officer) {}

  enum class Hold {
    kHeld,
    // A change committed after the waiter's snapshot, or stop() was called:
    // answer it now.
    kAnswerNow,
    // Its officer has per_officer waiters held already.
    kOverLimit,
  };
  // Holds `waiter`, whose page was read from the snapshot at `seen_seq`,
  // unless it is to be answered now; then `waiter` is left as it was.
  Hold hold(PullWaiter& waiter, std::int64_t seen_seq);
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
  const std::uint32_t per_officer_;
  bool stopped_ = false;
  std::vector<PullWaiter> waiters_;
};

}  // namespace lumbung::server
