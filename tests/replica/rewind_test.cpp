// Going back in time (docs/protocol.md): a server restored from an old backup
// or started empty, and a replica restored from an old copy, lose no
// acknowledged row or cell. Devices and the server run in process
// (sync_fixture.hpp); tests/integration/rewind_test.cpp does it with real
// lumbungd processes and `lumbungd backup` and `restore`.
#include <catch2/catch.hpp>
#include <filesystem>
#include <vector>

#include "core/hlc.hpp"
#include "replica/sync_fixture.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

// The server's version of one cell: its stamp, or nullopt when it has none.
std::optional<core::Stamp> server_stamp(SyncWorld& world, const std::string& table,
                                        const std::string& row_id, const std::string& column) {
  std::optional<core::Stamp> stamp;
  const Status read = world.open_server_store()->read([&](server::ReadTransaction& txn) {
    Result<std::vector<server::StoredCell>> cells = txn.cells(table, row_id);
    if (!cells.is_ok()) return cells.status();
    for (const server::StoredCell& cell : *cells) {
      if (cell.column == column) stamp = cell.cell.version.stamp;
    }
    return Status::ok();
  });
  REQUIRE(read.is_ok());
  return stamp;
}

// Each device's sync, in `order`, then every device's again, so that what
// one re-offers reaches the others.
void sync_all(SyncWorld& world, const std::vector<int>& order) {
  for (const int device : order) world.sync(device);
  for (const int device : order) world.sync(device);
}

// Three officers of two villages, with rows the server acknowledged.
struct Village {
  SyncWorld world;
  int sri = world.add_device("sri");
  int ani = world.add_device("ani");
  int budi = world.add_device("budi");

  Village() {
    for (const char* id : {"h1", "h2", "h3"}) {
      REQUIRE(world.device(sri).insert("household", household(id, kVillageA)).is_ok());
    }
    REQUIRE(world.device(ani).insert("household", household("h4", kVillageA)).is_ok());
    REQUIRE(world.device(budi).insert("household", household("hb1", kVillageB)).is_ok());
    sync_all(world, {sri, ani, budi});
  }

  // What the officers do after the backup: new rows, edits and a delete, all
  // acknowledged and seen by the others.
  void work_after_backup() {
    REQUIRE(world.device(sri)
                .insert("household", household("h5", kVillageA, {{"head_name", "Karsih"}}))
                .is_ok());
    REQUIRE(world.device(sri).update("household", "h1", {{"head_name", "Siti"}}).is_ok());
    REQUIRE(world.device(sri).remove("household", "h2").is_ok());
    REQUIRE(world.device(ani)
                .insert("person", {{"id", "p1"},
                                   {"village_id", kVillageA},
                                   {"household_id", "h4"},
                                   {"full_name", "Warsih"},
                                   {"created_by", "ani"},
                                   {"created_at", "2026-11-28T08:00:00Z"}})
                .is_ok());
    REQUIRE(world.device(ani).update("household", "h4", {{"notes", "pindah RT 3"}}).is_ok());
    REQUIRE(world.device(budi).update("household", "hb1", {{"dusun", "Krajan"}}).is_ok());
    sync_all(world, {sri, ani, budi});
    world.check_converged();
  }

  // sri's note on h3, acknowledged by the server and then lost with a
  // restore of the backup taken before; budi syncs first after it.
  void restore_before_sris_note() {
    const std::string backup = world.back_up_server("nightly");
    REQUIRE(
        world.device(sri).update("household", "h3", {{"notes", "sri's, acknowledged"}}).is_ok());
    world.sync(sri);
    world.restore_server(backup);
    world.sync(budi);
  }
};

}  // namespace

TEST_CASE("a server restored from an older backup is re-seeded by its devices and loses nothing",
          "[replica][rewind]") {
  const std::vector<int> order =
      GENERATE(std::vector<int>{0, 1, 2}, std::vector<int>{2, 1, 0}, std::vector<int>{1, 2, 0});
  Village village;
  SyncWorld& world = village.world;
  const std::string backup = world.back_up_server("nightly");
  village.work_after_backup();
  const std::string acknowledged = world.server_dump();

  world.restore_server(backup);
  REQUIRE(world.server_dump() != acknowledged);
  sync_all(world, order);
  CHECK(world.server_dump() == acknowledged);
  world.check_converged();
  CHECK(world.cell(village.budi, "household", "h2", "id").is_null());  // the delete held
  // Nothing is left to re-offer.
  for (const int device : order) CHECK(world.sync(device).pushed == 0);
}

TEST_CASE("a server whose files were copied back by hand is re-seeded too", "[replica][rewind]") {
  // No new epoch: the devices see cursors and push batches ahead of the
  // server's, or a checksum that differs.
  Village village;
  SyncWorld& world = village.world;
  const std::string backup = world.back_up_server("copy");
  village.work_after_backup();
  const std::string acknowledged = world.server_dump();

  world.restore_server(backup, /*new_epoch=*/false);
  sync_all(world, {village.ani, village.budi, village.sri});
  CHECK(world.server_dump() == acknowledged);
  world.check_converged();
}

TEST_CASE("a server that lost its store is re-seeded whole by the officers' phones",
          "[replica][rewind]") {
  SyncWorld world(/*authenticated=*/true);
  const int sri = world.add_device("sri", world.issue("sri", {kVillageA}));
  const int ani = world.add_device("ani", world.issue("ani", {kVillageA, kVillageB}));
  for (int i = 0; i < 20; ++i) {
    const std::string id = "h" + std::to_string(i);
    REQUIRE(world.device(i % 2 ? ani : sri)
                .insert("household", household(id, kVillageA, {{"notes", "rumah " + id}}))
                .is_ok());
  }
  REQUIRE(world.device(ani).insert("household", household("hb", kVillageB)).is_ok());
  sync_all(world, {sri, ani});
  REQUIRE(world.device(ani).update("household", "h0", {{"notes", "ani's"}}).is_ok());
  sync_all(world, {sri, ani});
  const std::string acknowledged = world.server_dump();

  world.lose_server_store();
  REQUIRE(world.server_dump().find("h0") == std::string::npos);
  // The tokens still verify: the keys and credentials were not on that disk.
  sync_all(world, {sri, ani});
  CHECK(world.server_dump() == acknowledged);
  CHECK(world.dump(ani) == acknowledged);
  Result<std::string> village_a = world.server().dump_json(std::string(kVillageA));
  REQUIRE(village_a.is_ok());
  CHECK(world.dump(sri) == *village_a);
}

TEST_CASE("re-offered versions keep their original stamps and authors", "[replica][rewind]") {
  Village village;
  SyncWorld& world = village.world;
  const std::string backup = world.back_up_server("nightly");
  // sri writes after the backup; ani pulls it; sri's phone is then lost.
  REQUIRE(world.device(village.sri).update("household", "h1", {{"dusun", "Krajan"}}).is_ok());
  world.sync(village.sri);
  world.sync(village.ani);
  const std::optional<core::Stamp> written = server_stamp(world, "household", "h1", "dusun");
  REQUIRE(written);
  CHECK(written->device_id == "sri");

  world.restore_server(backup);
  CHECK(server_stamp(world, "household", "h1", "dusun") != written);
  world.sync(village.ani);
  CHECK(server_stamp(world, "household", "h1", "dusun") == written);
  CHECK(world.server_dump().find("Krajan") != std::string::npos);
  // The audit log names the device that re-offered it and its author.
  std::vector<server::AuditEntry> entries;
  REQUIRE(world.open_server_store()
              ->read([&](server::ReadTransaction& txn) {
                return txn.scan_audit({.scope = std::nullopt, .table = "household", .row_id = "h1"},
                                      [&](const server::AuditEntry& e) { entries.push_back(e); });
              })
              .is_ok());
  REQUIRE(!entries.empty());
  CHECK(entries.back().device_id == "ani");
  CHECK(entries.back().column == "dusun");
  CHECK(entries.back().detail == "re-offered; written by device 'sri'");
}

TEST_CASE("after a restore, an older version is not re-offered over a newer one",
          "[replica][rewind]") {
  Village village;
  SyncWorld& world = village.world;
  const int sri = village.sri, ani = village.ani, budi = village.budi;
  village.restore_before_sris_note();
  // budi, who learnt of the restore first, edits the cell afterwards.
  world.clock().advance(5000);
  REQUIRE(world.device(budi).update("household", "h3", {{"notes", "budi's, newer"}}).is_ok());
  world.sync(budi);
  CHECK(world.sync(sri).pushed == 0);
  sync_all(world, {sri, ani, budi});
  world.check_converged();
  CHECK(world.cell(ani, "household", "h3", "notes") == Value("budi's, newer"));
}

TEST_CASE("a re-offer meets a write made after the device re-seeded as any concurrent write does",
          "[replica][rewind]") {
  Village village;
  SyncWorld& world = village.world;
  const int sri = village.sri, ani = village.ani, budi = village.budi;
  village.restore_before_sris_note();
  // While sri re-seeds, between its pull and the push of its re-offer, budi
  // writes the cell: a write the re-offer was not made on.
  bool written = false;
  SyncOptions options = world.options();
  options.transport = std::make_shared<HookTransport>(
      world.transport(), [&](const HttpRequest& request) -> std::optional<Result<HttpResponse>> {
        if (request.target != "/v1/push" || written) return std::nullopt;
        written = true;
        world.clock().advance(5000);
        REQUIRE(world.device(budi).update("household", "h3", {{"notes", "budi's"}}).is_ok());
        world.sync(budi);
        return std::nullopt;
      });
  const SyncSummary reseeded = world.sync(sri, options);
  CHECK(written);
  CHECK(reseeded.superseded == 1);
  CHECK(reseeded.conflicts == 1);
  sync_all(world, {sri, ani, budi});
  world.check_converged();
  CHECK(world.cell(ani, "household", "h3", "notes") == Value("budi's"));
  Result<std::vector<ConflictRecord>> conflicts = world.device(ani).conflicts();
  REQUIRE(conflicts.is_ok());
  REQUIRE(conflicts->size() == 1);
  CHECK(conflicts->front().device_id == "sri");
  CHECK(conflicts->front().device_value == Value("sri's, acknowledged"));
  CHECK(conflicts->front().server_device == "budi");
  CHECK(conflicts->front().outcome == "server_kept");
}

TEST_CASE("a replica restored from an old copy takes a new device id and loses nothing",
          "[replica][rewind]") {
  const bool pending_after_restore = GENERATE(true, false);
  SyncWorld world(/*authenticated=*/true);
  const int sri = world.add_device("sri", world.issue("sri", {kVillageA}));
  const int ani = world.add_device("ani", world.issue("ani", {kVillageA}));
  REQUIRE(world.device(sri).insert("household", household("h1", kVillageA)).is_ok());
  world.sync(sri);
  const std::string copy = world.dir().file("sri-copy.db");
  world.while_closed(sri, [&] { std::filesystem::copy_file(world.path(sri), copy); });
  // The phone's life after the copy: acknowledged, then lost with the phone.
  REQUIRE(world.device(sri).insert("household", household("h2", kVillageA)).is_ok());
  REQUIRE(world.device(sri).update("household", "h1", {{"notes", "before the loss"}}).is_ok());
  world.sync(sri);
  world.while_closed(sri, [&] {
    std::filesystem::copy_file(copy, world.path(sri),
                               std::filesystem::copy_options::overwrite_existing);
  });
  if (pending_after_restore) {
    // Its next batch reuses a number the server has from the lost life.
    REQUIRE(world.device(sri).insert("household", household("h3", kVillageA)).is_ok());
    REQUIRE(world.device(sri).update("household", "h1", {{"head_name", "Darmi"}}).is_ok());
  }
  world.sync(sri);
  CHECK(world.device(sri).device_id() != "sri");
  world.sync(ani);
  world.sync(sri);
  world.check_converged();
  CHECK(world.cell(ani, "household", "h2", "id") == Value("h2"));
  CHECK(world.cell(ani, "household", "h1", "notes") == Value("before the loss"));
  if (pending_after_restore) {
    CHECK(world.cell(ani, "household", "h3", "id") == Value("h3"));
    CHECK(world.cell(ani, "household", "h1", "head_name") == Value("Darmi"));
  }
}

TEST_CASE("rows a device pulled before it kept versions are re-offered too, as the oldest",
          "[replica][rewind]") {
  Village village;
  SyncWorld& world = village.world;
  const std::string acknowledged = world.server_dump();
  // What a replica of format /4 holds: rows, no versions.
  world.while_closed(village.sri, [&] {
    PlainConnection plain(world.path(village.sri));
    REQUIRE(plain.exec("DELETE FROM _lumbung_version") == "");
  });
  world.lose_server_store();
  world.sync(village.sri);
  CHECK(world.server_dump() == acknowledged);
  // budi's versions, which it knows, are newer than those stamped 0.
  REQUIRE(world.device(village.budi).update("household", "h1", {{"rt", "07"}}).is_ok());
  sync_all(world, {village.budi, village.ani, village.sri});
  world.check_converged();
}

}  // namespace lumbung::test
