// Device sync against the real server core, in memory: convergence, merging
// edits field by field, conflicts, deletes, the pending overlay, refused
// changes, paging, checksum healing, the HLC receive rule and callbacks.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/schema.hpp"
#include "protocol/wire.hpp"
#include "sync_fixture.hpp"

using namespace lumbung;
using lumbung::test::household;
using lumbung::test::kVillageA;
using lumbung::test::kVillageB;
using lumbung::test::PlainConnection;
using lumbung::test::SyncWorld;

namespace {

// Runs SQL on a device's file from another connection, as an app or a repair
// tool would; with `applying` the write is not captured (as Lumbung's own).
void plain_sql(SyncWorld& world, int device, const std::string& sql, bool applying = false) {
  PlainConnection connection(world.path(device));
  const std::string wrapped = applying ? "BEGIN; UPDATE _lumbung_clock SET applying = 1; " + sql +
                                             "; UPDATE _lumbung_clock SET applying = 0; COMMIT"
                                       : sql;
  INFO(wrapped);
  REQUIRE(connection.exec(wrapped).empty());
}

}  // namespace

TEST_CASE("devices converge with the server", "[replica][sync]") {
  SyncWorld world;
  const int sri = world.add_device("sri");
  const int ani = world.add_device("ani");
  const int budi = world.add_device("budi");
  for (int i = 0; i < 3; ++i) {
    REQUIRE(world.device(sri)
                .insert("household", household("h-a" + std::to_string(i), kVillageA,
                                               {{"head_name", "Tarsono " + std::to_string(i)}}))
                .is_ok());
  }
  REQUIRE(world.device(ani)
              .insert("household", household("h-b", kVillageB, {{"latitude", -6.4375}}))
              .is_ok());

  const SyncSummary first = world.sync(sri);
  CHECK(first.pushed == 3);
  CHECK(first.applied == 3);
  CHECK(first.refused == 0);
  CHECK(first.bytes_sent > 0);
  CHECK(first.bytes_received > 0);
  world.sync(ani);
  const SyncSummary third = world.sync(budi);
  CHECK(third.pushed == 0);
  CHECK(third.pulled == 4);
  world.sync(sri);
  world.sync(ani);
  world.check_converged();
  CHECK(world.cell(budi, "household", "h-b", "latitude") == Value(-6.4375));

  // A sync after a restart of the server, with nothing new, changes nothing.
  world.restart_server();
  const std::string before = world.server_dump();
  const SyncSummary idle = world.sync(budi);
  CHECK(idle.pushed == 0);
  CHECK(idle.pulled == 0);
  CHECK(world.dump(budi) == before);
  Result<ReplicaStatus> status = world.device(budi).status();
  REQUIRE(status.is_ok());
  CHECK(status->last_sync);
  CHECK(status->last_sync->size() == 20);  // 2026-11-28T04:07:26Z
}

TEST_CASE("edits of different fields of one row both survive", "[replica][sync]") {
  SyncWorld world;
  const int ani = world.add_device("ani");
  const int budi = world.add_device("budi");
  REQUIRE(world.device(ani).insert("household", household("h1", kVillageA)).is_ok());
  world.sync(ani);
  world.sync(budi);

  REQUIRE(world.device(ani).update("household", "h1", {{"phone", "+6281324567801"}}).is_ok());
  world.clock().advance(1000);
  REQUIRE(world.device(budi).update("household", "h1", {{"notes", "two rooms"}}).is_ok());
  world.sync(ani);
  const SyncSummary budi_sync = world.sync(budi);
  CHECK(budi_sync.applied == 1);
  CHECK(budi_sync.conflicts == 0);
  world.sync(ani);

  world.check_converged();
  for (int device : {ani, budi}) {
    CHECK(world.cell(device, "household", "h1", "phone") == Value("+6281324567801"));
    CHECK(world.cell(device, "household", "h1", "notes") == Value("two rooms"));
  }
  CHECK(world.device(ani).conflicts()->empty());
}

TEST_CASE("a concurrent edit of one field is resolved by its policy and reported on both devices",
          "[replica][sync]") {
  SyncWorld world;
  const int ani = world.add_device("ani");
  const int budi = world.add_device("budi");
  REQUIRE(world.device(ani).insert("household", household("h1", kVillageA)).is_ok());
  REQUIRE(world.device(ani)
              .insert("person", {{"id", "p1"},
                                 {"village_id", kVillageA},
                                 {"full_name", "Warsih"},
                                 {"created_by", "ani"},
                                 {"created_at", "2026-11-28T08:00:00Z"}})
              .is_ok());
  world.sync(ani);
  world.sync(budi);

  SECTION("last writer wins: the later stamp stays, whatever the order of the syncs") {
    REQUIRE(world.device(ani).update("household", "h1", {{"head_name", "Tarsono"}}).is_ok());
    world.clock().advance(1000);
    REQUIRE(
        world.device(budi).update("household", "h1", {{"head_name", "Tarsono Bin Kasim"}}).is_ok());
    world.sync(budi);
    const SyncSummary late = world.sync(ani);  // its older write loses
    CHECK(late.superseded == 1);
    CHECK(late.conflicts == 1);
    // The server's value shows at once, before any pull could bring it.
    CHECK(world.cell(ani, "household", "h1", "head_name") == Value("Tarsono Bin Kasim"));
    world.sync(budi);
    world.check_converged();

    for (int device : {ani, budi}) {
      Result<std::vector<ConflictRecord>> conflicts = world.device(device).conflicts();
      REQUIRE(conflicts.is_ok());
      REQUIRE(conflicts->size() == 1);
      const ConflictRecord& conflict = conflicts->front();
      CHECK(conflict.table == "household");
      CHECK(conflict.row_id == "h1");
      CHECK(conflict.column == "head_name");
      CHECK(conflict.policy == "last_writer_wins");
      CHECK(conflict.server_value == Value("Tarsono Bin Kasim"));
      CHECK(conflict.server_device == "budi");
      CHECK(conflict.device_value == Value("Tarsono"));
      CHECK(conflict.device_id == "ani");
      CHECK(conflict.device_hlc < conflict.server_hlc);
      CHECK(conflict.outcome == "server_kept");
      CHECK(conflict.scope == kVillageA);
    }
  }
  SECTION("manual review: the server keeps its value until a supervisor decides") {
    REQUIRE(world.device(ani).update("person", "p1", {{"migrant_status", "AKTIF"}}).is_ok());
    world.clock().advance(1000);
    REQUIRE(world.device(budi).update("person", "p1", {{"migrant_status", "PURNA"}}).is_ok());
    world.sync(ani);
    const SyncSummary budi_sync = world.sync(budi);
    CHECK(budi_sync.superseded == 1);
    world.sync(ani);
    world.check_converged();
    CHECK(world.cell(budi, "person", "p1", "migrant_status") == Value("AKTIF"));
    for (int device : {ani, budi}) {
      Result<std::vector<ConflictRecord>> conflicts = world.device(device).conflicts();
      REQUIRE(conflicts.is_ok());
      REQUIRE(conflicts->size() == 1);
      CHECK(conflicts->front().policy == "manual_review");
      CHECK(conflicts->front().outcome == "pending_review");
      CHECK(conflicts->front().device_value == Value("PURNA"));
    }
  }
}

TEST_CASE("a delete wins over a concurrent edit", "[replica][sync]") {
  SyncWorld world;
  const int sri = world.add_device("sri");
  const int budi = world.add_device("budi");
  REQUIRE(world.device(sri).insert("household", household("h1", kVillageA)).is_ok());
  world.sync(sri);
  world.sync(budi);
  REQUIRE(world.device(sri).remove("household", "h1").is_ok());
  world.clock().advance(1000);
  REQUIRE(world.device(budi).update("household", "h1", {{"notes", "moved to Batam"}}).is_ok());

  std::string expected_outcome;
  SECTION("the delete reaches the server first") {
    world.sync(sri);
    const SyncSummary edit = world.sync(budi);
    CHECK(edit.superseded == 1);
    expected_outcome = "server_kept";
  }
  SECTION("the edit reaches the server first") {
    world.sync(budi);
    const SyncSummary remove = world.sync(sri);
    CHECK(remove.applied == 1);
    expected_outcome = "device_applied";
  }
  world.sync(sri);
  world.sync(budi);
  world.check_converged();
  for (int device : {sri, budi}) {
    Result<std::optional<Row>> row = world.device(device).get("household", "h1");
    REQUIRE(row.is_ok());
    CHECK_FALSE(*row);
    Result<std::vector<ConflictRecord>> conflicts = world.device(device).conflicts();
    REQUIRE(conflicts.is_ok());
    REQUIRE(conflicts->size() == 1);
    CHECK(conflicts->front().policy == "delete_wins");
    CHECK(conflicts->front().outcome == expected_outcome);
  }
}

TEST_CASE("a pending local edit stays visible over the server's value until acknowledged",
          "[replica][sync]") {
  SyncWorld world;
  const int ani = world.add_device("ani");
  const int budi = world.add_device("budi");
  REQUIRE(world.device(ani).insert("household", household("h1", kVillageA)).is_ok());
  world.sync(ani);
  world.sync(budi);
  bool wrote = false;
  SyncOptions options = world.options();

  SECTION("a write made while a pull is on its way is not overwritten by the page") {
    REQUIRE(world.device(budi)
                .update("household", "h1", {{"phone", "budi"}, {"dusun", "budi"}})
                .is_ok());
    world.sync(budi);
    world.clock().advance(1000);
    options.transport = std::make_shared<lumbung::test::HookTransport>(
        world.transport(), [&](const HttpRequest& request) -> std::optional<Result<HttpResponse>> {
          if (request.target == "/v1/pull" && !wrote) {
            wrote = true;
            REQUIRE(world.device(ani).update("household", "h1", {{"phone", "ani"}}).is_ok());
          }
          return std::nullopt;
        });
    world.sync(ani, options);
    // The page brought both of budi's cells; ani's pending one stays in view.
    CHECK(world.cell(ani, "household", "h1", "phone") == Value("ani"));
    CHECK(world.cell(ani, "household", "h1", "dusun") == Value("budi"));
    REQUIRE(world.device(ani).pending_changes()->size() == 1);
  }
  SECTION("a write made while a push is on its way survives the push's outcome") {
    // ani's phone is older than budi's: the push comes back superseded, with
    // budi's phone as the server's cell, after ani wrote the phone again.
    REQUIRE(world.device(ani).update("household", "h1", {{"phone", "ani-old"}}).is_ok());
    world.clock().advance(1000);
    REQUIRE(world.device(budi).update("household", "h1", {{"phone", "budi"}}).is_ok());
    world.sync(budi);
    world.clock().advance(1000);
    // The write comes from another thread of the app, through its own handle:
    // the push is on its way on a thread of the sync's.
    std::unique_ptr<Replica> app = world.open_again(ani);
    options.transport = std::make_shared<lumbung::test::HookTransport>(
        world.transport(), [&](const HttpRequest& request) -> std::optional<Result<HttpResponse>> {
          if (request.target == "/v1/push" && !wrote) {
            wrote = true;
            REQUIRE(app->update("household", "h1", {{"phone", "ani"}}).is_ok());
          }
          return std::nullopt;
        });
    // The newer write goes out in the sync's next batch, and wins.
    const SyncSummary summary = world.sync(ani, options);
    CHECK(summary.superseded == 1);
    CHECK(summary.applied == 1);
    CHECK(world.cell(ani, "household", "h1", "phone") == Value("ani"));
  }
  REQUIRE(wrote);
  // Acknowledged by the next sync at the latest: the newer write wins everywhere.
  world.sync(ani);
  world.sync(budi);
  world.check_converged();
  CHECK(world.cell(budi, "household", "h1", "phone") == Value("ani"));
}

TEST_CASE("a refused change is set aside while later changes flow, and retried after a fix",
          "[replica][sync]") {
  SyncWorld world;
  const int ani = world.add_device("ani");
  const int budi = world.add_device("budi");
  REQUIRE(world.device(ani).insert("household", household("h1", kVillageA)).is_ok());
  REQUIRE(world.device(ani).insert("household", household("h9", kVillageA)).is_ok());
  world.sync(ani);
  world.sync(budi);

  // Plain SQL gets past the API's type checks (SQLite does not enforce
  // types); the server refuses the value. The change after it is accepted.
  plain_sql(world, ani, "UPDATE household SET latitude = 'north' WHERE id = 'h1'");
  REQUIRE(world.device(ani).update("household", "h9", {{"phone", "0812"}}).is_ok());
  const SyncSummary refused = world.sync(ani);
  CHECK(refused.pushed == 2);
  CHECK(refused.applied == 1);
  CHECK(refused.refused == 1);
  CHECK(world.device(ani).pending_changes()->empty());
  Result<std::vector<RefusedChange>> set_aside = world.device(ani).refused_changes();
  REQUIRE(set_aside.is_ok());
  REQUIRE(set_aside->size() == 1);
  CHECK(set_aside->front().table == "household");
  CHECK(set_aside->front().row_id == "h1");
  CHECK(set_aside->front().column == "latitude");
  CHECK(set_aside->front().reason == "type_mismatch");
  CHECK_FALSE(set_aside->front().message.empty());
  CHECK(world.device(ani).status()->refused_changes == 1);

  // Later changes keep flowing, up and down.
  REQUIRE(world.device(ani).update("household", "h9", {{"notes", "after"}}).is_ok());
  CHECK(world.sync(ani).applied == 1);
  world.sync(budi);
  CHECK(world.cell(budi, "household", "h9", "phone") == Value("0812"));
  CHECK(world.cell(budi, "household", "h9", "notes") == Value("after"));
  CHECK(world.cell(budi, "household", "h1", "latitude").is_null());
  CHECK(world.device(ani).refused_changes()->size() == 1);

  SECTION("an update, fixed by a repair that is not itself a change") {
    plain_sql(world, ani, "UPDATE household SET latitude = -6.25 WHERE id = 'h1'",
              /*applying=*/true);
    CHECK(world.device(ani).pending_changes()->empty());
    REQUIRE(world.device(ani).retry_refused().is_ok());
    CHECK(world.device(ani).refused_changes()->empty());
    REQUIRE(world.device(ani).pending_changes()->size() == 1);
    CHECK(world.sync(ani).applied == 1);
    world.sync(budi);
    CHECK(world.cell(budi, "household", "h1", "latitude") == Value(-6.25));
  }
  SECTION("a later write of the cell, accepted, makes its refusal moot") {
    REQUIRE(world.device(ani).update("household", "h1", {{"latitude", -6.75}}).is_ok());
    CHECK(world.sync(ani).applied == 1);
    CHECK(world.device(ani).refused_changes()->empty());
    world.sync(budi);
    CHECK(world.cell(budi, "household", "h1", "latitude") == Value(-6.75));
  }
  SECTION("an insert, fixed through the API") {
    plain_sql(world, ani,
              "INSERT INTO household (id, village_id, latitude, created_by, created_at) "
              "VALUES ('h2', '" +
                  std::string(kVillageA) + "', 'south', 'ani', 'today')");
    CHECK(world.sync(ani).refused == 1);
    CHECK(world.device(ani).refused_changes()->size() == 2);
    // The fix is an update of a row the server does not have: retrying the
    // insert carries it, instead of an update the server would refuse.
    REQUIRE(world.device(ani).update("household", "h2", {{"latitude", -6.5}}).is_ok());
    REQUIRE(world.device(ani).update("household", "h1", {{"latitude", -6.25}}).is_ok());
    REQUIRE(world.device(ani).retry_refused().is_ok());
    const SyncSummary retried = world.sync(ani);
    CHECK(retried.applied == 2);
    CHECK(retried.refused == 0);
    CHECK(world.device(ani).refused_changes()->empty());
    world.sync(budi);
    CHECK(world.cell(budi, "household", "h2", "latitude") == Value(-6.5));
  }
  world.check_converged();
}

TEST_CASE("pulls come in pages of the size asked for", "[replica][sync]") {
  SyncWorld world;
  const int sri = world.add_device("sri");
  const int fresh = world.add_device("fresh");
  REQUIRE(world.device(sri)
              .transaction([&]() -> Status {
                for (int i = 0; i < 60; ++i) {
                  LUMBUNG_RETURN_IF_ERROR(world.device(sri).insert(
                      "household", household("h" + std::to_string(100 + i), kVillageA,
                                             {{"notes", std::string(40, 'x')}})));
                }
                return Status::ok();
              })
              .is_ok());
  SyncOptions small = world.options();
  small.push_batch_changes = 7;
  int batches = 0;
  small.on_progress = [&](const SyncProgress& progress) {
    if (progress.phase == SyncProgress::Phase::kPush) ++batches;
  };
  CHECK(world.sync(sri, small).pushed == 60);
  CHECK(batches == 9);

  SyncOptions paged = world.options();
  paged.page_budget_bytes = 1024;
  int pages = 0;
  paged.on_progress = [&](const SyncProgress& progress) {
    if (progress.phase == SyncProgress::Phase::kPull) ++pages;
  };
  CHECK(world.sync(fresh, paged).pulled == 60);
  CHECK(pages >= 10);
  world.check_converged();
}

TEST_CASE("the batch made while one is on its way goes after all of that one", "[replica][sync]") {
  SyncWorld world;
  const int sri = world.add_device("sri");
  REQUIRE(world.device(sri)
              .transaction([&]() -> Status {
                for (int i = 0; i < 20; ++i) {
                  LUMBUNG_RETURN_IF_ERROR(world.device(sri).insert(
                      "household", household("h" + std::to_string(100 + i), kVillageA)));
                }
                return Status::ok();
              })
              .is_ok());
  // The rows of each batch as sent; the server's answer to the first batch
  // leaves its last change without an outcome, as a server may.
  std::vector<std::vector<std::string>> sent;
  SyncOptions options = world.options();
  options.push_batch_changes = 6;
  options.transport = std::make_shared<lumbung::test::HookTransport>(
      world.transport(), [&](const HttpRequest& request) -> std::optional<Result<HttpResponse>> {
        if (request.target != "/v1/push") return std::nullopt;
        v1::PushRequest push;
        REQUIRE(protocol::decode_body(request.headers, request.body, 1 << 24, &push).is_ok());
        sent.emplace_back();
        for (const v1::Change& change : push.changes()) sent.back().push_back(change.row_id());
        Result<HttpResponse> answer = world.transport()->exchange(request);
        if (sent.size() > 1 || !answer.is_ok()) return answer;
        v1::PushResponse response;
        REQUIRE(protocol::decode_body(answer->headers, answer->body, 1 << 24, &response).is_ok());
        response.mutable_outcomes()->RemoveLast();
        return protocol::make_response(response);
      });
  const SyncSummary summary = world.sync(sri, options);
  CHECK(summary.pushed == 20);
  REQUIRE(sent.size() == 4);
  const std::vector<std::string> first = {"h100", "h101", "h102", "h103", "h104", "h105"};
  CHECK(sent[0] == first);
  // The change left unanswered goes out again before anything after it.
  const std::vector<std::string> second = {"h105", "h106", "h107", "h108", "h109", "h110"};
  CHECK(sent[1] == second);
  CHECK(sent[3].back() == "h119");
  CHECK(world.device(sri).pending_changes()->empty());
  world.check_converged();
}

TEST_CASE("a checksum mismatch heals that scope alone", "[replica][sync]") {
  SyncWorld world;
  const int sri = world.add_device("sri");
  for (int i = 0; i < 3; ++i) {
    REQUIRE(
        world.device(sri)
            .insert("household", household("ha" + std::to_string(i), kVillageA, {{"notes", "a"}}))
            .is_ok());
  }
  for (int i = 0; i < 2; ++i) {
    REQUIRE(world.device(sri)
                .insert("household", household("hb" + std::to_string(i), kVillageB))
                .is_ok());
  }
  world.sync(sri);
  CHECK(world.sync(sri).pulled == 0);

  // Damage that no change records: a cell changed and a row lost.
  plain_sql(world, sri,
            "UPDATE household SET notes = 'tampered' WHERE id = 'ha0'; "
            "DELETE FROM household WHERE id = 'ha1'",
            /*applying=*/true);
  REQUIRE(world.device(sri).pending_changes()->empty());
  const SyncSummary healed = world.sync(sri);
  CHECK(healed.pulled == 3);  // village A again, not village B
  world.check_converged();
  CHECK(world.cell(sri, "household", "ha0", "notes") == Value("a"));
  CHECK(world.sync(sri).pulled == 0);
}

TEST_CASE("a device's own writes do not come back to it, unless it lacks them", "[replica][sync]") {
  SyncWorld world;
  const int sri = world.add_device("sri");
  const int ani = world.add_device("ani");
  for (int i = 0; i < 3; ++i) {
    REQUIRE(world.device(sri)
                .insert("household",
                        household("h" + std::to_string(i), kVillageA, {{"head_name", "Tarsono"}}))
                .is_ok());
  }
  const SyncSummary pushed = world.sync(sri);
  CHECK(pushed.applied == 3);
  CHECK(pushed.pulled == 0);
  CHECK(world.sync(ani).pulled == 3);

  // A row of sri's that ani edits comes back with ani's cell alone.
  REQUIRE(world.device(ani).update("household", "h0", {{"head_name", "Warsini"}}).is_ok());
  REQUIRE(world.device(sri).update("household", "h1", {{"dusun", "Krajan"}}).is_ok());
  CHECK(world.sync(ani).pulled == 0);
  CHECK(world.sync(sri).pulled == 1);
  CHECK(world.sync(ani).pulled == 1);
  world.check_converged();  // the checksums agreed: nothing was healed

  // The same device id on a new replica (an app reinstalled) lacks its
  // writes: its last push is not the server's last batch from it.
  world.while_closed(sri, [&] {
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(world.path(sri) + suffix);
  });
  CHECK(world.sync(sri).pulled == 3);
  world.check_converged();
}

TEST_CASE("with wait_seconds, a caught-up sync waits for news and pulls it", "[replica][sync]") {
  SyncWorld world;
  const int ani = world.add_device("ani");
  const int budi = world.add_device("budi");
  SyncOptions waiting = world.options();
  waiting.wait_seconds = 20;
  // The waiting pull says how long it may wait in a header too, for
  // transports (docs/protocol.md, "Transport").
  std::promise<std::string> waited;
  bool seen = false;
  waiting.transport = std::make_shared<test::HookTransport>(
      world.transport(), [&](const HttpRequest& request) -> std::optional<Result<HttpResponse>> {
        const std::optional<std::string_view> wait =
            find_header(request.headers, kLongPollWaitHeader);
        if (wait && !seen) {
          seen = true;
          waited.set_value(std::string(*wait));
        }
        return std::nullopt;
      });
  const auto start = std::chrono::steady_clock::now();
  Result<SyncSummary> summary = Status(ErrorCode::kInternal, "not run");
  std::thread poller([&] { summary = world.device(ani).sync(waiting); });
  std::future<std::string> wait = waited.get_future();
  REQUIRE(wait.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(wait.get() == "20");
  REQUIRE(world.device(budi).insert("household", household("h1", kVillageA)).is_ok());
  world.sync(budi);  // its commit answers ani's waiting pull
  poller.join();
  REQUIRE(summary.is_ok());
  CHECK(summary->pulled == 1);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(15));
  world.check_converged();
}

namespace {

// The built-in schema as version 2, with a column the version 1 app lacks.
std::string schema_with_nickname() {
  nlohmann::json schema = nlohmann::json::parse(core::builtin_schema_text());
  schema["version"] = 2;
  for (auto& table : schema["tables"]) {
    if (table["name"] == "household") {
      table["columns"].push_back({{"name", "nickname"}, {"type", "text"}});
    }
  }
  return schema.dump();
}

}  // namespace

TEST_CASE("a device on an older schema ignores newer columns and does not re-download for them",
          "[replica][sync]") {
  lumbung::test::TempDir dir;
  auto clock = std::make_shared<lumbung::test::FakeClock>(lumbung::test::wall_clock_ms());
  server::ServerOptions server_options;
  server_options.data_dir = dir.file("server");
  server_options.schema_text = schema_with_nickname();
  server_options.clock = clock;
  server_options.insecure_no_auth = true;
  std::unique_ptr<server::SyncServer> server = server::SyncServer::open(server_options).value();
  SyncOptions options;
  options.transport = std::make_shared<lumbung::test::MemoryTransport>(server.get());
  ReplicaOptions newer_options = lumbung::test::options_for(dir.file("newer.db"), clock);
  newer_options.schema_text = server_options.schema_text;
  std::unique_ptr<Replica> newer = lumbung::test::open_replica(newer_options);
  ReplicaOptions older_options = lumbung::test::options_for(dir.file("older.db"), clock);
  std::unique_ptr<Replica> older = lumbung::test::open_replica(older_options);

  REQUIRE(newer->insert("household", household("h1", kVillageA, {{"nickname", "Pak RT"}})).is_ok());
  REQUIRE(newer->sync(options).is_ok());
  CHECK(older->sync(options)->pulled == 1);
  CHECK(older->sync(options)->pulled == 0);  // the checksum cannot match: not compared
  REQUIRE(older->update("household", "h1", {{"head_name", "Tarsono"}}).is_ok());
  REQUIRE(older->sync(options).is_ok());
  REQUIRE(newer->sync(options).is_ok());
  CHECK(newer->dump_json().value() == server->dump_json().value());
  const Row row = newer->get("household", "h1").value().value();
  CHECK(row.at("nickname") == Value("Pak RT"));  // kept on the server
  CHECK(row.at("head_name") == Value("Tarsono"));

  // Once the app moves to version 2 the new column is empty on the device:
  // the scope's checksum now differs, and the scope is downloaded again.
  older.reset();
  older_options.schema_text = server_options.schema_text;
  older = lumbung::test::open_replica(older_options);
  CHECK(older->get("household", "h1").value()->at("nickname").is_null());
  CHECK(older->sync(options)->pulled == 1);
  CHECK(older->dump_json().value() == server->dump_json().value());
}

TEST_CASE("a device whose clock lags stamps its writes after what it pulled", "[replica][sync]") {
  SyncWorld world;
  const int ani = world.add_device("ani");
  ReplicaOptions lagging = lumbung::test::options_for(
      world.dir().file("lagging.db"),
      std::make_shared<lumbung::test::FakeClock>(world.clock().now_ms() - 3600 * 1000));
  lagging.device_id = "lagging";
  std::unique_ptr<Replica> late = lumbung::test::open_replica(lagging);

  REQUIRE(world.device(ani).insert("household", household("h1", kVillageA)).is_ok());
  REQUIRE(world.device(ani).update("household", "h1", {{"phone", "ani"}}).is_ok());
  const std::int64_t seen = world.device(ani).pending_changes()->back().hlc;
  world.sync(ani);
  REQUIRE(late->sync(world.options()).is_ok());
  // Made after it saw ani's write, so stamped after it (and so winning under
  // last-writer-wins), although its wall clock is an hour behind.
  REQUIRE(late->update("household", "h1", {{"phone", "lagging"}}).is_ok());
  Result<std::vector<PendingChange>> pending = late->pending_changes();
  REQUIRE(pending.is_ok());
  REQUIRE(pending->size() == 1);
  CHECK(pending->front().hlc > seen);
  REQUIRE(late->sync(world.options()).is_ok());
  world.sync(ani);
  CHECK(world.cell(ani, "household", "h1", "phone") == Value("lagging"));
}

TEST_CASE("callbacks report progress, changed rows and conflicts", "[replica][sync]") {
  SyncWorld world;
  const int ani = world.add_device("ani");
  const int budi = world.add_device("budi");
  REQUIRE(world.device(ani).insert("household", household("h1", kVillageA)).is_ok());
  REQUIRE(world.device(ani).insert("household", household("h2", kVillageA)).is_ok());
  world.sync(ani);
  REQUIRE(world.device(ani).update("household", "h1", {{"dusun", "Blok Karang"}}).is_ok());

  std::vector<SyncProgress::Phase> phases;
  std::vector<std::string> changed;
  std::vector<ConflictRecord> conflicts;
  SyncOptions options = world.options();
  options.on_progress = [&](const SyncProgress& progress) { phases.push_back(progress.phase); };
  options.on_changed_rows = [&](const std::vector<ChangedRows>& rows) {
    for (const ChangedRows& table : rows) {
      for (const std::string& id : table.ids) changed.push_back(table.table + "/" + id);
    }
  };
  options.on_conflict = [&](const ConflictRecord& conflict) { conflicts.push_back(conflict); };
  world.sync(budi, options);
  CHECK(phases.front() == SyncProgress::Phase::kPull);
  CHECK(phases.back() == SyncProgress::Phase::kDone);
  std::sort(changed.begin(), changed.end());
  CHECK(changed == std::vector<std::string>{"household/h1", "household/h2"});
  CHECK(conflicts.empty());

  world.clock().advance(1000);
  REQUIRE(world.device(budi).update("household", "h1", {{"dusun", "Blok Tengah"}}).is_ok());
  phases.clear();
  changed.clear();
  world.sync(ani);  // ani's older dusun reaches the server first
  world.sync(budi, options);
  CHECK(phases.front() == SyncProgress::Phase::kPush);
  CHECK(conflicts.size() == 1);
  // The conflict arrives again with the pulled page: reported once.
  world.sync(budi, options);
  CHECK(conflicts.size() == 1);
  world.sync(ani);
  world.check_converged();
}

TEST_CASE("sync refuses to run without a server or inside a transaction", "[replica][sync]") {
  lumbung::test::TempDir dir;
  std::unique_ptr<Replica> replica =
      lumbung::test::open_replica(lumbung::test::options_for(dir.file("r.db")));
  Result<SyncSummary> no_server = replica->sync();
  CHECK(no_server.status().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(no_server.status().message(), Catch::Matchers::Contains("server URL"));
  Status inside = replica->transaction([&]() -> Status { return replica->sync().status(); });
  CHECK(inside.code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(inside.message(), Catch::Matchers::Contains("inside a transaction"));
}
