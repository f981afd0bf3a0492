// A device process (crash_device) killed with SIGKILL at random moments while
// it pushes, while it applies pulled pages, and while it migrates its schema:
// on reopen the replica passes integrity_check, holds every write it reported
// committed, its outbox matches its tables, and its next sync converges.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/schema.hpp"
#include "crash_device_run.hpp"
#include "crash_support.hpp"
#include "server/sync_server.hpp"
#include "support/daemon_process.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

constexpr int kPushKills = 12;
constexpr int kPullKills = 12;
constexpr int kMigrationKills = 16;
constexpr long kRowsPerPush = 20;
constexpr long kRowsPerPull = 40;

std::chrono::microseconds random_us(std::mt19937& rng, int max) {
  return std::chrono::microseconds(std::uniform_int_distribution<int>(0, max)(rng));
}

std::unique_ptr<Replica> create_device(const std::string& path, const std::string& id) {
  ReplicaOptions options = options_for(path);
  options.device_id = id;
  return open_replica(options);
}

// The household ids of a replica.
std::set<std::string> household_ids(Replica& replica) {
  std::set<std::string> ids;
  for (const Row& row : replica.query("SELECT id FROM household").value()) {
    ids.insert(row.at("id").as_text());
  }
  return ids;
}

// The replica is whole; every committed row is there; every row is either
// still in the outbox or on the server, and the outbox names only rows that
// exist.
void check_after_push_kill(const std::string& path, const std::set<long>& committed,
                           const std::string& server_dump) {
  REQUIRE(integrity_check(path) == "ok");
  auto replica = open_replica(options_for(path));
  const std::set<std::string> ids = household_ids(*replica);
  for (long k : committed) {
    INFO("committed row " << k);
    CHECK(ids.count("row-" + std::to_string(k)) == 1);
  }
  std::set<std::string> pending;
  for (const PendingChange& change : replica->pending_changes().value()) {
    if (change.kind == PendingChange::Kind::kInsert) pending.insert(change.row_id);
  }
  const nlohmann::json server = nlohmann::json::parse(server_dump).at("household");
  for (const std::string& id : ids) {
    INFO("row " << id);
    CHECK((pending.count(id) == 1 || server.contains(id)));
  }
  for (const std::string& id : pending) CHECK(ids.count(id) == 1);
}

// The store's state as `lumbungd dump` prints it. That command knows only the
// built-in schema (it takes no --schema), so the store of another schema is
// dumped by the server core in this process, as the daemon runs.
std::string store_dump(const std::string& data, const std::string& schema_text) {
  if (schema_text.empty()) return lumbungd_output({"dump", "--data", data});
  server::ServerOptions options;
  options.data_dir = data;
  options.insecure_no_auth = true;
  options.schema_text = schema_text;
  Result<std::unique_ptr<server::SyncServer>> server = server::SyncServer::open(options);
  INFO(server.status().to_string());
  REQUIRE(server.is_ok());
  return (*server)->dump_json().value() + "\n";
}

// The device has what the server has, byte for byte, and nothing pending.
void check_converged(Replica& replica, const std::string& url, const std::string& data,
                     const std::string& schema_text = "") {
  sync_to(replica, url);
  CHECK(replica.pending_changes()->empty());
  const std::string server = store_dump(data, schema_text);
  CHECK(replica.dump_json().value() + "\n" == server);
  CHECK(audit_disagreements(server, lumbungd_output({"audit", "--data", data}), "household") == "");
}

// The built-in schema at version 2: a new column and a new table.
std::string newer_schema() {
  nlohmann::json schema = nlohmann::json::parse(core::builtin_schema_text());
  schema["version"] = 2;
  nlohmann::json added;
  for (nlohmann::json& table : schema["tables"]) {
    if (table["name"] == "household") {
      table["columns"].push_back({{"name", "nickname"}, {"type", "text"}});
    }
    if (table["name"] == "coop_member") added = table;
  }
  added["name"] = "grant_aid";
  added["indexes"] = nlohmann::json::array();
  schema["tables"].push_back(added);
  return schema.dump(2);
}

}  // namespace

TEST_CASE("a device killed during push loses no committed write and converges", "[crash]") {
  std::mt19937 rng(crash_seed("device kill during push"));
  TempDir dir;
  const std::string data = dir.file("data");
  DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth"});
  const std::string path = dir.file("pusher.db");
  create_device(path, "pusher");

  std::set<long> committed;
  int killed = 0;
  for (int run_no = 0; run_no < kPushKills; ++run_no) {
    const long first = run_no * kRowsPerPush + 1;
    DeviceRun run(
        {"push", path, daemon.url(), std::to_string(first), std::to_string(kRowsPerPush)});
    // Batches of 3 changes: 7 or more requests per run.
    REQUIRE(run.read_until("sync", 1));
    const int batches = std::uniform_int_distribution<int>(0, 6)(rng);
    run.read_until("push", batches);
    killed += run.kill_after(random_us(rng, 3000));
    INFO("run " << run_no << ", killed after " << batches << " batches");
    committed.insert(run.committed().begin(), run.committed().end());
    REQUIRE(static_cast<long>(committed.size()) == first + kRowsPerPush - 1);
    check_after_push_kill(path, committed, lumbungd_output({"dump", "--data", data}));
  }
  CHECK(killed >= kPushKills / 2);
  auto replica = open_replica(options_for(path));
  check_converged(*replica, daemon.url(), data);
  std::fprintf(stderr, "device kill during push: %d runs, %d killed, %zu rows verified\n",
               kPushKills, killed, committed.size());
}

TEST_CASE("a device killed while applying pulled pages stays consistent and converges", "[crash]") {
  std::mt19937 rng(crash_seed("device kill during pull"));
  TempDir dir;
  const std::string data = dir.file("data");
  DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth"});
  auto source = create_device(dir.file("source.db"), "source");
  const std::string path = dir.file("puller.db");
  create_device(path, "puller");

  int killed = 0;
  for (int run_no = 0; run_no < kPullKills; ++run_no) {
    for (long k = 1; k <= kRowsPerPull; ++k) {
      const std::string id = "src-" + std::to_string(run_no * kRowsPerPull + k);
      REQUIRE(source->insert("household", crash_household(id, id)).is_ok());
    }
    sync_to(*source, daemon.url());
    const std::size_t before = household_ids(*open_replica(options_for(path))).size();

    DeviceRun run({"pull", path, daemon.url()});
    const int pages = std::uniform_int_distribution<int>(1, 6)(rng);  // of about 8
    long pulled = 0;
    run.read_until("pull", pages, &pulled);
    killed += run.kill_after(random_us(rng, 3000));
    INFO("run " << run_no << ", killed after " << pages << " pages");

    REQUIRE(integrity_check(path) == "ok");
    auto replica = open_replica(options_for(path));
    CHECK(replica->pending_changes()->empty());  // pulled rows are not the device's changes
    const std::set<std::string> ids = household_ids(*replica);
    CHECK(ids.size() >= before + static_cast<std::size_t>(pulled));  // applied pages stay
    for (const std::string& id : ids) {
      const std::optional<Row> row = replica->get("household", id).value();
      REQUIRE(row);
      CHECK(row->at("phone") == Value(id));
    }
  }
  CHECK(killed >= kPullKills / 2);
  auto replica = open_replica(options_for(path));
  check_converged(*replica, daemon.url(), data);
  std::fprintf(stderr, "device kill during pull: %d runs, %d killed, %ld rows verified\n",
               kPullKills, killed, kPullKills * kRowsPerPull);
}

TEST_CASE("a device killed during a schema migration reopens whole and converges", "[crash]") {
  std::mt19937 rng(crash_seed("device kill during migration"));
  TempDir dir;
  const std::string schema_file = dir.file("v2.json");
  std::ofstream(schema_file) << newer_schema();
  const std::string data = dir.file("data");
  DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth", "--schema", schema_file});

  // A replica at version 1 with committed, unsynced rows.
  auto make_v1 = [&](int n) {
    const std::string path = dir.file("mig" + std::to_string(n) + ".db");
    auto replica = create_device(path, "mig" + std::to_string(n));
    for (int k = 0; k < 30; ++k) {
      const std::string id = "m" + std::to_string(n) + "-" + std::to_string(k);
      REQUIRE(replica->insert("household", crash_household(id, id)).is_ok());
    }
    return path;
  };
  // How long the open that migrates takes, from the child's "open" line to
  // its "done" line, the fastest of three (a busy machine only slows it): the
  // kills land within that window.
  auto window = std::chrono::microseconds::max();
  for (int timing_run = 0; timing_run < 3; ++timing_run) {
    DeviceRun timing({"migrate", make_v1(-1 - timing_run), schema_file});
    REQUIRE(timing.read_until("open", 1));
    const auto opened = std::chrono::steady_clock::now();
    REQUIRE(timing.read_until("done", 1));
    window = std::min(window, std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::steady_clock::now() - opened));
  }

  int killed = 0, migrated = 0;
  for (int run_no = 0; run_no < kMigrationKills; ++run_no) {
    const std::string path = make_v1(run_no);
    DeviceRun run({"migrate", path, schema_file});
    REQUIRE(run.read_until("open", 1));
    killed += run.kill_after(random_us(rng, static_cast<int>(window.count())));
    INFO("run " << run_no);

    REQUIRE(integrity_check(path) == "ok");
    {
      auto as_left = open_replica(options_for(path));  // the schema the file has
      const int version = as_left->status()->schema_version;
      CHECK((version == 1 || version == 2));
      migrated += version == 2;
      CHECK(household_ids(*as_left).size() == 30);
      CHECK(as_left->pending_changes()->size() == 30);  // one insert each
    }
    ReplicaOptions v2 = options_for(path);
    v2.schema_text = read_file(schema_file);
    auto replica = open_replica(v2);
    REQUIRE(replica->status()->schema_version == 2);
    Row nicknamed = crash_household("m" + std::to_string(run_no) + "-new", "after the crash");
    nicknamed["nickname"] = "migrated";  // the new column is captured
    REQUIRE(replica->insert("household", nicknamed).is_ok());
    check_converged(*replica, daemon.url(), data, v2.schema_text);
  }
  CHECK(killed >= kMigrationKills / 2);
  std::fprintf(stderr,
               "device kill during migration: %d runs, %d killed, %d found migrated, %lld us "
               "window\n",
               kMigrationKills, killed, migrated, static_cast<long long>(window.count()));
}

TEST_CASE("a fresh device killed while it adopts a snapshot reopens fresh or whole and converges",
          "[crash]") {
  constexpr long kRows = 3000;
  constexpr int kRuns = 8;
  std::mt19937 rng(crash_seed("device kill during snapshot adoption"));
  TempDir dir;
  const std::string data = dir.file("data");
  DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth"});
  auto source = create_device(dir.file("source.db"), "source");
  REQUIRE(source
              ->transaction([&]() -> Status {
                for (long k = 1; k <= kRows; ++k) {
                  const std::string id = "src-" + std::to_string(k);
                  LUMBUNG_RETURN_IF_ERROR(source->insert("household", crash_household(id, id)));
                }
                return Status::ok();
              })
              .is_ok());
  sync_to(*source, daemon.url());
  lumbungd_output({"snapshot", "--data", data});
  const std::string server = store_dump(data, "");

  // The first run is not killed: how long a whole run takes spreads the
  // kills of the others over download, unpacking, checks and the copy.
  std::chrono::microseconds whole_run{0};
  int killed = 0, adopted = 0;
  for (int run_no = 0; run_no < kRuns; ++run_no) {
    INFO("run " << run_no);
    const std::string path = dir.file("fresh-" + std::to_string(run_no) + ".db");
    create_device(path, "fresh-" + std::to_string(run_no));
    const auto start = std::chrono::steady_clock::now();
    DeviceRun run({"sync", path, daemon.url()});
    if (run_no == 0) {
      REQUIRE(run.read_until("done", 1));
      whole_run = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - start);
    }
    const bool was_killed = run.kill_after(random_us(rng, static_cast<int>(whole_run.count())));
    killed += was_killed;
    // A run that finished before its kill was quicker than the first, whose
    // time includes a cold start (under ASan, several times the others'):
    // the next kills come earlier.
    if (run_no > 0 && !was_killed) whole_run /= 2;

    REQUIRE(integrity_check(path) == "ok");
    auto replica = open_replica(options_for(path));
    const std::size_t rows = household_ids(*replica).size();
    CHECK((rows == 0 || rows == static_cast<std::size_t>(kRows)));  // one transaction
    adopted += rows > 0;
    CHECK(replica->pending_changes()->empty());
    // The cursor came with the rows: what is there is not brought again.
    CHECK(sync_to(*replica, daemon.url()).pulled == static_cast<std::int64_t>(kRows - rows));
    CHECK(replica->dump_json().value() + "\n" == server);
  }
  CHECK(killed >= kRuns / 3);
  std::fprintf(stderr,
               "device kill during snapshot adoption: %d runs, %d killed, %d held the snapshot "
               "when reopened, a whole run %lld us\n",
               kRuns, killed, adopted, static_cast<long long>(whole_run.count()));
}

}  // namespace lumbung::test
