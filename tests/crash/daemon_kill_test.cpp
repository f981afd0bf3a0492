// lumbungd killed with SIGKILL at random moments while devices push and pull:
// after every restart each change a device saw acknowledged is in the store
// exactly once and the audit log agrees with the state; at the end every
// device converges. Devices are real Replicas on threads, over HTTP.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "crash_support.hpp"
#include "support/daemon_process.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

using namespace std::chrono_literals;

constexpr int kKills = 50;
constexpr int kDevices = 4;

std::string row_id(int device, long k) {
  return "dev" + std::to_string(device) + "-" + std::to_string(k);
}
std::string row_phone(int device, long k) {
  return std::to_string(device) + ":" + std::to_string(k);
}

// The daemon's URL while one runs, empty between a kill and the restart.
class CurrentUrl {
 public:
  void set(std::string url) {
    std::lock_guard lock(mu_);
    url_ = std::move(url);
  }
  std::string get() {
    std::lock_guard lock(mu_);
    return url_;
  }

 private:
  std::mutex mu_;
  std::string url_;
};

// One device: while a daemon runs, writes households 1, 2, ... and syncs
// after each one or two. A sync
// that returns OK acknowledged every row written before it began, so the
// acknowledged rows are always 1..acked.
class Device {
 public:
  Device(int index, const std::string& path, unsigned seed) : index_(index), rng_(seed) {
    ReplicaOptions options = options_for(path);
    options.device_id = "dev" + std::to_string(index);
    replica_ = open_replica(options);
  }

  void run(CurrentUrl& url, const std::atomic<bool>& stop) {
    std::string transport_url;
    SyncOptions options;
    options.max_attempts = 1;  // a dead daemon fails the sync at once; the loop retries
    while (!stop.load()) {
      const std::string now = url.get();
      if (now.empty()) {  // writes pile up only while a daemon runs, so the checks stay short
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      const int rows = std::uniform_int_distribution<int>(1, 2)(rng_);
      const Status written = replica_->transaction([&]() -> Status {
        for (long k = written_ + 1; k <= written_ + rows; ++k) {
          LUMBUNG_RETURN_IF_ERROR(replica_->insert(
              "household", crash_household(row_id(index_, k), row_phone(index_, k))));
        }
        return Status::ok();
      });
      if (!written.is_ok()) return fail(written);
      written_ += rows;
      if (now != transport_url) {  // restarted on another port
        Result<std::shared_ptr<Transport>> transport = make_http_transport(now);
        if (!transport.is_ok()) return fail(transport.status());
        options.transport = std::move(transport).value();
        transport_url = now;
      }
      const long before = written_;
      Result<SyncSummary> synced = replica_->sync(options);
      if (synced.is_ok()) {
        acked_.store(before);
        ++syncs_ok_;
      } else if (synced.status().retry() == RetryClass::kTransient) {
        ++syncs_failed_;
      } else {
        return fail(synced.status());
      }
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 20)(rng_)));
    }
  }

  Replica& replica() { return *replica_; }
  long acked() const { return acked_.load(); }
  long written() const { return written_; }
  int syncs_ok() const { return syncs_ok_; }
  int syncs_failed() const { return syncs_failed_; }
  const std::string& error() const { return error_; }

 private:
  void fail(const Status& status) { error_ = status.to_string(); }

  int index_;
  std::mt19937 rng_;
  std::unique_ptr<Replica> replica_;
  long written_ = 0;
  std::atomic<long> acked_{0};
  std::atomic<int> syncs_ok_{0};
  int syncs_failed_ = 0;
  std::string error_;
};

// Every acknowledged row is in the store with its value, once, and the audit
// log agrees with the state.
void check_store(const std::string& data, const std::vector<long>& acked) {
  const std::string dump = lumbungd_output({"dump", "--data", data});
  const std::string audit = lumbungd_output({"audit", "--data", data});
  const nlohmann::json households = nlohmann::json::parse(dump).at("household");
  std::string missing;
  for (int d = 0; d < kDevices; ++d) {
    for (long k = 1; k <= acked[d]; ++k) {
      const auto row = households.find(row_id(d, k));
      if (row == households.end() || (*row)["phone"] != row_phone(d, k)) {
        missing += row_id(d, k) + " ";
      }
    }
  }
  INFO("acknowledged rows missing or wrong");
  CHECK(missing == "");
  INFO("the audit log against the state");
  CHECK(audit_disagreements(dump, audit, "household") == "");
}

}  // namespace

TEST_CASE("lumbungd killed with SIGKILL while devices push and pull loses no acknowledged change",
          "[crash]") {
  const unsigned seed = crash_seed("daemon kill");
  std::mt19937 rng(seed);
  TempDir dir;
  const std::string data = dir.file("data");
  const std::vector<std::string> serve_args = {"--insecure-no-auth", "--threads", "2"};

  std::vector<std::unique_ptr<Device>> devices;
  for (int d = 0; d < kDevices; ++d) {
    devices.push_back(std::make_unique<Device>(d, dir.file("dev" + std::to_string(d) + ".db"),
                                               seed + 1 + static_cast<unsigned>(d)));
  }
  CurrentUrl url;
  std::atomic<bool> stop{false};
  std::vector<std::jthread> threads;
  // Declared after the threads, so destroyed (and stopping them) before they
  // are joined, also when a check fails and throws.
  struct StopOnExit {
    std::atomic<bool>& stop;
    ~StopOnExit() { stop.store(true); }
  } stop_on_exit{stop};
  for (auto& device : devices) {
    threads.emplace_back([&url, &stop, &device] { device->run(url, stop); });
  }

  auto acknowledged_syncs = [&devices] {
    int n = 0;
    for (auto& device : devices) n += device->syncs_ok();
    return n;
  };
  const auto started = std::chrono::steady_clock::now();
  for (int kill_no = 0; kill_no < kKills; ++kill_no) {
    std::vector<long> acked;
    {
      DaemonProcess daemon(LUMBUNGD, data, serve_args);
      for (auto& device : devices) acked.push_back(device->acked());
      INFO("after kill " << kill_no);
      check_store(data, acked);
      url.set(daemon.url());
      // After 0 to 3 acknowledged syncs, at a random moment: the kill lands
      // amid pushes and pulls however fast this machine runs them.
      const int target = acknowledged_syncs() + std::uniform_int_distribution<int>(0, 3)(rng);
      const auto give_up = std::chrono::steady_clock::now() + 5s;
      while (acknowledged_syncs() < target && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(1ms);
      }
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 30)(rng)));
      daemon.terminate(SIGKILL);
      url.set("");
    }
  }
  stop.store(true);
  threads.clear();  // joins
  const auto faulted = std::chrono::steady_clock::now() - started;

  DaemonProcess daemon(LUMBUNGD, data, serve_args);
  long rows = 0, syncs_ok = 0, syncs_failed = 0;
  for (auto& device : devices) {
    INFO("device error: " << device->error());
    REQUIRE(device->error().empty());
    sync_to(device->replica(), daemon.url());
    rows += device->written();
    syncs_ok += device->syncs_ok();
    syncs_failed += device->syncs_failed();
  }
  std::vector<long> written;
  for (auto& device : devices) written.push_back(device->written());
  check_store(data, written);
  const std::string server = lumbungd_output({"dump", "--data", data});
  for (auto& device : devices) {
    sync_to(device->replica(), daemon.url());  // pulls what the others pushed last
    CHECK(device->replica().pending_changes()->empty());
    CHECK(device->replica().dump_json().value() + "\n" == server);
  }
  CHECK(nlohmann::json::parse(server).at("household").size() == static_cast<std::size_t>(rows));
  CHECK(syncs_ok >= kKills);  // the devices did get changes acknowledged between the kills
  std::fprintf(stderr,
               "daemon kill: %d kills in %lld ms, %d devices, %ld rows written and verified, "
               "%ld syncs OK, %ld failed\n",
               kKills,
               static_cast<long long>(
                   std::chrono::duration_cast<std::chrono::milliseconds>(faulted).count()),
               kDevices, rows, syncs_ok, syncs_failed);
}

}  // namespace lumbung::test
