// What the kernel says of this process, for GET /metrics: memory, CPU time,
// open files and start time, read from /proc (Linux). Fields it cannot read
// stay 0.
#pragma once

#include <cstdint>

namespace lumbung::server {

struct ProcessStats {
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  double cpu_seconds = 0;  // user and system
  std::uint64_t open_files = 0;
  std::uint64_t max_open_files = 0;  // the soft limit
  double start_time_seconds = 0;     // since the Unix epoch
};

ProcessStats read_process_stats();

}  // namespace lumbung::server
