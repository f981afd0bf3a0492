// Long polls (docs/protocol.md, PullRequest.wait_seconds): pulls that found
// nothing new, held as data until a commit may bring them news, their time
// runs out or their client goes. No thread waits on one: a commit moves the
// waiters it concerns to a queue (take_woken), and tick() hands back the ones
// whose time is up or whose client is gone.
//
// A waiter is woken by a commit that changed a scope its page would read
// (every scope for a grant of all villages) or that applied a push batch of
// its own device (which changes what its page leaves out, pull_page.cpp);
// other commits leave it held. The commit's work is a lookup per changed
// scope and a move per woken waiter; their pages are read elsewhere.
//
// Thread-safety: all members may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "lumbung/http.hpp"
#include "server/pull_page.hpp"
#include "server/request_record.hpp"

namespace lumbung::server {

struct PullWaiter {
  PullQuery query;
  std::function<void(HttpResponse)> respond;
  std::int64_t deadline_ms = 0;  // on the server's clock
  // Set by the transport once the client has gone (HttpRequest::client_gone);
  // null when it cannot tell.
  std::shared_ptr<const std::atomic<bool>> client_gone;
  // What its log line says; null in tests that make waiters themselves.
  std::shared_ptr<RequestRecord> record;

  bool gone() const { return client_gone && client_gone->load(); }
};

// What one commit changed, as far as long polls care (this daemon's, and
// those of the other daemons over the same database, commit_feed.hpp).
struct CommittedChanges {
  std::int64_t seq = 0;          // the last seq it gave
  std::set<std::string> scopes;  // of the rows and conflicts it wrote
  std::string device_id;         // whose push batch it applied; empty: none (a resolution)
  // Commits whose scopes are not known (another daemon's, when its notice
  // could not name them all, or those missed while the commit feed
  // reconnected): every waiter is woken, whatever its scopes and device.
  bool every_waiter = false;
  // The rows of the region table (Regions) it may have written, for the
  // other daemons to read again; nullopt: not known (any row may have
  // changed: a resolution says nothing of them).
  std::optional<std::vector<std::string>> region_rows{};
};

class LongPolls {
 public:
  // `committed_seq`: the last seq committed when the server opened;
  // `per_officer`: how many waiters one officer may have held (0: any).
  LongPolls(std::int64_t committed_seq, std::uint32_t per_officer);

  enum class Hold {
    kHeld,
    // A commit that would wake it came after the waiter's snapshot, or stop()
    // was called: answer it now.
    kAnswerNow,
    // Its officer has per_officer waiters held already.
    kOverLimit,
  };
  // Holds `waiter`, whose page was read from the snapshot at `seen_seq`,
  // unless it is to be answered now; then `waiter` is left as it was.
  Hold hold(PullWaiter& waiter, std::int64_t seen_seq);
  // Records `changes` and moves the waiters they may bring news to onto the
  // woken queue (every waiter for changes.every_waiter).
  void committed(const CommittedChanges& changes);
  // Blocks until some waiters were woken, and hands them back, to be
  // answered anew; empty once stop() was called.
  std::vector<PullWaiter> take_woken();
  // Hands back the waiters whose deadline is at or before `now_ms`, and
  // those whose client is gone (PullWaiter::gone), freeing their officers'
  // slots.
  std::vector<PullWaiter> expired(std::int64_t now_ms);
  // How many waiters are held now.
  std::size_t held();
  // Hands back every waiter, held or woken; later hold() calls fail.
  std::vector<PullWaiter> stop();

 private:
  // Something waiters wait on: a scope, a device, or every commit.
  struct Watch {
    std::int64_t committed_seq = 0;  // of the last commit that concerned it
    std::set<std::uint64_t> waiting;
  };
  struct Held {
    PullWaiter waiter;
    std::vector<Watch*> watches;  // elements of the maps below, never erased
  };

  // What `query`'s page reads, or is changed by. REQUIRES: mu_ held.
  std::vector<Watch*> watches_of(const PullQuery& query);
  // Moves every waiter of `watch` to the woken queue. REQUIRES: mu_ held.
  void wake(Watch& watch, std::int64_t seq);
  // Takes held waiter `id` out of the indexes. REQUIRES: mu_ held.
  PullWaiter release(std::uint64_t id);

  std::mutex mu_;
  std::condition_variable woken_ready_;
  const std::uint32_t per_officer_;
  bool stopped_ = false;
  std::uint64_t next_id_ = 0;
  std::unordered_map<std::uint64_t, Held> held_;
  std::unordered_map<std::string, std::uint32_t> held_per_officer_;
  Watch every_commit_;  // grants of all villages
  // The last seq of a commit that woke every waiter: a waiter whose snapshot
  // is older is answered at once.
  std::int64_t every_waiter_seq_ = 0;
  std::unordered_map<std::string, Watch> scopes_;
  std::unordered_map<std::string, Watch> devices_;
  std::vector<PullWaiter> woken_;
};

}  // namespace lumbung::server
