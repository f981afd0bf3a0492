#include "measure.hpp"

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace lumbung::bench {

namespace {

// Seconds of CPU from /proc/PID/stat: utime and stime, and with `children`
// cutime and cstime.
// Sets *parent (field 4) when not null.
double stat_cpu_seconds(pid_t pid, bool children, pid_t* parent = nullptr) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields 14 to 17 (utime, stime, cutime, cstime) follow the command name,
  // which may hold spaces, in parentheses.
  const std::size_t at = stat.rfind(')');
  if (at == std::string::npos) {
    throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
  }
  std::istringstream fields(stat.substr(at + 2));
  std::string state;
  pid_t ppid = 0;
  fields >> state >> ppid;
  if (parent != nullptr) *parent = ppid;
  std::string skip;
  for (int i = 5; i < 14; ++i) fields >> skip;
  double utime = 0, stime = 0, cutime = 0, cstime = 0;
  fields >> utime >> stime >> cutime >> cstime;
  const double ticks = utime + stime + (children ? cutime + cstime : 0);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

double cpu_seconds(pid_t pid) { return stat_cpu_seconds(pid, false); }

double cpu_seconds_with_children(pid_t pid) { return stat_cpu_seconds(pid, true); }

double cpu_seconds_with_live_children(pid_t pid) {
  double seconds = stat_cpu_seconds(pid, true);
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t parent = 0;
    try {
      const double child = stat_cpu_seconds(std::stoi(name), true, &parent);
      if (parent == pid) seconds += child;
    } catch (const std::runtime_error&) {
      // The process ended meanwhile: its parent counts it once it is reaped.
    }
  }
  return seconds;
}

double own_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

Result<HttpResponse> CountingTransport::exchange(const HttpRequest& request) {
  ++requests;
  return inner_->exchange(request);
}

}  // namespace lumbung::bench
