// ClockVfs: a SQLite VFS that is the default VFS in every respect but time,
// which it reads from a lumbung::Clock. SQLite's 'now' (julianday('now'), and
// so the HLC stamps the capture triggers compute) then follows an injected
// clock on the replica's own connection. Used only when a clock is injected;
// other connections on the same file keep the default VFS and the wall clock.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "lumbung/clock.hpp"

namespace lumbung::replica {

class ClockVfs {
 public:
  // Registers a VFS under a name unique to this object.
  explicit ClockVfs(std::shared_ptr<Clock> clock);
  // Unregisters it. REQUIRES: no connection uses it any more.
  ~ClockVfs();
  ClockVfs(const ClockVfs&) = delete;
  ClockVfs& operator=(const ClockVfs&) = delete;

  const char* name() const { return name_.c_str(); }

 private:
  struct Vfs {
    sqlite3_vfs base;  // first member: SQLite hands back a pointer to it
    Clock* clock;
  };
  static int current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* julian_ms);
  static int current_time(sqlite3_vfs* vfs, double* julian_days);

  std::shared_ptr<Clock> clock_;
  std::string name_;
  Vfs vfs_;
};

}  // namespace lumbung::replica
