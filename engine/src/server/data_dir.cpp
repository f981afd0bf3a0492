#include "server/data_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string_view>

#include "auth/private_file.hpp"
#include "core/errno_status.hpp"

namespace lumbung::server {
namespace {

// What the lock file holds: its holder's pid and a newline.
std::string contents(int fd) {
  char text[32] = {};
  const ssize_t got = ::pread(fd, text, sizeof text, 0);
  return got > 0 ? std::string(text, static_cast<std::size_t>(got)) : std::string();
}

// The pid the lock's holder wrote into the file, or 0.
long holder_pid(int fd) {
  const std::string text = contents(fd);
  long pid = 0;
  std::from_chars(text.data(), text.data() + text.size(), pid);
  return pid;
}

Status write_contents(int fd, const std::string& text, const std::string& path) {
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return core::errno_status("write", path, errno);
  }
  return Status::ok();
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

DataDirLock::DataDirLock(core::UniqueFd fd, std::string path, bool created)
    : fd_(std::move(fd)), path_(std::move(path)), created_(created) {}

void DataDirLock::abandon() {
  if (!fd_.valid()) return;
  if (created_) {
    ::unlink(path_.c_str());
  } else {
    (void)write_contents(fd_.get(), previous_, path_);  // best effort, as a destructor
  }
  fd_ = core::UniqueFd();
}

Result<std::unique_ptr<DataDirLock>> DataDirLock::acquire(const std::string& data_dir) {
  LUMBUNG_RETURN_IF_ERROR(auth::make_owner_only_dir(data_dir));
  const std::string path = data_dir + "/" + kLockFileName;
  // A holder that abandons its lock removes the file: a file opened before
  // that and locked after would be a lock nobody else sees, so the lock must
  // be on the file the name still names.
  for (;;) {
    bool created = false;
    int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      created = fd >= 0;
      if (fd < 0 && errno == EEXIST) continue;
    }
    if (fd < 0) return core::errno_status("open", path, errno);
    std::unique_ptr<DataDirLock> lock(new DataDirLock(core::UniqueFd(fd), path, created));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return core::errno_status("lock", path, errno);
      const long pid = holder_pid(fd);
      return Status(ErrorCode::kBusy, "data directory '" + data_dir +
                                          "' is in use by another lumbungd" +
                                          (pid > 0 ? " (pid " + std::to_string(pid) + ")" : ""));
    }
    struct stat opened {};
    struct stat named {};
    if (::fstat(fd, &opened) != 0) return core::errno_status("inspect", path, errno);
    if (::stat(path.c_str(), &named) != 0 || !same_file(opened, named)) continue;
    if ((opened.st_mode & 077) != 0 && ::fchmod(fd, 0600) != 0) {
      return core::errno_status("restrict to its owner", path, errno);
    }
    lock->previous_ = contents(fd);
    LUMBUNG_RETURN_IF_ERROR(write_contents(fd, std::to_string(::getpid()) + "\n", path));
    return lock;
  }
}

}  // namespace lumbung::server
