// A program run to its end with what it cost: its exit status, wall time and
// peak resident memory (wait4's ru_maxrss), for the tests and benchmarks that
// bound a command's memory (`lumbungd import` on a large file). Output goes
// to files, not pipes, so that reading it costs the measured process nothing.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

extern char** environ;

namespace lumbung::test {

struct MeasuredRun {
  int exit_code = -1;  // 128 + the signal number when killed
  double seconds = 0;
  std::int64_t peak_rss_kb = 0;
};

// Runs argv[0] with `argv` (no shell), stdin from /dev/null, stdout to
// `out_path` and stderr to `err_path`, and waits for it.
inline MeasuredRun run_measured(const std::vector<std::string>& argv, const std::string& out_path,
                                const std::string& err_path) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  const auto started = std::chrono::steady_clock::now();
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw std::system_error(spawned, std::generic_category(), argv[0]);
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "wait4");
  }
  MeasuredRun run;
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.peak_rss_kb = usage.ru_maxrss;  // Linux: kilobytes
  return run;
}

}  // namespace lumbung::test
