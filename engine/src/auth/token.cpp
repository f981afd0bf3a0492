#include "auth/token.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

#include "auth/signing_keys.hpp"
#include "core/base64.hpp"
#include "core/hex.hpp"

namespace lumbung::auth {

namespace {

using Json = nlohmann::json;

constexpr std::string_view kPrefix = "lbt1";
// Far above a real token (a few hundred bytes); refused before any decoding.
constexpr std::size_t kMaxTokenSize = 8192;

Status malformed(const std::string& why) {
  return Status(ErrorCode::kTokenMalformed, "malformed bearer token: " + why);
}

std::string text_of(const Blob& bytes) { return std::string(bytes.begin(), bytes.end()); }

Blob bytes_of(std::string_view text) { return Blob(text.begin(), text.end()); }

// Claims whose value has the wrong type count as missing.
const Json* claim(const Json& claims, const char* name, Json::value_t type) {
  const auto found = claims.find(name);
  if (found == claims.end()) return nullptr;
  const bool integer = type == Json::value_t::number_integer && found->is_number_integer();
  return integer || found->type() == type ? &*found : nullptr;
}

}  // namespace

std::string signed_part(std::string_view key_id, const Claims& claims) {
  Json json;
  json["tid"] = claims.token_id;
  json["officer"] = claims.officer;
  if (claims.legacy) {
    json["role"] = role_name(claims.role);
    json["villages"] = claims.villages;
  }
  json["iat"] = claims.issued_at;
  json["exp"] = claims.expires_at;
  if (claims.legacy && !claims.device_id.empty()) json["device"] = claims.device_id;
  return std::string(kPrefix) + "." + std::string(key_id) + "." +
         core::base64url_encode(bytes_of(json.dump()));
}

std::string assemble_token(std::string_view signed_part, std::string_view signature) {
  return std::string(signed_part) + "." + core::base64url_encode(bytes_of(signature));
}

std::string utc_text(std::int64_t unix_seconds) {
  const auto time = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  char text[32] = "?";
  if (gmtime_r(&time, &parts) != nullptr) {
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  }
  return text;
}

Result<TokenParts> split_token(std::string_view token) {
  if (token.size() > kMaxTokenSize) return malformed("longer than 8192 bytes");
  const std::size_t first = token.find('.');
  const std::size_t second = token.find('.', first == token.npos ? token.npos : first + 1);
  const std::size_t last = token.rfind('.');
  if (first == token.npos || second == token.npos || last == second) {
    return malformed("expected 'lbt1.KEY.CLAIMS.SIGNATURE'");
  }
  if (token.substr(0, first) != kPrefix) return malformed("not an 'lbt1.' token");
  TokenParts parts;
  parts.key_id = token.substr(first + 1, second - first - 1);
  if (!is_key_id(parts.key_id)) return malformed("the key id is not 16 hex digits");
  const std::optional<Blob> claims =
      core::base64url_decode(token.substr(second + 1, last - second - 1));
  if (!claims) return malformed("the claims are not base64url");
  const std::optional<Blob> signature = core::base64url_decode(token.substr(last + 1));
  if (!signature || signature->size() != kSignatureSize) {
    return malformed("the signature is not 64 bytes of base64url");
  }
  parts.signed_part = token.substr(0, last);
  parts.claims_json = text_of(*claims);
  parts.signature = text_of(*signature);
  return parts;
}

Result<Claims> parse_claims(std::string_view json) {
  const Json parsed = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return malformed("the claims are not a JSON object");
  using Type = Json::value_t;
  const Json* token_id = claim(parsed, "tid", Type::string);
  const Json* officer = claim(parsed, "officer", Type::string);
  const Json* role = claim(parsed, "role", Type::string);
  const Json* villages = claim(parsed, "villages", Type::array);
  const Json* issued_at = claim(parsed, "iat", Type::number_integer);
  const Json* expires_at = claim(parsed, "exp", Type::number_integer);
  if (!token_id || !officer || !issued_at || !expires_at) {
    return malformed("a claim is missing (tid, officer, iat, exp)");
  }
  Claims claims;
  claims.token_id = token_id->get<std::string>();
  if (!core::is_lower_hex(claims.token_id, 32)) return malformed("'tid' is not 32 hex digits");
  claims.officer = officer->get<std::string>();
  claims.issued_at = issued_at->get<std::int64_t>();
  claims.expires_at = expires_at->get<std::int64_t>();
  // A legacy token has both "role" and "villages"; today's has neither.
  const bool has_role = parsed.contains("role");
  const bool has_villages = parsed.contains("villages");
  const bool has_device = parsed.contains("device");
  if (!has_role && !has_villages && !has_device) return claims;
  if (!role || !villages) {
    return malformed("a legacy token's claim is missing (role, villages)");
  }
  claims.legacy = true;
  const std::optional<Role> parsed_role = parse_role(role->get<std::string>());
  if (!parsed_role) return malformed("unknown role");
  claims.role = *parsed_role;
  for (const Json& village : *villages) {
    if (!village.is_string()) return malformed("'villages' holds a value that is not text");
    claims.villages.insert(village.get<std::string>());
  }
  if (has_device) {
    const Json& device = parsed.at("device");
    if (!device.is_string()) return malformed("'device' is not text");
    claims.device_id = device.get<std::string>();
  }
  return claims;
}

}  // namespace lumbung::auth
