// Sync over a 2G-like link (about 50 kbit/s, 600 ms round trips) against a
// real lumbungd: one village's data downloaded by a fresh device, then a push
// of new rows from that device. The link is the tests' FaultProxy
// (tests/support/fault_proxy.hpp) throttled to k2GLink, with no faults; it
// counts the bytes on the wire, HTTP headers included. The device uses the
// default options (timeouts, page size, retries), as an app would.
//
//   build/bench/sync_2g_bench [ROWS] [PUSH_ROWS]   (default: 10000 100)
//
// The village's rows reach the server over loopback first (not measured:
// sync_bench measures that).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lumbung/replica.hpp"
#include "measure.hpp"
#include "people.hpp"
#include "support/daemon_process.hpp"
#include "support/fault_proxy.hpp"
#include "support/temp_dir.hpp"

namespace {

using lumbung::test::FaultProxy;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "sync_2g_bench: %s\n", what.c_str());
  std::exit(1);
}

void check(const lumbung::Status& status, const char* what) {
  if (!status.is_ok()) fail(std::string(what) + ": " + status.to_string());
}

std::unique_ptr<lumbung::Replica> open_device(const std::string& path, const std::string& url) {
  lumbung::ReplicaOptions options;
  options.path = path;
  options.server_url = url;
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

// One sync through the link, with what it cost on the wire.
struct Step {
  double seconds = 0;
  std::int64_t bytes = 0;
  std::int64_t requests = 0;
  lumbung::SyncSummary summary;
};

Step timed_sync(lumbung::Replica& replica, const FaultProxy& link) {
  const lumbung::test::FaultProxyStats before = link.stats();
  auto made = lumbung::make_http_transport(link.url());
  check(made.status(), "transport");
  auto transport = std::make_shared<lumbung::bench::CountingTransport>(std::move(made).value());
  lumbung::SyncOptions options;
  options.transport = transport;
  Step step;
  const auto start = std::chrono::steady_clock::now();
  auto summary = replica.sync(options);
  step.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  check(summary.status(), "sync over the 2G-like link");
  const lumbung::test::FaultProxyStats after = link.stats();
  step.bytes = after.bytes_up + after.bytes_down - before.bytes_up - before.bytes_down;
  step.requests = transport->requests;
  step.summary = *summary;
  return step;
}

}  // namespace

int main(int argc, char** argv) {
  const int rows = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int push_rows = argc > 2 ? std::atoi(argv[2]) : 100;
  if (rows < 1 || push_rows < 1) fail("usage: sync_2g_bench [ROWS] [PUSH_ROWS]");
  const lumbung::test::TempDir dir;
  lumbung::test::DaemonProcess daemon(LUMBUNGD, dir.file("server"), {"--insecure-no-auth"});
  const std::string& url = daemon.url();
  const auto port = static_cast<std::uint16_t>(std::atoi(url.substr(url.rfind(':') + 1).c_str()));

  std::unique_ptr<lumbung::Replica> officer = open_device(dir.file("officer.db"), url);
  register_people(*officer, rows, 7);
  check(officer->sync().status(), "seed the server");

  FaultProxy link(port, lumbung::test::k2GLink);
  std::printf(
      "sync_2g_bench: a fresh device and lumbungd through a link of %lld bytes/s and %lld ms "
      "round trips\n",
      static_cast<long long>(lumbung::test::k2GLink.bytes_per_second),
      static_cast<long long>(lumbung::test::k2GLink.round_trip.count()));
  std::unique_ptr<lumbung::Replica> fresh = open_device(dir.file("fresh.db"), link.url());
  const Step download = timed_sync(*fresh, link);
  if (download.summary.pulled != rows) {
    fail("pulled " + std::to_string(download.summary.pulled) + " rows of " + std::to_string(rows));
  }
  register_people(*fresh, push_rows, 8);
  const Step push = timed_sync(*fresh, link);
  if (push.summary.applied != push.summary.pushed || push.summary.pushed == 0) {
    fail("push applied " + std::to_string(push.summary.applied) + " of " +
         std::to_string(push.summary.pushed) + " changes");
  }

  std::printf("%-24s %6s %9s %9s %9s %10s %8s\n", "step", "rows", "seconds", "rows/s", "bytes",
              "bytes/row", "requests");
  auto line = [](const char* name, int n, const Step& step) {
    std::printf("%-24s %6d %9.1f %9.1f %9lld %10.1f %8lld\n", name, n, step.seconds,
                n / step.seconds, static_cast<long long>(step.bytes),
                static_cast<double>(step.bytes) / n, static_cast<long long>(step.requests));
  };
  line("initial download", rows, download);
  line("push of new rows", push_rows, push);
  return 0;
}
