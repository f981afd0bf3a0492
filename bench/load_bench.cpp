// Load: N simulated devices (simulated_devices.hpp), all connected at once,
// push and pull against one real lumbungd over loopback, with a token each,
// as officers' phones do.
//
//   build/bench/load_bench [--devices N] [--seconds S] [--think-ms M]
//                          [--devices-per-village K]
//   (default: N = 100, then N = 1000; S = 60; M = 10000; K = 10)
//
// Each device thinks for M ms (0.5 M to 1.5 M) between its pushes and pulls,
// for S seconds; every answer is checked, and anything unexpected is an
// error, counted and shown.
//
// The daemon's peak memory (VmHWM) and CPU (utime + stime) come from /proc.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "measure.hpp"
#include "simulated_devices.hpp"
#include "support/daemon_process.hpp"

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
};

// --- the daemon's and the generator's use of the machine ---

struct CpuSample {
  double daemon_seconds = 0;
  double generator_seconds = 0;
};

CpuSample sample_cpu(pid_t daemon) { return {cpu_seconds(daemon), own_cpu_seconds()}; }

// --- a run ---

// Returns the number of errors.
std::int64_t run(const Settings& settings, const Workload& workload) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("lumbung-load-bench-" + std::to_string(::getpid())))
                              .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::vector<Identity> identities =
      issue_identities(LUMBUNGD, dir, "load", settings.devices, settings.devices_per_village);
  lumbung::test::DaemonProcess daemon(LUMBUNGD, dir);

  boost::asio::io_context io;
  Tally tally;
  const SteadyClock::time_point start = SteadyClock::now();
  const SteadyClock::time_point end = start + settings.duration;
  const CpuSample cpu_before = sample_cpu(daemon.pid());
  const SimulatedDevices devices(io, endpoint_of(daemon.url()), identities, workload,
                                 settings.think, end, false, tally);
  io.run();
  const double wall = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const CpuSample cpu_after = sample_cpu(daemon.pid());
  const long daemon_peak_kib = peak_rss_kib(daemon.pid());
  daemon.terminate();
  std::filesystem::remove_all(dir);

  const auto requests = tally.push_ms.size() + tally.pull_ms.size();
  std::printf("\n%d devices, %d per village, think %lld ms, %.1f s\n", settings.devices,
              settings.devices_per_village, static_cast<long long>(settings.think.count()), wall);
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
  std::printf("  lumbungd      peak RSS %.1f MiB, CPU %.1f s = %.0f%% of wall\n",
              daemon_peak_kib / 1024.0, cpu_after.daemon_seconds - cpu_before.daemon_seconds,
              100 * (cpu_after.daemon_seconds - cpu_before.daemon_seconds) / wall);
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
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 == argc) fail("usage: load_bench [--devices N] [--seconds S] [--think-ms M]");
    const long value = parse_positive(argv[i], argv[i + 1]);
    ++i;
    if (flag == "--devices") {
      device_counts.push_back(static_cast<int>(value));
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
  raise_open_files_limit();

  const Workload workload = load_workload();
  std::printf("load_bench: simulated devices against one lumbungd over loopback\n");
  std::int64_t errors = 0;
  for (int count : device_counts) {
    settings.devices = count;
    errors += run(settings, workload);
  }
  return errors == 0 ? 0 : 1;
}
