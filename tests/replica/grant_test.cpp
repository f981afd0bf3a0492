// A device under a token's grant (docs/security.md, "Roles and scopes"): it
// holds only the villages granted, follows a changed grant, and never drops
// its officer's work silently.
#include <catch2/catch.hpp>

#include "sync_fixture.hpp"

using namespace lumbung;
using lumbung::test::household;
using lumbung::test::kVillageA;
using lumbung::test::kVillageB;
using lumbung::test::SyncWorld;

namespace {

bool holds(SyncWorld& world, int device, const std::string& id) {
  Result<std::optional<Row>> row = world.device(device).get("household", id);
  REQUIRE(row.is_ok());
  return row->has_value();
}

}  // namespace

TEST_CASE("a device holds only its granted villages and follows a changed grant",
          "[replica][sync][auth]") {
  SyncWorld world(/*authenticated=*/true);
  const int office = world.add_device("office", world.issue("admin", {}, auth::Role::kAdmin));
  REQUIRE(world.device(office).insert("household", household("h-a", kVillageA)).is_ok());
  REQUIRE(world.device(office).insert("household", household("h-b", kVillageB)).is_ok());
  world.sync(office);

  const int sri = world.add_device("sri", world.issue("sri", {kVillageA}));
  world.sync(sri);
  CHECK(holds(world, sri, "h-a"));
  CHECK_FALSE(holds(world, sri, "h-b"));

  // A row written into a village outside the grant is refused alone; the
  // edit inside the grant goes through.
  REQUIRE(world.device(sri).insert("household", household("h-b2", kVillageB)).is_ok());
  REQUIRE(world.device(sri).update("household", "h-a", {{"notes", "visited"}}).is_ok());
  SyncSummary summary = world.sync(sri);
  CHECK(summary.refused == 1);
  CHECK(summary.applied == 1);
  Result<std::vector<RefusedChange>> refused = world.device(sri).refused_changes();
  REQUIRE(refused.is_ok());
  REQUIRE(refused->size() == 1);
  CHECK(refused->front().row_id == "h-b2");
  CHECK(refused->front().reason == "out_of_scope");

  // The operator moves sri to village B while an edit in A is pending.
  REQUIRE(world.device(sri).update("household", "h-a", {{"notes", "second visit"}}).is_ok());
  REQUIRE(world.device(sri).set_token(world.issue("sri", {kVillageB})).is_ok());
  world.ungrant("sri", {kVillageA});
  std::set<std::string> changed;
  SyncOptions options = world.options();
  options.on_changed_rows = [&](const std::vector<ChangedRows>& rows) {
    for (const ChangedRows& table : rows) changed.insert(table.ids.begin(), table.ids.end());
  };
  summary = world.sync(sri, options);
  CHECK(summary.refused == 1);
  CHECK_FALSE(holds(world, sri, "h-a"));                  // the lost village left the phone
  CHECK(holds(world, sri, "h-b"));                        // the new one arrived whole
  CHECK(changed == std::set<std::string>{"h-a", "h-b"});  // and the app heard of both
  refused = world.device(sri).refused_changes();
  REQUIRE(refused.is_ok());
  // As an update of a row that does not exist: the server tells nothing of
  // the rows of villages beyond the grant, but says whose grant it read.
  bool edit_reported = false;
  for (const RefusedChange& change : *refused) {
    edit_reported =
        edit_reported ||
        (change.row_id == "h-a" && change.column == "notes" && change.reason == "no_such_row" &&
         change.message.find("in a village granted to officer 'sri'") != std::string::npos);
  }
  CHECK(edit_reported);  // reported, never silently dropped
  CHECK(world.device(sri).pending_changes()->empty());

  // The server kept what the grant allowed, and nothing else.
  world.sync(office);
  CHECK(world.cell(office, "household", "h-a", "notes") == Value("visited"));
  CHECK_FALSE(holds(world, office, "h-b2"));
}
