// The file of a test VFS that wraps the default one (FaultVfs, PowerCutVfs):
// its header, followed in the same allocation by the real VFS's file, and
// Forward<&sqlite3_io_methods::xRead>::call, a method that calls the real
// file's.
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

}  // namespace lumbung::test
