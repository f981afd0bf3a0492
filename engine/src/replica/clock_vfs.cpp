#include "replica/clock_vfs.hpp"

#include <cstdio>

namespace lumbung::replica {
namespace {
// Milliseconds between the Julian day epoch and the Unix epoch.
constexpr sqlite3_int64 kUnixEpochJulianMs = 210866760000000LL;
}  // namespace

ClockVfs::ClockVfs(std::shared_ptr<Clock> clock) : clock_(std::move(clock)) {
  char name[48];
  std::snprintf(name, sizeof(name), "lumbung-clock-%p", static_cast<void*>(this));
  name_ = name;
  // Everything but time, pAppData included, stays the default VFS's own: its
  // methods read their state from there.
  vfs_.base = *sqlite3_vfs_find(nullptr);
  vfs_.base.zName = name_.c_str();
  vfs_.base.pNext = nullptr;
  vfs_.base.xCurrentTime = &ClockVfs::current_time;
  if (vfs_.base.iVersion >= 2) vfs_.base.xCurrentTimeInt64 = &ClockVfs::current_time_int64;
  vfs_.clock = clock_.get();
  sqlite3_vfs_register(&vfs_.base, 0);
}

ClockVfs::~ClockVfs() { sqlite3_vfs_unregister(&vfs_.base); }

int ClockVfs::current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* julian_ms) {
  *julian_ms = reinterpret_cast<Vfs*>(vfs)->clock->now_ms() + kUnixEpochJulianMs;
  return SQLITE_OK;
}

int ClockVfs::current_time(sqlite3_vfs* vfs, double* julian_days) {
  sqlite3_int64 ms = 0;
  current_time_int64(vfs, &ms);
  *julian_days = static_cast<double>(ms) / 86400000.0;
  return SQLITE_OK;
}

}  // namespace lumbung::replica
