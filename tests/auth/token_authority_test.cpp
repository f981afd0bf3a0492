// TokenAuthority (auth/token_authority.hpp): issuing, each refusal with its
// own code, rotation, revocation and device binding, with two instances on
// one directory where the daemon and the lumbungd commands would be.
#include "auth/token_authority.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "auth/signing_keys.hpp"
#include "auth/token.hpp"
#include "core/base64.hpp"
#include "support/test_support.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::Result;
using lumbung::auth::Grant;
using lumbung::auth::IssuedToken;
using lumbung::auth::Role;
using lumbung::auth::TokenAuthority;
using lumbung::auth::TokenRequest;
using lumbung::test::FakeClock;

constexpr std::int64_t kNowMs = 1'800'000'000'000;

std::unique_ptr<TokenAuthority> open_authority(const std::string& dir,
                                               std::shared_ptr<lumbung::Clock> clock) {
  auto authority = TokenAuthority::open(dir, std::move(clock));
  if (!authority.is_ok()) FAIL(authority.status().to_string());
  return std::move(authority).value();
}

TokenRequest request_for(std::string officer, std::set<std::string, std::less<>> villages) {
  TokenRequest request;
  request.officer = std::move(officer);
  request.villages = std::move(villages);
  return request;
}

std::string bearer(const std::string& token) { return "Bearer " + token; }

// Replaces the character at `index` with another of the base64url alphabet.
std::string flipped(std::string token, std::size_t index) {
  token[index] = token[index] == 'A' ? 'B' : 'A';
  return token;
}

struct Fixture {
  lumbung::test::TempDir dir;
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>(kNowMs);
  std::unique_ptr<TokenAuthority> authority = open_authority(dir.path().string(), clock);

  IssuedToken issue(const TokenRequest& request) {
    auto issued = authority->issue(request);
    if (!issued.is_ok()) FAIL(issued.status().to_string());
    return std::move(issued).value();
  }
  IssuedToken issue(std::string officer = "sri") {
    return issue(request_for(std::move(officer), {"krasak"}));
  }

  ErrorCode refusal(std::optional<std::string_view> authorization,
                    std::string_view device = "phone-1", std::string_view replaces = {}) {
    const Result<Grant> grant = authority->authenticate(authorization, device, replaces);
    return grant.is_ok() ? ErrorCode::kOk : grant.status().code();
  }
};

}  // namespace

TEST_CASE_METHOD(Fixture, "an issued token authenticates to its grant", "[auth]") {
  TokenRequest request = request_for("sri", {"juntinyuat", "krasak"});
  request.role = Role::kSupervisor;
  request.ttl = std::chrono::hours(12);
  const IssuedToken issued = issue(request);
  CHECK(issued.token.starts_with("lbt1." + issued.key_id + "."));
  CHECK(issued.token_id.size() == 32);
  CHECK(issued.expires_at == kNowMs / 1000 + 12 * 3600);

  const Result<Grant> grant = authority->authenticate(bearer(issued.token), "phone-1");
  REQUIRE(grant.is_ok());
  CHECK(grant->token_id == issued.token_id);
  CHECK(grant->officer == "sri");
  CHECK(grant->role == Role::kSupervisor);
  CHECK(grant->villages == std::set<std::string, std::less<>>{"juntinyuat", "krasak"});
  // The scheme is case-insensitive (RFC 9110) and spaces around the token do not count.
  CHECK(refusal("bearer  " + issued.token + " ") == ErrorCode::kOk);

  CHECK(issue().token_id != issue().token_id);
}

TEST_CASE_METHOD(Fixture, "a request without a bearer token is refused as missing", "[auth]") {
  for (const std::optional<std::string_view> authorization :
       {std::optional<std::string_view>(), std::optional<std::string_view>(""),
        std::optional<std::string_view>("Basic c3JpOnNlY3JldA=="),
        std::optional<std::string_view>("Bearer"), std::optional<std::string_view>("Bearer   "),
        std::optional<std::string_view>("Bearerlbt1.x")}) {
    INFO(authorization.value_or("(no header)"));
    CHECK(refusal(authorization) == ErrorCode::kTokenMissing);
  }
}

TEST_CASE_METHOD(Fixture, "a token that is not a Lumbung token is refused as malformed", "[auth]") {
  const std::string token = issue().token;
  CHECK(refusal(bearer("garbage")) == ErrorCode::kTokenMalformed);
  CHECK(refusal(bearer(token.substr(0, token.size() - 5))) == ErrorCode::kTokenMalformed);
  CHECK(refusal(bearer(token.substr(0, token.size() / 2))) == ErrorCode::kTokenMalformed);
  CHECK(refusal(bearer("lbt2" + token.substr(4))) == ErrorCode::kTokenMalformed);
  CHECK(refusal(bearer(token + "!")) == ErrorCode::kTokenMalformed);
}

TEST_CASE_METHOD(Fixture, "signed claims that do not parse are malformed", "[auth]") {
  // Only the key's owner can make these: the signature is checked first.
  auto keys = lumbung::auth::SigningKeys::open(dir.file("keys"));
  REQUIRE(keys.is_ok());
  const std::string key_id = *(*keys)->current_key_id();
  for (const std::string json : {"not json", R"({"tid":"00112233445566778899aabbccddeeff"})"}) {
    const std::string signed_text =
        "lbt1." + key_id + "." +
        lumbung::core::base64url_encode(lumbung::Blob(json.begin(), json.end()));
    const auto signature = (*keys)->sign(key_id, signed_text);
    REQUIRE(signature.is_ok());
    CHECK(refusal(bearer(lumbung::auth::assemble_token(signed_text, *signature))) ==
          ErrorCode::kTokenMalformed);
  }
}

TEST_CASE_METHOD(Fixture, "a token changed by one byte or signed elsewhere is forged", "[auth]") {
  const std::string token = issue().token;
  const std::size_t claims_start = token.find('.', 5) + 1;
  const std::size_t signature_start = token.rfind('.') + 1;
  CHECK(refusal(bearer(flipped(token, claims_start))) == ErrorCode::kTokenForged);
  CHECK(refusal(bearer(flipped(token, (claims_start + signature_start) / 2))) ==
        ErrorCode::kTokenForged);
  CHECK(refusal(bearer(flipped(token, signature_start))) == ErrorCode::kTokenForged);
  CHECK(refusal(bearer(flipped(token, signature_start + 20))) == ErrorCode::kTokenForged);

  lumbung::test::TempDir other_dir;
  auto other = open_authority(other_dir.path().string(), clock);
  const auto foreign = other->issue(request_for("sri", {"krasak"}));
  REQUIRE(foreign.is_ok());
  CHECK(refusal(bearer(foreign->token)) == ErrorCode::kTokenForged);
  // The same claims under this server's key id are still not this server's.
  const std::string renamed = "lbt1." + issue().key_id + foreign->token.substr(5 + 16);
  CHECK(refusal(bearer(renamed)) == ErrorCode::kTokenForged);
}

TEST_CASE_METHOD(Fixture, "a token is refused as expired from its expiry on", "[auth]") {
  TokenRequest request = request_for("sri", {"krasak"});
  request.ttl = std::chrono::minutes(90);
  const IssuedToken issued = issue(request);
  clock->set((issued.expires_at - 1) * 1000);
  CHECK(refusal(bearer(issued.token)) == ErrorCode::kOk);
  clock->set(issued.expires_at * 1000);
  const Result<Grant> grant = authority->authenticate(bearer(issued.token), "phone-1");
  REQUIRE_FALSE(grant.is_ok());
  CHECK(grant.status().code() == ErrorCode::kTokenExpired);
  CHECK_THAT(grant.status().message(), Catch::Contains("2027-01-15T09:30:00Z"));
}

TEST_CASE_METHOD(Fixture, "a revocation by another instance counts at once", "[auth]") {
  const IssuedToken issued = issue();
  const IssuedToken other = issue();
  REQUIRE(refusal(bearer(issued.token)) == ErrorCode::kOk);

  auto cli = open_authority(dir.path().string(), clock);  // as `lumbungd revoke` while serving
  REQUIRE(cli->revoke(issued.token_id).is_ok());
  CHECK(refusal(bearer(issued.token)) == ErrorCode::kTokenRevoked);
  CHECK(refusal(bearer(other.token)) == ErrorCode::kOk);

  CHECK(cli->revoke(issued.token_id).is_ok());  // twice
  // Never issued: an error naming it, and nothing recorded.
  const lumbung::Status unknown = cli->revoke("ffffffffffffffffffffffffffffffff");
  CHECK(unknown.code() == ErrorCode::kNotFound);
  CHECK_THAT(unknown.message(), Catch::Contains("ffffffffffffffffffffffffffffffff") &&
                                    Catch::Contains("revoke --officer"));
  CHECK(cli->revoke("not a token id").code() == ErrorCode::kInvalidArgument);
}

TEST_CASE_METHOD(Fixture, "rotation keeps old tokens until their key is retired", "[auth]") {
  const IssuedToken old_token = issue();
  REQUIRE(refusal(bearer(old_token.token)) == ErrorCode::kOk);

  auto cli = open_authority(dir.path().string(), clock);
  const auto new_key = cli->rotate_key();
  REQUIRE(new_key.is_ok());
  CHECK(*new_key != old_token.key_id);
  const IssuedToken new_token = issue();
  CHECK(new_token.key_id == *new_key);
  CHECK(refusal(bearer(old_token.token)) == ErrorCode::kOk);
  CHECK(refusal(bearer(new_token.token)) == ErrorCode::kOk);

  CHECK(cli->retire_key(*new_key).code() == ErrorCode::kInvalidArgument);
  REQUIRE(cli->retire_key(old_token.key_id).is_ok());
  CHECK(refusal(bearer(old_token.token)) == ErrorCode::kTokenForged);
  CHECK(refusal(bearer(new_token.token)) == ErrorCode::kOk);
}

TEST_CASE_METHOD(Fixture, "a token is bound to the first device that uses it", "[auth]") {
  const IssuedToken token = issue("sri");
  CHECK(refusal(bearer(token.token), "phone-1") == ErrorCode::kOk);
  CHECK(refusal(bearer(token.token), "phone-2") == ErrorCode::kDeviceMismatch);
  CHECK(refusal(bearer(token.token), "phone-1") == ErrorCode::kOk);

  // A device belongs to its officer: another officer's token may not claim it
  // (it would replay that device's batch numbers); a newer token of the same
  // officer may, as when the officer's grant changes.
  CHECK(refusal(bearer(issue("ani").token), "phone-1") == ErrorCode::kDeviceMismatch);
  const IssuedToken renewed = issue(request_for("sri", {"krasak", "juntinyuat"}));
  const Result<Grant> grant = authority->authenticate(bearer(renewed.token), "phone-1");
  REQUIRE(grant.is_ok());
  CHECK(grant->villages.size() == 2);
  // A refused attempt binds nothing: phone-3 is still free for ani.
  const IssuedToken ani = issue("ani");
  CHECK(refusal(bearer(token.token), "phone-3") == ErrorCode::kDeviceMismatch);
  CHECK(refusal(bearer(ani.token), "phone-3") == ErrorCode::kOk);
}

TEST_CASE_METHOD(Fixture, "a token issued for a device works on that device only", "[auth]") {
  TokenRequest request = request_for("sri", {"krasak"});
  request.device_id = "phone-9";
  const IssuedToken token = issue(request);
  CHECK(refusal(bearer(token.token), "phone-1") == ErrorCode::kDeviceMismatch);
  CHECK(refusal(bearer(token.token), "phone-9") == ErrorCode::kOk);
}

TEST_CASE_METHOD(Fixture, "a token moves to the device id that replaces the one it is bound to",
                 "[auth]") {
  // A replica restored from an old copy re-identifies (docs/protocol.md,
  // "Going back in time") and names the id it replaces.
  const IssuedToken token = issue("sri");
  CHECK(refusal(bearer(token.token), "phone-1") == ErrorCode::kOk);
  CHECK(refusal(bearer(token.token), "phone-2", "phone-7") == ErrorCode::kDeviceMismatch);
  CHECK(refusal(bearer(token.token), "phone-2", "phone-1") == ErrorCode::kOk);
  CHECK(refusal(bearer(token.token), "phone-2") == ErrorCode::kOk);
  CHECK(refusal(bearer(token.token), "phone-1") == ErrorCode::kDeviceMismatch);
  // The new id belongs to the token's officer, as any device it binds.
  CHECK(refusal(bearer(issue("ani").token), "phone-2") == ErrorCode::kDeviceMismatch);

  TokenRequest request = request_for("sri", {"krasak"});
  request.device_id = "phone-9";
  const IssuedToken issued_for = issue(request);
  CHECK(refusal(bearer(issued_for.token), "phone-10", "phone-9") == ErrorCode::kOk);
  CHECK(refusal(bearer(issued_for.token), "phone-11", "phone-8") == ErrorCode::kDeviceMismatch);
  // ... and on, from the device it moved to.
  CHECK(refusal(bearer(issued_for.token), "phone-11", "phone-10") == ErrorCode::kOk);
  CHECK(refusal(bearer(issued_for.token), "phone-11", "phone-10") == ErrorCode::kOk);
  CHECK(refusal(bearer(issued_for.token), "phone-10") == ErrorCode::kDeviceMismatch);
}

TEST_CASE_METHOD(Fixture, "two first uses at once bind exactly one device", "[auth]") {
  auto second =
      open_authority(dir.path().string(), clock);  // another connection, as another process
  for (int round = 0; round < 20; ++round) {
    const IssuedToken token = issue("officer-" + std::to_string(round));
    TokenAuthority* const authorities[2] = {authority.get(),
                                            round % 2 ? second.get() : authority.get()};
    std::atomic<int> ready{0};
    std::atomic<int> accepted{0};
    std::atomic<int> mismatched{0};
    const auto use = [&](int i) {
      ++ready;
      while (ready.load() < 2) std::this_thread::yield();
      const Result<Grant> grant = authorities[i]->authenticate(
          bearer(token.token), "phone-" + std::to_string(round) + "-" + std::to_string(i));
      if (grant.is_ok()) ++accepted;
      if (!grant.is_ok() && grant.status().code() == ErrorCode::kDeviceMismatch) ++mismatched;
    };
    std::thread first(use, 0);
    std::thread other(use, 1);
    first.join();
    other.join();
    INFO("round " << round);
    CHECK(accepted == 1);
    CHECK(mismatched == 1);
  }
}

TEST_CASE_METHOD(Fixture, "requests that break the rules are refused with their reason", "[auth]") {
  const auto refused = [&](const TokenRequest& request, const std::string& reason) {
    const auto issued = authority->issue(request);
    REQUIRE_FALSE(issued.is_ok());
    CHECK(issued.status().code() == ErrorCode::kInvalidArgument);
    CHECK_THAT(issued.status().message(), Catch::Contains(reason));
  };
  refused(request_for("", {"krasak"}), "officer id is empty");
  refused(request_for("sri rahayu", {"krasak"}), "officer id may hold only printable ASCII");
  refused(request_for("sri,ani", {"krasak"}), "officer id may hold only printable ASCII");
  refused(request_for("sri\x01", {"krasak"}), "officer id may hold only printable ASCII");
  refused(request_for(std::string(129, 's'), {"krasak"}), "longer than 128 bytes");
  refused(request_for("sri", {}), "needs at least one village");
  refused(request_for("sri", {"krasak", ""}), "village id is empty");
  refused(request_for("sri", {"kra sak"}), "village id may hold only printable ASCII");
  TokenRequest request = request_for("sri", {"krasak"});
  request.ttl = std::chrono::seconds(0);
  refused(request, "more than 0 seconds");
  request.ttl = std::chrono::seconds(-5);
  refused(request, "more than 0 seconds");
  request.ttl = std::chrono::hours(24 * 3651);
  refused(request, "at most 3650 days");
  request.ttl = std::chrono::hours(1);
  request.device_id = "phone 1";
  refused(request, "device id may hold only printable ASCII");

  TokenRequest admin = request_for("root", {});
  admin.role = Role::kAdmin;
  const IssuedToken token = issue(admin);
  const Result<Grant> grant = authority->authenticate(bearer(token.token), "laptop");
  REQUIRE(grant.is_ok());
  CHECK(grant->all_villages());

  CHECK(refusal(bearer(token.token), "") == ErrorCode::kInvalidArgument);
  CHECK(refusal(bearer(token.token), "lap top") == ErrorCode::kInvalidArgument);
}
