// The convergence simulation: N devices make random inserts, updates and
// deletes on overlapping cells of two villages, sync in random order over a
// link that drops requests and responses, and are restarted at random, as is
// the server. After a final quiet round every device must equal the server,
// and the server must hold, for every cell, the write with the greatest stamp
// ever made to it (last-writer-wins), so no acknowledged write was lost.
//
//   convergence_sim [--seed N] [--devices N] [--steps N]
//
// Runs the real device (Replica) and the real daemon core (SyncServer) in one
// process, connected by MemoryTransport. Prints its seed: a failure replays
// exactly with --seed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "lumbung/replica.hpp"
#include "server/sync_server.hpp"
#include "support/memory_transport.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::Replica;
using lumbung::Row;
using lumbung::Status;
using lumbung::Value;
using lumbung::server::SyncServer;
using lumbung::test::LinkFault;
using lumbung::test::MemoryTransport;

constexpr std::int64_t kStartMs = 1795000000000;  // 2026-11-18
const char* const kVillages[] = {"0190f1c2-7a00-7000-8000-00000000000a",
                                 "0190f1c2-7a00-7000-8000-00000000000b"};
const char* const kEditable[] = {"head_name", "dusun", "phone", "notes", "latitude"};

struct Config {
  std::uint64_t seed = 0;
  int devices = 4;
  int steps = 3000;
};

[[noreturn]] void fail(const Config& config, const std::string& what) {
  std::fprintf(stderr, "convergence_sim: FAILED (seed %llu): %s\n",
               static_cast<unsigned long long>(config.seed), what.c_str());
  std::exit(1);
}

// The greatest stamp written to one cell so far, and its value.
struct Write {
  std::int64_t hlc = 0;
  std::string device;
  Value value;
};

class Simulation {
 public:
  explicit Simulation(const Config& config)
      : config_(config), rng_(config.seed), clock_(std::make_shared<lumbung::test::FakeClock>(kStartMs)) {
    open_server();
    transport_ = std::make_shared<MemoryTransport>(server_.get());
    for (int i = 0; i < config.devices; ++i) {
      lumbung::ReplicaOptions options = lumbung::test::options_for(dir_.file("device" + std::to_string(i) + ".db"));
      options.device_id = "device-" + std::to_string(i);
      options.clock = clock_;
      device_options_.push_back(options);
      devices_.push_back(open_device(i));
    }
  }

  void run() {
    transport_->set_faults([this](const lumbung::HttpRequest&) {
      const int dice = roll(100);
      return dice < 10 ? LinkFault::kDropRequest
                       : dice < 20 ? LinkFault::kDropResponse : LinkFault::kNone;
    });
    for (int step = 0; step < config_.steps; ++step) {
      clock_->advance(roll(2000));
      const int device = roll(config_.devices);
      const int dice = roll(100);
      if (dice < 15) insert(device);
      else if (dice < 55) update(device);
      else if (dice < 60) remove(device);
      else if (dice < 92) sync(device, /*must_succeed=*/false);
      else if (dice < 97) restart_device(device);
      else restart_server();
    }
    // The quiet round: no faults; two passes so that every device pulls what
    // the others pushed in the first.
    transport_->set_faults(nullptr);
    for (int pass = 0; pass < 2; ++pass) {
      for (int device = 0; device < config_.devices; ++device) sync(device, /*must_succeed=*/true);
    }
  }

  void check() {
    const std::string server_dump = value_of(server_->dump_json(), "server dump");
    for (int device = 0; device < config_.devices; ++device) {
      const std::string dump = value_of(devices_[device]->dump_json(), "device dump");
      if (dump != server_dump) {
        fail(config_, "device " + std::to_string(device) + " differs from the server:\n  device " +
                          dump.substr(0, 400) + "\n  server " + server_dump.substr(0, 400));
      }
      if (value_of(devices_[device]->status(), "status").pending_changes != 0) {
        fail(config_, "device " + std::to_string(device) + " still has pending changes");
      }
    }
    std::size_t live = 0;
    for (const auto& [id, cells] : model_) {
      const auto row = value_of(devices_[0]->get("household", id), "get");
      if (deleted_.count(id)) {
        if (row) fail(config_, "row " + id + " was deleted but is still there");
        continue;
      }
      if (!row) fail(config_, "row " + id + " was lost");
      ++live;
      for (const auto& [column, write] : cells) {
        if (!(row->at(column) == write.value)) {
          fail(config_, "row " + id + " column " + column + ": the write stamped " +
                            std::to_string(write.hlc) + " by " + write.device + " was lost");
        }
      }
    }
    std::printf("convergence_sim: seed %llu: %d devices, %d steps, %d syncs (%d failed), %d "
                "restarts of devices, %d of the server, %zu rows (%zu live): converged\n",
                static_cast<unsigned long long>(config_.seed), config_.devices, config_.steps,
                syncs_, failed_syncs_, device_restarts_, server_restarts_, model_.size(), live);
  }

 private:
  int roll(int n) { return static_cast<int>(rng_() % static_cast<std::uint64_t>(n)); }

  template <typename T>
  T value_of(lumbung::Result<T> result, const std::string& what) {
    if (!result.is_ok()) fail(config_, what + ": " + result.status().to_string());
    return std::move(result).value();
  }
  void ok(const Status& status, const std::string& what) {
    if (!status.is_ok()) fail(config_, what + ": " + status.to_string());
  }

  void open_server() {
    lumbung::server::ServerOptions options;
    options.data_dir = dir_.file("server");
    options.clock = clock_;
    options.insecure_no_auth = true;
    server_ = value_of(SyncServer::open(options), "open server");
  }

  void restart_server() {
    transport_->set_server(nullptr);
    server_.reset();
    open_server();
    transport_->set_server(server_.get());
    ++server_restarts_;
  }

  std::unique_ptr<Replica> open_device(int device) {
    return value_of(Replica::open(device_options_[device]), "open device");
  }

  void restart_device(int device) {
    devices_[device].reset();
    devices_[device] = open_device(device);
    ++device_restarts_;
  }

  // The stamp the device's last write got: every captured write ticks the clock.
  std::int64_t last_stamp(int device) {
    const auto rows = value_of(devices_[device]->query("SELECT hlc FROM _lumbung_clock"), "hlc");
    return rows.at(0).at("hlc").as_integer();
  }

  void record(int device, const std::string& id, const std::string& column, const Value& value) {
    const std::int64_t hlc = last_stamp(device);
    const std::string& author = device_options_[device].device_id;
    Write& best = model_[id][column];
    if (best.device.empty() || std::tie(hlc, author) > std::tie(best.hlc, best.device)) {
      best = Write{hlc, author, value};
    }
  }

  Value random_value(const std::string& column) {
    if (column == "latitude") return Value(-6.0 - roll(100000) / 100000.0);
    return Value(column + "-" + std::to_string(++writes_));
  }

  // A live row this device holds, if any.
  std::optional<std::string> pick_row(int device) {
    const auto rows = value_of(
        devices_[device]->query("SELECT id FROM household ORDER BY rowid LIMIT 1 OFFSET ?1",
                                {Value(static_cast<std::int64_t>(roll(64)))}),
        "pick");
    if (rows.empty()) return std::nullopt;
    return rows.front().at("id").as_text();
  }

  void insert(int device) {
    Row row = {{"village_id", Value(kVillages[roll(2)])},
               {"created_by", Value(device_options_[device].device_id)},
               {"created_at", Value("2026-11-28T08:00:00Z")}};
    for (const char* column : kEditable) row[column] = random_value(column);
    const std::string id = value_of(devices_[device]->insert_new("household", row), "insert");
    for (const auto& [column, value] : row) record(device, id, column, value);
  }

  void update(int device) {
    const std::optional<std::string> id = pick_row(device);
    if (!id) return;
    const std::string column = kEditable[roll(5)];
    const Value value = random_value(column);
    ok(devices_[device]->update("household", *id, {{column, value}}), "update");
    record(device, *id, column, value);
  }

  void remove(int device) {
    const std::optional<std::string> id = pick_row(device);
    if (!id) return;
    ok(devices_[device]->remove("household", *id), "delete");
    deleted_.insert(*id);
  }

  void sync(int device, bool must_succeed) {
    lumbung::SyncOptions options;
    options.transport = transport_;
    options.max_attempts = must_succeed ? 1 : 2;
    options.initial_backoff = std::chrono::milliseconds(0);
    options.push_batch_changes = 1 + roll(40);
    options.page_budget_bytes = 256 + roll(8192);
    ++syncs_;
    auto summary = devices_[device]->sync(options);
    if (summary.is_ok()) return;
    ++failed_syncs_;
    if (must_succeed || summary.status().retry() != lumbung::RetryClass::kTransient) {
      fail(config_, "sync of device " + std::to_string(device) + ": " + summary.status().to_string());
    }
  }

  Config config_;
  std::mt19937_64 rng_;
  lumbung::test::TempDir dir_;
  std::shared_ptr<lumbung::test::FakeClock> clock_;
  std::unique_ptr<SyncServer> server_;
  std::shared_ptr<MemoryTransport> transport_;
  std::vector<lumbung::ReplicaOptions> device_options_;
  std::vector<std::unique_ptr<Replica>> devices_;
  std::map<std::string, std::map<std::string, Write>> model_;
  std::set<std::string> deleted_;
  int writes_ = 0, syncs_ = 0, failed_syncs_ = 0, device_restarts_ = 0, server_restarts_ = 0;
};

[[noreturn]] void usage(int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: convergence_sim [--seed N] [--devices N] [--steps N]\n");
  std::exit(status);
}

Config parse(int argc, char** argv) {
  Config config;
  config.seed = std::random_device()();
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") usage(0);
    if (i + 1 == argc) usage(2);
    char* end = nullptr;
    const unsigned long long value = std::strtoull(argv[i + 1], &end, 10);
    if (*argv[i + 1] == '\0' || *end != '\0') usage(2);
    if (flag == "--seed") config.seed = value;
    else if (flag == "--devices") config.devices = static_cast<int>(value);
    else if (flag == "--steps") config.steps = static_cast<int>(value);
    else usage(2);
  }
  if (config.devices < 1 || config.steps < 1) usage(2);
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  const Config config = parse(argc, argv);
  std::printf("convergence_sim: seed %llu (replay with --seed %llu)\n",
              static_cast<unsigned long long>(config.seed),
              static_cast<unsigned long long>(config.seed));
  std::fflush(stdout);
  Simulation simulation(config);
  simulation.run();
  simulation.check();
  return 0;
}
