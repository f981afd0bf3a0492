// Grants kept on the server (docs/decisions/0023-grants-on-the-server.md), at
// the TokenAuthority: tokens carry the officer only, what it may do is read
// from the credential store on every request; revocation by officer and by
// device; legacy tokens that still carry a village list. A second authority
// on the same directory stands where the lumbungd commands would be while the
// daemon runs.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "auth/signing_keys.hpp"
#include "auth/token.hpp"
#include "auth/token_authority.hpp"
#include "support/test_support.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::Result;
using lumbung::auth::Claims;
using lumbung::auth::Grant;
using lumbung::auth::IssuedToken;
using lumbung::auth::Names;
using lumbung::auth::Role;
using lumbung::auth::Selector;
using lumbung::auth::SelectorKind;
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

std::string bearer(const std::string& token) { return "Bearer " + token; }

// A UUID-shaped village id, distinct for each n.
std::string uuid(int n) {
  char text[40];
  std::snprintf(text, sizeof text, "%08x-7e57-4a11-9b0d-%012x",
                static_cast<unsigned>(n) * 2654435761u, static_cast<unsigned>(n));
  return text;
}

struct Fixture {
  lumbung::test::TempDir dir;
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>(kNowMs);
  std::unique_ptr<TokenAuthority> daemon = open_authority(dir.path().string(), clock);
  // As `lumbungd grant`, `revoke` or `token` while the daemon serves.
  std::unique_ptr<TokenAuthority> cli = open_authority(dir.path().string(), clock);

  IssuedToken issue(std::string officer, Names villages = {},
                    std::optional<Role> role = std::nullopt, std::string device = {}) {
    TokenRequest request;
    request.officer = std::move(officer);
    request.villages = std::move(villages);
    request.role = role;
    request.device_id = std::move(device);
    auto issued = cli->issue(request);
    if (!issued.is_ok()) FAIL(issued.status().to_string());
    return std::move(issued).value();
  }

  void grant_to(const std::string& officer, std::vector<Selector> selectors,
                std::optional<Role> role = std::nullopt) {
    const auto granted = cli->grant(officer, role, selectors);
    if (!granted.is_ok()) FAIL(granted.to_string());
  }

  Grant authenticate(const std::string& token, const std::string& device = "phone-1") {
    const Result<Grant> grant = daemon->authenticate(bearer(token), device);
    if (!grant.is_ok()) FAIL(grant.status().to_string());
    return grant.value();
  }

  ErrorCode refusal(const std::string& token, const std::string& device = "phone-1") {
    const Result<Grant> grant = daemon->authenticate(bearer(token), device);
    return grant.is_ok() ? ErrorCode::kOk : grant.status().code();
  }

  // A token of the format before grants moved to the server, signed with
  // this directory's current key, as the previous version issued it.
  std::string legacy_token(const std::string& officer, Names villages, Role role = Role::kOfficer,
                           std::string device = {}) {
    auto keys = lumbung::auth::SigningKeys::open(dir.file("keys"));
    REQUIRE(keys.is_ok());
    const std::string key_id = *(*keys)->current_key_id();
    Claims claims;
    claims.token_id = "0123456789abcdef0123456789abcd" + std::to_string(++legacy_count_ % 10) + "f";
    claims.officer = officer;
    claims.issued_at = clock->now_ms() / 1000 - 60;
    claims.expires_at = claims.issued_at + 30 * 86400;
    claims.legacy = true;
    claims.role = role;
    claims.villages = std::move(villages);
    claims.device_id = std::move(device);
    const std::string signed_text = lumbung::auth::signed_part(key_id, claims);
    const auto signature = (*keys)->sign(key_id, signed_text);
    REQUIRE(signature.is_ok());
    return lumbung::auth::assemble_token(signed_text, *signature);
  }

 private:
  int legacy_count_ = 0;
};

std::vector<Selector> villages(std::initializer_list<const char*> ids) {
  std::vector<Selector> selectors;
  for (const char* id : ids) selectors.push_back({SelectorKind::kVillage, id});
  return selectors;
}

}  // namespace

TEST_CASE_METHOD(Fixture, "a token carries no grant: the store's grant counts at each request",
                 "[auth]") {
  const IssuedToken token = issue("sri", {"krasak"});
  const auto parts = lumbung::auth::split_token(token.token);
  REQUIRE(parts.is_ok());
  CHECK(parts->claims_json.find("krasak") == std::string::npos);
  CHECK(parts->claims_json.find("role") == std::string::npos);

  Grant grant = authenticate(token.token);
  CHECK(grant.officer == "sri");
  CHECK(grant.token_id == token.token_id);
  CHECK(grant.role == Role::kOfficer);
  CHECK(grant.villages == Names{"krasak"});
  CHECK(grant.regions == nullptr);  // the server's to set

  grant_to("sri", {{SelectorKind::kDistrict, "Indramayu"}}, Role::kSupervisor);
  grant = authenticate(token.token);
  CHECK(grant.role == Role::kSupervisor);
  CHECK(grant.districts == Names{"Indramayu"});
  CHECK(grant.villages == Names{"krasak"});

  grant_to("sri", {{SelectorKind::kProvince, "Jawa Barat"}});
  REQUIRE(cli->ungrant("sri", villages({"krasak"})).is_ok());
  grant = authenticate(token.token);
  CHECK(grant.provinces == Names{"Jawa Barat"});
  CHECK(grant.villages.empty());
  CHECK_FALSE(grant.all_villages());

  grant_to("sri", {{SelectorKind::kAll, ""}});
  CHECK(authenticate(token.token).all_villages());
  grant_to("sri", {}, Role::kAdmin);
  CHECK(authenticate(token.token).role == Role::kAdmin);
  // check_token, before a request's body, reads no grant.
  CHECK(*daemon->check_token(bearer(token.token)) == "sri");
}

TEST_CASE_METHOD(Fixture, "a token's request records its role and villages for the officer",
                 "[auth]") {
  // Unknown and granted nothing: refused, nothing recorded.
  TokenRequest bare;
  bare.officer = "sri";
  const auto refused = cli->issue(bare);
  REQUIRE_FALSE(refused.is_ok());
  CHECK(refused.status().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(refused.status().message(),
             Catch::Contains("needs at least one village") && Catch::Contains("'sri'"));
  CHECK(cli->officers()->empty());

  const IssuedToken first = issue("sri", {"krasak"}, Role::kSupervisor);
  // Granted already: a token needs no villages, and "no role" keeps the supervisor.
  const IssuedToken second = issue("sri");
  const IssuedToken third = issue("sri", {"juntinyuat"});
  for (const IssuedToken* token : {&first, &second, &third}) {
    const Grant grant = authenticate(token->token);
    CHECK(grant.role == Role::kSupervisor);
    CHECK(grant.villages == Names{"juntinyuat", "krasak"});
  }
  // A role given is recorded, for every token of the officer.
  issue("sri", {}, Role::kOfficer);
  CHECK(authenticate(first.token).role == Role::kOfficer);
  // An admin needs no villages.
  CHECK(authenticate(issue("root", {}, Role::kAdmin).token, "laptop").all_villages());

  const auto listed = cli->officers();
  REQUIRE(listed.is_ok());
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[1].officer == "sri");
  CHECK((*listed)[1].tokens.size() == 4);
  CHECK((*listed)[1].devices == std::vector<std::string>{"phone-1"});
}

TEST_CASE_METHOD(Fixture, "a token stays under 512 bytes whatever the officer and the grant",
                 "[auth]") {
  Names many;
  for (int i = 0; i < 2000; ++i) many.insert(uuid(i));
  REQUIRE(many.size() == 2000);
  const IssuedToken national = issue("ministry", many, Role::kSupervisor);
  CHECK(national.token.size() < 512);
  CHECK(authenticate(national.token).villages.size() == 2000);

  const std::string longest(128, '~');
  const IssuedToken longest_id = issue(longest, {"krasak"});
  CHECK(longest_id.token.size() < 512);
  CHECK(authenticate(longest_id.token, "phone-2").officer == longest);

  for (const std::string officer : {"sri\"", "sri\\"}) {
    TokenRequest request;
    request.officer = officer;
    request.villages = {"krasak"};
    const auto refused = cli->issue(request);
    REQUIRE_FALSE(refused.is_ok());
    CHECK_THAT(refused.status().message(), Catch::Contains("officer id may not hold"));
  }
}

TEST_CASE_METHOD(Fixture, "revoking an officer refuses all its tokens at once, and a new one works",
                 "[auth]") {
  const IssuedToken phone = issue("sri", {"krasak"});
  const IssuedToken tablet = issue("sri");
  const IssuedToken ani = issue("ani", {"krasak"});
  REQUIRE(refusal(phone.token, "phone-1") == ErrorCode::kOk);
  REQUIRE(refusal(tablet.token, "tablet-1") == ErrorCode::kOk);

  const auto revoked = cli->revoke_officer("sri");
  REQUIRE(revoked.is_ok());
  std::vector<std::string> expected = {phone.token_id, tablet.token_id};
  std::sort(expected.begin(), expected.end());
  CHECK(*revoked == expected);
  CHECK(refusal(phone.token, "phone-1") == ErrorCode::kTokenRevoked);
  CHECK(refusal(tablet.token, "tablet-1") == ErrorCode::kTokenRevoked);
  CHECK(daemon->check_token(bearer(phone.token)).status().code() == ErrorCode::kTokenRevoked);
  CHECK(refusal(ani.token, "phone-9") == ErrorCode::kOk);

  // In the same second: the new token is not caught by the revocation.
  const IssuedToken renewed = issue("sri");
  const Grant grant = authenticate(renewed.token, "phone-1");  // the same phone goes on
  CHECK(grant.villages == Names{"krasak"});                    // the grant stays
  CHECK(cli->revoke_officer("sri")->size() == 1);
  CHECK(refusal(renewed.token, "phone-1") == ErrorCode::kTokenRevoked);

  const auto unknown = cli->revoke_officer("nobody");
  CHECK(unknown.status().code() == ErrorCode::kNotFound);
  CHECK_THAT(unknown.status().message(), Catch::Contains("'nobody'"));
  CHECK(cli->revoke_officer("no body").status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE_METHOD(Fixture, "revoking a device refuses the tokens bound to or issued for it",
                 "[auth]") {
  const IssuedToken used = issue("sri", {"krasak"});
  const IssuedToken issued_for = issue("sri", {}, std::nullopt, "phone-1");
  const IssuedToken other = issue("sri");
  REQUIRE(refusal(used.token, "phone-1") == ErrorCode::kOk);
  REQUIRE(refusal(other.token, "phone-2") == ErrorCode::kOk);

  const auto revoked = cli->revoke_device("phone-1");
  REQUIRE(revoked.is_ok());
  CHECK(revoked->size() == 2);
  CHECK(refusal(used.token, "phone-1") == ErrorCode::kTokenRevoked);
  CHECK(refusal(issued_for.token, "phone-1") == ErrorCode::kTokenRevoked);
  CHECK(refusal(other.token, "phone-2") == ErrorCode::kOk);

  // The phone itself is not banned: a new token of its officer gets it going.
  CHECK(refusal(issue("sri").token, "phone-1") == ErrorCode::kOk);
  // A token issued for a device moves with its re-identified replica; revoking
  // the new id finds it.
  const IssuedToken moving = issue("sri", {}, std::nullopt, "phone-7");
  REQUIRE(daemon->authenticate(bearer(moving.token), "phone-8", "phone-7").is_ok());
  CHECK(cli->revoke_device("phone-8")->size() == 1);
  CHECK(refusal(moving.token, "phone-8") == ErrorCode::kTokenRevoked);

  const auto unknown = cli->revoke_device("phone-404");
  CHECK(unknown.status().code() == ErrorCode::kNotFound);
  CHECK_THAT(unknown.status().message(), Catch::Contains("'phone-404'"));
}

TEST_CASE_METHOD(Fixture, "a legacy token keeps its villages until revoked by its officer",
                 "[auth]") {
  const std::string legacy = legacy_token("sri", {"krasak", "juntinyuat"}, Role::kSupervisor);
  // The store's grant does not count for it: it carries its own.
  grant_to("sri", villages({"cikedung"}));
  Grant grant = authenticate(legacy);
  CHECK(grant.role == Role::kSupervisor);
  CHECK(grant.villages == Names{"juntinyuat", "krasak"});
  CHECK(grant.districts.empty());

  // Issued for a device, as the old format said in the token.
  const std::string for_device = legacy_token("sri", {"krasak"}, Role::kOfficer, "phone-9");
  CHECK(refusal(for_device, "phone-2") == ErrorCode::kDeviceMismatch);
  CHECK(refusal(for_device, "phone-9") == ErrorCode::kOk);

  // `revoke --officer` reaches the legacy tokens it never recorded.
  const std::string unused = legacy_token("sri", {"krasak"});
  REQUIRE(cli->revoke_officer("sri").is_ok());
  CHECK(refusal(legacy) == ErrorCode::kTokenRevoked);
  CHECK(refusal(for_device, "phone-9") == ErrorCode::kTokenRevoked);
  CHECK(refusal(unused, "phone-3") == ErrorCode::kTokenRevoked);
  CHECK(daemon->check_token(bearer(unused)).status().code() == ErrorCode::kTokenRevoked);

  // An officer known only from a legacy token's device binding can be revoked.
  const std::string ani = legacy_token("ani", {"krasak"});
  REQUIRE(refusal(ani, "phone-5") == ErrorCode::kOk);
  REQUIRE(cli->revoke_officer("ani").is_ok());
  CHECK(refusal(ani, "phone-5") == ErrorCode::kTokenRevoked);
}

TEST_CASE_METHOD(Fixture, "a legacy token a device used is revoked by its id", "[auth]") {
  // Not recorded at issue: known by id once a device is bound to it. The
  // fixture numbers its legacy ids 1, 2, ... in each test.
  const std::string legacy = legacy_token("sri", {"krasak"});
  const std::string unused = legacy_token("sri", {"krasak"});
  const std::string legacy_id = "0123456789abcdef0123456789abcd1f";
  const std::string unused_id = "0123456789abcdef0123456789abcd2f";
  REQUIRE(refusal(legacy, "phone-1") == ErrorCode::kOk);

  REQUIRE(cli->revoke(legacy_id).is_ok());
  CHECK(refusal(legacy, "phone-1") == ErrorCode::kTokenRevoked);
  // One no device used is unknown by id, and stays usable; its officer's
  // revocation reaches it.
  CHECK(cli->revoke(unused_id).code() == ErrorCode::kNotFound);
  CHECK(refusal(unused, "phone-2") == ErrorCode::kOk);
}
