// CommitFeed: what the other lumbungd processes serving the same PostgreSQL
// database committed, for this one's long polls, regions and HLC
// (docs/decisions/0036-several-daemons.md).
//
// After each of its commits a daemon publishes a notice of it: the last seq
// it gave, its scopes, the device whose batch it applied, the region rows it
// may have written and the daemon's HLC, sent with NOTIFY on channel
// kCommitChannel, after the commit, by a thread of the feed on a connection
// of its own. Every daemon LISTENs on that channel on another connection, in
// another thread of the feed, and hands the other daemons' notices to
// `on_commit`. A notice is a hint: a waiter that misses one still ends at its
// deadline. When the feed (re)connects, it may have missed notices: it calls
// `on_listening` once it listens again, for the caller to wake every waiter.
//
// Thread-safety: publish() and stop() from any thread; the callbacks run on
// the feed's listening thread, one at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "lumbung/status.hpp"
#include "server/long_poll.hpp"

namespace lumbung::pg {
class Connection;
}

namespace lumbung::server {

class Logger;

// The channel of the commit notices, in the store's database.
inline constexpr const char* kCommitChannel = "lumbung_commits";

// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
inline constexpr std::size_t kMaxNoticeBytes = 7999;

// One commit as a notice tells it.
struct CommitNotice {
  std::string sender{};  // the publishing feed's id
  CommittedChanges changes;
  std::int64_t hlc = 0;  // the sender's HLC after the commit (packed)
};

// The text of `notice`, at most `max_bytes` long: when its scopes (and
// device) do not fit, it says every_waiter instead; when its region rows do
// not fit, it says region_rows nullopt (read them all again).
std::string encode_commit_notice(const CommitNotice& notice,
                                 std::size_t max_bytes = kMaxNoticeBytes);
// The notice `payload` holds; nullopt when it is not one this version reads
// (another format).
std::optional<CommitNotice> decode_commit_notice(std::string_view payload);

class CommitFeed {
 public:
  struct Callbacks {
    // Another daemon's commit.
    std::function<void(const CommitNotice&)> on_commit;
    // The feed listens (again): commits made meanwhile were not told. An
    // error (the store could not be read) makes the feed call it again later.
    std::function<Status()> on_listening;
  };

  // Connects to the database at `url` and LISTENs on kCommitChannel, then
  // starts the feed's threads; the first call of on_listening comes from the
  // listening thread at once. kUnavailable when PostgreSQL cannot be reached.
  // `logger` (may be null) gets a line when the feed loses and regains
  // PostgreSQL; it must outlive the feed.
  static Result<std::unique_ptr<CommitFeed>> open(const std::string& url, Callbacks callbacks,
                                                  const Logger* logger);
  ~CommitFeed();  // stop()
  CommitFeed(const CommitFeed&) = delete;
  CommitFeed& operator=(const CommitFeed&) = delete;

  // Queues a notice of this daemon's commit `changes`, with its HLC `hlc`,
  // for the publishing thread: never waits on PostgreSQL. Notices that pile
  // up while PostgreSQL is away are merged into one that wakes every waiter.
  void publish(const CommittedChanges& changes, std::int64_t hlc);

  // Ends both threads, within about kPollInterval; the notices still queued
  // are sent first when PostgreSQL answers. Idempotent.
  void stop();

  // This feed's id in the notices it sends (random, drawn at open).
  const std::string& id() const { return id_; }

  // How long the listening thread waits for a notice before it looks at
  // stop(); and the longest wait between attempts to reconnect.
  static constexpr std::chrono::milliseconds kPollInterval{200};
  static constexpr std::chrono::milliseconds kMaxReconnectWait{2000};

 private:
  CommitFeed(std::string url, Callbacks callbacks, const Logger* logger,
             std::unique_ptr<pg::Connection> listener);

  void listen_loop();
  void publish_loop();
  // Waits `wait` or until stop(); false once stopping.
  bool pause(std::chrono::milliseconds wait);
  void log_event(std::string_view event, const Status& status) const;

  const std::string url_;  // never shown: it may hold a password
  const Callbacks callbacks_;
  const Logger* const logger_;
  std::string id_;
  std::unique_ptr<pg::Connection> listener_;  // the listening thread's alone
  std::unique_ptr<pg::Connection> notifier_;  // the publishing thread's alone

  std::mutex mu_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::deque<CommitNotice> queued_;  // guarded by mu_
  std::thread listening_;
  std::thread publishing_;
};

}  // namespace lumbung::server
