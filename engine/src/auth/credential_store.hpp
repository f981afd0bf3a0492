// CredentialStore: the daemon's record of officers' roles and grants, of the
// tokens it issued, of revoked tokens and of device bindings, shared by
// `lumbungd serve` and the `lumbungd` commands that change credentials
// (docs/decisions/0023-grants-on-the-server.md): in its own SQLite file
// (DIR/credentials.sqlite; WAL, synchronous FULL), or, with `--store URL`,
// in tables of the PostgreSQL store's database, shared by every daemon over
// it (docs/decisions/0039-credentials-in-the-store.md). The SQL is written
// once over both (auth/credential_sql.hpp).
//
// Revocations and bindings are read from the database on every call, so a
// revocation committed by another process counts from the next request on.
// Officers' grants, read on every request too, are cached in memory per
// officer; the cache is dropped whenever another process has changed grants
// since it was filled (SQLite: PRAGMA data_version; PostgreSQL: a version row
// that every change of grants bumps, one indexed read per request) and
// whenever this object writes a grant, so a grant changed by another process
// or daemon also counts from the next request on.
//
// Binding rules (docs/decisions/0007-bearer-tokens.md): a token belongs to the
// first device that uses it (or the device it was issued for), and a device to
// the officer whose token it used first. Both are primary keys, claimed in one
// transaction, so of two concurrent first uses exactly one wins.
//
// Thread-safety: safe to share between threads (one connection behind a mutex);
// other processes may use the same file or database at the same time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/grant.hpp"
#include "lumbung/status.hpp"

namespace lumbung::auth {

class CredentialSql;

// The credential store's file in a data directory.
inline constexpr const char* kCredentialsFileName = "credentials.sqlite";

// What one grant or ungrant names: villages one by one, a district, a province
// (as the village records' region columns name them), or every village.
enum class SelectorKind : int { kVillage = 1, kDistrict = 2, kProvince = 3, kAll = 4 };

// "village", "district", "province", "all": as the store records them.
std::string_view selector_kind_name(SelectorKind kind);

struct Selector {
  SelectorKind kind = SelectorKind::kVillage;
  std::string value;  // empty for kAll
};

// An officer's record: role and grant.
struct OfficerGrant {
  // Empty when the store records no role: an officer never granted (or known
  // only from a revocation of its legacy tokens).
  std::optional<Role> role;
  bool every_village = false;  // granted --all
  Names villages;
  Names districts;
  Names provinces;
  // Set by a revocation of the officer: its legacy tokens (not recorded at
  // issue) issued at or before this second (Unix) are refused.
  std::optional<std::int64_t> tokens_revoked_at;

  bool grants_nothing() const {
    return !every_village && villages.empty() && districts.empty() && provinces.empty();
  }
};

// A token as issue() records it.
struct TokenRecord {
  std::string token_id;
  std::string officer;
  std::string key_id;
  std::int64_t issued_at = 0;   // Unix seconds
  std::int64_t expires_at = 0;  // Unix seconds
  std::string device_id;        // empty: none named at issue
};

// One officer as `lumbungd officers` lists it.
// One issued token as `lumbungd tokens` lists it.
struct TokenListing {
  std::string token_id;
  std::string officer;
  std::optional<Role> role;  // the officer's now (tokens carry none); empty: none recorded
  std::string key_id;
  std::int64_t issued_at = 0;   // Unix seconds
  std::int64_t expires_at = 0;  // Unix seconds
  bool revoked = false;
  // The device it is bound to (or was issued for); empty: none yet.
  std::string device_id;
};

struct OfficerListing {
  std::string officer;
  OfficerGrant grant;
  std::vector<std::string> devices;  // bound to the officer, in order
  std::vector<TokenListing> tokens;  // recorded at issue, oldest first
};

class CredentialStore {
 public:
  // Opens `path`, creating it when missing (mode 0600; an older version's
  // wider modes of it and its -wal and -shm files are narrowed). A store of
  // format 1 (before grants) is upgraded in place, its revocations and
  // bindings kept.
  static Result<std::unique_ptr<CredentialStore>> open(const std::string& path);
  // Opens the credential tables (_lumbung_officers, _lumbung_issued_tokens,
  // ...) of the PostgreSQL database `url` names, creating those missing.
  // Errors as pg::Connection::open's, never with the URL's password.
  static Result<std::unique_ptr<CredentialStore>> open_postgresql(const std::string& url);
  // The store of a daemon: open_postgresql(store_url) when `store_url` is not
  // empty (REQUIRES: a PostgreSQL URL, as server::open_store takes), else
  // open() of DIR/credentials.sqlite in `data_dir`.
  static Result<std::unique_ptr<CredentialStore>> open_for(const std::string& data_dir,
                                                           const std::string& store_url);
  ~CredentialStore();

  // Records `token_id` as revoked at `now` (Unix seconds); revoking twice is
  // not an error. kNotFound, naming it, for an id the store knows nothing of:
  // neither recorded at issue nor, for a token issued before tokens were
  // recorded, bound to a device (docs/decisions/0025-fleet-view.md).
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

  // The officer's role and grant; role empty when the store has none. Cached
  // (see the top of this file): called on every request.
  Result<OfficerGrant> officer_grant(std::string_view officer);

  // Grants `selectors` (none: only the role changes) to `officer`, creating
  // its record with role `role`, or officer, when it has none; sets the role
  // when `role` is given. Granting a selector twice is not an error.
  Status grant(std::string_view officer, std::optional<Role> role,
               std::span<const Selector> selectors, std::int64_t now);
  // Takes `selectors` away from `officer`. kNotFound, naming them, when the
  // officer is not granted some of them; then nothing changes.
  Status ungrant(std::string_view officer, std::span<const Selector> selectors);

  // Records an issued token, in one transaction with the grant its request
  // names (as grant(token.officer, role, villages)); a token issued for a
  // device is bound to it.
  Status record_token(const TokenRecord& token, std::optional<Role> role,
                      std::span<const Selector> villages);

  // Revokes every recorded token of `officer` and every token bound to one of
  // its devices, and refuses its legacy tokens issued at or before `now`.
  // Returns the ids of the tokens revoked now. kNotFound when the store knows
  // nothing of the officer (no record, no token, no device).
  Result<std::vector<std::string>> revoke_officer(std::string_view officer, std::int64_t now);
  // Revokes every token bound to `device_id` or issued for it; the device
  // itself stays usable with a new token. Returns the ids revoked now.
  // kNotFound when no token is bound to or issued for it.
  Result<std::vector<std::string>> revoke_device(std::string_view device_id, std::int64_t now);

  // Every officer the store knows (recorded, or bound to a device by a legacy
  // token), in order of officer id.
  Result<std::vector<OfficerListing>> officers();
  // Every token recorded at issue, in order of issue (then of id).
  Result<std::vector<TokenListing>> tokens();
  // Device id -> the officer it is bound to, for every bound device.
  Result<std::map<std::string, std::string>> device_officers();

 private:
  explicit CredentialStore(std::unique_ptr<CredentialSql> sql);
  // The device the token is bound to and the officer the device belongs to;
  // empty where not bound yet. REQUIRES: mu_ held.
  Result<std::pair<std::string, std::string>> bindings(std::string_view token_id,
                                                       std::string_view device_id);
  // The officer's record as the database holds it. REQUIRES: mu_ held.
  Result<OfficerGrant> read_grant(std::string_view officer);
  // The tokens issued to `officer`, or to every officer, oldest first.
  // REQUIRES: mu_ held.
  Result<std::vector<TokenListing>> read_tokens(std::optional<std::string_view> officer);
  // grant() inside a caller's transaction. REQUIRES: mu_ held.
  Status grant_locked(std::string_view officer, std::optional<Role> role,
                      std::span<const Selector> selectors, std::int64_t now);
  // Revokes `token_ids` not revoked yet; returns those. REQUIRES: mu_ held, in a transaction.
  Result<std::vector<std::string>> revoke_all(const std::vector<std::string>& token_ids,
                                              std::int64_t now);

  std::mutex mu_;
  std::unique_ptr<CredentialSql> sql_;  // guarded by mu_
  // Officer -> grant, as read when grants_version() was `cached_version_`.
  std::map<std::string, OfficerGrant, std::less<>> cache_;  // guarded by mu_
  std::int64_t cached_version_ = -1;                        // guarded by mu_
};

}  // namespace lumbung::auth
