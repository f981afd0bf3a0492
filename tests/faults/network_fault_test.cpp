// Devices syncing with a real lumbungd through a FaultProxy
// (support/fault_proxy.hpp) that drops, resets, truncates, stalls, delays and
// throttles their connections. Every sync completes or fails with a retryable
// error; once the link is quiet every device equals the server, which holds
// exactly what the devices wrote: nothing lost, duplicated or skipped.
//
// The random schedule is seeded; LUMBUNG_FAULT_SEED=N replays run N.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "lumbung/replica.hpp"
#include "support/daemon_process.hpp"
#include "support/fault_proxy.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

using namespace std::chrono_literals;
using Kind = DirectionFault::Kind;

constexpr const char* kVillage = "desa-a";

std::uint16_t port_of(const std::string& url) {
  return static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

std::uint64_t fault_seed() {
  const char* given = std::getenv("LUMBUNG_FAULT_SEED");
  const std::uint64_t seed = given ? std::strtoull(given, nullptr, 10) : std::random_device()();
  std::printf("faults: seed %llu (LUMBUNG_FAULT_SEED=%llu replays it)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

// Small timeouts, so that a black hole costs a second, not the default 30;
// one quick retry, so that a sync through a bad link gives up soon and the
// next one has to resume; small batches and pages, so that a fault can
// strike between two of them.
SyncOptions faulty_link_options() {
  SyncOptions options;
  options.push_batch_changes = 8;
  options.page_budget_bytes = 1024;
  options.http = HttpTransportOptions{};
  options.http->connect_timeout = 500ms;
  options.http->request_timeout = 1000ms;
  options.max_attempts = 2;
  options.initial_backoff = 10ms;
  options.max_backoff = 100ms;
  return options;
}

Row household(const std::string& device, const std::string& head_name) {
  return {{"village_id", kVillage},
          {"head_name", head_name},
          {"created_by", device},
          {"created_at", "2026-11-28T08:00:00Z"}};
}

// Every live household of the server, as `lumbungd dump` prints it after
// the daemon stopped, and that output whole.
struct ServerState {
  std::string text;
  nlohmann::json households;
};
ServerState dump_server(const std::string& data) {
  const ProcessResult dump =
      run_process({LUMBUNGD, "dump", "--data", data}, {}, std::filesystem::current_path().string());
  INFO(dump.err);
  REQUIRE(dump.exit_code == 0);
  return {dump.out, nlohmann::json::parse(dump.out).at("household")};
}

std::string dump_of(Replica& replica) {
  Result<std::string> dump = replica.dump_json();
  REQUIRE(dump.is_ok());
  return *dump + "\n";
}

// A field officer's phone: writes households of its own and remembers what
// each must hold; edits one column of the row all phones share.
class Officer {
 public:
  Officer(const TempDir& dir, int index, const std::string& url)
      : name_("officer-" + std::to_string(index)), shared_column_(kSharedColumns[index]) {
    ReplicaOptions options = options_for(dir.file(name_ + ".db"));
    options.device_id = name_ + "-phone";
    options.server_url = url;
    replica_ = open_replica(options);
  }

  // A few inserts, updates and deletes of its own rows, and an edit of its
  // column of the shared row when it has that row.
  void work(std::mt19937_64& random, int round) {
    for (int i = 0; i < 3; ++i) {
      const std::string head =
          name_ + " household r" + std::to_string(round) + "." + std::to_string(i);
      Result<std::string> id = replica_->insert_new("household", household(name_, head));
      REQUIRE(id.is_ok());
      rows_[*id] = {{"head_name", head}, {"phone", nullptr}};
    }
    for (int i = 0; i < 2; ++i) {
      auto row = std::next(rows_.begin(), static_cast<long>(random() % rows_.size()));
      const std::string phone = "+62812" + std::to_string(round * 100 + i);
      REQUIRE(replica_->update("household", row->first, {{"phone", phone}}).is_ok());
      row->second["phone"] = phone;
    }
    if (round % 2 == 1) {
      auto row = std::next(rows_.begin(), static_cast<long>(random() % rows_.size()));
      REQUIRE(replica_->remove("household", row->first).is_ok());
      rows_.erase(row);
    }
    const std::string value = name_ + " r" + std::to_string(round);
    Result<std::optional<Row>> shared = replica_->get("household", "shared");
    REQUIRE(shared.is_ok());
    if (*shared) {
      REQUIRE(replica_->update("household", "shared", {{shared_column_, value}}).is_ok());
      shared_value_ = value;
    }
  }

  // The outcome of one sync: its status, and whether the outbox then held
  // anything (a sync reported done must have pushed everything).
  struct Outcome {
    Status status;
    std::int64_t pending_after = 0;
  };
  Outcome sync(const SyncOptions& options) {
    Result<SyncSummary> synced = replica_->sync(options);
    Result<ReplicaStatus> after = replica_->status();
    return {synced.status(), after.is_ok() ? after->pending_changes : -1};
  }

  Replica& replica() { return *replica_; }
  const std::string& name() const { return name_; }
  const std::map<std::string, nlohmann::json>& rows() const { return rows_; }
  const std::string& shared_column() const { return shared_column_; }
  const std::optional<std::string>& shared_value() const { return shared_value_; }

 private:
  // Each officer edits its own cell of the shared row: cell-level merge keeps
  // every one of them.
  static constexpr const char* kSharedColumns[] = {"dusun", "rt", "rw", "notes"};

  std::string name_;
  std::string shared_column_;
  std::unique_ptr<Replica> replica_;
  std::map<std::string, nlohmann::json> rows_;  // id -> the cells this test checks
  std::optional<std::string> shared_value_;
};

TEST_CASE("devices converge through random drops, resets, truncations and stalls", "[faults]") {
  const std::uint64_t seed = fault_seed();
  CAPTURE(seed);
  TempDir dir;
  const std::string data = dir.file("data");
  DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth"});
  constexpr int kOfficers = 4;
  constexpr int kRounds = 5;
  std::vector<std::unique_ptr<FaultProxy>> links;  // one per officer: its schedule is its own
  std::vector<std::unique_ptr<Officer>> officers;
  for (int i = 0; i < kOfficers; ++i) {
    links.push_back(std::make_unique<FaultProxy>(port_of(daemon.url())));
    officers.push_back(std::make_unique<Officer>(dir, i, links.back()->url()));
  }
  // The shared row reaches every phone over a quiet link.
  Row shared = household("officer-0", "shared household");
  shared["id"] = "shared";
  REQUIRE(officers[0]->replica().insert("household", shared).is_ok());
  for (auto& officer : officers) REQUIRE(officer->sync({}).status.is_ok());

  for (int i = 0; i < kOfficers; ++i) {
    links[i]->set_planner(random_faults(seed + i, 0.6, 1000, 400ms));
  }
  std::mt19937_64 random(seed);
  int completed = 0;
  int failed = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (auto& officer : officers) officer->work(random, round);
    std::vector<std::future<Officer::Outcome>> syncs;
    for (auto& officer : officers) {
      syncs.push_back(std::async(std::launch::async,
                                 [&officer] { return officer->sync(faulty_link_options()); }));
    }
    for (int i = 0; i < kOfficers; ++i) {
      const Officer::Outcome outcome = syncs[i].get();
      INFO("round " << round << ", " << officers[i]->name() << ": " << outcome.status.to_string());
      if (outcome.status.is_ok()) {
        ++completed;
        CHECK(outcome.pending_after == 0);
      } else {
        ++failed;
        CHECK(outcome.status.retry() == RetryClass::kTransient);
      }
    }
  }

  // A quiet link: one pass pushes what is left, the next brings everyone's.
  for (auto& link : links) link->set_planner({});
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& officer : officers) {
      const Officer::Outcome outcome = officer->sync({});
      INFO(officer->name() << ": " << outcome.status.to_string());
      REQUIRE(outcome.status.is_ok());
      CHECK(outcome.pending_after == 0);
    }
  }
  FaultProxyStats total;
  for (auto& link : links) total += link->stats();
  std::printf("faults: %d syncs completed, %d failed and resumed; %s\n", completed, failed,
              total.to_string().c_str());
  CHECK(total.faults() > 0);

  const std::optional<ProcessResult> stopped = daemon.terminate();
  REQUIRE(stopped);
  CHECK(stopped->exit_code == 0);
  const ServerState server = dump_server(data);

  // Exactly the rows the officers kept, each once, with its last values.
  std::size_t expected_rows = 1;  // the shared row
  for (auto& officer : officers) {
    INFO(officer->name());
    for (const auto& [id, cells] : officer->rows()) {
      REQUIRE(server.households.contains(id));
      for (const auto& [column, value] : cells.items()) {
        CHECK(server.households.at(id).at(column) == value);
      }
      CHECK(server.households.at(id).at("created_by") == officer->name());
    }
    expected_rows += officer->rows().size();
    const nlohmann::json& shared = server.households.at("shared");
    if (officer->shared_value()) {
      CHECK(shared.at(officer->shared_column()) == *officer->shared_value());
    }
    CHECK(dump_of(officer->replica()) == server.text);
  }
  CHECK(server.households.size() == expected_rows);
}

// A plan that strikes the first connection only: the sync's one attempt
// fails, and the next sync, over a clean connection, completes.
ConnectionPlan first_only(std::uint64_t connection, ConnectionPlan plan) {
  return connection == 0 ? plan : ConnectionPlan{};
}

TEST_CASE("each fault fails a sync retryably and the next sync resumes", "[faults]") {
  struct Case {
    const char* name;
    ConnectionPlan plan;
    std::int64_t FaultProxyStats::*counter;
    ErrorCode expected;  // a broken connection, or no answer in time
  };
  const Case each =
      GENERATE(Case{"drop", {.drop = true}, &FaultProxyStats::drops, ErrorCode::kNetwork},
               Case{"reset mid-request",
                    {.request = {Kind::kReset, 60}},
                    &FaultProxyStats::resets,
                    ErrorCode::kNetwork},
               Case{"reset mid-response",
                    {.response = {Kind::kReset, 60}},
                    &FaultProxyStats::resets,
                    ErrorCode::kNetwork},
               Case{"truncated request",
                    {.request = {Kind::kTruncate, 60}},
                    &FaultProxyStats::truncations,
                    ErrorCode::kNetwork},
               Case{"truncated response",
                    {.response = {Kind::kTruncate, 60}},
                    &FaultProxyStats::truncations,
                    ErrorCode::kNetwork},
               Case{"stalled request",
                    {.request = {Kind::kStall, 60}},
                    &FaultProxyStats::stalls,
                    ErrorCode::kTimeout},
               Case{"stalled response",
                    {.response = {Kind::kStall, 60}},
                    &FaultProxyStats::stalls,
                    ErrorCode::kTimeout},
               Case{"response slower than the timeout",
                    {.response = {.chunk_delay = 1500ms}},
                    &FaultProxyStats::delayed,
                    ErrorCode::kTimeout});
  INFO(each.name);
  TempDir dir;
  DaemonProcess daemon(LUMBUNGD, dir.file("data"), {"--insecure-no-auth"});
  FaultProxy link(port_of(daemon.url()), {}, [plan = each.plan](std::uint64_t connection) {
    return first_only(connection, plan);
  });
  Officer officer(dir, 0, link.url());
  std::mt19937_64 random(1);
  officer.work(random, 0);

  SyncOptions once = faulty_link_options();
  once.max_attempts = 1;
  const Officer::Outcome failed = officer.sync(once);
  CHECK(failed.status.code() == each.expected);
  CHECK(failed.status.retry() == RetryClass::kTransient);
  CHECK(failed.pending_after > 0);
  CHECK(link.stats().*each.counter == 1);

  REQUIRE(officer.sync({}).status.is_ok());
  const std::optional<ProcessResult> stopped = daemon.terminate();
  REQUIRE(stopped);
  const ServerState server = dump_server(dir.file("data"));
  CHECK(server.households.size() == officer.rows().size());
  CHECK(dump_of(officer.replica()) == server.text);
}

TEST_CASE("a sync while the link is dead times out, and resumes once it is back", "[faults]") {
  TempDir dir;
  DaemonProcess daemon(LUMBUNGD, dir.file("data"), {"--insecure-no-auth"});
  FaultProxy link(port_of(daemon.url()));
  Officer officer(dir, 0, link.url());
  std::mt19937_64 random(1);
  officer.work(random, 0);
  REQUIRE(officer.sync(faulty_link_options()).status.is_ok());

  officer.work(random, 1);
  link.stop();  // connections now wait unanswered, the requests of this sync among them
  SyncOptions once = faulty_link_options();
  once.max_attempts = 1;
  const Officer::Outcome dead = officer.sync(once);
  CHECK(dead.status.code() == ErrorCode::kTimeout);
  CHECK(dead.pending_after > 0);

  link.start();  // the stale requests arrive late, and change nothing twice
  REQUIRE(officer.sync({}).status.is_ok());
  const std::optional<ProcessResult> stopped = daemon.terminate();
  REQUIRE(stopped);
  const ServerState server = dump_server(dir.file("data"));
  CHECK(server.households.size() == officer.rows().size());
  CHECK(dump_of(officer.replica()) == server.text);
}

TEST_CASE("a sync over a 2G-like link is slow and complete", "[faults]") {
  TempDir dir;
  DaemonProcess daemon(LUMBUNGD, dir.file("data"), {"--insecure-no-auth"});
  FaultProxy link(port_of(daemon.url()), k2GLink);
  Officer writer(dir, 0, link.url());
  std::mt19937_64 random(1);
  for (int round = 0; round < 10; ++round) writer.work(random, round);
  REQUIRE(writer.sync({}).status.is_ok());

  Officer reader(dir, 1, link.url());
  const std::int64_t before = link.stats().bytes_down;
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(reader.sync({}).status.is_ok());
  const auto took = std::chrono::steady_clock::now() - start;
  const std::int64_t bytes = link.stats().bytes_down - before;
  // A pull is one round trip at least, and its bytes take their time.
  CHECK(took >=
        k2GLink.round_trip + std::chrono::milliseconds(bytes * 1000 / k2GLink.bytes_per_second));
  CHECK(dump_of(reader.replica()) == dump_of(writer.replica()));
}

}  // namespace
}  // namespace lumbung::test
