// TokenAuthority: issues, checks and revokes the daemon's bearer tokens
// (auth/token.hpp), and keeps officers' roles and grants, over one data
// directory: its signing keys (DIR/keys, auth/signing_keys.hpp) and its
// credential store (DIR/credentials.sqlite, or the PostgreSQL store's
// database with `--store URL`: auth/credential_store.hpp).
// `lumbungd serve` authenticates every request through one; the `lumbungd
// token`, `grant`, `ungrant`, `officers`, `revoke`, `rotate-key` and
// `retire-key` commands use another on the same directory at the same time,
// and what they change counts from the daemon's next request on.
//
// Thread-safety: safe to share between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "auth/credential_store.hpp"
#include "auth/grant.hpp"
#include "auth/token.hpp"
#include "lumbung/clock.hpp"
#include "lumbung/status.hpp"

namespace lumbung::auth {

class SigningKeys;

// What a token is issued for. The token carries only the officer: `role` and
// `villages`, when given, are recorded in the credential store as `lumbungd
// grant` records them, and count for every token of the officer.
struct TokenRequest {
  // Printable ASCII, no spaces, commas, '"' or '\', at most 128 bytes.
  std::string officer;
  // Not given: the officer's recorded role, or officer for a new one.
  std::optional<Role> role;
  // Added to the officer's grant (never taken away: ungrant() does); each
  // printable ASCII without spaces or commas, at most 128 bytes. Unless the
  // role is admin, the officer must be granted something afterwards.
  std::set<std::string, std::less<>> villages;
  std::chrono::seconds ttl{std::chrono::hours(24 * 30)};  // more than 0, at most 3650 days
  // Optional: bind at issue; printable ASCII, no spaces or commas, at most 128 bytes.
  std::string device_id;
};

struct IssuedToken {
  std::string token;            // the bearer token's text
  std::string token_id;         // 32 hex digits, what `revoke` takes
  std::string key_id;           // the key that signed it
  std::int64_t expires_at = 0;  // Unix seconds
};

// The signing keys' directory in a data directory (the credential store's
// file: kCredentialsFileName).
inline constexpr const char* kKeysDirName = "keys";

class TokenAuthority {
 public:
  // Opens (creating on first use) DIR's keys and credential store; DIR is
  // created when missing (mode 0700; an older version's wider mode is
  // narrowed), the store's file with mode 0600. `store_url` not empty (a
  // PostgreSQL URL, as server::open_store takes): the credential store is
  // that database's, shared by every daemon over it; the keys stay in DIR.
  // `clock` null: the system clock.
  static Result<std::unique_ptr<TokenAuthority>> open(const std::string& data_dir,
                                                      std::shared_ptr<Clock> clock,
                                                      const std::string& store_url = {});
  ~TokenAuthority();

  // A token signed with the current key, valid from now for request.ttl,
  // recorded with the role and villages the request names.
  // kInvalidArgument for a request that breaks the rules of TokenRequest, or
  // for an officer who would be granted nothing.
  Result<IssuedToken> issue(const TokenRequest& request);
  // Makes the token useless from the next authentication on, in every process
  // using this directory. kNotFound for an id the store knows nothing of
  // (CredentialStore::revoke): a legacy token no device used yet is revoked
  // with revoke_officer().
  Status revoke(std::string_view token_id);
  // Revokes every token of `officer` (legacy ones too, by their time of
  // issue); a token issued afterwards works. Returns the ids of the recorded
  // tokens revoked now. kNotFound when the store knows nothing of the officer.
  Result<std::vector<std::string>> revoke_officer(std::string_view officer);
  // Revokes every token bound to, or issued for, `device_id`; the device may
  // go on with a new token. kNotFound when it has none.
  Result<std::vector<std::string>> revoke_device(std::string_view device_id);

  // Grants `selectors` to `officer` (see CredentialStore::grant); creates its
  // record, with role `role` or officer. No selector: `role` must be given.
  // kInvalidArgument for a malformed id or name.
  Status grant(std::string_view officer, std::optional<Role> role,
               std::span<const Selector> selectors);
  // Takes `selectors` away; kNotFound naming those the officer is not granted.
  Status ungrant(std::string_view officer, std::span<const Selector> selectors);
  // Every officer, with its grant, devices and tokens.
  Result<std::vector<OfficerListing>> officers();
  // Every token recorded at issue, oldest first.
  Result<std::vector<TokenListing>> tokens();
  // Creates a signing key and makes it current; returns its id. Tokens signed
  // by older keys keep verifying.
  Result<std::string> rotate_key();
  // The id of the key new tokens are signed with now.
  Result<std::string> current_key_id();
  // Deletes a key: tokens it signed become forged. kInvalidArgument for the
  // current key, kNotFound for an unknown one.
  Status retire_key(std::string_view key_id);

  // Who a request comes from, and what the officer is granted now (read from
  // the credential store; for a legacy token, from its claims; `regions` is
  // left null). `authorization` is the request's Authorization header value
  // if any ("Bearer <token>"); `device_id` the device the request names (as
  // TokenRequest::device_id). Checks the signature, expiry, revocation (of
  // the token and of its officer) and the device binding, binding on first use. Refuses with
  // kTokenMissing, kTokenMalformed, kTokenForged, kTokenExpired, kTokenRevoked
  // or kDeviceMismatch; kInvalidArgument for a malformed device id.
  // `replaces_device`, when not empty, is the device id the caller's replica
  // used before it re-identified (docs/protocol.md, "Going back in time"): a
  // token bound to, or issued for, that device serves `device_id` from then on.
  Result<Grant> authenticate(std::optional<std::string_view> authorization,
                             std::string_view device_id, std::string_view replaces_device = {});
  // The part of authenticate() that needs no device id: the token's
  // signature, expiry and revocation. What a request must pass before its
  // body is read (SyncServer::admit). Returns the officer it speaks for.
  Result<std::string> check_token(std::optional<std::string_view> authorization);
  // check_token(), and the role its officer holds now: what a request that
  // names no device, GET /metrics, is judged by.
  Result<Role> check_role(std::optional<std::string_view> authorization);

 private:
  // The claims of `token` once its signature, expiry (at `now`, in seconds)
  // and revocation (of the token, and of a legacy token's officer) are checked.
  Result<Claims> verify(std::string_view token, std::int64_t now);
  TokenAuthority(std::unique_ptr<SigningKeys> keys, std::unique_ptr<CredentialStore> store,
                 std::shared_ptr<Clock> clock);
  std::int64_t now_seconds() const;

  const std::unique_ptr<SigningKeys> keys_;
  const std::unique_ptr<CredentialStore> store_;
  const std::shared_ptr<Clock> clock_;
};

}  // namespace lumbung::auth
