#include "support/power_cut_vfs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "support/wrapped_vfs_file.hpp"

namespace lumbung::test {
namespace {

// SQLite hands a VFS method its own sqlite3_vfs, which may be a copy: the one
// PowerCutVfs lives here.
PowerCutVfs* g_active = nullptr;

constexpr std::int64_t kTearUnit = 512;  // a disk sector

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

PowerCutVfs::PowerCutVfs(std::uint64_t seed) : real_(sqlite3_vfs_find(nullptr)), rng_(seed) {
  g_active = this;
  vfs_ = *real_;
  vfs_.zName = "lumbung-power-cut";
  vfs_.pNext = nullptr;
  vfs_.szOsFile = static_cast<int>(sizeof(WrappedFile)) + real_->szOsFile;
  vfs_.xOpen = &PowerCutVfs::open;
  vfs_.xDelete = &PowerCutVfs::remove;

  // Locks, shared memory (not durable: SQLite rebuilds it from the WAL) and
  // the device's characteristics stay the real file's.
  methods_ = forwarding_methods();
  methods_.xClose = &PowerCutVfs::close;
  methods_.xRead = &PowerCutVfs::read;
  methods_.xWrite = &PowerCutVfs::write;
  methods_.xTruncate = &PowerCutVfs::truncate;
  methods_.xSync = &PowerCutVfs::sync;
  methods_.xFileSize = &PowerCutVfs::file_size;
  methods_.xFileControl = &PowerCutVfs::file_control;
  methods_.xFetch = &PowerCutVfs::fetch;
  methods_.xUnfetch = &PowerCutVfs::unfetch;
  sqlite3_vfs_register(&vfs_, 1);
}

PowerCutVfs::~PowerCutVfs() {
  sqlite3_vfs_register(real_, 1);
  sqlite3_vfs_unregister(&vfs_);
  g_active = nullptr;
}

void PowerCutVfs::cut_after(const std::string& prefix, int events) {
  std::lock_guard lock(mu_);
  for (Machine& machine : machines_) {
    if (machine.prefix == prefix) {
      machine.countdown = events;
      return;
    }
  }
  machines_.push_back(Machine{prefix, events, false});
}

void PowerCutVfs::disarm(const std::string& prefix) {
  std::lock_guard lock(mu_);
  for (Machine& machine : machines_) {
    if (machine.prefix == prefix) machine.countdown = 0;
  }
}

bool PowerCutVfs::is_cut(const std::string& prefix) const {
  std::lock_guard lock(mu_);
  for (const Machine& machine : machines_) {
    if (machine.prefix == prefix) return machine.cut;
  }
  return false;
}

void PowerCutVfs::restore(const std::string& prefix) {
  std::lock_guard lock(mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    if (!starts_with(it->first, prefix)) {
      ++it;
      continue;
    }
    if (!it->second.handles.empty()) throw std::logic_error("restore: " + it->first + " is open");
    if (!it->second.survivors.empty()) {
      const int fd = ::open(it->first.c_str(), O_WRONLY);
      if (fd < 0) throw std::runtime_error("restore: cannot open " + it->first);
      for (const Op& op : it->second.survivors) {
        const bool done = op.truncate ? ::ftruncate(fd, op.offset) == 0
                                      : ::pwrite(fd, op.data.data(), op.data.size(), op.offset) ==
                                            static_cast<ssize_t>(op.data.size());
        if (!done) throw std::runtime_error("restore: cannot write " + it->first);
      }
      ::close(fd);
    }
    it = files_.erase(it);
  }
  for (Machine& machine : machines_) {
    if (machine.prefix == prefix) machine.cut = false;
  }
}

PowerCutVfs::Counts PowerCutVfs::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

PowerCutVfs::Machine* PowerCutVfs::machine_of(const char* path) {
  if (path == nullptr) return nullptr;
  for (Machine& machine : machines_) {
    if (std::strncmp(path, machine.prefix.c_str(), machine.prefix.size()) == 0) return &machine;
  }
  return nullptr;
}

void PowerCutVfs::tick(Machine* machine) {
  if (machine == nullptr || machine->countdown == 0) return;
  if (--machine->countdown == 0) cut(*machine);
}

void PowerCutVfs::cut(Machine& machine) {
  ++counts_.cuts;
  machine.cut = true;
  for (auto& [path, state] : files_) {
    if (!starts_with(path, machine.prefix)) continue;
    // The disk wrote a random prefix of the unsynced writes (half the time
    // all of them: disks are quick), and maybe part of the next one. The
    // process still sees them all until restore().
    const std::size_t n = state.unsynced.size();
    const std::size_t kept = rng_() % 2 == 0 ? n : static_cast<std::size_t>(rng_() % (n + 1));
    state.survivors.assign(state.unsynced.begin(), state.unsynced.begin() + kept);
    counts_.writes_lost += static_cast<std::int64_t>(n - kept);
    if (kept < n && !state.unsynced[kept].truncate &&
        static_cast<std::int64_t>(state.unsynced[kept].data.size()) > kTearUnit &&
        rng_() % 2 == 0) {
      const Op& next = state.unsynced[kept];
      const std::int64_t units = (static_cast<std::int64_t>(next.data.size()) - 1) / kTearUnit;
      const std::int64_t length = kTearUnit * (1 + static_cast<std::int64_t>(rng_() % units));
      state.survivors.push_back(Op{next.offset, next.data.substr(0, length), false});
      ++counts_.writes_torn;
    }
  }
}

void PowerCutVfs::record(WrappedFile* file, Op op) {
  Machine* machine = machine_of(file->path);
  tick(machine);
  files_[file->path].unsynced.push_back(std::move(op));
}

int PowerCutVfs::flush(std::vector<Op>& ops, sqlite3_file* real) {
  for (const Op& op : ops) {
    const int rc = op.truncate
                       ? real->pMethods->xTruncate(real, op.offset)
                       : real->pMethods->xWrite(real, op.data.data(),
                                                static_cast<int>(op.data.size()), op.offset);
    if (rc != SQLITE_OK) return rc;
  }
  ops.clear();
  return SQLITE_OK;
}

// Applies `ops` to a file of `size` bytes whose range [offset, offset +
// amount) is in `buffer` (null: the size only); returns the new size.
std::int64_t PowerCutVfs::replay(const std::vector<Op>& ops, std::int64_t size, char* buffer,
                                 std::int64_t offset, std::int64_t amount) {
  const std::int64_t end = offset + amount;
  for (const Op& op : ops) {
    if (op.truncate) {
      if (buffer != nullptr && op.offset < end) {
        const std::int64_t from = std::max(op.offset, offset);
        std::memset(buffer + (from - offset), 0, static_cast<std::size_t>(end - from));
      }
      size = op.offset;
      continue;
    }
    const std::int64_t op_end = op.offset + static_cast<std::int64_t>(op.data.size());
    if (buffer != nullptr) {
      const std::int64_t from = std::max(op.offset, offset), to = std::min(op_end, end);
      if (from < to) {
        std::memcpy(buffer + (from - offset), op.data.data() + (from - op.offset),
                    static_cast<std::size_t>(to - from));
      }
    }
    size = std::max(size, op_end);
  }
  return size;
}

int PowerCutVfs::open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out) {
  WrappedFile* ours = WrappedFile::of(file);
  ours->path = name;
  ours->base.pMethods = nullptr;  // tells SQLite not to close a file that did not open
  sqlite3_vfs* real = g_active->real_;
  const int rc = real->xOpen(real, name, ours->real(), flags, out);
  if (ours->real()->pMethods == nullptr) return rc;
  ours->base.pMethods = &g_active->methods_;
  if (name != nullptr) {
    std::lock_guard lock(g_active->mu_);
    g_active->files_[name].handles.push_back(ours->real());
  }
  return rc;
}

int PowerCutVfs::remove(sqlite3_vfs*, const char* name, int sync_dir) {
  std::lock_guard lock(g_active->mu_);
  Machine* machine = g_active->machine_of(name);
  if (machine != nullptr && machine->cut) return SQLITE_OK;  // never reaches the disk
  auto it = g_active->files_.find(name);
  if (it != g_active->files_.end() && it->second.handles.empty()) g_active->files_.erase(it);
  return g_active->real_->xDelete(g_active->real_, name, sync_dir);
}

int PowerCutVfs::close(sqlite3_file* file) {
  WrappedFile* ours = WrappedFile::of(file);
  if (ours->path != nullptr) {
    std::lock_guard lock(g_active->mu_);
    auto it = g_active->files_.find(ours->path);
    if (it != g_active->files_.end()) {
      FileState& state = it->second;
      state.handles.erase(std::find(state.handles.begin(), state.handles.end(), ours->real()));
      Machine* machine = g_active->machine_of(ours->path);
      if (state.handles.empty() && !(machine != nullptr && machine->cut)) {
        // The page cache writes the file back in its own time: no cut can
        // reach a closed file, so it does so now.
        flush(state.unsynced, ours->real());
        g_active->files_.erase(it);
      }
    }
  }
  return ours->real()->pMethods->xClose(ours->real());
}

int PowerCutVfs::read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  WrappedFile* ours = WrappedFile::of(file);
  sqlite3_file* real = ours->real();
  std::lock_guard lock(g_active->mu_);
  const FileState* state = nullptr;
  if (ours->path != nullptr) {
    auto it = g_active->files_.find(ours->path);
    if (it != g_active->files_.end() && !it->second.unsynced.empty()) state = &it->second;
  }
  const int rc = real->pMethods->xRead(real, buffer, amount, offset);
  if (state == nullptr || (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)) return rc;
  sqlite3_int64 size = 0;
  if (const int size_rc = real->pMethods->xFileSize(real, &size); size_rc != SQLITE_OK) {
    return size_rc;
  }
  char* bytes = static_cast<char*>(buffer);
  size = replay(state->unsynced, size, bytes, offset, amount);
  if (offset + amount <= size) return SQLITE_OK;
  const std::int64_t valid = std::max<std::int64_t>(0, size - offset);
  std::memset(bytes + valid, 0, static_cast<std::size_t>(amount - valid));
  return SQLITE_IOERR_SHORT_READ;
}

int PowerCutVfs::write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  WrappedFile* ours = WrappedFile::of(file);
  if (ours->path == nullptr)
    return ours->real()->pMethods->xWrite(ours->real(), data, amount, offset);
  std::lock_guard lock(g_active->mu_);
  g_active->record(ours, Op{offset, std::string(static_cast<const char*>(data), amount), false});
  return SQLITE_OK;
}

int PowerCutVfs::truncate(sqlite3_file* file, sqlite3_int64 size) {
  WrappedFile* ours = WrappedFile::of(file);
  if (ours->path == nullptr) return ours->real()->pMethods->xTruncate(ours->real(), size);
  std::lock_guard lock(g_active->mu_);
  g_active->record(ours, Op{size, {}, true});
  return SQLITE_OK;
}

int PowerCutVfs::sync(sqlite3_file* file, int flags) {
  WrappedFile* ours = WrappedFile::of(file);
  if (ours->path == nullptr) return ours->real()->pMethods->xSync(ours->real(), flags);
  std::lock_guard lock(g_active->mu_);
  Machine* machine = g_active->machine_of(ours->path);
  g_active->tick(machine);
  if (machine != nullptr && machine->cut) return SQLITE_OK;  // the process does not know
  auto it = g_active->files_.find(ours->path);
  // The real file is the disk: what is in it survives any cut, so the real
  // fsync would only slow the simulation down.
  return it == g_active->files_.end() ? SQLITE_OK : flush(it->second.unsynced, ours->real());
}

int PowerCutVfs::file_size(sqlite3_file* file, sqlite3_int64* size) {
  WrappedFile* ours = WrappedFile::of(file);
  sqlite3_file* real = ours->real();
  std::lock_guard lock(g_active->mu_);
  const int rc = real->pMethods->xFileSize(real, size);
  if (rc != SQLITE_OK || ours->path == nullptr) return rc;
  auto it = g_active->files_.find(ours->path);
  if (it != g_active->files_.end()) *size = replay(it->second.unsynced, *size, nullptr, 0, 0);
  return SQLITE_OK;
}

int PowerCutVfs::file_control(sqlite3_file* file, int op, void* arg) {
  // A size hint would grow the real file behind the cache's back; it is
  // only a hint.
  if (op == SQLITE_FCNTL_SIZE_HINT) return SQLITE_OK;
  sqlite3_file* real = WrappedFile::of(file)->real();
  return real->pMethods->xFileControl(real, op, arg);
}

int PowerCutVfs::fetch(sqlite3_file*, sqlite3_int64, int, void** page) {
  *page = nullptr;  // SQLite reads with xRead instead
  return SQLITE_OK;
}

int PowerCutVfs::unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

}  // namespace lumbung::test
