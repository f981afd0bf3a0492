#include "support/fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <random>
#include <system_error>
#include <utility>

namespace lumbung::test {
namespace {

using Clock = std::chrono::steady_clock;

// About one TCP segment: the unit the link shape and the chunk delays work on.
constexpr std::size_t kChunkBytes = 1400;
// Bytes held per direction before the proxy stops reading its source.
constexpr std::size_t kMaxQueuedBytes = 256 * 1024;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// Nonblocking, and without Nagle's delay, so that a chunk leaves when due.
void prepare(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closes with RST instead of FIN: the peer's next read fails with ECONNRESET.
void reset(int fd) {
  const linger abort{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  ::close(fd);
}

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  const sockaddr_in address = loopback(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

FaultPlanner random_faults(std::uint64_t seed, double probability, std::size_t max_offset,
                           std::chrono::milliseconds max_delay) {
  return [=](std::uint64_t connection) {
    std::seed_seq sequence{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                           static_cast<std::uint32_t>(connection),
                           static_cast<std::uint32_t>(connection >> 32)};
    std::mt19937_64 random(sequence);
    ConnectionPlan plan;
    if (std::uniform_real_distribution<double>(0, 1)(random) >= probability) return plan;
    // 0: drop; 1-6: reset, truncate or stall, of the request or the response;
    // 7: chunk delays.
    const int pick = std::uniform_int_distribution<int>(0, 7)(random);
    const std::size_t offset = std::uniform_int_distribution<std::size_t>(0, max_offset)(random);
    if (pick == 0) {
      plan.drop = true;
    } else if (pick == 7) {
      plan.response.chunk_delay = std::chrono::milliseconds(
          std::uniform_int_distribution<std::int64_t>(1, max_delay.count())(random));
    } else {
      constexpr DirectionFault::Kind kKinds[] = {DirectionFault::Kind::kReset,
                                                 DirectionFault::Kind::kTruncate,
                                                 DirectionFault::Kind::kStall};
      DirectionFault& direction = pick % 2 ? plan.request : plan.response;
      direction.kind = kKinds[(pick - 1) / 2];
      direction.after_bytes = offset;
    }
    return plan;
  };
}

FaultProxyStats& FaultProxyStats::operator+=(const FaultProxyStats& other) {
  for (std::int64_t FaultProxyStats::*counter :
       {&FaultProxyStats::connections, &FaultProxyStats::refused, &FaultProxyStats::drops,
        &FaultProxyStats::resets, &FaultProxyStats::truncations, &FaultProxyStats::stalls,
        &FaultProxyStats::delayed, &FaultProxyStats::bytes_up, &FaultProxyStats::bytes_down}) {
    this->*counter += other.*counter;
  }
  return *this;
}

std::string FaultProxyStats::to_string() const {
  return std::to_string(connections) + " connections, " + std::to_string(faults()) + " faults (" +
         std::to_string(drops) + " drops, " + std::to_string(resets) + " resets, " +
         std::to_string(truncations) + " truncations, " + std::to_string(stalls) + " stalls, " +
         std::to_string(delayed) + " delayed), " + std::to_string(bytes_up) + " bytes up, " +
         std::to_string(bytes_down) + " down";
}

// One accepted connection and its two directions, moved by one thread.
class FaultProxy::Connection {
 public:
  Connection(FaultProxy& proxy, int client, const ConnectionPlan& plan, LinkShape link)
      : proxy_(proxy),
        client_(client),
        plan_(plan),
        link_(link),
        directions_{Direction{client, -1, plan.request, &FaultProxyStats::bytes_up},
                    Direction{-1, client, plan.response, &FaultProxyStats::bytes_down}} {}

  void run() {
    if (plan_.drop) {
      // Counted first: the client may read the stats as soon as it sees the close.
      proxy_.add(&FaultProxyStats::drops, 1);
      ::close(client_);
      return;
    }
    const int server = connect_to(proxy_.target_port_);
    if (server < 0) {
      reset(client_);
      return;
    }
    directions_[0].to = directions_[1].from = server;
    prepare(client_);
    prepare(server);
    const bool reset_both = pump(server);
    for (const int fd : {client_, server}) {
      if (reset_both) {
        reset(fd);
      } else {
        ::close(fd);
      }
    }
  }

 private:
  struct Chunk {
    Clock::time_point due;
    std::string bytes;
  };
  struct Direction {
    Direction(int from_fd, int to_fd, const DirectionFault& planned,
              std::int64_t FaultProxyStats::*bytes_counter)
        : from(from_fd), to(to_fd), fault(planned), counter(bytes_counter) {}

    int from;
    int to;
    DirectionFault fault;
    std::int64_t FaultProxyStats::*counter;
    std::deque<Chunk> queue;
    std::size_t queued = 0;
    std::size_t taken = 0;  // bytes read from `from` and kept for forwarding
    bool struck = false;    // the fault's byte has been reached
    bool eof = false;       // `from` closed its side
    bool shut = false;      // `to` was told (FIN) that no more comes
    Clock::time_point link_free{};

    bool stalled() const { return struck && fault.kind == DirectionFault::Kind::kStall; }
    bool ends_connection() const {
      return struck && queue.empty() &&
             (fault.kind == DirectionFault::Kind::kReset ||
              fault.kind == DirectionFault::Kind::kTruncate);
    }
  };

  // Moves bytes until the connection ends; true when it ends with a reset.
  bool pump(int server) {
    for (;;) {
      const Clock::time_point now = Clock::now();
      pollfd fds[3] = {{proxy_.wake_read_, POLLIN, 0}, {client_, 0, 0}, {server, 0, 0}};
      auto slot = [&](int fd) -> pollfd& { return fd == client_ ? fds[1] : fds[2]; };
      int timeout_ms = -1;
      for (Direction& d : directions_) {
        if (!d.eof && d.queued < kMaxQueuedBytes) slot(d.from).events |= POLLIN;
        if (d.queue.empty()) continue;
        if (d.queue.front().due <= now) {
          slot(d.to).events |= POLLOUT;
        } else {
          const auto wait =
              std::chrono::ceil<std::chrono::milliseconds>(d.queue.front().due - now).count();
          timeout_ms = timeout_ms < 0 ? static_cast<int>(wait)
                                      : std::min(timeout_ms, static_cast<int>(wait));
        }
      }
      // A socket with nothing to wait for sits out, or a hangup it reported
      // would wake the loop again and again while a delayed chunk waits.
      for (pollfd& fd : fds) fd.fd = fd.events ? fd.fd : -1;
      if (::poll(fds, 3, timeout_ms) < 0 && errno != EINTR) return true;
      if (fds[0].revents) return true;  // stop()
      for (Direction& d : directions_) {
        const pollfd& from = slot(d.from);
        if ((from.events & POLLIN) && (from.revents & (POLLIN | POLLHUP | POLLERR))) {
          if (!read(d)) return true;
        }
        if (!write(d)) return true;
        if (d.ends_connection()) return d.fault.kind == DirectionFault::Kind::kReset;
        // A black hole swallows the close too; the peer that gave up ends it.
        if (d.eof && d.stalled()) return false;
        if (d.eof && d.queue.empty() && !d.shut) {
          ::shutdown(d.to, SHUT_WR);
          d.shut = true;
        }
      }
      if (directions_[0].shut && directions_[1].shut) return false;
    }
  }

  // False when the source failed (a reset, which the proxy passes on).
  bool read(Direction& d) {
    char buffer[16 * 1024];
    const ssize_t n = ::recv(d.from, buffer, sizeof buffer, 0);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n == 0) {
      d.eof = true;
      return true;
    }
    std::size_t keep = static_cast<std::size_t>(n);
    if (d.struck) {
      keep = 0;  // past the fault: swallowed
    } else if (d.fault.kind != DirectionFault::Kind::kNone &&
               d.taken + keep >= d.fault.after_bytes) {
      keep = d.fault.after_bytes - d.taken;
      d.struck = true;
      proxy_.add(d.fault.kind == DirectionFault::Kind::kReset      ? &FaultProxyStats::resets
                 : d.fault.kind == DirectionFault::Kind::kTruncate ? &FaultProxyStats::truncations
                                                                   : &FaultProxyStats::stalls,
                 1);
    }
    if (keep > 0 && d.taken == 0 && d.fault.chunk_delay.count() > 0) {
      proxy_.add(&FaultProxyStats::delayed, 1);
    }
    d.taken += keep;
    for (std::size_t at = 0; at < keep; at += kChunkBytes) {
      const std::size_t size = std::min(kChunkBytes, keep - at);
      d.link_free = std::max(d.link_free, Clock::now()) + d.fault.chunk_delay;
      if (link_.bytes_per_second > 0) {
        d.link_free += std::chrono::microseconds(static_cast<std::int64_t>(size) * 1'000'000 /
                                                 link_.bytes_per_second);
      }
      d.queue.push_back({d.link_free + link_.round_trip / 2, std::string(buffer + at, size)});
      d.queued += size;
    }
    return true;
  }

  // Sends what is due; false when the destination failed.
  bool write(Direction& d) {
    while (!d.queue.empty() && d.queue.front().due <= Clock::now()) {
      std::string& bytes = d.queue.front().bytes;
      const ssize_t n = ::send(d.to, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      proxy_.add(d.counter, n);
      d.queued -= static_cast<std::size_t>(n);
      bytes.erase(0, static_cast<std::size_t>(n));
      if (!bytes.empty()) return true;  // the socket is full; poll says when it drains
      d.queue.pop_front();
    }
    return true;
  }

  FaultProxy& proxy_;
  int client_;
  ConnectionPlan plan_;
  LinkShape link_;
  Direction directions_[2];
};

FaultProxy::FaultProxy(std::uint16_t target_port, LinkShape link, FaultPlanner planner)
    : target_port_(target_port), link_(link), planner_(std::move(planner)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listener_ < 0) throw_errno("socket");
  sockaddr_in address = loopback(0);
  if (::bind(listener_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener_, 64) != 0) {
    ::close(listener_);
    throw_errno("fault proxy: listen on 127.0.0.1");
  }
  socklen_t length = sizeof address;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  int wake[2];
  if (::pipe(wake) != 0) {
    ::close(listener_);
    throw_errno("pipe");
  }
  wake_read_ = wake[0];
  wake_write_ = wake[1];
  start();
}

FaultProxy::~FaultProxy() {
  stop();
  ::close(listener_);
  ::close(wake_read_);
  ::close(wake_write_);
}

std::string FaultProxy::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FaultProxy::start() {
  std::lock_guard<std::mutex> serial(start_stop_);
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_) return;
  running_ = true;
  acceptor_ = std::thread([this] { accept_loop(); });
}

void FaultProxy::stop() {
  std::lock_guard<std::mutex> serial(start_stop_);
  std::list<Worker> workers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!running_) return;
    running_ = false;
  }
  const char byte = 0;
  if (::write(wake_write_, &byte, 1) != 1) std::terminate();  // nothing else could wake them
  acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    workers.swap(workers_);
  }
  // Joined without the lock: a connection takes it to count what it did.
  for (Worker& worker : workers) worker.thread.join();
  char drained;
  while (::read(wake_read_, &drained, 1) != 1) {
  }
}

void FaultProxy::set_planner(FaultPlanner planner) {
  std::lock_guard<std::mutex> lock(mutex_);
  planner_ = std::move(planner);
}

void FaultProxy::set_link(LinkShape link) {
  std::lock_guard<std::mutex> lock(mutex_);
  link_ = link;
}

FaultProxyStats FaultProxy::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void FaultProxy::add(std::int64_t FaultProxyStats::*counter, std::int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.*counter += n;
}

void FaultProxy::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{wake_read_, POLLIN, 0}, {listener_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[0].revents) return;
    if (!(fds[1].revents & POLLIN)) continue;
    const int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    reap_finished_workers();
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.connections;
    if (workers_.size() >= static_cast<std::size_t>(kMaxConnections)) {
      ++stats_.refused;
      ::close(client);
      continue;
    }
    const ConnectionPlan plan = planner_ ? planner_(next_connection_) : ConnectionPlan{};
    ++next_connection_;
    Worker& worker = workers_.emplace_back();
    worker.thread = std::thread([this, client, plan, link = link_, &worker] {
      Connection(*this, client, plan, link).run();
      worker.done = true;
    });
  }
}

void FaultProxy::reap_finished_workers() {
  std::list<Worker> finished;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      auto next = std::next(it);
      if (it->done) finished.splice(finished.end(), workers_, it);
      it = next;
    }
  }
  for (Worker& worker : finished) worker.thread.join();
}

}  // namespace lumbung::test
