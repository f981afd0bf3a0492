// Removes a file or a directory with everything in it when it goes out of
// scope, unless told to keep it: the work files of a step that may fail
// half-way.
//
// Thread-safety: one object is used by one thread at a time.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

namespace lumbung::core {

class RemovalGuard {
 public:
  explicit RemovalGuard(std::string path) : path_(std::move(path)) {}
  ~RemovalGuard() {
    std::error_code ignored;  // best effort: a leftover is named for what it is
    if (!kept_) std::filesystem::remove_all(path_, ignored);
  }
  RemovalGuard(const RemovalGuard&) = delete;
  RemovalGuard& operator=(const RemovalGuard&) = delete;

  const std::string& path() const { return path_; }
  void keep() { kept_ = true; }

 private:
  std::string path_;
  bool kept_ = false;
};

}  // namespace lumbung::core
