// PowerCutVfs: SQLite's default VFS with an operating system's page cache in
// front of the disk, and a power switch. Writes and truncations wait in memory
// (reads see them) until the file is synced; cutting the power of a machine
// (every file under a path prefix) keeps a random prefix of each file's
// unsynced writes, maybe tears the next one at a 512-byte boundary, and loses
// the rest, as a disk may. Until restore(), the cut machine's process runs on
// in a world of its own: its writes, syncs and deletes never reach the disk.
// restore() writes what survived; reopening the database recovers from it.
//
// Installed as the process's default VFS, so every connection opened after
// it, a replica's and the server store's alike,
// goes through it. Temporary files are the default VFS's. Memory-mapped reads
// are refused, so that every read sees the cache. One at a time per process.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace lumbung::test {

struct WrappedFile;

class PowerCutVfs {
 public:
  // Registers the VFS as the default; `seed` drives what survives a cut.
  explicit PowerCutVfs(std::uint64_t seed);
  // Restores the previous default. REQUIRES: no connection uses it any more.
  ~PowerCutVfs();
  PowerCutVfs(const PowerCutVfs&) = delete;
  PowerCutVfs& operator=(const PowerCutVfs&) = delete;

  // Cuts the power of the machine whose files start with `prefix` just before
  // its `events`-th next write, truncation or sync (a random point in what it
  // does next). Replaces an earlier arming of the same machine.
  void cut_after(const std::string& prefix, int events);
  // Disarms cut_after() if it has not fired.
  void disarm(const std::string& prefix);
  bool is_cut(const std::string& prefix) const;
  // The machine is switched on again: what survived the cut is written to
  // the disk. REQUIRES: is_cut(prefix), and none of its files is open.
  void restore(const std::string& prefix);

  struct Counts {
    std::int64_t cuts = 0;
    std::int64_t writes_lost = 0;  // unsynced writes and truncations a cut dropped
    std::int64_t writes_torn = 0;
  };
  Counts counts() const;

 private:
  struct Op {  // a write, or a truncation when `truncate`
    std::int64_t offset = 0;
    std::string data;
    bool truncate = false;
  };
  struct FileState {  // one path, shared by every handle open on it
    std::vector<Op> unsynced;
    std::vector<Op> survivors;           // after a cut: what reaches the disk
    std::vector<sqlite3_file*> handles;  // the real files
  };
  struct Machine {
    std::string prefix;
    int countdown = 0;  // 0: not armed
    bool cut = false;
  };

  Machine* machine_of(const char* path);
  // Counts down an armed machine; cuts it when the count runs out.
  void tick(Machine* machine);
  void cut(Machine& machine);
  void record(WrappedFile* file, Op op);
  static int flush(std::vector<Op>& ops, sqlite3_file* real);
  static std::int64_t replay(const std::vector<Op>& ops, std::int64_t size, char* buffer,
                             std::int64_t offset, std::int64_t amount);

  static int open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out);
  static int remove(sqlite3_vfs* vfs, const char* name, int sync_dir);
  static int close(sqlite3_file* file);
  static int read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset);
  static int write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset);
  static int truncate(sqlite3_file* file, sqlite3_int64 size);
  static int sync(sqlite3_file* file, int flags);
  static int file_size(sqlite3_file* file, sqlite3_int64* size);
  static int file_control(sqlite3_file* file, int op, void* arg);
  static int fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** page);
  static int unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page);

  sqlite3_vfs vfs_;
  sqlite3_vfs* real_;
  sqlite3_io_methods methods_;
  mutable std::recursive_mutex mu_;
  std::mt19937_64 rng_;
  std::map<std::string, FileState> files_;
  std::vector<Machine> machines_;
  Counts counts_;
};

}  // namespace lumbung::test
