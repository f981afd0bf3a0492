// The device process that device_kill_test kills: one step of a device's work
// on a replica, reporting on stdout each thing once it is committed.
//
//   crash_device push PATH URL FIRST COUNT
//       inserts households FIRST..FIRST+COUNT-1, one transaction each,
//       printing "committed K" after each; then prints "sync" and syncs,
//       pushing small batches and printing "push N" after each acknowledged one
//   crash_device pull PATH URL
//       syncs with small pull pages, printing "pull N" after each applied one
//   crash_device sync PATH URL
//       syncs with the default options (a fresh replica adopts the server's
//       snapshots), printing "pull N" as pull progress comes
//   crash_device migrate PATH SCHEMA_FILE
//       prints "open 0", then opens the replica with a newer schema, which
//       migrates it
//
// Every mode prints "done 0" at the end. Exit status 1 on an error.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "crash_rows.hpp"
#include "support/test_support.hpp"

using namespace lumbung;

namespace {

[[noreturn]] void die(const Status& status) {
  std::fprintf(stderr, "crash_device: %s\n", status.to_string().c_str());
  std::exit(1);
}

void report(const char* what, long n) {
  std::printf("%s %ld\n", what, n);
  std::fflush(stdout);
}

std::unique_ptr<Replica> open_or_die(const ReplicaOptions& options) {
  Result<std::unique_ptr<Replica>> replica = Replica::open(options);
  if (!replica.is_ok()) die(replica.status());
  return std::move(replica).value();
}

void sync_or_die(Replica& replica, const std::string& url, SyncOptions options) {
  Result<std::shared_ptr<Transport>> transport = make_http_transport(url);
  if (!transport.is_ok()) die(transport.status());
  options.transport = *transport;
  options.on_progress = [](const SyncProgress& progress) {
    if (progress.phase == SyncProgress::Phase::kPush) report("push", progress.changes);
    if (progress.phase == SyncProgress::Phase::kPull) report("pull", progress.changes);
  };
  Result<SyncSummary> summary = replica.sync(options);
  if (!summary.is_ok()) die(summary.status());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (!((mode == "push" && argc == 6) || ((mode == "pull" || mode == "sync") && argc == 4) ||
        (mode == "migrate" && argc == 4))) {
    std::fprintf(stderr, "usage: crash_device push|pull|sync|migrate PATH ...\n");
    return 2;
  }
  ReplicaOptions options = lumbung::test::options_for(argv[2]);
  if (mode == "migrate") {
    options.schema_text = lumbung::test::read_file(argv[3]);
    options.schema_source = argv[3];
    report("open", 0);
    open_or_die(options);
  } else if (mode == "push") {
    auto replica = open_or_die(options);
    const long first = std::atol(argv[4]);
    for (long k = first; k < first + std::atol(argv[5]); ++k) {
      const std::string id = "row-" + std::to_string(k);
      Status inserted = replica->insert("household", lumbung::test::crash_household(id, id));
      if (!inserted.is_ok()) die(inserted);
      report("committed", k);
    }
    report("sync", 0);
    SyncOptions sync;
    sync.push_batch_changes = 3;
    sync_or_die(*replica, argv[3], sync);
  } else {
    auto replica = open_or_die(options);
    SyncOptions sync;
    if (mode == "pull") sync.page_budget_bytes = 1024;
    sync_or_die(*replica, argv[3], sync);
  }
  report("done", 0);
  return 0;
}
