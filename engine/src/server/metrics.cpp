#include "server/metrics.hpp"

#include <algorithm>
#include <array>

namespace lumbung::server {
namespace {

constexpr std::array<std::string_view, 7> kRouteNames = {
    "/v1/push", "/v1/pull", "/v1/resolve", "/v1/snapshot", "/healthz", "/metrics", "other"};

// Seconds: from a fast read to a long poll's whole wait (60 s at most).
const std::vector<double> kDurationBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                             1,     2.5,  5,     10,   30,  60};
const std::vector<double> kGroupBounds = {1, 2, 4, 8, 16, 32, 64};  // 64: CommitQueue's most
const std::vector<double> kCommitBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                           0.1,   0.25,   0.5,   1,    2.5};

}  // namespace

ServerMetrics::ServerMetrics() : commit_pushes_(kGroupBounds), commit_seconds_(kCommitBounds) {
  for (std::size_t i = 0; i < kRoutes; ++i) durations_.emplace_back(kDurationBounds);
}

std::size_t ServerMetrics::route_index(std::string_view route) {
  const auto found = std::find(kRouteNames.begin(), kRouteNames.end() - 1, route);
  return static_cast<std::size_t>(found - kRouteNames.begin());  // "other" when not found
}

void ServerMetrics::answered(const RequestRecord& record, int status) {
  const std::size_t route = route_index(record.route);
  durations_[route].observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - record.started).count());
  applied_.fetch_add(static_cast<std::uint64_t>(record.applied), std::memory_order_relaxed);
  superseded_.fetch_add(static_cast<std::uint64_t>(record.superseded), std::memory_order_relaxed);
  refused_.fetch_add(static_cast<std::uint64_t>(record.refused), std::memory_order_relaxed);
  rows_served_.fetch_add(static_cast<std::uint64_t>(record.rows), std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
  for (const auto& [policy, count] : record.conflict_policies) {
    conflicts_[policy] += static_cast<std::uint64_t>(count);
  }
}

void ServerMetrics::refused_by_http(int status) {
  std::lock_guard lock(mu_);
  ++http_refusals_[status];
}

void ServerMetrics::committed(std::size_t pushes, std::chrono::steady_clock::duration took) {
  commit_pushes_.observe(static_cast<double>(pushes));
  commit_seconds_.observe(std::chrono::duration<double>(took).count());
}

std::string ServerMetrics::text(const ServerGauges& gauges) const {
  PrometheusText out;
  const auto counter = [&out](std::string_view name, std::string_view help, double value) {
    out.family(name, "counter", help);
    out.sample(name, value);
  };
  const auto gauge = [&out](std::string_view name, std::string_view help, double value) {
    out.family(name, "gauge", help);
    out.sample(name, value);
  };
  {
    std::lock_guard lock(mu_);
    out.family("lumbung_requests_total", "counter", "Requests answered, by route and status.");
    for (const auto& [key, count] : requests_) {
      out.sample(
          "lumbung_requests_total",
          {{"route", std::string(kRouteNames[key.first])}, {"status", std::to_string(key.second)}},
          static_cast<double>(count));
    }
    out.family("lumbung_http_refusals_total", "counter",
               "Requests the HTTP layer refused before the daemon read them (malformed, too "
               "large, no free connection, stopping), by status.");
    for (const auto& [status, count] : http_refusals_) {
      out.sample("lumbung_http_refusals_total", {{"status", std::to_string(status)}},
                 static_cast<double>(count));
    }
    out.family("lumbung_conflicts_total", "counter",
               "Conflicts pushes met, by the column's conflict policy.");
    for (const auto& [policy, count] : conflicts_) {
      out.sample("lumbung_conflicts_total", {{"policy", policy}}, static_cast<double>(count));
    }
  }
  out.family("lumbung_request_duration_seconds", "histogram",
             "From a request's arrival to its answer, by route; a long poll's wait included.");
  for (std::size_t i = 0; i < kRoutes; ++i) {
    durations_[i].write(out, "lumbung_request_duration_seconds",
                        {{"route", std::string(kRouteNames[i])}});
  }
  out.family("lumbung_changes_total", "counter", "Changes pushed, by outcome.");
  out.sample("lumbung_changes_total", {{"outcome", "applied"}},
             static_cast<double>(applied_.load()));
  out.sample("lumbung_changes_total", {{"outcome", "superseded"}},
             static_cast<double>(superseded_.load()));
  out.sample("lumbung_changes_total", {{"outcome", "refused"}},
             static_cast<double>(refused_.load()));
  counter("lumbung_rows_served_total", "Rows served in pull pages.",
          static_cast<double>(rows_served_.load()));
  out.family("lumbung_commit_group_pushes", "histogram",
             "Pushes committed together in one store transaction.");
  commit_pushes_.write(out, "lumbung_commit_group_pushes", {});
  out.family("lumbung_commit_group_seconds", "histogram",
             "From taking a commit group to its answers: the transaction and its sync to disk.");
  commit_seconds_.write(out, "lumbung_commit_group_seconds", {});

  gauge("lumbung_last_seq", "The greatest seq the store has given.",
        static_cast<double>(gauges.last_seq));
  gauge("lumbung_long_polls_waiting", "Pulls held waiting for a change.",
        static_cast<double>(gauges.long_polls_waiting));
  gauge("lumbung_open_connections", "Connections open now.",
        static_cast<double>(gauges.open_connections));
  counter("lumbung_connections_accepted_total", "Connections accepted since the start.",
          static_cast<double>(gauges.accepted_connections));
  gauge("lumbung_store_bytes", "Size of the store file and its write-ahead log.",
        static_cast<double>(gauges.store_bytes));
  out.family("lumbung_snapshot_age_seconds", "gauge",
             "Time since each village's newest snapshot was built.");
  for (const ServerGauges::Snapshot& snapshot : gauges.snapshots) {
    out.sample("lumbung_snapshot_age_seconds", {{"village", snapshot.village}},
               snapshot.age_seconds);
  }
  out.family("lumbung_snapshot_seq", "gauge", "The seq each village's newest snapshot is at.");
  for (const ServerGauges::Snapshot& snapshot : gauges.snapshots) {
    out.sample("lumbung_snapshot_seq", {{"village", snapshot.village}},
               static_cast<double>(snapshot.seq));
  }
  const ProcessStats& process = gauges.process;
  gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
        static_cast<double>(process.resident_bytes));
  gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
        static_cast<double>(process.virtual_bytes));
  counter("process_cpu_seconds_total", "User and system CPU time spent in seconds.",
          process.cpu_seconds);
  gauge("process_open_fds", "Open file descriptors.", static_cast<double>(process.open_files));
  gauge("process_max_fds", "The most open file descriptors allowed.",
        static_cast<double>(process.max_open_files));
  gauge("process_start_time_seconds", "Start time of the process since the Unix epoch.",
        process.start_time_seconds);
  return out.text();
}

}  // namespace lumbung::server
