// What the benchmarks measure besides wall time: the CPU seconds of a process
// (on a machine shared with other work they say more than wall time does),
// and the requests a device makes (each costs a round trip on a slow link).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "lumbung/http.hpp"

namespace lumbung::bench {

// CPU seconds (user and system) that process `pid` has used so far, from
// /proc/PID/stat. Throws std::runtime_error when it cannot be read.
double cpu_seconds(pid_t pid);
// cpu_seconds(), and that of its children it has waited for (cutime and
// cstime): a server's, whose workers come and go.
double cpu_seconds_with_children(pid_t pid);
// cpu_seconds_with_children(), and that of its children still running: a
// PostgreSQL postmaster's, whose backends live as long as their connections.
double cpu_seconds_with_live_children(pid_t pid);

// CPU seconds this process has used so far.
double own_cpu_seconds();

// A transport that counts the requests it passes on to `inner`.
class CountingTransport : public Transport {
 public:
  explicit CountingTransport(std::shared_ptr<Transport> inner) : inner_(std::move(inner)) {}
  Result<HttpResponse> exchange(const HttpRequest& request) override;

  std::int64_t requests = 0;

 private:
  std::shared_ptr<Transport> inner_;
};

}  // namespace lumbung::bench
