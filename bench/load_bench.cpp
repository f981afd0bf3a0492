// Load: N simulated devices (simulated_devices.hpp), all connected at once,
// push and pull against real lumbungd processes over loopback, with a token
// each, as officers' phones do.
//
//   build/bench/load_bench [--devices N] [--seconds S] [--think-ms M]
//                          [--devices-per-village K] [--store sqlite|postgresql]
//                          [--daemons D]
//   (default: N = 100, then N = 1000; S = 60; M = 10000; K = 10; sqlite; D = 1)
//
// Each device thinks for M ms (0.5 M to 1.5 M) between its pushes and pulls,
// for S seconds; every answer is checked, and anything unexpected is an
// error, counted and shown. --devices and --daemons may be given several
// times: each count of devices runs against each count of daemons.
//
// With --store postgresql the bench starts a throwaway PostgreSQL cluster
// (tests/support/pg_cluster.hpp) and runs D daemons over one fresh database
// of it, device i talking to daemon i mod D as a load balancer keeping
// connections would send it. The SQLite store serves one daemon only.
//
// The daemons' peak memory (VmHWM, the largest of them) and CPU (utime +
// stime, summed) come from /proc; PostgreSQL's CPU is its postmaster's with
// the backends it reaped once the daemons stopped.
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "measure.hpp"
#include "pg/connection.hpp"
#include "simulated_devices.hpp"
#include "support/daemon_process.hpp"
#include "support/pg_cluster.hpp"

namespace {

using namespace lumbung::bench;
using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "load_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Settings {
  int devices = 0;
  std::chrono::seconds duration{60};
  std::chrono::milliseconds think{10000};
  int devices_per_village = 10;
  int daemons = 1;
  // The PostgreSQL cluster the daemons' store is in; null: each daemon's
  // SQLite store in its data dir.
  const lumbung::test::PgCluster* cluster = nullptr;
};

// --- the daemon's and the generator's use of the machine ---

struct CpuSample {
  double daemon_seconds = 0;  // of every daemon
  double generator_seconds = 0;
};

CpuSample sample_cpu(const std::vector<std::unique_ptr<lumbung::test::DaemonProcess>>& daemons) {
  CpuSample sample{.generator_seconds = own_cpu_seconds()};
  for (const auto& daemon : daemons) sample.daemon_seconds += cpu_seconds(daemon->pid());
  return sample;
}

// --- PostgreSQL's use of the machine ---

// Waits (up to 10 s) until no backend serves database `url`'s connections,
// so that the postmaster has reaped them and counts their CPU.
void wait_for_backends_gone(const lumbung::test::PgCluster& cluster, const std::string& database) {
  auto conn = lumbung::pg::Connection::open(cluster.url());
  if (!conn.is_ok()) fail("cannot connect to the cluster: " + conn.status().to_string());
  const auto deadline = SteadyClock::now() + std::chrono::seconds(10);
  while (SteadyClock::now() < deadline) {
    auto rows = (*conn)->query("SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                               {lumbung::Value(database)});
    if (rows.is_ok() && rows->step() && rows->integer(0) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  fail("the database's PostgreSQL backends did not end within 10 s");
}

// --- a run ---

// Returns the number of errors.
std::int64_t run(const Settings& settings, const Workload& workload) {
  namespace fs = std::filesystem;
  const fs::path base =
      fs::temp_directory_path() / ("lumbung-load-bench-" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base);
  // Tokens are issued once, with the first daemon's keys; over PostgreSQL the
  // credentials are in the database, and the other daemons get copies of
  // the keys alone, as an operator would give them. One SQLite daemon keeps
  // them in its data dir.
  const std::string first_dir = (base / "daemon-0").string();
  fs::create_directories(first_dir);
  std::vector<std::string> store_args;
  std::string database;
  double postgres_before = 0;
  if (settings.cluster != nullptr) {
    static int database_number = 0;
    database = "load_" + std::to_string(++database_number);
    store_args = {"--store", settings.cluster->create_database(database)};
  }
  const std::vector<Identity> identities =
      issue_identities(LUMBUNGD, first_dir, "load", settings.devices, settings.devices_per_village,
                       store_args.empty() ? "" : store_args[1]);
  if (settings.cluster != nullptr) {
    // From here: each `lumbungd token` above had a backend of its own, whose
    // start cost PostgreSQL more than serving a request does.
    wait_for_backends_gone(*settings.cluster, database);
    postgres_before = cpu_seconds_with_children(settings.cluster->postmaster_pid());
  }
  for (int d = 1; d < settings.daemons; ++d) {
    const fs::path dir = base / ("daemon-" + std::to_string(d));
    fs::create_directories(dir);
    fs::copy(fs::path(first_dir) / "keys", dir / "keys", fs::copy_options::recursive);
  }
  // Room for every device's kept-alive connection (and a few more), which
  // lumbungd allows within its open-file limit (raised at start).
  std::vector<std::string> serve_args = store_args;
  serve_args.insert(serve_args.end(), {"--max-connections",
                                       std::to_string(settings.devices / settings.daemons + 64)});
  std::vector<std::unique_ptr<lumbung::test::DaemonProcess>> daemons;
  for (int d = 0; d < settings.daemons; ++d) {
    const fs::path dir = base / ("daemon-" + std::to_string(d));
    daemons.push_back(
        std::make_unique<lumbung::test::DaemonProcess>(LUMBUNGD, dir.string(), serve_args));
  }

  boost::asio::io_context io;
  Tally tally;
  const SteadyClock::time_point start = SteadyClock::now();
  const SteadyClock::time_point end = start + settings.duration;
  const CpuSample cpu_before = sample_cpu(daemons);
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
  for (const auto& daemon : daemons) endpoints.push_back(endpoint_of(daemon->url()));
  auto devices = std::make_unique<SimulatedDevices>(io, endpoints, identities, workload,
                                                    settings.think, end, false, tally);
  io.run();
  const double wall = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const CpuSample cpu_after = sample_cpu(daemons);
  long daemon_peak_kib = 0;
  for (const auto& daemon : daemons) {
    daemon_peak_kib = std::max(daemon_peak_kib, peak_rss_kib(daemon->pid()));
  }
  devices.reset();
  daemons.clear();  // stops them
  fs::remove_all(base);
  double postgres_seconds = 0;
  if (settings.cluster != nullptr) {
    wait_for_backends_gone(*settings.cluster, database);
    postgres_seconds =
        cpu_seconds_with_children(settings.cluster->postmaster_pid()) - postgres_before;
  }

  const auto requests = tally.push_ms.size() + tally.pull_ms.size();
  std::printf("\n%d devices, %d per village, think %lld ms, %d lumbungd over %s, %.1f s\n",
              settings.devices, settings.devices_per_village,
              static_cast<long long>(settings.think.count()), settings.daemons,
              settings.cluster != nullptr ? "PostgreSQL" : "SQLite", wall);
  std::printf("  requests      %zu (%zu pushes, %zu pulls), %.0f/s\n", requests,
              tally.push_ms.size(), tally.pull_ms.size(), static_cast<double>(requests) / wall);
  std::printf("  changes       %lld pushed, %.0f/s sustained; %lld rows pulled\n",
              static_cast<long long>(tally.changes_pushed),
              static_cast<double>(tally.changes_pushed) / wall,
              static_cast<long long>(tally.rows_pulled));
  for (auto* latencies : {&tally.push_ms, &tally.pull_ms}) {
    std::printf("  %-13s p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                latencies == &tally.push_ms ? "push latency" : "pull latency",
                percentile(*latencies, 0.50), percentile(*latencies, 0.99),
                percentile(*latencies, 1.0));
  }
  std::printf("  errors        %lld\n", static_cast<long long>(tally.errors));
  for (const std::string& error : tally.first_errors) std::printf("    %s\n", error.c_str());
  std::printf("  lumbungd      peak RSS %.1f MiB (largest), CPU %.1f s = %.0f%% of wall (all)\n",
              daemon_peak_kib / 1024.0, cpu_after.daemon_seconds - cpu_before.daemon_seconds,
              100 * (cpu_after.daemon_seconds - cpu_before.daemon_seconds) / wall);
  if (settings.cluster != nullptr) {
    std::printf("  PostgreSQL    CPU %.1f s = %.0f%% of wall (daemons' start and stop included)\n",
                postgres_seconds, 100 * postgres_seconds / wall);
  }
  std::printf("  generator     CPU %.1f s = %.0f%% of wall\n",
              cpu_after.generator_seconds - cpu_before.generator_seconds,
              100 * (cpu_after.generator_seconds - cpu_before.generator_seconds) / wall);
  std::fflush(stdout);
  return tally.errors;
}

long parse_positive(const char* flag, const char* text) {
  const std::optional<long> value = positive_number(text);
  if (!value) fail(std::string("malformed ") + flag);
  return *value;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  std::vector<int> device_counts;
  std::vector<int> daemon_counts;
  bool postgresql = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 == argc) {
      fail(
          "usage: load_bench [--devices N] [--seconds S] [--think-ms M] "
          "[--devices-per-village K] [--store sqlite|postgresql] [--daemons D]");
    }
    const std::string text = argv[++i];
    if (flag == "--store") {
      if (text != "sqlite" && text != "postgresql") fail("--store is sqlite or postgresql");
      postgresql = text == "postgresql";
      continue;
    }
    const long value = parse_positive(flag.c_str(), text.c_str());
    if (flag == "--devices") {
      device_counts.push_back(static_cast<int>(value));
    } else if (flag == "--daemons") {
      daemon_counts.push_back(static_cast<int>(value));
    } else if (flag == "--seconds") {
      settings.duration = std::chrono::seconds(value);
    } else if (flag == "--think-ms") {
      // A pause of 1.5 M must stay within the daemon's keep-alive (60 s).
      if (value > 40000) fail("--think-ms must be at most 40000");
      settings.think = std::chrono::milliseconds(value);
    } else if (flag == "--devices-per-village") {
      settings.devices_per_village = static_cast<int>(value);
    } else {
      fail("unknown option " + flag);
    }
  }
  if (device_counts.empty()) device_counts = {100, 1000};
  if (daemon_counts.empty()) daemon_counts = {1};
  for (int count : daemon_counts) {
    if (count > 1 && !postgresql) fail("several daemons need --store postgresql");
  }
  raise_open_files_limit();

  std::optional<lumbung::test::PgCluster> cluster;
  if (postgresql) {
    cluster.emplace();
    settings.cluster = &*cluster;
  }
  const Workload workload = load_workload();
  std::printf("load_bench: simulated devices against lumbungd over loopback\n");
  std::int64_t errors = 0;
  for (int daemons : daemon_counts) {
    for (int count : device_counts) {
      settings.devices = count;
      settings.daemons = daemons;
      errors += run(settings, workload);
    }
  }
  return errors == 0 ? 0 : 1;
}
