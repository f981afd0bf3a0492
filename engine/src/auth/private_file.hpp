// Files only their owner may read, for secrets such as signing keys: a
// directory of mode 0700 and files created with mode 0600 from the start
// (O_CREAT|O_EXCL, so a file is never widened, replaced or followed through a
// symlink). Existing ones readable by group or others are refused, as ssh
// refuses an unprotected private key.
//
// Thread-safety: free functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "lumbung/status.hpp"

namespace lumbung::auth {

// Creates `path` with mode 0700 unless it exists; an existing one must be a
// directory (not a symlink) without group or other permissions.
Status make_private_dir(const std::string& path);

// Creates `path` with mode 0700, and its missing parents as the umask lets
// them be; an existing `path` loses its group and other permissions instead of
// being refused (a data directory an older version made 0755 is tightened).
// kInvalidArgument when it exists and is not a directory.
Status make_owner_only_dir(const std::string& path);

// Creates `path` (mode 0600; kInvalidArgument "... already exists" when it
// does), writes `bytes` and syncs the file and its directory.
Status write_private_file(const std::string& path, std::string_view bytes);

// The file's contents. kNotFound when it does not exist; kInvalidArgument
// when it is not a regular file or group or others may access it.
Result<std::string> read_private_file(const std::string& path);

// Flushes the directory entry changes (create, rename, unlink) in `dir` to disk.
Status sync_dir(const std::string& dir);

}  // namespace lumbung::auth
