#include "subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <system_error>

namespace lumbung::test {
namespace {

[[noreturn]] void throw_error(int error, const char* what) {
  throw std::system_error(error, std::generic_category(), what);
}

// The two ends of a pipe, closed on exec so the child keeps only its dup2 copies.
void make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_error(errno, "pipe2");
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (const std::string& s : strings) result.push_back(const_cast<char*>(s.c_str()));
  result.push_back(nullptr);
  return result;
}

// poll()'s timeout for `deadline`: -1 for none, at least 0.
int poll_timeout(Deadline deadline) {
  if (deadline == Deadline::max()) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Deadline::clock::now());
  return static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0));
}

}  // namespace

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, const std::string& cwd) {
  // Only the child may keep the write ends (they close when this returns), or
  // the reads never see end of file.
  Fd out_write, err_write;
  make_pipe(out_fd_, out_write);
  make_pipe(err_fd_, err_write);

  posix_spawn_file_actions_t actions;
  if (int rc = posix_spawn_file_actions_init(&actions); rc != 0) throw_error(rc, "spawn actions");
  int rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  if (rc == 0) rc = posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  if (rc == 0) {
    std::vector<char*> c_argv = c_strings(argv);
    std::vector<char*> c_env = c_strings(env);
    rc = posix_spawn(&pid_, c_argv[0], &actions, nullptr, c_argv.data(), c_env.data());
  }
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw_error(rc, "posix_spawn");
}

ChildProcess::~ChildProcess() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// Reads both pipes together: reading them in turn could deadlock once the
// child fills the one not being read.
bool ChildProcess::read_some(Deadline deadline) {
  pollfd fds[2] = {{out_fd_.get(), POLLIN, 0}, {err_fd_.get(), POLLIN, 0}};
  const int ready = ::poll(fds, 2, poll_timeout(deadline));
  if (ready < 0) {
    if (errno == EINTR) return true;
    throw_error(errno, "poll");
  }
  if (ready == 0) return Deadline::clock::now() < deadline;
  char buffer[65536];
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || fds[i].revents == 0) continue;
    Fd& fd = i == 0 ? out_fd_ : err_fd_;
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_error(errno, "read");
    if (n == 0) {
      fd.reset();
    } else {
      (i == 0 ? out_ : err_).append(buffer, static_cast<std::size_t>(n));
    }
  }
  return true;
}

std::optional<std::string> ChildProcess::read_line(Deadline deadline) {
  for (;;) {
    if (const std::size_t newline = out_.find('\n'); newline != std::string::npos) {
      std::string line = out_.substr(0, newline);
      out_.erase(0, newline + 1);
      return line;
    }
    if (out_fd_.get() < 0 || !read_some(deadline)) return std::nullopt;
  }
}

void ChildProcess::send_signal(int signal) {
  if (pid_ >= 0) ::kill(pid_, signal);
}

std::optional<ProcessResult> ChildProcess::wait(Deadline deadline) {
  while (out_fd_.get() >= 0 || err_fd_.get() >= 0) {
    if (!read_some(deadline)) return std::nullopt;
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw_error(errno, "waitpid");
  }
  pid_ = -1;
  ProcessResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = std::move(out_);
  result.err = std::move(err_);
  return result;
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& cwd) {
  ChildProcess child(argv, env, cwd);
  return *child.wait(Deadline::max());
}

}  // namespace lumbung::test
