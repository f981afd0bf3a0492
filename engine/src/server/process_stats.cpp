#include "server/process_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace lumbung::server {
namespace {

// The boot time, in seconds since the Unix epoch (/proc/stat "btime").
double boot_time_seconds() {
  std::ifstream stat("/proc/stat");
  for (std::string line; std::getline(stat, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

}  // namespace

ProcessStats read_process_stats() {
  ProcessStats stats;
  const long page = ::sysconf(_SC_PAGESIZE);
  const long ticks = ::sysconf(_SC_CLK_TCK);
  if (std::ifstream statm("/proc/self/statm"); statm) {
    std::uint64_t pages = 0, resident = 0;
    if (statm >> pages >> resident) {
      stats.virtual_bytes = pages * static_cast<std::uint64_t>(page);
      stats.resident_bytes = resident * static_cast<std::uint64_t>(page);
    }
  }
  // /proc/self/stat: the command name may hold spaces and parentheses, so
  // the fields are counted from its closing parenthesis: state is field 3,
  // utime 14, stime 15, starttime 22.
  if (std::ifstream stat("/proc/self/stat"); stat && ticks > 0) {
    std::string line;
    std::getline(stat, line);
    const std::size_t close = line.rfind(')');
    if (close != std::string::npos) {
      std::istringstream fields(line.substr(close + 2));
      std::string field;
      double utime = 0, stime = 0, start = 0;
      for (int number = 3; fields >> field; ++number) {
        if (number == 14) utime = std::stod(field);
        if (number == 15) stime = std::stod(field);
        if (number == 22) {
          start = std::stod(field);
          break;
        }
      }
      stats.cpu_seconds = (utime + stime) / static_cast<double>(ticks);
      stats.start_time_seconds = boot_time_seconds() + start / static_cast<double>(ticks);
    }
  }
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++stats.open_files;
  }
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    stats.max_open_files = files.rlim_cur;
  }
  return stats;
}

}  // namespace lumbung::server
