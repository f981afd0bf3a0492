// Phones re-seeding a server that went back in time (docs/protocol.md, "Going
// back in time"), against a real lumbungd, over loopback and over a 2G-like
// link. A village holds BASE rows (a tenth of ROWS) when `lumbungd backup`
// runs; an officer's phone then registers ROWS new `person` rows and syncs
// them, and a second phone downloads the village. The daemon is stopped,
// `lumbungd restore --force` puts the backup back (a new epoch: the server has
// lost the ROWS rows) and the daemon starts again. Measured: the first phone's
// sync after the restore (it pulls the village whole, compares version by
// version and re-offers the ROWS rows), then the second phone's (it finds the
// server re-seeded already), beside what the same rows cost before the
// restore: their ordinary first upload, and the second phone's plain download
// of the village.
//
//   build/bench/reseed_bench [ROWS] [ROWS_2G]   (default: 10000 2000; 0 skips a part)
//
// Over the 2G-like link every step is bound by the link's 6,250 bytes/s, so
// its part defaults to fewer rows: 10,000 move about 2.3 MB there, which takes
// seven minutes. Each part's devices reach the daemon through the tests'
// FaultProxy (tests/support/fault_proxy.hpp), with no faults: unthrottled for
// loopback, throttled to k2GLink for the 2G part. The proxy counts the bytes
// on the wire, HTTP headers included; a counting wrapper around the default
// HTTP transport counts the requests. The BASE rows reach the server over
// loopback, not timed; a third device checks at the end, over loopback, that
// the server holds every row again.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "lumbung/replica.hpp"
#include "measure.hpp"
#include "people.hpp"
#include "support/daemon_process.hpp"
#include "support/fault_proxy.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

namespace {

using lumbung::test::DaemonProcess;
using lumbung::test::FaultProxy;
using lumbung::test::LinkShape;

// Thrown to main, so that the daemons stop on the way out.
[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

void check(const lumbung::Status& status, const char* what) {
  if (!status.is_ok()) fail(std::string(what) + ": " + status.to_string());
}

std::unique_ptr<lumbung::Replica> open_device(const std::string& path) {
  lumbung::ReplicaOptions options;
  options.path = path;
  auto replica = lumbung::Replica::open(options);
  check(replica.status(), "open device");
  return std::move(replica).value();
}

void register_people(lumbung::Replica& replica, int count, std::uint64_t seed) {
  const std::vector<lumbung::Row> rows = lumbung::bench::make_people(count, seed);
  check(replica.transaction([&]() -> lumbung::Status {
    for (const lumbung::Row& row : rows) LUMBUNG_RETURN_IF_ERROR(replica.insert("person", row));
    return lumbung::Status::ok();
  }),
        "register");
}

// Runs `lumbungd ARGS...` to its end; returns what it printed.
std::string run_lumbungd(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {LUMBUNGD};
  argv.insert(argv.end(), args.begin(), args.end());
  const lumbung::test::ProcessResult result =
      lumbung::test::run_process(argv, {}, std::filesystem::current_path().string());
  if (result.exit_code != 0) fail("lumbungd " + args.at(0) + " failed: " + result.err);
  return result.out;
}

// One sync through the link, with what it cost.
struct Step {
  double seconds = 0;
  double cpu_seconds = 0;         // this process: the device, and the proxy's threads
  double daemon_cpu_seconds = 0;  // lumbungd meanwhile
  std::int64_t bytes_up = 0;      // on the wire, HTTP headers included
  std::int64_t bytes_down = 0;
  std::int64_t requests = 0;
  lumbung::SyncSummary summary;
  std::int64_t bytes() const { return bytes_up + bytes_down; }
};

Step timed_sync(lumbung::Replica& replica, const FaultProxy& link, const DaemonProcess& daemon) {
  const lumbung::test::FaultProxyStats before = link.stats();
  auto made = lumbung::make_http_transport(link.url());
  check(made.status(), "transport");
  auto transport = std::make_shared<lumbung::bench::CountingTransport>(std::move(made).value());
  lumbung::SyncOptions options;
  options.transport = transport;
  Step step;
  const double daemon_cpu = lumbung::bench::cpu_seconds(daemon.pid());
  const double cpu = lumbung::bench::own_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  auto summary = replica.sync(options);
  step.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  step.cpu_seconds = lumbung::bench::own_cpu_seconds() - cpu;
  step.daemon_cpu_seconds = lumbung::bench::cpu_seconds(daemon.pid()) - daemon_cpu;
  check(summary.status(), "sync");
  const lumbung::test::FaultProxyStats after = link.stats();
  step.bytes_up = after.bytes_up - before.bytes_up;
  step.bytes_down = after.bytes_down - before.bytes_down;
  step.requests = transport->requests;
  step.summary = *summary;
  return step;
}

// A sync straight to the daemon, not measured.
lumbung::SyncSummary plain_sync(lumbung::Replica& replica, const DaemonProcess& daemon) {
  lumbung::SyncOptions options;
  auto transport = lumbung::make_http_transport(daemon.url());
  check(transport.status(), "transport");
  options.transport = std::move(transport).value();
  auto summary = replica.sync(options);
  check(summary.status(), "sync over loopback");
  return *summary;
}

std::uint16_t port_of(const DaemonProcess& daemon) {
  const std::string& url = daemon.url();
  return static_cast<std::uint16_t>(std::atoi(url.substr(url.rfind(':') + 1).c_str()));
}

void expect(bool holds, const std::string& what) {
  if (!holds) fail(what);
}

void bench(const char* name, LinkShape shape, int rows) {
  const int base = std::max(1, rows / 10);
  const lumbung::test::TempDir dir;
  const std::string data = dir.file("server");
  const std::vector<std::string> serve_args = {"--insecure-no-auth"};
  std::optional<DaemonProcess> daemon;
  daemon.emplace(LUMBUNGD, data, serve_args);

  // The village as last night's backup holds it.
  std::unique_ptr<lumbung::Replica> officer = open_device(dir.file("officer.db"));
  register_people(*officer, base, 7);
  const lumbung::SyncSummary seeded = plain_sync(*officer, *daemon);
  expect(seeded.pushed > 0 && seeded.applied == seeded.pushed, "the base rows were not applied");
  const std::string backup = dir.file("village.lbk");
  run_lumbungd({"backup", "--data", data, "--out", backup});

  // A day's work: the officer's new rows, acknowledged, and a second phone's download.
  std::optional<FaultProxy> link;
  link.emplace(port_of(*daemon), shape);
  register_people(*officer, rows, 8);
  const Step upload = timed_sync(*officer, *link, *daemon);
  expect(upload.summary.pushed > 0 && upload.summary.applied == upload.summary.pushed,
         "the upload applied " + std::to_string(upload.summary.applied) + " of " +
             std::to_string(upload.summary.pushed) + " changes");
  std::unique_ptr<lumbung::Replica> colleague = open_device(dir.file("colleague.db"));
  const Step download = timed_sync(*colleague, *link, *daemon);
  expect(download.summary.pulled == base + rows,
         "download pulled " + std::to_string(download.summary.pulled));

  // The server goes back to the backup.
  link.reset();
  daemon.reset();
  run_lumbungd({"restore", "--from", backup, "--data", data, "--force"});
  daemon.emplace(LUMBUNGD, data, serve_args);
  link.emplace(port_of(*daemon), shape);
  const Step first = timed_sync(*officer, *link, *daemon);
  const Step second = timed_sync(*colleague, *link, *daemon);

  // The server holds every row again.
  std::unique_ptr<lumbung::Replica> witness = open_device(dir.file("witness.db"));
  const std::int64_t recovered = plain_sync(*witness, *daemon).pulled;
  expect(recovered == base + rows, "the server holds " + std::to_string(recovered) + " rows of " +
                                       std::to_string(base + rows) + " after the re-seed");

  std::printf("\n%s: %d rows lost by the restore, %d in the backup\n", name, rows, base);
  std::printf("%-30s %8s %7s %7s %10s %10s %4s %6s %6s %6s %6s\n", "step", "seconds", "CPU s",
              "daemon", "bytes up", "bytes down", "req", "pushed", "pulled", "time", "bytes");
  auto line = [&](const char* step_name, const Step& step) {
    std::printf("%-30s %8.3f %7.3f %7.3f %10lld %10lld %4lld %6lld %6lld %5.2fx %5.2fx\n",
                step_name, step.seconds, step.cpu_seconds, step.daemon_cpu_seconds,
                static_cast<long long>(step.bytes_up), static_cast<long long>(step.bytes_down),
                static_cast<long long>(step.requests), static_cast<long long>(step.summary.pushed),
                static_cast<long long>(step.summary.pulled), step.seconds / upload.seconds,
                static_cast<double>(step.bytes()) / static_cast<double>(upload.bytes()));
  };
  line("upload of the new rows", upload);
  line("download of the village", download);
  line("re-seed, first phone", first);
  line("re-seed, second phone", second);
  std::printf("(time and bytes: against the upload; bytes up and down are on the wire)\n");
}

}  // namespace

int main(int argc, char** argv) try {
  const int rows = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int rows_2g = argc > 2 ? std::atoi(argv[2]) : 2000;
  if (rows < 0 || rows_2g < 0 || argc > 3) fail("usage: reseed_bench [ROWS] [ROWS_2G]");
  std::printf(
      "reseed_bench: two phones and a lumbungd restored from a backup; the 2G-like link is %lld "
      "bytes/s with %lld ms round trips\n",
      static_cast<long long>(lumbung::test::k2GLink.bytes_per_second),
      static_cast<long long>(lumbung::test::k2GLink.round_trip.count()));
  if (rows > 0) bench("loopback", LinkShape{}, rows);
  if (rows_2g > 0) bench("2G-like link", lumbung::test::k2GLink, rows_2g);
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "reseed_bench: %s\n", error.what());
  return 1;
}
