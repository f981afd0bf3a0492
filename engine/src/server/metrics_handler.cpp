// GET /metrics (server/metrics.hpp): what is counted, and the gauges of the
// moment read when scraped: the store's last seq and size, the long polls
// waiting, the connections, the villages' snapshots and the process.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <utility>

#include "db/database.hpp"
#include "server/server_impl.hpp"
#include "server/snapshot_files.hpp"
#include "server/sqlite_store.hpp"

namespace lumbung::server {
namespace {

std::uint64_t file_bytes(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? static_cast<std::uint64_t>(info.st_size) : 0;
}

// Each village's newest snapshot, its age by its file's time.
std::vector<ServerGauges::Snapshot> snapshot_gauges(const std::string& data_dir) {
  std::vector<ServerGauges::Snapshot> gauges;
  const Result<std::vector<SnapshotFile>> files = newest_snapshots(snapshot_dir(data_dir));
  if (!files.is_ok()) return gauges;  // a scrape goes on without them
  const auto now = std::filesystem::file_time_type::clock::now();
  for (const SnapshotFile& file : *files) {
    std::error_code ec;
    const auto built = std::filesystem::last_write_time(file.path, ec);
    if (ec) continue;  // replaced by a rebuild meanwhile
    gauges.push_back({.village = file.scope,
                      .age_seconds = std::chrono::duration<double>(now - built).count(),
                      .seq = file.seq});
  }
  return gauges;
}

}  // namespace

HttpResponse SyncServer::Impl::metrics_response() {
  ServerGauges gauges;
  // A gauge that cannot be read is left 0: the scrape still tells the rest.
  (void)store->read([&](ReadTransaction& txn) {
    LUMBUNG_ASSIGN_OR_RETURN(gauges.last_seq, txn.last_seq());
    return Status::ok();
  });
  gauges.long_polls_waiting = long_polls.held();
  {
    std::lock_guard lock(connections_mu);
    if (connections) {
      const ConnectionCounts counts = connections();
      gauges.open_connections = counts.open;
      gauges.accepted_connections = counts.accepted;
    }
  }
  const std::string store_file = options.data_dir + "/" + kStoreFileName;
  gauges.store_bytes = file_bytes(store_file) + file_bytes(store_file + db::kSidecarSuffixes[0]);
  gauges.snapshots = snapshot_gauges(options.data_dir);
  gauges.process = read_process_stats();
  HttpResponse response;
  response.status = 200;
  response.headers.emplace_back("Content-Type", kPrometheusContentType);
  response.body = metrics.text(gauges);
  return response;
}

HttpResponse SyncServer::metrics() { return impl_->metrics_response(); }

void SyncServer::watch_connections(std::function<ConnectionCounts()> counts) {
  std::lock_guard lock(impl_->connections_mu);
  impl_->connections = std::move(counts);
}

HttpResponse SyncServer::refused_by_http(const Status& status) {
  HttpResponse response = error_response(status);
  impl_->metrics.refused_by_http(response.status);
  return response;
}

}  // namespace lumbung::server
