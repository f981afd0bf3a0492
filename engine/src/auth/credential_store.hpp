// CredentialStore: the daemon's record of revoked tokens and device bindings,
// its own SQLite file (DIR/credentials.sqlite; WAL, synchronous FULL) shared
// by `lumbungd serve` and the `lumbungd` commands that change credentials.
// Nothing is cached: every call reads the file, so a revocation committed by
// another process counts from the next request on.
//
// Binding rules (docs/decisions/0007-bearer-tokens.md): a token belongs to the
// first device that uses it, and a device to the officer whose token it used
// first. Both are primary keys, claimed in one transaction, so of two
// concurrent first uses exactly one wins.
//
// Thread-safety: safe to share between threads (one connection behind a mutex);
// other processes may use the same file at the same time.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "lumbung/status.hpp"

namespace lumbung::db {
class Database;
}

namespace lumbung::auth {

class CredentialStore {
 public:
  // Opens `path`, creating it when missing (mode 0600; an older version's
  // wider modes of it and its -wal and -shm files are narrowed).
  static Result<std::unique_ptr<CredentialStore>> open(const std::string& path);
  ~CredentialStore();

  // Records `token_id` as revoked at `now` (Unix seconds); revoking twice is not an error.
  Status revoke(std::string_view token_id, std::int64_t now);
  // OK, or kTokenRevoked.
  Status check_not_revoked(std::string_view token_id);

  // Binds token `token_id` to `device_id` and the device to `officer`, each
  // unless already bound. kDeviceMismatch when the token is bound to another
  // device or the device to another officer; then nothing is recorded. A
  // token bound to `replaces` (not empty: the device id `device_id` used
  // before it re-identified) moves to `device_id`.
  Status bind(std::string_view token_id, std::string_view device_id, std::string_view officer,
              std::int64_t now, std::string_view replaces = {});
  // The device token `token_id` is bound to; empty when none yet.
  Result<std::string> bound_device(std::string_view token_id);

 private:
  explicit CredentialStore(std::unique_ptr<db::Database> db);
  // The device the token is bound to and the officer the device belongs to;
  // empty where not bound yet. REQUIRES: mu_ held.
  Result<std::pair<std::string, std::string>> bindings(std::string_view token_id,
                                                       std::string_view device_id);

  std::mutex mu_;
  std::unique_ptr<db::Database> db_;  // guarded by mu_
};

}  // namespace lumbung::auth
