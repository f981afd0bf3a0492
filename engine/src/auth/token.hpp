// The bearer token's text format (docs/decisions/0007-bearer-tokens.md):
//
//   lbt1.<key id>.<base64url(claims JSON)>.<base64url(Ed25519 signature)>
//
// The signature covers everything before the last '.', so the version prefix
// and the key id are signed along with the claims. The key id stands outside
// the JSON so that the signature is checked before any claim is parsed.
// Claims JSON: {"tid": token id (32 hex digits), "officer", "iat", "exp"
// (Unix seconds)}. What the officer may do is not in the token: the daemon
// reads it from its credential store (docs/decisions/0023-grants-on-the-server.md),
// so that a token stays under 512 bytes whatever the grant.
//
// Legacy tokens, issued before grants moved to the server, also carry "role",
// "villages": [...] and, optionally, "device"; they are still accepted, with
// the role and villages they carry, until they expire.
//
// Thread-safety: free functions on values.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "auth/grant.hpp"
#include "lumbung/status.hpp"

namespace lumbung::auth {

struct Claims {
  std::string token_id;  // 32 lower-case hex digits (128 random bits)
  std::string officer;
  std::int64_t issued_at = 0;   // Unix seconds
  std::int64_t expires_at = 0;  // Unix seconds; the token is refused from this second on

  // A token of the format before grants moved to the server: it carries the
  // three claims below, which a token of today's format has not.
  bool legacy = false;
  Role role = Role::kOfficer;                   // legacy only
  std::set<std::string, std::less<>> villages;  // legacy only
  std::string device_id;  // legacy only; empty: bound to the first device that uses it
};

// A token taken apart, its signature not yet checked: nothing in it is trusted.
struct TokenParts {
  std::string key_id;
  std::string signed_part;  // what the signature covers
  std::string claims_json;
  std::string signature;
};

// The text the signature of a token with these claims covers: the legacy
// format when claims.legacy (only tests still make those).
std::string signed_part(std::string_view key_id, const Claims& claims);
// The token text: `signed_part` followed by the encoded signature.
std::string assemble_token(std::string_view signed_part, std::string_view signature);

// "2026-12-01T00:00:00Z": a token's time as messages and lumbungd show it.
std::string utc_text(std::int64_t unix_seconds);

// Splits a token's text; kTokenMalformed when it is not in the format above.
// Messages never quote the token: it is a secret.
Result<TokenParts> split_token(std::string_view token);
// The claims of a token whose signature has been checked, of either format
// (legacy when it has "role" and "villages"); kTokenMalformed when the JSON is
// invalid or a claim is missing or of the wrong type.
Result<Claims> parse_claims(std::string_view json);

}  // namespace lumbung::auth
