// FaultProxy: a TCP proxy on 127.0.0.1 that stands between devices and a
// daemon and misbehaves on purpose. Per connection and per direction it can
// drop the connection before forwarding anything, reset it (RST, SO_LINGER 0)
// or close it (FIN) after N bytes, stall after N bytes (a black hole: bytes go
// in, none come out), and space out chunks; every connection can also be
// throttled to a byte rate with a round-trip latency (a 2G-like link).
//
// What each connection suffers comes from a FaultPlanner, asked once per
// accepted connection with its number (0, 1, ...): explicit rules, or the
// seeded random schedule of random_faults(), which is a function of the seed
// and the connection's number alone, so a run can be replayed.
//
// Plain POSIX sockets: one thread accepts, one thread per connection moves
// bytes with poll(). At most kMaxConnections at a time; more are closed at
// once (counted as refused).
//
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>

namespace lumbung::test {

// What happens to the bytes of one direction of one connection.
struct DirectionFault {
  enum class Kind : int {
    kNone = 0,
    kReset = 1,     // after `after_bytes`, both sockets are reset (RST)
    kTruncate = 2,  // after `after_bytes`, both sockets are closed (FIN)
    kStall = 3,     // after `after_bytes`, nothing more is forwarded; the connection stays open
  };
  Kind kind = Kind::kNone;
  std::size_t after_bytes = 0;
  // Added between chunks of this direction (a slow, bursty link). Default: none.
  std::chrono::milliseconds chunk_delay{0};
};

struct ConnectionPlan {
  // Initialized, so that designated initializers may leave them out.
  bool drop = false;          // closed as soon as accepted; the daemon never sees it
  DirectionFault request{};   // device to daemon
  DirectionFault response{};  // daemon to device
};

// A link's shape, applied to every connection in both directions.
struct LinkShape {
  std::int64_t bytes_per_second = 0;  // 0: unlimited
  std::chrono::milliseconds round_trip{0};
};

// A 2G (GPRS/EDGE-like) link: about 50 kbit/s and 600 ms round trips.
inline constexpr LinkShape k2GLink{50'000 / 8, std::chrono::milliseconds(600)};

// The plan of connection number `connection`. Called on the proxy's
// accepting thread under its lock: it must not call the proxy.
using FaultPlanner = std::function<ConnectionPlan(std::uint64_t connection)>;

// A seeded random schedule: each connection suffers one fault with
// `probability` (drop; reset, truncate or stall of the request or of the
// response at a random byte below `max_offset`; or chunk delays up to
// `max_delay`), none otherwise.
FaultPlanner random_faults(std::uint64_t seed, double probability, std::size_t max_offset,
                           std::chrono::milliseconds max_delay);

// What the proxy did: faults count only once they struck.
struct FaultProxyStats {
  std::int64_t connections = 0;
  std::int64_t refused = 0;  // over kMaxConnections
  std::int64_t drops = 0;
  std::int64_t resets = 0;
  std::int64_t truncations = 0;
  std::int64_t stalls = 0;
  std::int64_t delayed = 0;     // directions whose chunks were delayed
  std::int64_t bytes_up = 0;    // forwarded to the daemon
  std::int64_t bytes_down = 0;  // forwarded to the device
  std::int64_t faults() const { return drops + resets + truncations + stalls + delayed; }
  FaultProxyStats& operator+=(const FaultProxyStats& other);
  // "N connections, N faults (N drops, ...), N bytes up, N down".
  std::string to_string() const;
};

class FaultProxy {
 public:
  static constexpr int kMaxConnections = 64;

  // Listens on 127.0.0.1 at a free port and starts forwarding to
  // 127.0.0.1:`target_port`. Throws std::system_error when it cannot listen.
  explicit FaultProxy(std::uint16_t target_port, LinkShape link = {}, FaultPlanner planner = {});
  // Stops, as stop() does.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT".
  std::string url() const;

  // Resumes accepting after stop(). Does nothing when running.
  void start();
  // Closes every open connection and stops accepting; returns when every
  // thread has ended. The port stays bound, so new connections wait in the
  // backlog unanswered (a link that went dead). Does nothing when stopped.
  void stop();

  // Apply to connections accepted from now on; an empty planner means no faults.
  void set_planner(FaultPlanner planner);
  void set_link(LinkShape link);

  FaultProxyStats stats() const;

 private:
  class Connection;
  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void accept_loop();
  void reap_finished_workers();
  void add(std::int64_t FaultProxyStats::*counter, std::int64_t n);

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listener_ = -1;
  // Readable once stop() wrote to it: wakes every poll() of the proxy.
  int wake_read_ = -1;
  int wake_write_ = -1;

  mutable std::mutex mutex_;  // guards everything below
  bool running_ = false;
  LinkShape link_;
  FaultPlanner planner_;
  std::uint64_t next_connection_ = 0;
  FaultProxyStats stats_;
  std::thread acceptor_;
  std::list<Worker> workers_;
  std::mutex start_stop_;  // serializes start() and stop()
};

}  // namespace lumbung::test
