#include "auth/private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/errno_status.hpp"
#include "core/unique_fd.hpp"

namespace lumbung::auth {

using core::errno_status;

namespace {

constexpr mode_t kGroupOrOther = 077;

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace

Status make_private_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0) return Status::ok();
  if (errno != EEXIST) return errno_status("create directory", path, errno);
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return errno_status("inspect", path, errno);
  if (!S_ISDIR(info.st_mode)) {
    return Status(ErrorCode::kInvalidArgument, "'" + path + "' is not a directory");
  }
  if ((info.st_mode & kGroupOrOther) != 0) {
    return Status(ErrorCode::kInvalidArgument, "directory '" + path + "' has mode " +
                                                   octal(info.st_mode) +
                                                   ": group and others must have no access (0700)");
  }
  return Status::ok();
}

Status make_owner_only_dir(const std::string& path) {
  std::error_code error;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, error);
  if (error) {
    return Status(ErrorCode::kIo,
                  "cannot create directory '" + parent.string() + "': " + error.message());
  }
  if (::mkdir(path.c_str(), 0700) == 0) {
    // Exactly 0700, whatever the umask.
    if (::chmod(path.c_str(), 0700) != 0) return errno_status("restrict to its owner", path, errno);
    return Status::ok();
  }
  if (errno != EEXIST) return errno_status("create directory", path, errno);
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return errno_status("inspect", path, errno);
  if (!S_ISDIR(info.st_mode)) {
    return Status(ErrorCode::kInvalidArgument, "'" + path + "' is not a directory");
  }
  if ((info.st_mode & kGroupOrOther) != 0 &&
      ::chmod(path.c_str(), info.st_mode & 07777 & ~kGroupOrOther) != 0) {
    return errno_status("restrict to its owner", path, errno);
  }
  return Status::ok();
}

Status write_private_file(const std::string& path, std::string_view bytes) {
  const core::UniqueFd fd(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      return Status(ErrorCode::kInvalidArgument, "'" + path + "' already exists");
    }
    return errno_status("create", path, errno);
  }
  // A half-written secret must not stay behind to be read as a whole one.
  const auto discard = [&path](const std::string& what) {
    Status error = errno_status(what, path, errno);
    ::unlink(path.c_str());
    return error;
  };
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd.get(), bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return discard("write");
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  if (::fsync(fd.get()) != 0) return discard("sync");
  const std::size_t slash = path.rfind('/');
  return sync_dir(slash == std::string::npos ? "." : path.substr(0, slash));
}

Result<std::string> read_private_file(const std::string& path) {
  const core::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return errno_status("open", path, errno);
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return errno_status("inspect", path, errno);
  if (!S_ISREG(info.st_mode)) {
    return Status(ErrorCode::kInvalidArgument, "'" + path + "' is not a regular file");
  }
  if ((info.st_mode & kGroupOrOther) != 0) {
    return Status(ErrorCode::kInvalidArgument, "'" + path + "' has mode " + octal(info.st_mode) +
                                                   ": group and others must have no access (0600)");
  }
  std::string bytes;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno_status("read", path, errno);
    if (got == 0) break;
    bytes.append(buffer, static_cast<std::size_t>(got));
  }
  return bytes;
}

Status sync_dir(const std::string& dir) {
  const core::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return errno_status("open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return errno_status("sync directory", dir, errno);
  return Status::ok();
}

}  // namespace lumbung::auth
