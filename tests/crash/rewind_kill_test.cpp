// Going back in time under SIGKILL (docs/protocol.md, "Going back in time";
// docs/reliability.md): after `lumbungd restore` of an older backup, a device
// process (crash_device) killed at random points of its re-seed, and lumbungd
// killed while devices re-offer what it lost. After every kill the device
// still holds every row and cell it saw acknowledged and every write it
// committed, and the server keeps every version a re-offer brought it; at the
// end the server holds all that was ever acknowledged and every device
// equals it.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "crash_device_run.hpp"
#include "crash_support.hpp"
#include "support/daemon_process.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string row_id(long k) { return "row-" + std::to_string(k); }

std::unique_ptr<Replica> create_device(const std::string& path, const std::string& id) {
  ReplicaOptions options = options_for(path);
  options.device_id = id;
  return open_replica(options);
}

// A data directory served by lumbungd without authentication, which the test
// stops, restores from a backup and starts again.
class Server {
 public:
  explicit Server(std::string data) : data_(std::move(data)) { start(); }

  const std::string& data() const { return data_; }
  std::string url() const { return daemon_->url(); }

  void start() { daemon_.emplace(LUMBUNGD, data_, std::vector<std::string>{"--insecure-no-auth"}); }
  // SIGTERM (a clean stop) or SIGKILL.
  void stop(int signal = SIGTERM) {
    daemon_->terminate(signal);
    daemon_.reset();
  }
  // Stops serve, restores `backup` over the data directory, starts again.
  void restore(const std::string& backup) {
    stop();
    lumbungd_output({"restore", "--from", backup, "--data", data_, "--force"});
    start();
  }
  std::string dump() const { return lumbungd_output({"dump", "--data", data_}); }
  // The audit log against the state; empty when they agree.
  std::string audit_disagreements() const {
    const std::string state = dump();
    return lumbung::test::audit_disagreements(state, lumbungd_output({"audit", "--data", data_}));
  }

 private:
  std::string data_;
  std::optional<DaemonProcess> daemon_;
};

// Households first..last registered on `replica`, then every `edit_every`-th
// of base+1..last edited and `deleted` removed: a device's work, not yet
// synced.
void register_and_edit(Replica& replica, long base, long first, long last, long edit_every,
                       const std::set<long>& deleted) {
  REQUIRE(replica
              .transaction([&]() -> Status {
                for (long k = first; k <= last; ++k) {
                  LUMBUNG_RETURN_IF_ERROR(
                      replica.insert("household", crash_household(row_id(k), row_id(k))));
                }
                return Status::ok();
              })
              .is_ok());
  for (long k = base + 1; k <= last; k += edit_every) {
    if (deleted.count(k)) continue;
    REQUIRE(replica.update("household", row_id(k), {{"notes", "edited up to " + row_id(last)}})
                .is_ok());
  }
  for (long k : deleted) REQUIRE(replica.remove("household", row_id(k)).is_ok());
}

// Sets `stop` when destroyed: declared after the threads that watch it, so
// that they stop before they are joined, also when a check throws.
struct StopOnExit {
  std::atomic<bool>& stop;
  ~StopOnExit() { stop.store(true); }
};

// The devices' errors, one line each, with their index.
std::string errors_of(const std::vector<std::string>& errors) {
  std::string lines;
  for (std::size_t d = 0; d < errors.size(); ++d) {
    if (!errors[d].empty()) lines += "device " + std::to_string(d) + ": " + errors[d] + "\n";
  }
  return lines;
}

// The households of a dump: id to row.
nlohmann::json households_of(const std::string& dump) {
  return nlohmann::json::parse(dump).at("household");
}

// What disagrees between `held` (households, id to row) and what must be
// there: every row of `acknowledged` as it is there, every row of
// `committed` (rows crash_device wrote, whose phone is their id), and
// nothing else. One line each; empty when all agrees.
std::string missing_or_wrong(const nlohmann::json& held, const nlohmann::json& acknowledged,
                             const std::set<long>& committed) {
  std::string problems;
  std::set<std::string> expected;
  for (const auto& [id, row] : acknowledged.items()) {
    expected.insert(id);
    if (!held.contains(id)) {
      problems += id + ": missing\n";
    } else if (held.at(id) != row) {
      problems += id + ": " + held.at(id).dump() + " instead of " + row.dump() + "\n";
    }
  }
  for (long k : committed) {
    expected.insert(row_id(k));
    if (!held.contains(row_id(k)) || held.at(row_id(k)).at("phone") != row_id(k)) {
      problems += row_id(k) + ": committed, missing\n";
    }
  }
  for (const auto& [id, row] : held.items()) {
    if (!expected.count(id)) problems += id + ": neither acknowledged nor committed\n";
  }
  return problems;
}

}  // namespace

TEST_CASE(
    "a device killed at random points of a re-seed after a restore loses nothing and "
    "converges",
    "[crash]") {
  constexpr int kRestores = 6;
  constexpr int kKillsPerRestore = 3;
  constexpr long kRowsPerRun = 4;  // crash_device registers these, then syncs
  std::mt19937 rng(crash_seed("device kill during a re-seed"));
  TempDir dir;
  Server server(dir.file("data"));
  const std::string path = dir.file("phone.db");
  const std::string backup = dir.file("nightly.lbk");
  auto witness = create_device(dir.file("witness.db"), "witness");
  {
    auto phone = create_device(path, "phone");
    register_and_edit(*phone, 0, 1, 40, 100, {});
    sync_to(*phone, server.url());
    lumbungd_output({"backup", "--data", server.data(), "--out", backup});
    // After the backup: 60 more households, 20 edits and 5 deletes.
    register_and_edit(*phone, 0, 41, 100, 5, {3, 14, 45, 77, 98});
    sync_to(*phone, server.url());
  }
  sync_to(*witness, server.url());
  nlohmann::json acknowledged = households_of(server.dump());
  REQUIRE(acknowledged.size() == 95);

  // The first re-seed is not killed: how long it takes spreads the kills of
  // the others over the recovery, the re-offers' pushes and the pulls.
  std::set<long> committed;  // by crash_device runs, which acknowledge them once they finish
  long next_row = 1001;
  auto next_run = [&]() {  // crash_device's arguments: new households, then a sync
    const std::vector<std::string> args = {"push", path, server.url(), std::to_string(next_row),
                                           std::to_string(kRowsPerRun)};
    next_row += kRowsPerRun;
    return args;
  };
  server.restore(backup);
  REQUIRE(households_of(server.dump()).size() == 40);
  Clock::duration whole_run{};
  {
    DeviceRun run(next_run());
    REQUIRE(run.read_until("sync", 1));
    const auto start = Clock::now();
    REQUIRE(run.read_until("done", 1));
    whole_run = Clock::now() - start;
    committed.insert(run.committed().begin(), run.committed().end());
  }
  CHECK(missing_or_wrong(households_of(server.dump()), acknowledged, committed) == "");

  int killed = 0, runs = 0;
  const auto window = std::chrono::duration_cast<std::chrono::microseconds>(whole_run);
  for (int restore_no = 1; restore_no < kRestores; ++restore_no) {
    server.restore(backup);  // loses what the runs before acknowledged, too
    for (int kill_no = 0; kill_no < kKillsPerRestore; ++kill_no) {
      INFO("restore " << restore_no << ", run " << kill_no);
      DeviceRun run(next_run());
      REQUIRE(run.read_until("sync", 1));
      const int delay =
          std::uniform_int_distribution<int>(0, static_cast<int>(window.count()))(rng);
      killed += run.kill_after(std::chrono::microseconds(delay));
      ++runs;
      committed.insert(run.committed().begin(), run.committed().end());

      // The phone holds all it saw acknowledged and all it committed, and
      // nothing the server lacks went missing from it.
      REQUIRE(integrity_check(path) == "ok");
      auto phone = open_replica(options_for(path));
      CHECK(missing_or_wrong(households_of(phone->dump_json().value()), acknowledged, committed) ==
            "");
    }
    DeviceRun finishing(next_run());
    REQUIRE(finishing.read_until("done", 1));
    committed.insert(finishing.committed().begin(), finishing.committed().end());
    INFO("restore " << restore_no << ", after the re-seed");
    CHECK(missing_or_wrong(households_of(server.dump()), acknowledged, committed) == "");
    CHECK(server.audit_disagreements() == "");
  }
  CHECK(killed >= runs / 3);

  // The witness, which the restores also went behind, and the phone converge.
  sync_to(*witness, server.url());
  auto phone = open_replica(options_for(path));
  sync_to(*phone, server.url());
  const std::string state = server.dump();
  CHECK(missing_or_wrong(households_of(state), acknowledged, committed) == "");
  for (Replica* device : {witness.get(), phone.get()}) {
    INFO("device " << device->device_id());
    CHECK(sync_to(*device, server.url()).pulled == 0);
    CHECK(device->pending_changes()->empty());
    CHECK(device->dump_json().value() + "\n" == state);
  }
  std::fprintf(stderr,
               "device kill during a re-seed: %d restores, %d runs, %d killed, %zu rows verified, "
               "a whole re-seed %lld us\n",
               kRestores, runs, killed, acknowledged.size() + committed.size(),
               static_cast<long long>(window.count()));
}

TEST_CASE(
    "lumbungd killed with SIGKILL while devices re-offer after a restore loses no "
    "acknowledged change",
    "[crash]") {
  constexpr int kDevices = 3;
  constexpr int kRestores = 6;
  constexpr int kKillsPerRestore = 2;
  constexpr int kMaxSyncs = 20;  // per device and daemon: a re-seed takes two or three
  std::mt19937 rng(crash_seed("daemon kill during re-offers"));
  TempDir dir;
  Server server(dir.file("data"));
  const std::string backup = dir.file("nightly.lbk");

  // Three phones register households, each its own range; after the backup
  // they register more, edit and delete, all acknowledged and converged.
  std::vector<std::unique_ptr<Replica>> devices;
  for (int d = 0; d < kDevices; ++d) {
    devices.push_back(
        create_device(dir.file("dev" + std::to_string(d) + ".db"), "dev" + std::to_string(d)));
  }
  auto sync_all = [&] {
    for (auto& device : devices) sync_to(*device, server.url());
  };
  for (int d = 0; d < kDevices; ++d) {
    const long base = 1000L * d;
    register_and_edit(*devices[d], base, base + 1, base + 40, 100, {});
  }
  sync_all();
  lumbungd_output({"backup", "--data", server.data(), "--out", backup});
  for (int d = 0; d < kDevices; ++d) {
    const long base = 1000L * d;
    register_and_edit(*devices[d], base, base + 41, base + 120, 7,
                      {base + 2, base + 20, base + 60, base + 119});
  }
  sync_all();
  sync_all();
  const std::string acknowledged = server.dump();
  const nlohmann::json acknowledged_rows = households_of(acknowledged);

  // Each device syncs on a thread of its own, in small batches, until a sync
  // succeeds with nothing left to push or pull, or the test stops it.
  std::atomic<bool> stop{false};
  std::atomic<int> pushes{0};    // batches acknowledged since the daemon started
  std::atomic<int> finished{0};  // threads that stopped syncing
  std::atomic<int> failed_syncs{0};
  std::vector<std::string> errors(kDevices);
  auto reoffer = [&](const std::string& url) {
    pushes.store(0);
    finished.store(0);
    std::vector<std::jthread> threads;
    for (int d = 0; d < kDevices; ++d) {
      threads.emplace_back([&, d, transport = http_to(url)] {
        SyncOptions options;
        options.transport = transport;
        options.max_attempts = 1;  // a killed daemon fails the sync at once
        options.push_batch_changes = 5;
        options.on_progress = [&](const SyncProgress& progress) {
          if (progress.phase == SyncProgress::Phase::kPush) ++pushes;
        };
        for (int attempt = 0; !stop.load(); ++attempt) {
          if (attempt == kMaxSyncs) {
            errors[d] = "no quiet sync in " + std::to_string(kMaxSyncs);
            break;
          }
          Result<SyncSummary> synced = devices[d]->sync(options);
          if (synced.is_ok() && synced->pushed == 0 && synced->pulled == 0) break;
          if (synced.is_ok()) continue;
          if (synced.status().retry() != RetryClass::kTransient) {
            errors[d] = synced.status().to_string();
            break;
          }
          ++failed_syncs;
        }
        ++finished;
      });
    }
    return threads;
  };

  nlohmann::json restored_rows;  // as the backup holds them
  // What of `acknowledged` a server state holds: "ID/COLUMN" for each cell
  // with its acknowledged value, "ID deleted" for each row deleted since
  // the backup that is gone.
  const auto reached_in = [&](const std::string& state) {
    const nlohmann::json rows = households_of(state);
    std::set<std::string> reached;
    for (const auto& [id, row] : acknowledged_rows.items()) {
      if (!rows.contains(id)) continue;
      for (const auto& [column, value] : row.items()) {
        if (rows.at(id).at(column) == value) reached.insert(id + "/" + column);
      }
    }
    for (const auto& [id, row] : restored_rows.items()) {
      if (!acknowledged_rows.contains(id) && !rows.contains(id)) reached.insert(id + " deleted");
    }
    return reached;
  };

  // The first re-seed is not killed: the batches its re-offers take spread
  // the kills of the others over theirs.
  server.restore(backup);
  restored_rows = households_of(server.dump());
  reoffer(server.url()).clear();  // joins
  const int whole = pushes.load();
  REQUIRE(errors_of(errors) == "");
  REQUIRE(server.dump() == acknowledged);

  int kills = 0, amid_pushes = 0, before_whole = 0;
  // The share of a re-seed's pushes a kill may wait for: halved after each
  // kill that came once every device had finished, as on a slower machine
  // (or a luckier seed) the re-seed's pace outruns the kills.
  double reach = 1.0;
  for (int restore_no = 1; restore_no < kRestores; ++restore_no) {
    server.restore(backup);
    // The cells and deletes the server held as acknowledged before a kill:
    // it may only add to them.
    std::set<std::string> reached;
    for (int kill_no = 0; kill_no < kKillsPerRestore; ++kill_no) {
      INFO("restore " << restore_no << ", kill " << kill_no);
      {
        std::vector<std::jthread> threads = reoffer(server.url());
        const StopOnExit stop_on_exit{stop};  // destroyed before the threads are joined
        // The first kill of a restore lands after any number of the re-seed's
        // pushes, the second soon after the restart (little is left then).
        const int target = std::uniform_int_distribution<int>(
            0, static_cast<int>((kill_no == 0 ? whole : whole / 10) * reach))(rng);
        const auto give_up = Clock::now() + 10s;
        while (pushes.load() < target && finished.load() < kDevices && Clock::now() < give_up) {
          std::this_thread::sleep_for(1ms);  // polls the condition; bounded by the deadline
        }
        std::this_thread::sleep_for(  // the random moment of the kill, not a wait
            std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(rng)));
        const std::set<std::string> committed = reached_in(server.dump());  // while serving
        reached.insert(committed.begin(), committed.end());
        stop.store(true);  // no sync starts after the kill; those under way fail
        const bool amid = finished.load() < kDevices;
        amid_pushes += amid;
        if (!amid) reach /= 2;
        server.stop(SIGKILL);
        ++kills;
      }
      stop.store(false);
      REQUIRE(errors_of(errors) == "");

      const std::string state = server.dump();
      before_whole += state != acknowledged;
      const std::set<std::string> now = reached_in(state);
      std::string lost;
      for (const std::string& cell : reached) {
        if (!now.count(cell)) lost += cell + " ";
      }
      CHECK(lost == "");
      reached = now;
      server.start();
    }
    CHECK(server.audit_disagreements() == "");  // as the last kill left the store
    reoffer(server.url()).clear();
    REQUIRE(errors_of(errors) == "");
    CHECK(server.dump() == acknowledged);
  }
  // The kills landed while devices were still re-offering, some before the
  // server held all again (a version is re-offered by every phone holding it).
  CHECK(amid_pushes >= kills / 3);
  CHECK(before_whole >= 1);
  CHECK(server.audit_disagreements() == "");

  sync_all();
  for (auto& device : devices) {
    CHECK(device->pending_changes()->empty());
    CHECK(device->dump_json().value() + "\n" == acknowledged);
  }
  std::fprintf(stderr,
               "daemon kill during re-offers: %d restores, %d kills, %d amid the re-seed's pushes, "
               "%d before the server held all again, %d failed syncs, a whole re-seed %d "
               "pushes\n",
               kRestores, kills, amid_pushes, before_whole, failed_syncs.load(), whole);
}

}  // namespace lumbung::test
