// ServerMetrics: what GET /metrics tells of a running daemon, in the
// Prometheus text format (docs/lumbungd.md, "Metrics"): requests by route and
// status and their durations, changes by outcome, conflicts by policy, rows
// served, commit groups, refusals of the HTTP layer; and, read when scraped,
// the gauges of the moment (ServerGauges). Counted as requests are answered
// (SyncServer::Impl::answered) and groups commit (CommitQueue), each a few
// atomic adds or a short lock.
//
// Labels take a bounded set of values only: routes the daemon serves (any
// other path is "other"), HTTP statuses, outcomes, the schema's conflict
// policies. No officer, device or record is ever a label; villages are, in
// the snapshot ages, as many as the data directory has snapshots.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/process_stats.hpp"
#include "server/prometheus_text.hpp"
#include "server/request_record.hpp"

namespace lumbung::server {

// What is read when the metrics are scraped rather than counted.
struct ServerGauges {
  std::int64_t last_seq = 0;
  std::uint64_t long_polls_waiting = 0;
  std::uint64_t open_connections = 0;
  std::uint64_t accepted_connections = 0;
  std::uint64_t store_bytes = 0;  // the store file and its write-ahead log
  // Per village: (village, seconds since its newest snapshot was built, its seq).
  struct Snapshot {
    std::string village;
    double age_seconds = 0;
    std::int64_t seq = 0;
  };
  std::vector<Snapshot> snapshots;
  ProcessStats process;
};

class ServerMetrics {
 public:
  ServerMetrics();

  // One request answered with `status`: its route, duration and what the
  // record says became of its changes.
  void answered(const RequestRecord& record, int status);
  // A request the HTTP layer refused before the daemon saw it (malformed,
  // too large, no free connection), by the status it was answered.
  void refused_by_http(int status);
  // A commit group of `pushes` pushes, from taking it to its answers.
  void committed(std::size_t pushes, std::chrono::steady_clock::duration took);

  // The exposition of everything counted, and of `gauges`.
  std::string text(const ServerGauges& gauges) const;

 private:
  // Route labels: each path served, and "other".
  static constexpr std::size_t kRoutes = 7;
  static std::size_t route_index(std::string_view route);

  mutable std::mutex mu_;                                          // guards the maps
  std::map<std::pair<std::size_t, int>, std::uint64_t> requests_;  // (route, status)
  std::map<int, std::uint64_t> http_refusals_;                     // status
  std::map<std::string, std::uint64_t> conflicts_;                 // policy
  std::deque<Histogram> durations_;                                // per route
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<std::uint64_t> superseded_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> rows_served_{0};
  Histogram commit_pushes_;
  Histogram commit_seconds_;
};

}  // namespace lumbung::server
