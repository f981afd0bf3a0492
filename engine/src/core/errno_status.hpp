// A failed file operation as a Status: "cannot WHAT 'PATH': strerror".
#pragma once

#include <cerrno>
#include <cstring>
#include <string>

#include "lumbung/status.hpp"

namespace lumbung::core {

// `error` is the errno the operation left: a missing file is kNotFound, a
// full disk kNoSpace, anything else kIo.
inline Status errno_status(const std::string& what, const std::string& path, int error) {
  const ErrorCode code = error == ENOENT   ? ErrorCode::kNotFound
                         : error == ENOSPC ? ErrorCode::kNoSpace
                                           : ErrorCode::kIo;
  return Status(code, "cannot " + what + " '" + path + "': " + std::strerror(error));
}

}  // namespace lumbung::core
