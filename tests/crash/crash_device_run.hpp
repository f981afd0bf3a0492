// A crash_device process (crash_device.cpp) that a crash test kills with
// SIGKILL when it chooses, reading what the run reported committed. Shared by
// the crash tests that kill devices.
#pragma once

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/subprocess.hpp"

extern char** environ;

namespace lumbung::test {

// How long a crash_device run may take to say its next line, or to exit.
inline Deadline crash_device_deadline() {
  return Deadline::clock::now() + std::chrono::seconds(10);
}

// One crash_device run that the test kills when it chooses.
class DeviceRun {
 public:
  explicit DeviceRun(const std::vector<std::string>& args)
      : child_(command(args), environment(), std::filesystem::current_path().string()) {}

  // Reads lines until the `count`-th that starts with `prefix` (count 0:
  // none); false when the run ended first. Returns its number in `n`.
  bool read_until(const std::string& prefix, int count, long* n = nullptr) {
    for (int seen = 0; seen < count;) {
      const std::optional<std::string> line = child_.read_line(crash_device_deadline());
      if (!line) return false;
      note(*line);
      if (line->starts_with(prefix + " ")) {
        ++seen;
        if (n) *n = std::atol(line->c_str() + prefix.size() + 1);
      }
    }
    return true;
  }

  // Kills the process after `delay`, then reads what it wrote before it died.
  // Returns whether it died of the kill (rather than finishing first).
  bool kill_after(std::chrono::microseconds delay) {
    std::this_thread::sleep_for(delay);
    child_.send_signal(SIGKILL);
    const std::optional<ProcessResult> result = child_.wait(crash_device_deadline());
    REQUIRE(result);
    std::istringstream rest(result->out);
    for (std::string line; std::getline(rest, line);) note(line);
    INFO("crash_device: " << result->err);
    REQUIRE((result->exit_code == 0 || result->exit_code == 128 + SIGKILL));
    return result->exit_code == 128 + SIGKILL;
  }

  const std::set<long>& committed() const { return committed_; }

 private:
  static std::vector<std::string> command(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {LUMBUNG_CRASH_DEVICE};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  // Sanitizer settings reach the child.
  static std::vector<std::string> environment() {
    std::vector<std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) env.emplace_back(*entry);
    return env;
  }
  void note(const std::string& line) {
    if (line.starts_with("committed ")) committed_.insert(std::atol(line.c_str() + 10));
  }

  ChildProcess child_;
  std::set<long> committed_;
};

}  // namespace lumbung::test
