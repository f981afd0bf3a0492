// A file descriptor that is closed when it goes out of scope.
//
// Thread-safety: one object is used by one thread at a time.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "core/errno_status.hpp"
#include "lumbung/status.hpp"

namespace lumbung::core {

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Closes it now, reporting a failure (a write the disk refused late) as an
  // error about `path`.
  Status close(const std::string& path) {
    if (::close(std::exchange(fd_, -1)) != 0) return errno_status("close", path, errno);
    return Status::ok();
  }

 private:
  int fd_;
};

}  // namespace lumbung::core
