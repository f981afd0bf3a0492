// The convergence simulation: N devices make random inserts, updates and
// deletes on overlapping cells of two villages and sync in random order over
// a link that drops, duplicates and delays requests and loses answers
// (MemoryTransport's LinkFault). Devices and the server are restarted at
// random, cleanly or by a power cut at a random write or sync
// (PowerCutVfs): what was not synced to the disk is lost, maybe torn. A write
// a cut interrupted may survive or not, but whole; every write that returned
// before and every acknowledged push must survive. After a final quiet round
// every device must equal the server, and the server must hold, for every
// cell, the write with the greatest stamp ever made to it (last-writer-wins).
//
//   convergence_sim [--seed N] [--devices N] [--ops N] [--store URL|cluster [--daemons N]]
//
// With --store, the server's state is in PostgreSQL (issue 20), served by
// --daemons SyncServers (default 1) over that one database, each with a
// data directory of its own (docs/decisions/0036); each delivery of a
// request goes to a daemon picked at random, as behind a load balancer.
// --store URL names a server by the URL of one of its databases, in the form
// postgresql:///DB?host=SOCKET_DIR&user=... (tests/support/pg_cluster.hpp):
// the run creates a database of its own there, convergence_sim_SEED_PID,
// dropped when the run passes and kept, for a look, when it fails.
// --store cluster starts a throwaway cluster of the run's own, and restarts
// PostgreSQL itself now and then (pg_ctl restart -m fast: every connection
// of every daemon breaks); never on a shared cluster. There is no power cut
// of the server then: PostgreSQL's durability is not ours to simulate (the
// throwaway clusters even run with fsync off). A daemon is killed instead:
// the one that handles a random one of the next few requests loses that
// request's answer (what it committed stays committed) and takes no more
// until the operation ends; then its SyncServer object is dropped and opened
// again. ~SyncServer always stops cleanly (SyncServer::stop(), which here has
// nothing in flight: each request is answered before the next is sent), so a
// kill is a daemon gone after a commit and before its answer left, the case
// a device must recover from, on another daemon; a kill in the middle of a
// transaction is PostgreSQL's to roll back, and is not simulated.
//
// An operation is a device write (insert, update or delete) or a sync; the
// run stops after --ops of them. Once kMaxLiveRows rows are live, inserts
// turn into deletes: a village's records are bounded, and so is the cost of
// an operation, however long the run. Runs the real device (Replica) and
// the real daemon core (SyncServer) in one process, connected by
// MemoryTransport.
// Prints its seed: a failure replays exactly with --seed (docs/decisions/0011);
// with --store, the devices' side replays, while the daemons' own threads
// (the commit feed) keep the machine's timing.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "lumbung/replica.hpp"
#include "pg/connection.hpp"
#include "server/open_store.hpp"
#include "server/sync_server.hpp"
#include "support/memory_transport.hpp"
#include "support/pg_cluster.hpp"
#include "support/power_cut_vfs.hpp"
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
using lumbung::test::PowerCutVfs;

constexpr std::int64_t kStartMs = 1795000000000;  // 2026-11-18
const char* const kVillages[] = {"0190f1c2-7a00-7000-8000-00000000000a",
                                 "0190f1c2-7a00-7000-8000-00000000000b"};
const char* const kEditable[] = {"head_name", "dusun", "phone", "notes", "latitude"};
constexpr std::size_t kMaxLiveRows = 400;

struct Config {
  std::uint64_t seed = 0;
  int devices = 4;
  std::int64_t ops = 3000;
  std::string store;  // empty: the SQLite store; else a URL, or "cluster"
  int daemons = 1;
};

// Where a run keeps the server's state in PostgreSQL: a database of its own,
// on a cluster of its own or on the server of --store's URL.
class PgStoreForRun {
 public:
  explicit PgStoreForRun(const Config& config) {
    name_ = "convergence_sim_" + std::to_string(config.seed) + "_" + std::to_string(::getpid());
    if (config.store == "cluster") {
      cluster_ = std::make_unique<lumbung::test::PgCluster>();
      server_url_ = cluster_->url();
    } else {
      server_url_ = config.store;
    }
    url_ = lumbung::test::PgServer(server_url_).create_database(name_);
  }
  // Drops the run's database (a run that failed keeps it).
  void drop() {
    auto conn = lumbung::pg::Connection::open(server_url_);
    Status dropped =
        conn.is_ok() ? (*conn)->exec("DROP DATABASE " + name_ + " WITH (FORCE)") : conn.status();
    if (!dropped.is_ok()) {
      std::fprintf(stderr, "convergence_sim: cannot drop database %s: %s\n", name_.c_str(),
                   dropped.to_string().c_str());
    }
  }
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  // Null on a server the run does not own.
  lumbung::test::PgCluster* cluster() const { return cluster_.get(); }

 private:
  std::unique_ptr<lumbung::test::PgCluster> cluster_;
  std::string server_url_, name_, url_;
};

// Set once the run's database exists: a failure names it.
const PgStoreForRun* g_pg_store = nullptr;

[[noreturn]] void fail(const Config& config, const std::string& what) {
  std::fprintf(stderr, "convergence_sim: FAILED (seed %llu): %s\n",
               static_cast<unsigned long long>(config.seed), what.c_str());
  if (g_pg_store != nullptr && g_pg_store->cluster() == nullptr) {
    std::fprintf(stderr, "convergence_sim: the server's state is kept in database %s\n",
                 g_pg_store->name().c_str());
  } else if (g_pg_store != nullptr) {
    // std::exit() runs no destructor of main's: the cluster's server would stay.
    lumbung::test::PgCluster::remove(g_pg_store->cluster()->folder());
  }
  std::exit(1);
}

// The greatest stamp written to one cell so far, and its value.
struct Write {
  std::int64_t hlc = 0;
  std::string device;
  Value value;
};

// A device write as the simulation asked for it; `id` empty: nothing written.
struct Intent {
  enum Kind { kInsert, kUpdate, kDelete } kind = kInsert;
  std::string id;
  Row cells;  // inserted or updated
};

// A device's link: a device whose power is cut sends nothing more.
class DeviceLink : public lumbung::Transport {
 public:
  DeviceLink(std::shared_ptr<MemoryTransport> link, std::function<bool()> up)
      : link_(std::move(link)), up_(std::move(up)) {}
  lumbung::Result<lumbung::HttpResponse> exchange(const lumbung::HttpRequest& request) override {
    if (!up_()) return Status(ErrorCode::kNetwork, "device is off");
    return link_->exchange(request);
  }

 private:
  std::shared_ptr<MemoryTransport> link_;
  std::function<bool()> up_;
};

class Simulation {
 public:
  // `pg`: the run's PostgreSQL store, or null for the SQLite one.
  Simulation(const Config& config, PgStoreForRun* pg)
      : config_(config),
        pg_(pg),
        rng_(config.seed),
        vfs_(config.seed),
        clock_(std::make_shared<lumbung::test::FakeClock>(kStartMs)),
        server_files_(dir_.file("server") + "/") {
    if (pg_ != nullptr) {
      for (int i = 0; i < config.daemons; ++i) daemons_.push_back(open_daemon(i));
      transport_ = std::make_shared<MemoryTransport>(daemons_[0].get());
      transport_->set_servers(
          [this] {
            std::vector<SyncServer*> servers;
            for (const auto& daemon : daemons_) servers.push_back(daemon.get());
            return servers;
          }(),
          [this] { return static_cast<std::size_t>(roll(config_.daemons)); });
      killed_.assign(config.daemons, false);
      transport_->set_daemon_up([this](std::size_t daemon) { return !killed_[daemon]; });
      transport_->set_on_handled([this](std::size_t daemon) {
        if (kill_after_ > 0 && --kill_after_ == 0) killed_[daemon] = true;
      });
    } else {
      open_server();
      transport_ = std::make_shared<MemoryTransport>(server_.get());
      transport_->set_server_up([this] { return !vfs_.is_cut(server_files_); });
    }
    for (int i = 0; i < config.devices; ++i) {
      lumbung::ReplicaOptions options =
          lumbung::test::options_for(dir_.file("device" + std::to_string(i) + ".db"));
      options.device_id = "device-" + std::to_string(i);
      options.clock = clock_;
      device_options_.push_back(options);
      devices_.push_back(open_device(i));
      const std::string files = options.path;  // and its -wal, -shm, -journal
      links_.push_back(
          std::make_shared<DeviceLink>(transport_, [this, files] { return !vfs_.is_cut(files); }));
    }
  }

  void run() {
    transport_->set_faults([this](const lumbung::HttpRequest&) {
      const int dice = roll(100);
      const LinkFault fault = dice < 8    ? LinkFault::kDropRequest
                              : dice < 16 ? LinkFault::kDropResponse
                              : dice < 20 ? LinkFault::kDuplicateRequest
                              : dice < 23 ? LinkFault::kDelayRequest
                                          : LinkFault::kNone;
      if (fault != LinkFault::kNone) ++link_faults_[static_cast<int>(fault)];
      return fault;
    });
    while (writes_ + syncs_ < config_.ops) {
      clock_->advance(roll(2000));
      const int device = roll(config_.devices);
      const int dice = roll(100);
      // A power cut at a random write or sync of what comes next.
      const std::string& device_files = device_options_[device].path;
      if (roll(100) < 4) vfs_.cut_after(device_files, 1 + roll(12));
      if (pg_ != nullptr) {
        // A kill of the daemon that handles a random one of the next requests.
        if (dice >= 60 && dice < 92 && roll(100) < 5) kill_after_ = 1 + roll(4);
      } else if (dice >= 60 && dice < 92 && roll(100) < 5) {
        vfs_.cut_after(server_files_, 1 + roll(20));
      }
      const Intent intent = operate(device, dice);
      if (pg_ != nullptr) {
        for (int daemon = 0; daemon < config_.daemons; ++daemon) {
          if (killed_[daemon]) reopen_daemon(daemon, /*killed=*/true);
        }
        kill_after_ = 0;
      } else if (vfs_.is_cut(server_files_)) {
        power_cycle_server();
      } else {
        vfs_.disarm(server_files_);
      }
      if (vfs_.is_cut(device_files)) {
        power_cycle_device(device);
        settle(device, intent);
      } else {
        vfs_.disarm(device_files);
        commit(device, intent);
      }
    }
    // The quiet round: no faults; two passes so that every device pulls what
    // the others pushed in the first.
    transport_->set_faults(nullptr);
    for (int pass = 0; pass < 2; ++pass) {
      for (int device = 0; device < config_.devices; ++device) sync(device, /*must_succeed=*/true);
    }
  }

  void check() {
    SyncServer& server = pg_ != nullptr ? *daemons_[0] : *server_;
    const std::string server_dump = value_of(server.dump_json(), "server dump");
    // Every daemon serves the same store, and must show the same.
    for (std::size_t daemon = 1; daemon < daemons_.size(); ++daemon) {
      if (value_of(daemons_[daemon]->dump_json(), "daemon dump") != server_dump) {
        fail(config_, "daemon " + std::to_string(daemon) + " differs from daemon 0");
      }
    }
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
    std::size_t live = 0, cells_verified = 0;
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
        ++cells_verified;
      }
    }
    const PowerCutVfs::Counts cuts = vfs_.counts();
    std::printf(
        "convergence_sim: seed %llu, %d devices: %lld operations (%lld writes, %lld syncs of "
        "which %lld failed)\n"
        "  faults: %lld link (%lld requests dropped, %lld answers lost, %lld requests "
        "duplicated, %lld delayed); %lld power cuts (%lld of devices, %lld of the server; "
        "%lld unsynced writes lost, %lld torn); %lld clean restarts (%lld of devices, %lld "
        "of the server)\n"
        "  writes a cut interrupted: %lld survived whole, %lld lost whole\n"
        "  verified: %zu rows (%zu live, %zu deleted), %zu cells hold the greatest-stamp "
        "write, every device equals the server: converged\n",
        static_cast<unsigned long long>(config_.seed), config_.devices, ll(writes_ + syncs_),
        ll(writes_), ll(syncs_), ll(failed_syncs_),
        ll(link_faults_[1] + link_faults_[2] + link_faults_[3] + link_faults_[4]),
        ll(link_faults_[1]), ll(link_faults_[2]), ll(link_faults_[3]), ll(link_faults_[4]),
        ll(cuts.cuts), ll(device_cuts_), ll(server_cuts_), ll(cuts.writes_lost),
        ll(cuts.writes_torn), ll(device_restarts_ + server_restarts_), ll(device_restarts_),
        ll(server_restarts_), ll(interrupted_survived_), ll(interrupted_lost_), model_.size(), live,
        model_.size() - live, cells_verified);
    if (pg_ != nullptr) {
      std::printf(
          "  store: PostgreSQL (%s), %d daemons: %lld kills (a handled request's answer lost), "
          "%lld clean restarts of daemons, %lld restarts of PostgreSQL\n",
          pg_->cluster() != nullptr ? "a cluster of the run's own" : "a database of the run's own",
          config_.daemons, ll(daemon_kills_), ll(server_restarts_), ll(pg_restarts_));
    }
  }

 private:
  int roll(int n) { return static_cast<int>(rng_() % static_cast<std::uint64_t>(n)); }
  static long long ll(std::int64_t n) { return static_cast<long long>(n); }

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
    if (pg_ != nullptr) {
      // One in ten: PostgreSQL itself, on a cluster of the run's own (on
      // another, a daemon, so that a seed picks the same rows either way).
      if (roll(10) == 0 && pg_->cluster() != nullptr) {
        try {
          pg_->cluster()->restart();
        } catch (const std::exception& e) {
          fail(config_, std::string("restart of PostgreSQL: ") + e.what());
        }
        ++pg_restarts_;
        return;
      }
      reopen_daemon(roll(config_.daemons), /*killed=*/false);
    } else {
      reopen_server(/*power_cut=*/false);
    }
    ++server_restarts_;
  }

  std::unique_ptr<SyncServer> open_daemon(int daemon) {
    lumbung::server::ServerOptions options;
    options.data_dir = dir_.file("daemon" + std::to_string(daemon));
    options.store_url = pg_->url();
    options.clock = clock_;
    options.insecure_no_auth = true;  // no keys to copy between the data directories
    return value_of(SyncServer::open(options), "open daemon " + std::to_string(daemon));
  }

  // A daemon stopped, or killed (see the file's comment), and started again.
  void reopen_daemon(int daemon, bool killed) {
    transport_->set_server_at(daemon, nullptr);
    daemons_[daemon].reset();
    daemons_[daemon] = open_daemon(daemon);
    transport_->set_server_at(daemon, daemons_[daemon].get());
    killed_[daemon] = false;
    if (killed) ++daemon_kills_;
  }

  // The daemon lost power: it comes back with what reached its disk.
  void power_cycle_server() {
    reopen_server(/*power_cut=*/true);
    ++server_cuts_;
  }

  void reopen_server(bool power_cut) {
    transport_->set_server(nullptr);
    server_.reset();
    if (power_cut) vfs_.restore(server_files_);
    open_server();
    transport_->set_server(server_.get());
  }

  std::unique_ptr<Replica> open_device(int device) {
    return value_of(Replica::open(device_options_[device]), "open device");
  }

  void restart_device(int device) {
    devices_[device].reset();
    devices_[device] = open_device(device);
    ++device_restarts_;
  }

  void power_cycle_device(int device) {
    devices_[device].reset();
    vfs_.restore(device_options_[device].path);
    devices_[device] = open_device(device);
    ++device_cuts_;
  }

  // One operation of `device`, picked by `dice` (0 to 99).
  Intent operate(int device, int dice) {
    if (dice < 15)
      return model_.size() - deleted_.size() < kMaxLiveRows ? insert(device) : remove(device);
    if (dice < 55) return update(device);
    if (dice < 60) return remove(device);
    if (dice < 92) {
      sync(device, /*must_succeed=*/false);
    } else if (dice < 97) {
      restart_device(device);
    } else {
      restart_server();
    }
    return Intent{};
  }

  // A write that returned before any cut is committed: the model takes it.
  void commit(int device, const Intent& intent) {
    if (intent.id.empty()) return;
    if (intent.kind == Intent::kDelete) {
      deleted_.insert(intent.id);
      return;
    }
    for (const auto& [column, value] : intent.cells) record(device, intent.id, column, value);
  }

  // A write a power cut interrupted: the reopened device holds all of it or
  // none of it; the model takes what it holds.
  void settle(int device, const Intent& intent) {
    if (intent.id.empty()) return;
    const auto row = value_of(devices_[device]->get("household", intent.id), "get");
    bool survived = false;
    if (intent.kind == Intent::kDelete) {
      survived = !row;
    } else if (row) {
      std::size_t held = 0;
      for (const auto& [column, value] : intent.cells) held += row->at(column) == value;
      if (held != 0 && held != intent.cells.size()) {
        fail(config_,
             "device " + std::to_string(device) + " holds part of a write to " + intent.id);
      }
      survived = held != 0;
      if (!survived && intent.kind == Intent::kInsert) {
        fail(config_, "device " + std::to_string(device) + " holds a row it never wrote");
      }
    } else if (intent.kind == Intent::kUpdate) {
      fail(config_, "device " + std::to_string(device) + " lost row " + intent.id);
    }
    ++(survived ? interrupted_survived_ : interrupted_lost_);
    if (survived) commit(device, intent);
  }

  // The stamp the device's last write got: the capture log's last entry, or
  // the clock when the log was folded since (the clock moves past it then).
  std::int64_t last_stamp(int device) {
    const auto rows = value_of(
        devices_[device]->query(
            "SELECT max(hlc, COALESCE((SELECT hlc FROM _lumbung_log ORDER BY seq DESC LIMIT 1), "
            "0)) AS hlc FROM _lumbung_clock"),
        "hlc");
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

  // Every value is new, so that a reopened device shows whether a write survived.
  Value random_value(const std::string& column) {
    ++values_;
    if (column == "latitude") return Value(-6.0 - static_cast<double>(values_) / 1e9);
    return Value(column + "-" + std::to_string(values_));
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

  Intent insert(int device) {
    Intent intent{Intent::kInsert, {}, {}};
    intent.cells = {{"village_id", Value(kVillages[roll(2)])},
                    {"created_by", Value(device_options_[device].device_id)},
                    {"created_at", Value("2026-11-28T08:00:00Z")}};
    for (const char* column : kEditable) intent.cells[column] = random_value(column);
    intent.id = value_of(devices_[device]->insert_new("household", intent.cells), "insert");
    ++writes_;
    return intent;
  }

  Intent update(int device) {
    Intent intent{Intent::kUpdate, {}, {}};
    const std::optional<std::string> id = pick_row(device);
    if (!id) return intent;
    const std::string column = kEditable[roll(5)];
    intent.cells = {{column, random_value(column)}};
    ok(devices_[device]->update("household", *id, intent.cells), "update");
    intent.id = *id;
    ++writes_;
    return intent;
  }

  Intent remove(int device) {
    Intent intent{Intent::kDelete, {}, {}};
    const std::optional<std::string> id = pick_row(device);
    if (!id) return intent;
    ok(devices_[device]->remove("household", *id), "delete");
    intent.id = *id;
    ++writes_;
    return intent;
  }

  void sync(int device, bool must_succeed) {
    lumbung::SyncOptions options;
    options.transport = links_[device];
    options.max_attempts = must_succeed ? 1 : 2;
    options.initial_backoff = std::chrono::milliseconds(0);
    options.push_batch_changes = 1 + roll(40);
    options.page_budget_bytes = 256 + roll(8192);
    ++syncs_;
    auto summary = devices_[device]->sync(options);
    if (summary.is_ok()) return;
    ++failed_syncs_;
    if (must_succeed || summary.status().retry() != lumbung::RetryClass::kTransient) {
      fail(config_,
           "sync of device " + std::to_string(device) + ": " + summary.status().to_string());
    }
  }

  Config config_;
  PgStoreForRun* pg_;  // null: the SQLite store
  std::mt19937_64 rng_;
  PowerCutVfs vfs_;  // outlives every connection below
  lumbung::test::TempDir dir_;
  std::shared_ptr<lumbung::test::FakeClock> clock_;
  const std::string server_files_;
  std::unique_ptr<SyncServer> server_;                // the SQLite store's
  std::vector<std::unique_ptr<SyncServer>> daemons_;  // PostgreSQL's
  int kill_after_ = 0;        // requests handled before a kill; 0: none armed
  std::vector<bool> killed_;  // by daemon: killed, not yet reopened
  std::shared_ptr<MemoryTransport> transport_;
  std::vector<lumbung::ReplicaOptions> device_options_;
  std::vector<std::unique_ptr<Replica>> devices_;
  std::vector<std::shared_ptr<DeviceLink>> links_;
  std::map<std::string, std::map<std::string, Write>> model_;
  std::set<std::string> deleted_;
  std::int64_t values_ = 0, writes_ = 0, syncs_ = 0, failed_syncs_ = 0;
  std::int64_t device_restarts_ = 0, server_restarts_ = 0, device_cuts_ = 0, server_cuts_ = 0;
  std::int64_t interrupted_survived_ = 0, interrupted_lost_ = 0;
  std::int64_t daemon_kills_ = 0, pg_restarts_ = 0;
  std::int64_t link_faults_[5] = {};  // by LinkFault
};

[[noreturn]] void usage(int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: convergence_sim [--seed N] [--devices N] [--ops N] "
               "[--store URL|cluster [--daemons N]]\n");
  std::exit(status);
}

Config parse(int argc, char** argv) {
  Config config;
  config.seed = std::random_device()();
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") usage(0);
    if (i + 1 == argc) usage(2);
    if (flag == "--store") {
      config.store = argv[i + 1];
      if (config.store.empty()) usage(2);
      continue;
    }
    char* end = nullptr;
    const unsigned long long value = std::strtoull(argv[i + 1], &end, 10);
    if (*argv[i + 1] == '\0' || *end != '\0') usage(2);
    if (flag == "--seed")
      config.seed = value;
    else if (flag == "--devices")
      config.devices = static_cast<int>(value);
    else if (flag == "--ops")
      config.ops = static_cast<std::int64_t>(value);
    else if (flag == "--daemons")
      config.daemons = static_cast<int>(value);
    else
      usage(2);
  }
  if (config.devices < 1 || config.ops < 1 || config.daemons < 1) usage(2);
  if (config.daemons > 1 && config.store.empty()) {
    std::fprintf(stderr,
                 "convergence_sim: --daemons %d needs --store: several daemons share a "
                 "PostgreSQL store\n",
                 config.daemons);
    std::exit(2);
  }
  if (!config.store.empty() && config.store != "cluster" &&
      (!config.store.starts_with("postgresql:///") ||
       config.store.find('?') == std::string::npos)) {
    std::fprintf(stderr,
                 "convergence_sim: --store '%s': expected 'cluster' or a URL "
                 "postgresql:///DB?host=SOCKET_DIR&user=USER\n",
                 lumbung::server::printable_store_url(config.store).c_str());
    std::exit(2);
  }
  if (config.daemons > 32) {
    std::fprintf(stderr, "convergence_sim: --daemons %d: at most 32\n", config.daemons);
    std::exit(2);
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  const Config config = parse(argc, argv);
  std::printf("convergence_sim: seed %llu (replay with --seed %llu)\n",
              static_cast<unsigned long long>(config.seed),
              static_cast<unsigned long long>(config.seed));
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<PgStoreForRun> pg;
  if (!config.store.empty()) {
    try {
      pg = std::make_unique<PgStoreForRun>(config);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "convergence_sim: --store %s: %s\n",
                   lumbung::server::printable_store_url(config.store).c_str(), e.what());
      return 2;
    }
    g_pg_store = pg.get();
  }
  {
    Simulation simulation(config, pg.get());
    simulation.run();
    simulation.check();
  }
  if (pg) pg->drop();
  std::printf("  %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}
