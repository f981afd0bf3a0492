// Runs programs and captures what they write, for tests that drive real
// binaries. No shell is involved: arguments and paths reach the program as given.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace lumbung::test {

struct ProcessResult {
  int exit_code = -1;  // the exit status, or 128 + the signal number when killed
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr
};

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

using Deadline = std::chrono::steady_clock::time_point;

// A running program whose stdout and stderr come back through pipes.
class ChildProcess {
 public:
  // Starts the program at path argv[0] with arguments `argv`, exactly the
  // environment `env` ("NAME=value"), working directory `cwd` and stdin from
  // /dev/null. Throws std::system_error when it cannot start.
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               const std::string& cwd);
  // Kills (SIGKILL) and reaps the child if wait() has not.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The next line of stdout without its '\n'; nullopt at end of file or when
  // `deadline` passes first.
  std::optional<std::string> read_line(Deadline deadline);
  // Sends `signal` to the child (nothing once it has been reaped).
  void send_signal(int signal);
  // The child's process id; -1 once it has been reaped.
  pid_t pid() const { return pid_; }
  // Reads stdout and stderr to end of file and reaps the child; nullopt when
  // `deadline` passes first (the child keeps running). `out` holds what
  // read_line did not return.
  std::optional<ProcessResult> wait(Deadline deadline);

 private:
  // Reads what is ready on the pipes, waiting up to `deadline`; false once
  // the deadline has passed.
  bool read_some(Deadline deadline);

  pid_t pid_ = -1;
  Fd out_fd_;
  Fd err_fd_;
  std::string out_;  // read from stdout, not yet returned
  std::string err_;
};

// Runs the program as ChildProcess starts it and waits for it to exit.
ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& cwd);

}  // namespace lumbung::test
