// A real `lumbungd serve` for integration tests: started on 127.0.0.1 with a
// free port, known by the URL it prints, stopped with SIGTERM when destroyed.
// Its output is read all along by a thread of its own, so that a daemon that
// logs a line per request never blocks on a full pipe.
#pragma once

#include <chrono>
#include <csignal>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "support/subprocess.hpp"

namespace lumbung::test {

class DaemonProcess {
 public:
  // How long the daemon may take to start listening, and to stop.
  static constexpr std::chrono::seconds kStartTimeout{10};
  static constexpr std::chrono::seconds kStopTimeout{10};

  // Runs `binary serve --data DATA_DIR --listen 127.0.0.1:0 EXTRA_ARGS...`
  // and waits for its "listening on" line. Throws std::runtime_error, with
  // what the daemon wrote to stderr, when it does not start in time.
  DaemonProcess(const std::string& binary, const std::string& data_dir,
                const std::vector<std::string>& extra_args = {});
  // Stops the daemon as terminate() does; kills it if it does not exit in time.
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // "http://127.0.0.1:PORT", as the daemon printed it.
  const std::string& url() const { return url_; }
  // "http://127.0.0.1:PORT/metrics" with --metrics-listen, as it printed it.
  const std::string& metrics_url() const { return metrics_url_; }
  // Its process id, for reading its use of memory and CPU under /proc.
  pid_t pid() const { return pid_; }

  // Sends `signal` and waits up to kStopTimeout for the daemon to exit: its
  // exit code and output, or nullopt when it did not (it is killed then).
  // REQUIRES: called at most once.
  std::optional<ProcessResult> terminate(int signal = SIGTERM);

 private:
  std::optional<ChildProcess> child_;
  pid_t pid_ = -1;
  std::string url_;
  std::string metrics_url_;
  // The reading thread's end: the daemon's exit code and output once it has
  // exited and been reaped (the thread alone touches child_ meanwhile).
  std::future<std::optional<ProcessResult>> exited_;
};

}  // namespace lumbung::test
