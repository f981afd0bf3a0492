#include "auth/token_authority.hpp"

#include <openssl/rand.h>

#include <array>
#include <cctype>
#include <filesystem>

#include "auth/credential_store.hpp"
#include "auth/private_file.hpp"
#include "auth/signing_keys.hpp"
#include "auth/token.hpp"
#include "core/hex.hpp"

namespace lumbung::auth {

namespace {

constexpr std::size_t kMaxIdSize = 128;
constexpr std::chrono::seconds kMaxTtl = std::chrono::hours(24 * 3650);

Status invalid(std::string message) {
  return Status(ErrorCode::kInvalidArgument, std::move(message));
}

// Officer, village and device ids travel in tokens, comma-separated command
// lines and error messages: printable ASCII without spaces or commas.
Status check_id(std::string_view what, std::string_view id) {
  if (id.empty()) return invalid(std::string(what) + " is empty");
  if (id.size() > kMaxIdSize) {
    return invalid(std::string(what) + " is longer than " + std::to_string(kMaxIdSize) + " bytes");
  }
  for (const char c : id) {
    if (c <= ' ' || c > '~' || c == ',') {
      return invalid(std::string(what) + " may hold only printable ASCII without spaces or commas");
    }
  }
  return Status::ok();
}

// An officer id also travels in a token's JSON claims: '"' and '\\' would be
// escaped there, growing a token past its 512 bytes.
Status check_officer_id(std::string_view officer) {
  LUMBUNG_RETURN_IF_ERROR(check_id("officer id", officer));
  if (officer.find_first_of("\"\\") != std::string_view::npos) {
    return invalid("officer id may not hold '\"' or '\\'");
  }
  return Status::ok();
}

// District and province names are the village records' own text: anything
// but control characters.
Status check_region_name(std::string_view what, std::string_view name) {
  if (name.empty()) return invalid(std::string(what) + " is empty");
  if (name.size() > kMaxIdSize) {
    return invalid(std::string(what) + " is longer than " + std::to_string(kMaxIdSize) + " bytes");
  }
  for (const char c : name) {
    if (static_cast<unsigned char>(c) < ' ' || c == '\x7f') {
      return invalid(std::string(what) + " may not hold control characters");
    }
  }
  return Status::ok();
}

Status check_selector(const Selector& selector) {
  switch (selector.kind) {
    case SelectorKind::kVillage:
      return check_id("village id", selector.value);
    case SelectorKind::kDistrict:
      return check_region_name("district", selector.value);
    case SelectorKind::kProvince:
      return check_region_name("province", selector.value);
    case SelectorKind::kAll:
      return Status::ok();
  }
  return Status::ok();
}

Status check_request(const TokenRequest& request) {
  LUMBUNG_RETURN_IF_ERROR(check_officer_id(request.officer));
  for (const std::string& village : request.villages) {
    LUMBUNG_RETURN_IF_ERROR(check_id("village id", village));
  }
  if (request.ttl <= std::chrono::seconds::zero() || request.ttl > kMaxTtl) {
    return invalid("token lifetime must be more than 0 seconds and at most 3650 days (got " +
                   std::to_string(request.ttl.count()) + " seconds)");
  }
  if (!request.device_id.empty()) LUMBUNG_RETURN_IF_ERROR(check_id("device id", request.device_id));
  return Status::ok();
}

// The token of an Authorization header value "Bearer <token>" (the scheme in
// any case, RFC 9110 section 11.1).
Result<std::string_view> bearer_token(std::optional<std::string_view> authorization) {
  const Status missing(ErrorCode::kTokenMissing, "the request carries no bearer token");
  if (!authorization) return missing;
  std::string_view value = *authorization;
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
  while (!value.empty() && is_space(value.back())) value.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() || !is_space(value[kScheme.size()])) return missing;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return missing;
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
  return value;
}

Result<std::string> random_token_id() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Status(ErrorCode::kInternal, "the random number generator failed");
  }
  return core::to_hex(bytes.data(), bytes.size());
}

}  // namespace

TokenAuthority::TokenAuthority(std::unique_ptr<SigningKeys> keys,
                               std::unique_ptr<CredentialStore> store, std::shared_ptr<Clock> clock)
    : keys_(std::move(keys)), store_(std::move(store)), clock_(std::move(clock)) {}

TokenAuthority::~TokenAuthority() = default;

Result<std::unique_ptr<TokenAuthority>> TokenAuthority::open(const std::string& data_dir,
                                                             std::shared_ptr<Clock> clock,
                                                             const std::string& store_url) {
  LUMBUNG_RETURN_IF_ERROR(make_owner_only_dir(data_dir));
  const std::filesystem::path dir(data_dir);
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<SigningKeys> keys,
                           SigningKeys::open((dir / kKeysDirName).string()));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<CredentialStore> store,
                           CredentialStore::open_for(data_dir, store_url));
  return std::unique_ptr<TokenAuthority>(new TokenAuthority(
      std::move(keys), std::move(store), clock ? std::move(clock) : system_clock()));
}

std::int64_t TokenAuthority::now_seconds() const { return clock_->now_ms() / 1000; }

Result<IssuedToken> TokenAuthority::issue(const TokenRequest& request) {
  LUMBUNG_RETURN_IF_ERROR(check_request(request));
  // A token that grants nothing is an operator's slip, not a wish.
  LUMBUNG_ASSIGN_OR_RETURN(const OfficerGrant recorded, store_->officer_grant(request.officer));
  const Role role = request.role.value_or(recorded.role.value_or(Role::kOfficer));
  if (role != Role::kAdmin && request.villages.empty() && recorded.grants_nothing()) {
    return invalid("a token of role " + std::string(role_name(role)) +
                   " needs at least one village: officer '" + request.officer +
                   "' is granted none (give villages, or grant them first with 'lumbungd "
                   "grant')");
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::string token_id, random_token_id());
  LUMBUNG_ASSIGN_OR_RETURN(std::string key_id, keys_->current_key_id());
  Claims claims;
  claims.token_id = token_id;
  claims.officer = request.officer;
  claims.issued_at = now_seconds();
  claims.expires_at = claims.issued_at + request.ttl.count();
  const std::string signed_text = signed_part(key_id, claims);
  LUMBUNG_ASSIGN_OR_RETURN(std::string signature, keys_->sign(key_id, signed_text));
  std::vector<Selector> villages;
  for (const std::string& village : request.villages) {
    villages.push_back({SelectorKind::kVillage, village});
  }
  LUMBUNG_RETURN_IF_ERROR(
      store_->record_token({claims.token_id, claims.officer, key_id, claims.issued_at,
                            claims.expires_at, request.device_id},
                           request.role, villages));
  IssuedToken issued;
  issued.token = assemble_token(signed_text, signature);
  issued.token_id = claims.token_id;
  issued.key_id = key_id;
  issued.expires_at = claims.expires_at;
  return issued;
}

Status TokenAuthority::revoke(std::string_view token_id) {
  if (!core::is_lower_hex(token_id, 32)) {
    // Appended, not concatenated: GCC 12 at -O3 reports a false -Wrestrict
    // on "'" + std::string (its bug 105329).
    std::string message = "'";
    message.append(token_id).append("' is not a token id (32 lower-case hex digits)");
    return invalid(std::move(message));
  }
  return store_->revoke(token_id, now_seconds());
}

Result<std::vector<std::string>> TokenAuthority::revoke_officer(std::string_view officer) {
  LUMBUNG_RETURN_IF_ERROR(check_id("officer id", officer));
  return store_->revoke_officer(officer, now_seconds());
}

Result<std::vector<std::string>> TokenAuthority::revoke_device(std::string_view device_id) {
  LUMBUNG_RETURN_IF_ERROR(check_id("device id", device_id));
  return store_->revoke_device(device_id, now_seconds());
}

Status TokenAuthority::grant(std::string_view officer, std::optional<Role> role,
                             std::span<const Selector> selectors) {
  LUMBUNG_RETURN_IF_ERROR(check_officer_id(officer));
  if (selectors.empty() && !role) return invalid("a grant names a role or what it grants");
  for (const Selector& selector : selectors) LUMBUNG_RETURN_IF_ERROR(check_selector(selector));
  return store_->grant(officer, role, selectors, now_seconds());
}

Status TokenAuthority::ungrant(std::string_view officer, std::span<const Selector> selectors) {
  LUMBUNG_RETURN_IF_ERROR(check_id("officer id", officer));
  if (selectors.empty()) return invalid("an ungrant names what it takes away");
  for (const Selector& selector : selectors) LUMBUNG_RETURN_IF_ERROR(check_selector(selector));
  return store_->ungrant(officer, selectors);
}

Result<std::vector<OfficerListing>> TokenAuthority::officers() { return store_->officers(); }

Result<std::vector<TokenListing>> TokenAuthority::tokens() { return store_->tokens(); }

Result<std::string> TokenAuthority::rotate_key() { return keys_->rotate(); }

Result<std::string> TokenAuthority::current_key_id() { return keys_->current_key_id(); }

Status TokenAuthority::retire_key(std::string_view key_id) { return keys_->retire(key_id); }

Result<Claims> TokenAuthority::verify(std::string_view token, std::int64_t now) {
  LUMBUNG_ASSIGN_OR_RETURN(TokenParts parts, split_token(token));
  // Nothing in the token counts before its signature does.
  LUMBUNG_RETURN_IF_ERROR(keys_->verify(parts.key_id, parts.signed_part, parts.signature));
  LUMBUNG_ASSIGN_OR_RETURN(Claims claims, parse_claims(parts.claims_json));
  if (now >= claims.expires_at) {
    return Status(ErrorCode::kTokenExpired,
                  "token " + claims.token_id + " expired at " + utc_text(claims.expires_at));
  }
  LUMBUNG_RETURN_IF_ERROR(store_->check_not_revoked(claims.token_id));
  if (claims.legacy) {
    // Not recorded at issue: `revoke --officer` refuses it by its time of issue.
    LUMBUNG_ASSIGN_OR_RETURN(const OfficerGrant officer, store_->officer_grant(claims.officer));
    if (officer.tokens_revoked_at && claims.issued_at <= *officer.tokens_revoked_at) {
      return Status(ErrorCode::kTokenRevoked,
                    "token " + claims.token_id + " was revoked with every token of officer '" +
                        claims.officer + "' issued until " + utc_text(*officer.tokens_revoked_at));
    }
  }
  return claims;
}

Result<std::string> TokenAuthority::check_token(std::optional<std::string_view> authorization) {
  LUMBUNG_ASSIGN_OR_RETURN(const std::string_view token, bearer_token(authorization));
  LUMBUNG_ASSIGN_OR_RETURN(Claims claims, verify(token, now_seconds()));
  return std::move(claims.officer);
}

Result<Role> TokenAuthority::check_role(std::optional<std::string_view> authorization) {
  LUMBUNG_ASSIGN_OR_RETURN(const std::string_view token, bearer_token(authorization));
  LUMBUNG_ASSIGN_OR_RETURN(const Claims claims, verify(token, now_seconds()));
  if (claims.legacy) return claims.role;
  LUMBUNG_ASSIGN_OR_RETURN(const OfficerGrant recorded, store_->officer_grant(claims.officer));
  return recorded.role.value_or(Role::kOfficer);
}

Result<Grant> TokenAuthority::authenticate(std::optional<std::string_view> authorization,
                                           std::string_view device_id,
                                           std::string_view replaces_device) {
  LUMBUNG_ASSIGN_OR_RETURN(const std::string_view token, bearer_token(authorization));
  LUMBUNG_RETURN_IF_ERROR(check_id("device id", device_id));
  const std::int64_t now = now_seconds();
  LUMBUNG_ASSIGN_OR_RETURN(Claims claims, verify(token, now));
  // A legacy token may name the device it was issued for; a token of today's
  // format issued for a device is bound to it at issue.
  if (!claims.device_id.empty() && claims.device_id != device_id) {
    // A token issued for a device follows its replica through every
    // re-identification: from the device it was issued for, then from each
    // one it moved to (where it is bound now).
    bool follows = !replaces_device.empty() && claims.device_id == replaces_device;
    if (!follows && !replaces_device.empty()) {
      LUMBUNG_ASSIGN_OR_RETURN(std::string bound, store_->bound_device(claims.token_id));
      follows = bound == replaces_device || bound == device_id;
    }
    if (!follows) {
      return Status(ErrorCode::kDeviceMismatch,
                    "token " + claims.token_id + " was issued for another device");
    }
  }
  LUMBUNG_RETURN_IF_ERROR(
      store_->bind(claims.token_id, device_id, claims.officer, now, replaces_device));
  Grant grant;
  grant.token_id = claims.token_id;
  grant.officer = claims.officer;
  if (claims.legacy) {
    // Until it expires, with the grant it carries.
    grant.role = claims.role;
    grant.villages = std::move(claims.villages);
    return grant;
  }
  LUMBUNG_ASSIGN_OR_RETURN(OfficerGrant recorded, store_->officer_grant(claims.officer));
  // No role recorded (never granted): a token that grants nothing.
  grant.role = recorded.role.value_or(Role::kOfficer);
  grant.every_village = recorded.every_village;
  grant.villages = std::move(recorded.villages);
  grant.districts = std::move(recorded.districts);
  grant.provinces = std::move(recorded.provinces);
  return grant;
}

}  // namespace lumbung::auth
