// Replica::resolve_conflict: a supervisor's device settles a manual-review
// conflict, and the resolution reaches every device of the village; and the
// upgrade of a replica file made before conflicts could be resolved.
#include <catch2/catch.hpp>

#include "replica/sync_fixture.hpp"

namespace lumbung::test {
namespace {

std::uint64_t only_conflict_id(Replica& replica) {
  Result<std::vector<ConflictRecord>> conflicts = replica.conflicts();
  REQUIRE(conflicts.is_ok());
  REQUIRE(conflicts->size() == 1);
  return conflicts->front().id;
}

ConflictResolution new_value(const Value& value) {
  ConflictResolution resolution;
  resolution.kind = ConflictResolution::Kind::kValue;
  resolution.value = value;
  return resolution;
}

}  // namespace

TEST_CASE("resolve_conflict: a supervisor's resolution reaches every device", "[replica][sync]") {
  SyncWorld world(/*authenticated=*/true);
  const int ani = world.add_device("ani", world.issue("ani", {kVillageA}));
  const int budi = world.add_device("budi", world.issue("budi", {kVillageA}));
  const int rina =
      world.add_device("rina", world.issue("rina", {kVillageA}, auth::Role::kSupervisor));
  REQUIRE(world.device(ani)
              .insert("person", {{"id", "p1"},
                                 {"village_id", kVillageA},
                                 {"full_name", "Warsih"},
                                 {"migrant_status", "CALON"},
                                 {"created_by", "ani"},
                                 {"created_at", "2026-11-28T08:00:00Z"}})
              .is_ok());
  world.sync(ani);
  world.sync(budi);
  REQUIRE(world.device(ani).update("person", "p1", {{"migrant_status", "AKTIF"}}).is_ok());
  world.clock().advance(1000);
  REQUIRE(world.device(budi).update("person", "p1", {{"migrant_status", "PURNA"}}).is_ok());
  world.sync(ani);
  world.sync(budi);
  world.sync(rina);
  world.sync(ani);
  const std::uint64_t id = only_conflict_id(world.device(rina));

  SECTION("an officer may not resolve") {
    Result<ConflictRecord> refused = world.device(ani).resolve_conflict(id, {}, world.options());
    CHECK(refused.status().code() == ErrorCode::kForbidden);
    CHECK(world.device(ani).conflicts()->front().outcome == "pending_review");
  }
  SECTION("a supervisor resolves, once; every device gets the value and the record") {
    world.clock().advance(1000);
    Result<ConflictRecord> resolved = world.device(rina).resolve_conflict(
        id, new_value(Value("NON_PROSEDURAL")), world.options());
    INFO(resolved.status().to_string());
    REQUIRE(resolved.is_ok());
    CHECK(resolved->id == id);
    CHECK(resolved->outcome == "resolved_value");
    CHECK(resolved->resolved_value == Value("NON_PROSEDURAL"));
    CHECK(resolved->resolved_by == "rina");
    CHECK(resolved->resolved_device == "rina");
    CHECK(resolved->resolved_ms == world.clock().now_ms());
    CHECK(resolved->server_value == Value("AKTIF"));
    CHECK(resolved->device_value == Value("PURNA"));
    // Kept on the resolving device at once, and the value in its table: the
    // server stamped it as this device's write, which pulls leave out.
    const std::vector<ConflictRecord> kept = *world.device(rina).conflicts();
    REQUIRE(kept.size() == 1);
    CHECK(kept.front().outcome == "resolved_value");
    CHECK(kept.front().resolved_by == "rina");
    CHECK(world.cell(rina, "person", "p1", "migrant_status") == Value("NON_PROSEDURAL"));

    Result<ConflictRecord> again = world.device(rina).resolve_conflict(id, {}, world.options());
    CHECK(again.status().code() == ErrorCode::kInvalidArgument);

    const SyncSummary ani_sync = world.sync(ani);
    CHECK(ani_sync.conflicts == 1);  // the resolution, reported as news
    world.sync(budi);
    world.sync(rina);
    world.check_converged();
    for (int device : {ani, budi, rina}) {
      INFO("device " << device);
      CHECK(world.cell(device, "person", "p1", "migrant_status") == Value("NON_PROSEDURAL"));
    }
    for (int device : {ani, rina}) {
      INFO("device " << device);
      const std::vector<ConflictRecord> conflicts = *world.device(device).conflicts();
      REQUIRE(conflicts.size() == 1);
      CHECK(conflicts.front().outcome == "resolved_value");
      CHECK(conflicts.front().resolved_value == Value("NON_PROSEDURAL"));
      CHECK(conflicts.front().resolved_by == "rina");
    }
  }
}

TEST_CASE("a replica of format /2 is upgraded in place when opened, to /5", "[replica]") {
  TempDir dir;
  const ReplicaOptions options = options_for(dir.file("old.db"));
  open_replica(options).reset();
  {
    // What a /2 file looks like: the conflict table without resolutions
    // (made anew rather than with DROP COLUMN, which SQLCipher's SQLite lacks).
    PlainConnection plain(options.path);
    REQUIRE(plain.exec("DROP TABLE _lumbung_conflict; CREATE TABLE _lumbung_conflict ("
                       "id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, row_id TEXT NOT NULL, "
                       "col TEXT NOT NULL, policy TEXT NOT NULL, server_value, "
                       "server_device TEXT NOT NULL, server_hlc INTEGER NOT NULL, device_value, "
                       "device_id TEXT NOT NULL, device_hlc INTEGER NOT NULL, "
                       "outcome TEXT NOT NULL, scope TEXT NOT NULL)") == "");
    // Nor the capture log of /4 and its columns of the clock row.
    REQUIRE(plain.exec("DROP TABLE _lumbung_log; DROP TABLE _lumbung_clock; "
                       "CREATE TABLE _lumbung_clock (id INTEGER PRIMARY KEY CHECK (id = 1), "
                       "hlc INTEGER NOT NULL, applying INTEGER NOT NULL DEFAULT 0); "
                       "INSERT INTO _lumbung_clock (id, hlc, applying) VALUES (1, 0, 0)") == "");
    // Nor the versions, the re-seed and their columns of /5.
    REQUIRE(plain.exec("DROP TABLE _lumbung_version; DROP TABLE _lumbung_reseed; "
                       "DROP TABLE _lumbung_scope; DROP TABLE _lumbung_outbox; "
                       "DROP TABLE _lumbung_push; "
                       "CREATE TABLE _lumbung_scope (scope TEXT PRIMARY KEY NOT NULL, "
                       "cursor INTEGER NOT NULL) WITHOUT ROWID; "
                       "CREATE TABLE _lumbung_outbox (tbl TEXT NOT NULL, row_id TEXT NOT NULL, "
                       "col TEXT NOT NULL, op INTEGER NOT NULL, hlc INTEGER NOT NULL, "
                       "base INTEGER NOT NULL, PRIMARY KEY (tbl, row_id, col)) WITHOUT ROWID; "
                       "CREATE TABLE _lumbung_push (id INTEGER PRIMARY KEY CHECK (id = 1), "
                       "next_batch INTEGER NOT NULL, inflight_batch INTEGER, "
                       "inflight_encoding TEXT, inflight_body BLOB); "
                       "INSERT INTO _lumbung_push (id, next_batch) VALUES (1, 1)") == "");
    REQUIRE(plain.exec("UPDATE _lumbung_meta SET value = 'lumbung-replica/2' "
                       "WHERE key = 'format'") == "");
  }
  std::unique_ptr<Replica> replica = open_replica(options);
  Result<std::vector<ConflictRecord>> conflicts = replica->conflicts();
  INFO(conflicts.status().to_string());
  CHECK(conflicts.is_ok());
  const Status inserted = replica->insert("person", {{"id", "p1"},
                                                     {"village_id", kVillageA},
                                                     {"full_name", "Warsih"},
                                                     {"created_by", "ani"},
                                                     {"created_at", "2026-11-28T08:00:00Z"}});
  INFO(inserted.to_string());
  CHECK(inserted.is_ok());
  replica.reset();
  PlainConnection plain(options.path);
  CHECK(plain.scalar("SELECT count(*) FROM _lumbung_meta WHERE key = 'format' "
                     "AND value = 'lumbung-replica/6'") == 1);
  CHECK(plain.scalar("SELECT count(*) FROM _lumbung_version") == 0);
  CHECK(plain.scalar("SELECT count(author) FROM _lumbung_outbox") == 0);
  CHECK(plain.scalar("SELECT count(resolved_ms) FROM _lumbung_conflict") == 0);  // -1: no column
  CHECK(plain.scalar("SELECT count(*) FROM _lumbung_log") == 1);
  // The triggers were made again with the log in them: a plain write's stamp
  // follows the logged one.
  CHECK(plain.exec("UPDATE person SET full_name = 'Warsih Binti Karta'") == "");
  CHECK(plain.scalar("SELECT hlc FROM _lumbung_clock") >
        plain.scalar("SELECT hlc FROM _lumbung_log"));
}

}  // namespace lumbung::test
