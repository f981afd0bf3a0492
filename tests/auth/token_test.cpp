// The token text format (auth/token.hpp), below signatures: how a token is
// taken apart and how its claims are read.
#include "auth/token.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "core/base64.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::auth::Claims;
using lumbung::auth::parse_claims;
using lumbung::auth::Role;
using lumbung::auth::split_token;

constexpr const char* kKeyId = "0123456789abcdef";

// A token of today's format: the officer and times only.
Claims sample_claims() {
  Claims claims;
  claims.token_id = "00112233445566778899aabbccddeeff";
  claims.officer = "sri";
  claims.issued_at = 1'800'000'000;
  claims.expires_at = 1'800'086'400;
  return claims;
}

// A token of the format before grants moved to the server.
Claims legacy_claims() {
  Claims claims;
  claims.token_id = "00112233445566778899aabbccddeeff";
  claims.officer = "sri";
  claims.legacy = true;
  claims.role = Role::kSupervisor;
  claims.villages = {"juntinyuat", "krasak"};
  claims.issued_at = 1'800'000'000;
  claims.expires_at = 1'800'086'400;
  claims.device_id = "phone-1";
  return claims;
}

std::string b64url(std::string_view text) {
  return lumbung::core::base64url_encode(lumbung::Blob(text.begin(), text.end()));
}

const std::string kSignature = b64url(std::string(64, 's'));

}  // namespace

TEST_CASE("a token's parts come apart as they were put together", "[auth]") {
  for (const Claims& expected : {sample_claims(), legacy_claims()}) {
    INFO("legacy: " << expected.legacy);
    const std::string signed_text = lumbung::auth::signed_part(kKeyId, expected);
    CHECK(signed_text.starts_with(std::string("lbt1.") + kKeyId + "."));
    const std::string token = lumbung::auth::assemble_token(signed_text, std::string(64, 's'));
    CHECK(token.find_first_not_of(
              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
          std::string::npos);

    const auto parts = split_token(token);
    REQUIRE(parts.is_ok());
    CHECK(parts->key_id == kKeyId);
    CHECK(parts->signed_part == signed_text);
    CHECK(parts->signature == std::string(64, 's'));
    const auto claims = parse_claims(parts->claims_json);
    REQUIRE(claims.is_ok());
    CHECK(claims->token_id == expected.token_id);
    CHECK(claims->officer == expected.officer);
    CHECK(claims->issued_at == expected.issued_at);
    CHECK(claims->expires_at == expected.expires_at);
    CHECK(claims->legacy == expected.legacy);
    CHECK(claims->role == expected.role);
    CHECK(claims->villages == expected.villages);
    CHECK(claims->device_id == expected.device_id);
  }
}

TEST_CASE("a token of today's format carries the officer and times only", "[auth]") {
  Claims claims = sample_claims();
  claims.role = Role::kAdmin;  // ignored unless legacy
  claims.villages = {"krasak"};
  claims.device_id = "phone-1";
  const auto parts = split_token(lumbung::auth::assemble_token(
      lumbung::auth::signed_part(kKeyId, claims), std::string(64, 's')));
  REQUIRE(parts.is_ok());
  CHECK(
      parts->claims_json ==
      R"({"exp":1800086400,"iat":1800000000,"officer":"sri","tid":"00112233445566778899aabbccddeeff"})");
}

TEST_CASE("split_token refuses text that is not an lbt1 token", "[auth]") {
  const std::string claims = b64url("{}");
  for (const std::string& bad : {
           std::string("garbage"),
           std::string("lbt1"),
           "lbt1." + std::string(kKeyId) + "." + claims,                     // no signature
           "lbt2." + std::string(kKeyId) + "." + claims + "." + kSignature,  // another version
           "LBT1." + std::string(kKeyId) + "." + claims + "." + kSignature,
           "lbt1.0123." + claims + "." + kSignature,               // short key id
           "lbt1.0123456789ABCDEF." + claims + "." + kSignature,   // upper-case key id
           "lbt1." + std::string(kKeyId) + ".e30=." + kSignature,  // padded base64
           "lbt1." + std::string(kKeyId) + ".e3+." + kSignature,   // standard alphabet
           "lbt1." + std::string(kKeyId) + "." + claims + "." + b64url("short"),
           "lbt1." + std::string(kKeyId) + "." + claims + "." + kSignature + "x",
           "lbt1." + std::string(kKeyId) + "." + claims + ".." + kSignature,
           "lbt1." + std::string(kKeyId) + "." + std::string(9000, 'A') + "." + kSignature,
       }) {
    INFO(bad);
    const auto parts = split_token(bad);
    REQUIRE_FALSE(parts.is_ok());
    CHECK(parts.status().code() == ErrorCode::kTokenMalformed);
    // A token is a secret: messages never quote it.
    if (bad.size() > 8) CHECK(parts.status().message().find(bad) == std::string::npos);
  }
}

TEST_CASE("parse_claims refuses invalid JSON and missing or mistyped claims", "[auth]") {
  const std::string valid =
      R"({"tid":"00112233445566778899aabbccddeeff","officer":"sri","role":"officer",)"
      R"("villages":["a"],"iat":1,"exp":2})";
  REQUIRE(parse_claims(valid).is_ok());
  CHECK(parse_claims(valid)->legacy);
  const auto today = parse_claims(R"({"tid":"00112233445566778899aabbccddeeff","officer":"sri",)"
                                  R"("iat":1,"exp":2})");
  REQUIRE(today.is_ok());
  CHECK_FALSE(today->legacy);
  for (const std::string& bad : {
           std::string("not json"),
           std::string("[]"),
           std::string(R"({"officer":"sri","role":"officer","villages":["a"],"iat":1,"exp":2})"),
           std::string(R"({"tid":"00112233445566778899aabbccddeeff","role":"officer",)"
                       R"("villages":["a"],"iat":1,"exp":2})"),
           std::string(R"({"tid":"00112233445566778899aabbccddeeff","officer":"sri",)"
                       R"("role":"officer","villages":["a"],"iat":1})"),
           std::string(R"({"tid":"00112233445566778899aabbccddeeff","officer":"sri",)"
                       R"("role":"officer","villages":["a"],"iat":1,"exp":"2"})"),
           std::string(R"({"tid":"00112233445566778899aabbccddeeff","officer":"sri",)"
                       R"("role":"officer","villages":["a"],"iat":1,"exp":2.5})"),
           std::string(R"({"tid":"00112233445566778899aabbccddeeff","officer":"sri",)"
                       R"("role":"king","villages":["a"],"iat":1,"exp":2})"),
           std::string(R"({"tid":"00112233445566778899aabbccddeeff","officer":"sri",)"
                       R"("role":"officer","villages":[1],"iat":1,"exp":2})"),
           std::string(R"({"tid":"XYZ","officer":"sri",)"
                       R"("role":"officer","villages":["a"],"iat":1,"exp":2})"),
           std::string(R"({"tid":"00112233445566778899aabbccddeeff","officer":"sri",)"
                       R"("role":"officer","villages":["a"],"iat":1,"exp":2,"device":7})"),
           // A legacy token has both a role and villages.
           std::string(R"({"tid":"00112233445566778899aabbccddeeff","officer":"sri",)"
                       R"("role":"officer","iat":1,"exp":2})"),
           std::string(R"({"tid":"00112233445566778899aabbccddeeff","officer":"sri",)"
                       R"("villages":["a"],"iat":1,"exp":2})"),
           std::string(R"({"tid":"00112233445566778899aabbccddeeff","officer":"sri",)"
                       R"("iat":1,"exp":2,"device":"phone-1"})"),
       }) {
    INFO(bad);
    const auto claims = parse_claims(bad);
    REQUIRE_FALSE(claims.is_ok());
    CHECK(claims.status().code() == ErrorCode::kTokenMalformed);
  }
}

TEST_CASE("utc_text shows Unix seconds as UTC", "[auth]") {
  CHECK(lumbung::auth::utc_text(0) == "1970-01-01T00:00:00Z");
  CHECK(lumbung::auth::utc_text(1'800'000'000) == "2027-01-15T08:00:00Z");
}
