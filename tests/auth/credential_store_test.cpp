// CredentialStore (auth/credential_store.hpp): the upgrade of a store written
// before grants moved to the server, officers' grants and their cache, with a
// second store object on the same file or database where another process or
// daemon would be; against its SQLite file and, where the run has PostgreSQL
// (LUMBUNG_HAVE_PG_SERVER), against a fresh database of the run's cluster
// per case (decision 0039).
#include "auth/credential_store.hpp"

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "db/database.hpp"
#include "db/file_format.hpp"
#include "pg/connection.hpp"
#include "support/pg_cluster.hpp"
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

// The databases the cases run against.
std::vector<std::string> store_kinds() {
  if (LUMBUNG_HAVE_PG_SERVER) return {"sqlite", "postgresql"};
  return {"sqlite"};
}

// One credential store's database of `kind`, fresh; open() gives a store
// object on it as another process (or daemon) would have.
struct Credentials {
  explicit Credentials(std::string kind) : kind(std::move(kind)) {
    if (this->kind != "postgresql") return;
    static int count = 0;
    url = lumbung::test::shared_pg_cluster().create_database(
        "credentials_" + std::to_string(getpid()) + "_" + std::to_string(++count));
  }
  std::unique_ptr<CredentialStore> open() const {
    if (kind != "postgresql") return open_store(dir.file("credentials.sqlite"));
    auto store = CredentialStore::open_postgresql(url);
    if (!store.is_ok()) FAIL(store.status().to_string());
    return std::move(store).value();
  }

  std::string kind;
  lumbung::test::TempDir dir;
  std::string url;
};

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
  const Credentials where(GENERATE(from_range(store_kinds())));
  INFO(where.kind);
  auto store = where.open();
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
  const Credentials where(GENERATE(from_range(store_kinds())));
  INFO(where.kind);
  auto daemon = where.open();
  auto cli = where.open();  // as `lumbungd grant` while serving
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
  const Credentials where(GENERATE(from_range(store_kinds())));
  INFO(where.kind);
  auto store = where.open();
  REQUIRE(store->grant("sri", std::nullopt, villages({"krasak"}), kNow).is_ok());
  for (int i = 0; i < 10'050; ++i) {
    const OfficerGrant other = grant_of(*store, "officer-" + std::to_string(i));
    REQUIRE_FALSE(other.role.has_value());
    if (i % 1000 == 0) REQUIRE(grant_of(*store, "sri").villages == Names{"krasak"});
  }
  CHECK(grant_of(*store, "sri").villages == Names{"krasak"});
}

TEST_CASE("tokens, revocations and bindings are shared by every connection", "[auth]") {
  const Credentials where(GENERATE(from_range(store_kinds())));
  INFO(where.kind);
  auto daemon_a = where.open();
  auto daemon_b = where.open();
  auto cli = where.open();
  const lumbung::auth::TokenRecord issued{.token_id = kBound,
                                          .officer = "sri",
                                          .key_id = "0011223344556677",
                                          .issued_at = kNow,
                                          .expires_at = kNow + 3600,
                                          .device_id = ""};
  REQUIRE(cli->record_token(issued, std::nullopt, villages({"krasak"})).is_ok());
  CHECK(grant_of(*daemon_a, "sri").villages == Names{"krasak"});
  CHECK(grant_of(*daemon_b, "sri").role == Role::kOfficer);

  // Bound on daemon a, the binding holds on daemon b.
  REQUIRE(daemon_a->bind(kBound, "phone-1", "sri", kNow).is_ok());
  CHECK(*daemon_b->bound_device(kBound) == "phone-1");
  CHECK(daemon_b->bind(kBound, "phone-2", "sri", kNow).code() == ErrorCode::kDeviceMismatch);
  CHECK(daemon_b->bind(kBound, "phone-1", "sri", kNow).is_ok());

  // Revoked by the command, refused by both.
  CHECK(daemon_a->check_not_revoked(kBound).is_ok());
  REQUIRE(cli->revoke(kBound, kNow + 1).is_ok());
  CHECK(cli->revoke(kBound, kNow + 2).is_ok());  // twice is not an error
  CHECK(daemon_a->check_not_revoked(kBound).code() == ErrorCode::kTokenRevoked);
  CHECK(daemon_b->check_not_revoked(kBound).code() == ErrorCode::kTokenRevoked);
  CHECK(cli->revoke(kRevoked, kNow).code() == ErrorCode::kNotFound);

  // An officer's revocation counts in the other's grant at once.
  auto revoked = cli->revoke_officer("sri", kNow + 5);
  REQUIRE(revoked.is_ok());
  CHECK(revoked->empty());  // its one token was revoked already
  CHECK(grant_of(*daemon_b, "sri").tokens_revoked_at == kNow + 5);
  CHECK(cli->revoke_officer("nobody", kNow).status().code() == ErrorCode::kNotFound);

  const auto tokens = daemon_b->tokens();
  REQUIRE(tokens.is_ok());
  REQUIRE(tokens->size() == 1);
  CHECK(tokens->front().revoked);
  CHECK(tokens->front().device_id == "phone-1");
  CHECK(tokens->front().role == Role::kOfficer);
  const auto officers = daemon_a->officers();
  INFO(officers.status().to_string());
  REQUIRE(officers.is_ok());
  REQUIRE(officers->size() == 1);
  CHECK(officers->front().devices == std::vector<std::string>{"phone-1"});
  const auto bound = cli->device_officers();
  REQUIRE(bound.is_ok());
  CHECK(bound->at("phone-1") == "sri");
  const auto by_device = daemon_a->revoke_device("phone-1", kNow + 9);
  REQUIRE(by_device.is_ok());
  CHECK(by_device->empty());
  CHECK(daemon_a->revoke_device("phone-9", kNow).status().code() == ErrorCode::kNotFound);
}

TEST_CASE("two first uses of one token at once: exactly one device wins", "[auth]") {
  const Credentials where(GENERATE(from_range(store_kinds())));
  INFO(where.kind);
  constexpr int kRounds = 20;
  auto a = where.open();  // two daemons
  auto b = where.open();
  for (int round = 0; round < kRounds; ++round) {
    std::string token = std::to_string(round);
    token.insert(0, 32 - token.size(), '0');
    std::atomic<bool> go{false};
    lumbung::Status won_a;
    lumbung::Status won_b;
    std::thread first([&] {
      while (!go) std::this_thread::yield();
      won_a = a->bind(token, "phone-a-" + std::to_string(round), "sri", kNow);
    });
    std::thread second([&] {
      while (!go) std::this_thread::yield();
      won_b = b->bind(token, "phone-b-" + std::to_string(round), "sri", kNow);
    });
    go = true;
    first.join();
    second.join();
    INFO(won_a.to_string() << " / " << won_b.to_string());
    REQUIRE(won_a.is_ok() != won_b.is_ok());
    const lumbung::Status& lost = won_a.is_ok() ? won_b : won_a;
    CHECK(lost.code() == ErrorCode::kDeviceMismatch);
    const std::string winner = (won_a.is_ok() ? "phone-a-" : "phone-b-") + std::to_string(round);
    CHECK(*a->bound_device(token) == winner);
    CHECK(*b->bound_device(token) == winner);
  }
}

TEST_CASE("postgresql credentials: _lumbung_ tables in the store's database",
          "[auth][postgresql]") {
  const Credentials where("postgresql");
  auto store = where.open();
  auto again = where.open();  // a second opening creates nothing twice
  REQUIRE(store->grant("sri", Role::kSupervisor, villages({"krasak"}), kNow).is_ok());
  auto conn = lumbung::pg::Connection::open(where.url);
  REQUIRE(conn.is_ok());
  auto rows = (*conn)->query(
      "SELECT o.role, g.value FROM _lumbung_officers AS o "
      "JOIN _lumbung_officer_grants AS g ON g.officer = o.officer WHERE o.officer = 'sri'");
  REQUIRE(rows.is_ok());
  REQUIRE(rows->step());
  CHECK(rows->text(0) == "supervisor");
  CHECK(rows->text(1) == "krasak");
  // Each change of grants moves the version the daemons' caches are checked by.
  auto version = (*conn)->query("SELECT version FROM _lumbung_credential_version");
  REQUIRE(version.is_ok());
  REQUIRE(version->step());
  CHECK(version->integer(0) == 1);
  CHECK(grant_of(*again, "sri").role == Role::kSupervisor);
  // A URL that is no database: a clear error, without its password.
  auto refused = CredentialStore::open_postgresql(
      "postgresql://lumbung:s3cret@127.0.0.1:1/none?connect_timeout=2");
  REQUIRE_FALSE(refused.is_ok());
  CHECK(refused.status().code() == ErrorCode::kUnavailable);
  CHECK_THAT(refused.status().message(), !Catch::Contains("s3cret"));
}

TEST_CASE("postgresql credentials: a restart of PostgreSQL needs no reopen", "[auth][postgresql]") {
  lumbung::test::PgCluster cluster;  // of its own: it restarts
  auto opened = CredentialStore::open_postgresql(cluster.create_database("restarted"));
  REQUIRE(opened.is_ok());
  CredentialStore& store = **opened;
  REQUIRE(store.grant("sri", std::nullopt, villages({"krasak"}), kNow).is_ok());
  cluster.restart();  // the idle connection is closed by the server
  CHECK(grant_of(store, "sri").villages == Names{"krasak"});
  cluster.restart();
  // A write first: its transaction had not begun, so it runs on a new connection.
  const auto granted = store.grant("sri", std::nullopt, villages({"juntinyuat"}), kNow);
  INFO(granted.to_string());
  CHECK(granted.is_ok());
  CHECK(grant_of(store, "sri").villages == Names{"juntinyuat", "krasak"});
}
