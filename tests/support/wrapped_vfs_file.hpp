// The file of a test VFS that wraps the default one (FaultVfs, PowerCutVfs):
// its header, followed in the same allocation by the real VFS's file;
// Forward<&sqlite3_io_methods::xRead>::call, a method that calls the real
// file's; and forwarding_methods(), a method table of those, for a VFS to
// replace the methods it intercepts.
#pragma once

#include <sqlite3.h>

namespace lumbung::test {

struct WrappedFile {
  sqlite3_file base;
  const char* path;  // SQLite keeps the name valid until xClose; null for temp files
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
  static WrappedFile* of(sqlite3_file* file) { return reinterpret_cast<WrappedFile*>(file); }
};

template <typename T>
struct MethodType;
template <typename Fn>
struct MethodType<Fn sqlite3_io_methods::*> {
  using type = Fn;
};
template <auto Method, typename Fn = typename MethodType<decltype(Method)>::type>
struct Forward;
template <auto Method, typename R, typename... Args>
struct Forward<Method, R (*)(sqlite3_file*, Args...)> {
  static R call(sqlite3_file* file, Args... args) {
    sqlite3_file* real = WrappedFile::of(file)->real();
    return (real->pMethods->*Method)(real, args...);
  }
};

// Version 3 methods that all call the real file's.
inline sqlite3_io_methods forwarding_methods() {
  using M = sqlite3_io_methods;
  sqlite3_io_methods methods{};
  methods.iVersion = 3;
  methods.xClose = &Forward<&M::xClose>::call;
  methods.xRead = &Forward<&M::xRead>::call;
  methods.xWrite = &Forward<&M::xWrite>::call;
  methods.xTruncate = &Forward<&M::xTruncate>::call;
  methods.xSync = &Forward<&M::xSync>::call;
  methods.xFileSize = &Forward<&M::xFileSize>::call;
  methods.xLock = &Forward<&M::xLock>::call;
  methods.xUnlock = &Forward<&M::xUnlock>::call;
  methods.xCheckReservedLock = &Forward<&M::xCheckReservedLock>::call;
  methods.xFileControl = &Forward<&M::xFileControl>::call;
  methods.xSectorSize = &Forward<&M::xSectorSize>::call;
  methods.xDeviceCharacteristics = &Forward<&M::xDeviceCharacteristics>::call;
  methods.xShmMap = &Forward<&M::xShmMap>::call;
  methods.xShmLock = &Forward<&M::xShmLock>::call;
  methods.xShmBarrier = &Forward<&M::xShmBarrier>::call;
  methods.xShmUnmap = &Forward<&M::xShmUnmap>::call;
  methods.xFetch = &Forward<&M::xFetch>::call;
  methods.xUnfetch = &Forward<&M::xUnfetch>::call;
  return methods;
}

}  // namespace lumbung::test
