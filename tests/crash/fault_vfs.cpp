#include "fault_vfs.hpp"

#include <cstring>

#include "support/wrapped_vfs_file.hpp"

namespace lumbung::test {
namespace {

// SQLite hands a VFS method its own sqlite3_vfs, which may be a copy: the one
// FaultVfs lives here instead.
FaultVfs* g_active = nullptr;

using File = WrappedFile;

}  // namespace

FaultVfs::FaultVfs() : real_(sqlite3_vfs_find(nullptr)) {
  g_active = this;
  vfs_ = *real_;
  vfs_.zName = "lumbung-fault";
  vfs_.pNext = nullptr;
  vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
  vfs_.xOpen = &FaultVfs::open;

  // Every method but xWrite is the real file's.
  methods_ = forwarding_methods();
  methods_.xWrite = &FaultVfs::write;
  sqlite3_vfs_register(&vfs_, 1);
}

FaultVfs::~FaultVfs() {
  sqlite3_vfs_register(real_, 1);
  sqlite3_vfs_unregister(&vfs_);
  g_active = nullptr;
}

void FaultVfs::fail_writes(const std::string& path_prefix, int sqlite_code,
                           std::int64_t budget_bytes) {
  std::lock_guard lock(mu_);
  prefix_ = path_prefix;
  code_ = sqlite_code;
  budget_ = budget_bytes;
}

void FaultVfs::heal() {
  std::lock_guard lock(mu_);
  prefix_.clear();
}

int FaultVfs::faults() const {
  std::lock_guard lock(mu_);
  return faults_;
}

int FaultVfs::admit(const char* path, int bytes) {
  std::lock_guard lock(mu_);
  if (prefix_.empty() || path == nullptr ||
      std::strncmp(path, prefix_.data(), prefix_.size()) != 0) {
    return SQLITE_OK;
  }
  if (budget_ >= bytes) {
    budget_ -= bytes;
    return SQLITE_OK;
  }
  budget_ = 0;  // a full disk stays full: no smaller write fits after a refused one
  ++faults_;
  return code_;
}

int FaultVfs::open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out) {
  File* ours = reinterpret_cast<File*>(file);
  ours->path = name;
  ours->base.pMethods = nullptr;  // tells SQLite not to close a file that did not open
  sqlite3_vfs* real = g_active->real_;
  const int rc = real->xOpen(real, name, ours->real(), flags, out);
  if (ours->real()->pMethods != nullptr) ours->base.pMethods = &g_active->methods_;
  return rc;
}

int FaultVfs::write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File* ours = reinterpret_cast<File*>(file);
  if (const int rc = g_active->admit(ours->path, amount); rc != SQLITE_OK) return rc;
  sqlite3_file* real = ours->real();
  return real->pMethods->xWrite(real, data, amount, offset);
}

}  // namespace lumbung::test
