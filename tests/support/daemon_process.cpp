#include "support/daemon_process.hpp"

#include <signal.h>

#include <filesystem>
#include <stdexcept>
#include <string_view>

extern char** environ;

namespace lumbung::test {
namespace {

constexpr std::string_view kListeningPrefix = "lumbungd listening on ";
constexpr std::string_view kMetricsPrefix = "lumbungd metrics on ";

// The test's own environment, so that sanitizer settings reach the daemon.
std::vector<std::string> inherited_environment() {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) env.emplace_back(*entry);
  return env;
}

Deadline after(std::chrono::seconds timeout) { return Deadline::clock::now() + timeout; }

}  // namespace

DaemonProcess::DaemonProcess(const std::string& binary, const std::string& data_dir,
                             const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {binary, "serve", "--data", data_dir, "--listen", "127.0.0.1:0"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  child_.emplace(argv, inherited_environment(), std::filesystem::current_path().string());
  const Deadline started = after(kStartTimeout);
  std::optional<std::string> line = child_->read_line(started);
  if (line && line->starts_with(kMetricsPrefix)) {
    metrics_url_ = line->substr(kMetricsPrefix.size());
    line = child_->read_line(started);
  }
  if (line && line->starts_with(kListeningPrefix)) {
    url_ = line->substr(kListeningPrefix.size());
    pid_ = child_->pid();
    // A day: longer than any test; terminate() bounds the wait that counts.
    exited_ = std::async(std::launch::async,
                         [this] { return child_->wait(after(std::chrono::hours(24))); });
    return;
  }
  child_->send_signal(SIGKILL);
  const std::optional<ProcessResult> result = child_->wait(after(kStopTimeout));
  throw std::runtime_error("lumbungd did not start: printed '" + line.value_or("") + "'" +
                           (result ? "; stderr: " + result->err : std::string()));
}

DaemonProcess::~DaemonProcess() {
  if (child_) terminate();
}

std::optional<ProcessResult> DaemonProcess::terminate(int signal) {
  ::kill(pid_, signal);
  std::optional<ProcessResult> result;
  if (exited_.wait_for(kStopTimeout) == std::future_status::ready) {
    result = exited_.get();
  } else {
    ::kill(pid_, SIGKILL);
    exited_.wait();
  }
  child_.reset();
  return result;
}

}  // namespace lumbung::test
