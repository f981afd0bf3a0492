// FaultVfs: SQLite's default VFS with a disk that fills up or fails on
// command. Debian's SQLite has no fault-injection hooks (SQLITE_TEST), so the
// test installs this as the process's default VFS: every connection opened
// after it, the replica's and the server store's alike, goes through it, with
// no option in the engine. Writes to files under an armed path prefix fail
// once a byte budget is spent; everything else is the default VFS's.
//
// Thread-safety: fail_writes()/heal() may race with connections' writes.
// One FaultVfs at a time per process.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <mutex>
#include <string>

namespace lumbung::test {

class FaultVfs {
 public:
  // Registers the VFS as the default. REQUIRES: no other FaultVfs exists.
  FaultVfs();
  // Restores the previous default. REQUIRES: no connection uses it any more.
  ~FaultVfs();
  FaultVfs(const FaultVfs&) = delete;
  FaultVfs& operator=(const FaultVfs&) = delete;

  // From now on, writes to files whose path starts with `path_prefix` succeed
  // for `budget_bytes` more bytes, then fail with `sqlite_code` (SQLITE_FULL:
  // the disk is full; SQLITE_IOERR_WRITE: the disk fails), until heal().
  void fail_writes(const std::string& path_prefix, int sqlite_code, std::int64_t budget_bytes);
  // Space returns: every write succeeds again.
  void heal();
  // Writes failed since construction.
  int faults() const;

 private:
  // Whether a write of `bytes` to `path` may go ahead; the error otherwise.
  int admit(const char* path, int bytes);
  static int open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out);
  static int write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset);

  sqlite3_vfs vfs_;
  sqlite3_vfs* real_;
  sqlite3_io_methods methods_;
  mutable std::mutex mu_;
  std::string prefix_;  // empty: not armed
  int code_ = SQLITE_OK;
  std::int64_t budget_ = 0;
  int faults_ = 0;
};

}  // namespace lumbung::test
