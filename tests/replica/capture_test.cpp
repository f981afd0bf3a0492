// Change capture: every local write, through the API or plain SQL from any
// connection, lands in the outbox in the same transaction, stamped by the HLC.
#include <catch2/catch.hpp>
#include <set>

#include "replica/outbox.hpp"
#include "support/test_support.hpp"

using namespace lumbung;
using lumbung::test::FakeClock;
using lumbung::test::PlainConnection;
using lumbung::test::TempDir;

namespace {

constexpr std::int64_t kT0 = 1795000000000;  // 2026-11-18, a fixed wall-clock time

Row person(const std::string& id, const std::string& name) {
  return {{"id", id},
          {"village_id", "v1"},
          {"full_name", name},
          {"created_by", "sri"},
          {"created_at", "2026-11-28T04:00:00Z"}};
}

struct Fixture {
  TempDir dir;
  std::string path = dir.file("replica.db");
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>(kT0);
  std::unique_ptr<Replica> replica =
      lumbung::test::open_replica(lumbung::test::options_for(path, clock));

  std::vector<PendingChange> pending() {
    Result<std::vector<PendingChange>> changes = replica->pending_changes();
    REQUIRE(changes.is_ok());
    return std::move(changes).value();
  }
};

}  // namespace

TEST_CASE("an API insert is one pending row change stamped by the injected clock", "[replica]") {
  Fixture f;
  REQUIRE(f.replica->insert("person", person("p1", "Siti Aminah")).is_ok());
  auto changes = f.pending();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].table == "person");
  CHECK(changes[0].row_id == "p1");
  CHECK(changes[0].kind == PendingChange::Kind::kInsert);
  CHECK(changes[0].column.empty());
  CHECK(changes[0].hlc == (kT0 << 16));
}

TEST_CASE("a push batch reads the outbox's next entries without sorting the others", "[replica]") {
  Fixture f;
  PlainConnection plain(f.path);
  for (int i = 0; i < 500; ++i) {
    const std::string id = "p" + std::to_string(i);
    REQUIRE(plain.exec("INSERT INTO person (id, village_id, full_name, created_by, created_at) "
                       "VALUES ('" +
                       id + "', 'v1', 'Siti', 'sri', '2026-11-28T04:00:00Z')") == "");
  }
  const std::int64_t middle = plain.scalar("SELECT hlc FROM _lumbung_outbox WHERE row_id = 'p250'");
  for (const std::vector<Value>& params :
       {std::vector<Value>{Value(10), Value(-1), Value(""), Value(""), Value("")},
        std::vector<Value>{Value(10), Value(middle), Value("person"), Value("p250"), Value("")}}) {
    const PlainConnection::ReadCost cost = plain.read_cost(replica::kOutboxInPushOrderSql, params);
    CHECK(cost.sorts == 0);
    CHECK(cost.full_scan_steps >= 0);
    CHECK(cost.full_scan_steps <= 10);
  }
}

TEST_CASE("several writes to one cell leave one pending change with the latest stamp",
          "[replica]") {
  Fixture f;
  REQUIRE(f.replica->insert("person", person("p1", "Siti")).is_ok());
  f.clock->advance(10);
  REQUIRE(f.replica->update("person", "p1", {{"phone", "0812"}}).is_ok());
  f.clock->advance(10);
  REQUIRE(f.replica->update("person", "p1", {{"phone", "0813"}}).is_ok());
  auto changes = f.pending();
  REQUIRE(changes.size() == 2);
  CHECK(changes[1].column == "phone");
  CHECK(changes[1].kind == PendingChange::Kind::kUpdate);
  CHECK(changes[1].hlc == ((kT0 + 20) << 16));
  auto row = f.replica->get("person", "p1");
  REQUIRE(row.is_ok());
  CHECK((**row)["phone"] == Value("0813"));
}

TEST_CASE("an update that changes nothing is not captured", "[replica]") {
  Fixture f;
  REQUIRE(f.replica->insert("person", person("p1", "Siti")).is_ok());
  REQUIRE(f.replica->update("person", "p1", {{"full_name", "Siti"}}).is_ok());
  CHECK(f.pending().size() == 1);
}

TEST_CASE("plain SQL on another connection is captured per cell", "[replica]") {
  Fixture f;
  REQUIRE(f.replica->insert("person", person("p1", "Siti")).is_ok());
  PlainConnection app(f.path);
  REQUIRE(app.exec("UPDATE person SET phone = '0812', skills = 'menjahit' WHERE id = 'p1'") == "");
  REQUIRE(app.exec("INSERT INTO household (id, village_id, created_by, created_at) "
                   "VALUES ('h1', 'v1', 'sri', '2026-11-28')") == "");
  auto changes = f.pending();
  REQUIRE(changes.size() == 4);
  std::set<std::string> cells;
  for (const auto& c : changes) cells.insert(c.table + "/" + c.row_id + "/" + c.column);
  CHECK(cells == std::set<std::string>{"person/p1/", "person/p1/phone", "person/p1/skills",
                                       "household/h1/"});
  // Stamps come from the clock row, strictly increasing across connections.
  for (size_t i = 1; i < changes.size(); ++i) CHECK(changes[i - 1].hlc < changes[i].hlc);
  CHECK(app.scalar("SELECT hlc FROM _lumbung_clock") == changes.back().hlc);
}

TEST_CASE("a delete replaces the row's pending cells by one delete; a re-insert undoes it",
          "[replica]") {
  Fixture f;
  REQUIRE(f.replica->insert("person", person("p1", "Siti")).is_ok());
  REQUIRE(f.replica->update("person", "p1", {{"phone", "0812"}}).is_ok());
  REQUIRE(f.replica->remove("person", "p1").is_ok());
  auto changes = f.pending();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == PendingChange::Kind::kDelete);
  REQUIRE(f.replica->insert("person", person("p1", "Siti lagi")).is_ok());
  changes = f.pending();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == PendingChange::Kind::kInsert);
}

TEST_CASE("a multi-row statement stamps every row distinctly", "[replica]") {
  Fixture f;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(f.replica->insert("person", person("p" + std::to_string(i), "X")).is_ok());
  }
  PlainConnection app(f.path);
  REQUIRE(app.exec("UPDATE person SET deceased = 1") == "");
  auto changes = f.pending();
  std::set<std::int64_t> stamps;
  int updates = 0;
  for (const auto& c : changes) {
    stamps.insert(c.hlc);
    updates += c.kind == PendingChange::Kind::kUpdate;
  }
  CHECK(updates == 5);
  CHECK(stamps.size() == changes.size());
}

TEST_CASE("stamps stay strictly increasing when the clock stands still or jumps back",
          "[replica]") {
  Fixture f;
  std::int64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    if (i == 10) f.clock->set(kT0 - 3600 * 1000);  // an hour back
    REQUIRE(f.replica
                ->put("person", "p1",
                      {{"village_id", "v1"},
                       {"full_name", "n" + std::to_string(i)},
                       {"created_by", "s"},
                       {"created_at", "t"}})
                .is_ok());
    auto changes = f.pending();
    std::int64_t newest = 0;
    for (const auto& c : changes) newest = std::max(newest, c.hlc);
    CHECK(newest > last);
    last = newest;
  }
}

TEST_CASE("the clock persists: after a reopen with a clock in the past, stamps still grow",
          "[replica]") {
  TempDir dir;
  const std::string path = dir.file("r.db");
  auto clock = std::make_shared<FakeClock>(kT0);
  std::int64_t before = 0;
  {
    auto replica = lumbung::test::open_replica(lumbung::test::options_for(path, clock));
    REQUIRE(replica->insert("person", person("p1", "Siti")).is_ok());
    before = replica->pending_changes()->front().hlc;
  }
  clock->set(kT0 - 86400 * 1000);  // the phone's clock was reset a day back
  auto replica = lumbung::test::open_replica(lumbung::test::options_for(path, clock));
  REQUIRE(replica->insert("person", person("p2", "Dewi")).is_ok());
  auto changes = replica->pending_changes();
  REQUIRE(changes->size() == 2);
  CHECK(changes->back().hlc == before + 1);
}

TEST_CASE("a rolled-back transaction leaves no row and no pending change", "[replica]") {
  Fixture f;
  Status status = f.replica->transaction([&]() -> Status {
    LUMBUNG_RETURN_IF_ERROR(f.replica->insert("person", person("p1", "Siti")));
    return Status(ErrorCode::kInvalidArgument, "changed my mind");
  });
  CHECK(status.code() == ErrorCode::kInvalidArgument);
  CHECK(f.pending().empty());
  CHECK(!f.replica->get("person", "p1")->has_value());
}

TEST_CASE("a change's base is the scope cursor at edit time, kept by later edits", "[replica]") {
  Fixture f;
  PlainConnection app(f.path);
  REQUIRE(app.exec("INSERT INTO _lumbung_scope (scope, cursor) VALUES ('v1', 40)") == "");
  REQUIRE(f.replica->insert("person", person("p1", "Siti")).is_ok());
  REQUIRE(f.replica->update("person", "p1", {{"phone", "1"}}).is_ok());
  // A pull folds the capture log into the outbox before it moves a cursor;
  // reading the pending changes folds it the same way.
  REQUIRE(f.pending().size() == 2);
  REQUIRE(app.exec("UPDATE _lumbung_scope SET cursor = 70") == "");
  REQUIRE(f.replica->update("person", "p1", {{"phone", "2"}}).is_ok());
  REQUIRE(f.replica->update("person", "p1", {{"skills", "tani"}}).is_ok());
  for (const auto& c : f.pending()) {
    CHECK(c.base_seq == (c.column == "skills" ? 70 : 40));
  }
}

TEST_CASE("the id of a synced row cannot change, through any connection", "[replica]") {
  Fixture f;
  REQUIRE(f.replica->insert("person", person("p1", "Siti")).is_ok());
  PlainConnection app(f.path);
  CHECK(app.exec("UPDATE person SET id = 'p2' WHERE id = 'p1'").find("cannot change") !=
        std::string::npos);
  CHECK(f.replica->update("person", "p1", {{"id", "p2"}}).code() == ErrorCode::kInvalidArgument);
  CHECK(f.pending().size() == 1);
}
