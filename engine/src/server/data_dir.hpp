// The lock of a lumbungd data directory (docs/lumbungd.md, "One process per
// data directory"): `serve` and `restore` each hold it for their whole life,
// so that a second one on the same directory is refused at once instead of
// writing beside the first. It is flock(2) on DIR/lumbungd.lock, which the
// kernel releases when the process ends, however it ends: a stale lock
// cannot outlive its holder. The other commands (dump, audit, token,
// snapshot, backup) do not take it and run beside `serve` as before.
//
// Thread-safety: a DataDirLock is not shared between threads.
#pragma once

#include <memory>
#include <string>

#include "core/unique_fd.hpp"
#include "lumbung/status.hpp"

namespace lumbung::server {

// The lock file's name in a data directory.
inline constexpr const char* kLockFileName = "lumbungd.lock";

class DataDirLock {
 public:
  // Creates `data_dir` when missing (mode 0700, an existing one loses group
  // and other permissions), creates its lock file (0600) when missing, and
  // takes the lock without waiting. kBusy "data directory 'DIR' is in use by
  // another lumbungd (pid N)" when another process holds it.
  static Result<std::unique_ptr<DataDirLock>> acquire(const std::string& data_dir);
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

  // Removes the lock file if acquire() created it, or puts back what it
  // held (the previous holder's pid), then releases the lock: a command that
  // failed leaves the directory as it found it.
  void abandon();

 private:
  DataDirLock(core::UniqueFd fd, std::string path, bool created);

  core::UniqueFd fd_;  // closing it releases the lock
  const std::string path_;
  const bool created_;
  std::string previous_;  // what the file held before this holder's pid
};

}  // namespace lumbung::server
