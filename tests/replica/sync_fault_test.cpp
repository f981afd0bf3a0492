// Sync when things go wrong: lost answers, crashes (a reopened replica, and a
// real SIGKILL at every step of a sync), cancellation, transient failures and
// their backoff. Whatever happens, the next sync loses nothing and applies
// nothing twice.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "protocol/wire.hpp"
#include "sync_fixture.hpp"

using namespace lumbung;
using lumbung::test::HookTransport;
using lumbung::test::household;
using lumbung::test::kVillageA;
using lumbung::test::kVillageB;
using lumbung::test::LinkFault;
using lumbung::test::SyncWorld;

namespace {

using Answer = std::optional<Result<HttpResponse>>;

bool is_push(const HttpRequest& request) { return request.target == "/v1/push"; }

}  // namespace

TEST_CASE("a lost answer is retried with the same bytes and applies nothing twice",
          "[replica][sync]") {
  SyncWorld world;
  const int ani = world.add_device("ani");
  const int budi = world.add_device("budi");
  REQUIRE(world.device(ani).insert("household", household("h1", kVillageA)).is_ok());
  world.sync(ani);
  world.sync(budi);
  REQUIRE(world.device(ani).update("household", "h1", {{"phone", "ani"}}).is_ok());
  std::vector<std::string> pushes;  // ani's
  bool recording = true;
  world.transport()->set_faults([&](const HttpRequest& request) {
    if (!is_push(request) || !recording) return LinkFault::kNone;
    pushes.push_back(request.body);
    return pushes.size() == 1 ? LinkFault::kDropResponse : LinkFault::kNone;
  });

  SECTION("within the sync") {
    SyncOptions options = world.options();
    options.max_attempts = 3;
    const SyncSummary summary = world.sync(ani, options);
    CHECK(summary.pushed == 1);
    CHECK(summary.applied == 1);
  }
  SECTION("at the next sync, after another device wrote the same cell") {
    SyncOptions once = world.options();
    once.max_attempts = 1;
    Result<SyncSummary> lost = world.device(ani).sync(once);
    CHECK(lost.status().code() == ErrorCode::kNetwork);
    CHECK(world.device(ani).pending_changes()->size() == 1);
    world.clock().advance(1000);
    REQUIRE(world.device(budi).update("household", "h1", {{"phone", "budi"}}).is_ok());
    recording = false;
    world.sync(budi);  // later, concurrent with ani's: wins, and records a conflict
    recording = true;
    // Merged again, ani's batch would now be superseded and make a second conflict.
    const SyncSummary resumed = world.sync(ani);
    CHECK(resumed.applied == 1);
    CHECK(resumed.superseded == 0);
    CHECK(world.device(ani).conflicts()->size() == 1);
    CHECK(world.cell(ani, "household", "h1", "phone") == Value("budi"));
  }
  REQUIRE(pushes.size() == 2);
  CHECK(pushes[1] == pushes[0]);
  world.sync(budi);
  world.check_converged();
}

TEST_CASE("a crash between storing a batch and sending it loses and repeats nothing",
          "[replica][sync]") {
  SyncWorld world;
  const int ani = world.add_device("ani");
  const int budi = world.add_device("budi");
  REQUIRE(world.device(ani).insert("household", household("h1", kVillageA)).is_ok());
  REQUIRE(world.device(ani).insert("household", household("h2", kVillageA)).is_ok());
  std::vector<std::string> pushes;
  world.transport()->set_faults([&](const HttpRequest& request) {
    if (!is_push(request)) return LinkFault::kNone;
    pushes.push_back(request.body);
    return pushes.size() == 1 ? LinkFault::kDropRequest : LinkFault::kNone;
  });
  SyncOptions once = world.options();
  once.max_attempts = 1;
  CHECK(world.device(ani).sync(once).status().code() == ErrorCode::kNetwork);
  world.reopen(ani);

  // Written while the batch is in flight: it goes in the next batch.
  REQUIRE(world.device(ani).update("household", "h1", {{"phone", "0812"}}).is_ok());
  const SyncSummary resumed = world.sync(ani);
  CHECK(resumed.pushed == 3);
  CHECK(resumed.applied == 3);
  REQUIRE(pushes.size() == 3);
  CHECK(pushes[1] == pushes[0]);
  CHECK(pushes[2] != pushes[0]);
  world.sync(budi);
  world.check_converged();
  CHECK(world.cell(budi, "household", "h1", "phone") == Value("0812"));
}

TEST_CASE("a device restored from a backup pushes its changes again and loses none",
          "[replica][sync]") {
  SyncWorld world;
  const int ani = world.add_device("ani");
  const int budi = world.add_device("budi");
  REQUIRE(world.device(ani).insert("household", household("h1", kVillageA)).is_ok());
  world.sync(ani);  // batch 1
  // A closed replica's files, as a backup tool copies them.
  const auto copy_replica = [](const std::string& from, const std::string& to) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(to + suffix);
      if (std::filesystem::exists(from + suffix)) {
        std::filesystem::copy_file(from + suffix, to + suffix);
      }
    }
  };
  const std::string backup = world.dir().file("ani-backup.db");
  world.while_closed(ani, [&] { copy_replica(world.path(ani), backup); });
  REQUIRE(world.device(ani).update("household", "h1", {{"phone", "0811"}}).is_ok());
  world.sync(ani);  // batch 2

  // The phone is restored from the backup: it will number its next batch 2 again.
  world.while_closed(ani, [&] { copy_replica(backup, world.path(ani)); });
  REQUIRE(world.device(ani).insert("household", household("h2", kVillageA)).is_ok());
  const SyncSummary restored = world.sync(ani);
  CHECK(restored.applied == 1);
  world.sync(budi);
  world.check_converged();
  CHECK(world.cell(budi, "household", "h2", "village_id") == Value(kVillageA));
  CHECK(world.cell(ani, "household", "h1", "phone") == Value("0811"));
}

namespace {

// The SIGKILL test: scenarios run in child processes, each killed at one
// exchange of a sync; the parent then reopens everything and syncs again.
constexpr std::int64_t kKillTestStartMs = 1795000000000;  // fixed: runs compare seqs

struct KillScenario {
  lumbung::test::TempDir dir;
  std::shared_ptr<lumbung::test::FakeClock> clock =
      std::make_shared<lumbung::test::FakeClock>(kKillTestStartMs);

  KillScenario() = default;
  // A copy of a prepared scenario's files (closed, so nothing is in flight).
  explicit KillScenario(const KillScenario& prepared) {
    std::filesystem::copy(prepared.dir.path(), dir.path(),
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
  }

  std::unique_ptr<server::SyncServer> open_server() {
    server::ServerOptions options;
    options.data_dir = dir.file("server");
    options.clock = clock;
    options.insecure_no_auth = true;
    Result<std::unique_ptr<server::SyncServer>> opened = server::SyncServer::open(options);
    if (!opened.is_ok()) throw std::runtime_error(opened.status().to_string());
    return std::move(opened).value();
  }
  std::unique_ptr<Replica> open_device(const std::string& name) {
    ReplicaOptions options = lumbung::test::options_for(dir.file(name + ".db"), clock);
    options.device_id = name;
    return lumbung::test::open_replica(options);
  }
  static SyncOptions options(std::shared_ptr<Transport> transport) {
    SyncOptions options;
    options.transport = std::move(transport);
    options.max_attempts = 1;
    options.push_batch_changes = 2;
    options.page_budget_bytes = 700;
    return options;
  }

  // Budi's village on the server, with changes ani has not seen (pages of
  // their own: ani's own writes do not come back to it); ani's inserts, an
  // update and a delete pending on ani's phone.
  void prepare() {
    std::unique_ptr<server::SyncServer> server = open_server();
    auto transport = std::make_shared<lumbung::test::MemoryTransport>(server.get());
    std::unique_ptr<Replica> budi = open_device("budi");
    std::unique_ptr<Replica> ani = open_device("ani");
    const auto ok = [](const Status& status) {
      if (!status.is_ok()) throw std::runtime_error("prepare: " + status.to_string());
    };
    for (int i = 0; i < 5; ++i) {
      const std::string n = std::to_string(i);
      ok(budi->insert("household", household("hb" + n, kVillageB, {{"notes", "b" + n}})));
    }
    ok(budi->sync(options(transport)).status());
    ok(ani->sync(options(transport)).status());
    for (int i = 0; i < 5; ++i) {
      const std::string n = std::to_string(i);
      ok(ani->insert("household", household("ha" + n, kVillageA, {{"notes", "a" + n}})));
    }
    ok(ani->update("household", "hb1", {{"phone", "ani"}}));
    ok(ani->remove("household", "hb2"));
    ok(budi->update("household", "hb3", {{"dusun", "budi"}}));
    for (int i = 5; i < 10; ++i) {
      const std::string n = std::to_string(i);
      ok(budi->insert("household", household("hb" + n, kVillageB, {{"notes", "b" + n}})));
    }
    ok(budi->sync(options(transport)).status());
  }

  // Ani's sync, killed with SIGKILL at exchange `kill_at` (0-based), before
  // the request leaves or after the server answered it. Returns false when
  // the sync had fewer exchanges and ended normally.
  bool sync_killed_at(int kill_at, bool after_server) {
    std::fflush(nullptr);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // No Catch2 here: the child reports only by how it ends.
      std::unique_ptr<server::SyncServer> server = open_server();
      auto memory = std::make_shared<lumbung::test::MemoryTransport>(server.get());
      int exchanges = 0;
      auto killing =
          std::make_shared<HookTransport>(memory, [&](const HttpRequest& request) -> Answer {
            if (exchanges++ != kill_at) return std::nullopt;
            if (!after_server) ::raise(SIGKILL);
            Result<HttpResponse> answer = memory->exchange(request);
            ::raise(SIGKILL);
            return answer;
          });
      std::unique_ptr<Replica> ani = open_device("ani");
      ::_exit(ani->sync(options(killing)).is_ok() ? 0 : 3);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    if (WIFEXITED(status)) {
      REQUIRE(WEXITSTATUS(status) == 0);
      return false;
    }
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    return true;
  }

  // After a (killed) sync of ani: ani syncs again, budi and a new device
  // pull. Returns the server's dump and the new device's highest cursor (the
  // number of changes the server accepted, so a batch merged twice shows).
  std::pair<std::string, std::int64_t> finish() {
    std::unique_ptr<server::SyncServer> server = open_server();
    auto transport = std::make_shared<lumbung::test::MemoryTransport>(server.get());
    std::unique_ptr<Replica> ani = open_device("ani");
    std::unique_ptr<Replica> budi = open_device("budi");
    std::unique_ptr<Replica> fresh = open_device("fresh");
    for (Replica* device : {ani.get(), budi.get(), fresh.get()}) {
      Result<SyncSummary> summary = device->sync(options(transport));
      INFO(summary.status().to_string());
      REQUIRE(summary.is_ok());
    }
    const std::string dump = server->dump_json().value();
    for (Replica* device : {ani.get(), budi.get(), fresh.get()}) {
      CHECK(device->dump_json().value() == dump);
      CHECK(device->pending_changes()->empty());
      CHECK(device->conflicts()->empty());
    }
    const std::vector<Row> cursor =
        fresh->query("SELECT max(cursor) AS seq FROM _lumbung_scope").value();
    return {dump, cursor.front().at("seq").as_integer()};
  }
};

}  // namespace

TEST_CASE("killed at any step of a sync, the next sync resumes with nothing lost or repeated",
          "[replica][sync][crash]") {
  KillScenario prepared;
  prepared.prepare();
  const std::pair<std::string, std::int64_t> expected = KillScenario(prepared).finish();
  int kills = 0;
  for (bool after_server : {false, true}) {
    for (int kill_at = 0;; ++kill_at) {
      INFO("killed at exchange " << kill_at << (after_server ? ", after" : ", before")
                                 << " the server handled it");
      KillScenario scenario(prepared);
      const bool killed = scenario.sync_killed_at(kill_at, after_server);
      const std::pair<std::string, std::int64_t> result = scenario.finish();
      CHECK(result.first == expected.first);
      CHECK(result.second == expected.second);
      if (!killed) break;
      ++kills;
    }
  }
  INFO(kills << " kills");
  CHECK(kills >= 12);  // pushes and pages, each killed before and after
}

TEST_CASE("a cancelled sync stops at the next step, and the next sync resumes", "[replica][sync]") {
  SyncWorld world;
  const int ani = world.add_device("ani");
  for (int i = 0; i < 10; ++i) {
    REQUIRE(world.device(ani)
                .insert("household", household("h" + std::to_string(i), kVillageA))
                .is_ok());
  }
  std::atomic<bool> cancel{false};
  SyncOptions options = world.options();
  options.cancel = &cancel;

  SECTION("before it starts: nothing is sent") {
    cancel = true;
    CHECK(world.device(ani).sync(options).status().code() == ErrorCode::kCancelled);
    CHECK(world.transport()->exchanges() == 0);
  }
  SECTION("between two batches") {
    options.push_batch_changes = 3;
    options.on_progress = [&](const SyncProgress&) { cancel = true; };
    CHECK(world.device(ani).sync(options).status().code() == ErrorCode::kCancelled);
    CHECK(world.device(ani).pending_changes()->size() == 7);
  }
  SECTION("during a backoff") {
    options.transport =
        std::make_shared<HookTransport>(world.transport(), [](const HttpRequest&) -> Answer {
          return Result<HttpResponse>(Status(ErrorCode::kNetwork, "no signal"));
        });
    options.max_attempts = 5;
    options.initial_backoff = std::chrono::milliseconds(20000);
    options.max_backoff = std::chrono::milliseconds(20000);
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      cancel = true;
    });
    const auto start = std::chrono::steady_clock::now();
    const Status status = world.device(ani).sync(options).status();
    canceller.join();
    CHECK(status.code() == ErrorCode::kCancelled);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  }
  world.sync(ani);
  world.check_converged();
}

TEST_CASE("transient failures are retried with backoff, permanent ones are not",
          "[replica][sync]") {
  SyncWorld world;
  const int ani = world.add_device("ani");
  REQUIRE(world.device(ani).insert("household", household("h1", kVillageA)).is_ok());
  int attempts = 0;
  int failures = 0;
  std::function<Result<HttpResponse>()> failure;
  SyncOptions options = world.options();
  options.max_attempts = 4;
  options.transport =
      std::make_shared<HookTransport>(world.transport(), [&](const HttpRequest&) -> Answer {
        ++attempts;
        if (failures == 0) return std::nullopt;
        --failures;
        return failure();
      });

  SECTION("a broken connection, until it works") {
    failures = 3;
    failure = [] { return Result<HttpResponse>(Status(ErrorCode::kNetwork, "reset by peer")); };
    CHECK(world.sync(ani, options).applied == 1);
    CHECK(attempts == 3 + 2);  // three failed pushes, the push, one pull
  }
  SECTION("a busy server (503)") {
    failures = 2;
    failure = [] {
      return Result<HttpResponse>(
          protocol::error_response(Status(ErrorCode::kUnavailable, "overloaded")));
    };
    CHECK(world.sync(ani, options).applied == 1);
    CHECK(attempts == 2 + 2);
  }
  SECTION("a timeout, every time: the last error after max_attempts") {
    failures = 100;
    failure = [] { return Result<HttpResponse>(Status(ErrorCode::kTimeout, "no answer")); };
    const Status status = world.device(ani).sync(options).status();
    CHECK(status.code() == ErrorCode::kTimeout);
    CHECK_THAT(status.message(), Catch::Matchers::Contains("push batch 1"));
    CHECK(attempts == 4);
    CHECK(world.device(ani).pending_changes()->size() == 1);
  }
  SECTION("a proxy's error page for a bad request: at once") {
    failures = 1;
    failure = [] { return Result<HttpResponse>(HttpResponse{400, {}, "<html>bad</html>"}); };
    CHECK(world.device(ani).sync(options).status().code() == ErrorCode::kProtocol);
    CHECK(attempts == 1);
  }
}

TEST_CASE("the bearer token goes with every request", "[replica][sync]") {
  SyncWorld world;
  const int stored = world.add_device("stored", "kept-in-file");
  const int none = world.add_device("none");
  std::vector<std::string> seen;
  SyncOptions options = world.options();
  options.transport =
      std::make_shared<HookTransport>(world.transport(), [&](const HttpRequest& request) -> Answer {
        seen.emplace_back(find_header(request.headers, "Authorization").value_or("(none)"));
        return std::nullopt;
      });
  // The server holds nothing: each device stays fresh, and each sync of an
  // unencrypted one asks for snapshots, then pulls (an encrypted one, in the
  // SQLCipher build, only pulls).
  const std::size_t requests = test::test_key().empty() ? 2 : 1;
  world.sync(stored, options);
  CHECK(seen == std::vector<std::string>(requests, "Bearer kept-in-file"));
  seen.clear();
  world.sync(none, options);
  CHECK(seen == std::vector<std::string>(requests, "(none)"));
  seen.clear();
  options.token = "given";
  world.sync(stored, options);
  CHECK(seen == std::vector<std::string>(requests, "Bearer given"));
}
