// CredentialStore (auth/credential_store.hpp): the upgrade of a store written
// before grants moved to the server, officers' grants and their cache, with a
// second store object on the same file where another process would be.
#include "auth/credential_store.hpp"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "db/file_format.hpp"
#include "support/test_support.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::auth::CredentialStore;
using lumbung::auth::Names;
using lumbung::auth::OfficerGrant;
using lumbung::auth::Role;
using lumbung::auth::Selector;
using lumbung::auth::SelectorKind;

constexpr std::int64_t kNow = 1'800'000'000;

// The tables a store of format 1 had, as the version before this one made them.
constexpr const char* kFormat1Tables = R"(
CREATE TABLE revoked_token (
  token_id   TEXT PRIMARY KEY,
  revoked_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE token_device (
  token_id  TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  bound_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE device_officer (
  device_id TEXT PRIMARY KEY,
  officer   TEXT NOT NULL,
  bound_at  INTEGER NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = 1;
)";

const std::string kRevoked = "00112233445566778899aabbccddeeff";
const std::string kBound = "ffeeddccbbaa99887766554433221100";

std::unique_ptr<CredentialStore> open_store(const std::string& path) {
  auto store = CredentialStore::open(path);
  if (!store.is_ok()) FAIL(store.status().to_string());
  return std::move(store).value();
}

OfficerGrant grant_of(CredentialStore& store, const std::string& officer) {
  auto grant = store.officer_grant(officer);
  if (!grant.is_ok()) FAIL(grant.status().to_string());
  return std::move(grant).value();
}

std::vector<Selector> villages(std::initializer_list<const char*> ids) {
  std::vector<Selector> selectors;
  for (const char* id : ids) selectors.push_back({SelectorKind::kVillage, id});
  return selectors;
}

}  // namespace

TEST_CASE("a store of format 1 is upgraded in place, its revocations and bindings kept", "[auth]") {
  lumbung::test::TempDir dir;
  const std::string path = dir.file("credentials.sqlite");
  {
    auto db = lumbung::db::Database::open(path, true);
    REQUIRE(db.is_ok());
    REQUIRE((*db)->exec(kFormat1Tables).is_ok());
    REQUIRE((*db)
                ->exec("INSERT INTO revoked_token VALUES ('" + kRevoked +
                       "', 1); INSERT INTO token_device VALUES ('" + kBound +
                       "', 'phone-1', 1); INSERT INTO device_officer VALUES ('phone-1', 'sri', 1)")
                .is_ok());
  }
  auto store = open_store(path);
  CHECK(store->check_not_revoked(kRevoked).code() == ErrorCode::kTokenRevoked);
  CHECK(store->check_not_revoked(kBound).is_ok());
  CHECK(*store->bound_device(kBound) == "phone-1");
  // The device still belongs to sri.
  CHECK(store->bind(kBound, "phone-1", "ani", kNow).code() == ErrorCode::kDeviceMismatch);
  CHECK(store->bind(kBound, "phone-1", "sri", kNow).is_ok());

  // Format 2's tables are there: sri, known from a binding, is listed.
  CHECK_FALSE(grant_of(*store, "sri").role.has_value());
  REQUIRE(store->grant("sri", Role::kSupervisor, villages({"krasak"}), kNow).is_ok());
  const auto listed = store->officers();
  REQUIRE(listed.is_ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().officer == "sri");
  CHECK(listed->front().devices == std::vector<std::string>{"phone-1"});
  CHECK(listed->front().grant.villages == Names{"krasak"});

  store.reset();
  auto db = lumbung::db::Database::open(path, false);
  REQUIRE(db.is_ok());
  CHECK(*lumbung::db::user_version(**db) == 2);
  // Opening again changes nothing.
  CHECK(grant_of(*open_store(path), "sri").role == Role::kSupervisor);
}

TEST_CASE("grants and roles round-trip: villages, districts, provinces, all", "[auth]") {
  lumbung::test::TempDir dir;
  auto store = open_store(dir.file("credentials.sqlite"));
  CHECK_FALSE(grant_of(*store, "sri").role.has_value());
  CHECK(grant_of(*store, "sri").grants_nothing());

  REQUIRE(store->grant("sri", std::nullopt, villages({"krasak", "juntinyuat"}), kNow).is_ok());
  OfficerGrant sri = grant_of(*store, "sri");
  CHECK(sri.role == Role::kOfficer);  // created with role officer
  CHECK(sri.villages == Names{"juntinyuat", "krasak"});

  const std::vector<Selector> regions = {{SelectorKind::kDistrict, "Indramayu"},
                                         {SelectorKind::kProvince, "Jawa Barat"},
                                         {SelectorKind::kAll, ""}};
  REQUIRE(store->grant("sri", Role::kSupervisor, regions, kNow).is_ok());
  REQUIRE(store->grant("sri", std::nullopt, villages({"krasak"}), kNow).is_ok());  // twice
  sri = grant_of(*store, "sri");
  CHECK(sri.role == Role::kSupervisor);  // a grant without a role keeps it
  CHECK(sri.villages == Names{"juntinyuat", "krasak"});
  CHECK(sri.districts == Names{"Indramayu"});
  CHECK(sri.provinces == Names{"Jawa Barat"});
  CHECK(sri.every_village);

  REQUIRE(store->ungrant("sri", regions).is_ok());
  REQUIRE(store->ungrant("sri", villages({"krasak"})).is_ok());
  sri = grant_of(*store, "sri");
  CHECK(sri.role == Role::kSupervisor);
  CHECK(sri.villages == Names{"juntinyuat"});
  CHECK(sri.districts.empty());
  CHECK(sri.provinces.empty());
  CHECK_FALSE(sri.every_village);

  // Taking away what is not granted names it, and changes nothing.
  const auto missing =
      store->ungrant("sri", std::vector<Selector>{{SelectorKind::kVillage, "juntinyuat"},
                                                  {SelectorKind::kVillage, "krasak"},
                                                  {SelectorKind::kDistrict, "Cirebon"}});
  CHECK(missing.code() == ErrorCode::kNotFound);
  CHECK_THAT(missing.message(), Catch::Contains("officer 'sri' is not granted village 'krasak', "
                                                "district 'Cirebon'"));
  CHECK(grant_of(*store, "sri").villages == Names{"juntinyuat"});
  CHECK(store->ungrant("ani", villages({"krasak"})).code() == ErrorCode::kNotFound);

  // The role alone.
  REQUIRE(store->grant("sri", Role::kOfficer, {}, kNow).is_ok());
  CHECK(grant_of(*store, "sri").role == Role::kOfficer);
  CHECK(grant_of(*store, "ani").grants_nothing());
}

TEST_CASE("a grant written through another connection counts at the next read", "[auth]") {
  lumbung::test::TempDir dir;
  auto daemon = open_store(dir.file("credentials.sqlite"));
  auto cli = open_store(dir.file("credentials.sqlite"));  // as `lumbungd grant` while serving
  REQUIRE(cli->grant("sri", std::nullopt, villages({"krasak"}), kNow).is_ok());
  CHECK(grant_of(*daemon, "sri").villages == Names{"krasak"});  // now cached
  CHECK(grant_of(*daemon, "sri").villages == Names{"krasak"});

  REQUIRE(cli->grant("sri", Role::kSupervisor, villages({"juntinyuat"}), kNow).is_ok());
  OfficerGrant sri = grant_of(*daemon, "sri");
  CHECK(sri.role == Role::kSupervisor);
  CHECK(sri.villages == Names{"juntinyuat", "krasak"});

  REQUIRE(cli->ungrant("sri", villages({"krasak"})).is_ok());
  CHECK(grant_of(*daemon, "sri").villages == Names{"juntinyuat"});

  // And this object's own writes, which do not move its data_version.
  REQUIRE(daemon->grant("sri", std::nullopt, villages({"krasak"}), kNow).is_ok());
  CHECK(grant_of(*daemon, "sri").villages == Names{"juntinyuat", "krasak"});
  CHECK(grant_of(*cli, "sri").villages == Names{"juntinyuat", "krasak"});
}

TEST_CASE("the grant cache stays right past its bound", "[auth]") {
  lumbung::test::TempDir dir;
  auto store = open_store(dir.file("credentials.sqlite"));
  REQUIRE(store->grant("sri", std::nullopt, villages({"krasak"}), kNow).is_ok());
  for (int i = 0; i < 10'050; ++i) {
    const OfficerGrant other = grant_of(*store, "officer-" + std::to_string(i));
    REQUIRE_FALSE(other.role.has_value());
    if (i % 1000 == 0) REQUIRE(grant_of(*store, "sri").villages == Names{"krasak"});
  }
  CHECK(grant_of(*store, "sri").villages == Names{"krasak"});
}
