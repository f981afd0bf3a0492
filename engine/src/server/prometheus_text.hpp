// The Prometheus text exposition format (version 0.0.4), written: families
// with their HELP and TYPE lines, samples with escaped labels, and
// histograms of fixed buckets that many threads observe at once. Only what
// the daemon's GET /metrics needs (server/metrics.hpp); no registry, no
// client library.
//
// Thread-safety: a Histogram may be observed from any thread while another
// writes it out; a PrometheusText is one thread's.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lumbung::server {

// The content type of the format.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// A sample's labels, in the order written: (name, value).
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // Starts a family: its HELP and TYPE ("counter", "gauge", "histogram").
  // `name` is [a-z_:][a-z0-9_:]*; `help` is escaped.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample line; label values are escaped.
  void sample(std::string_view name, const MetricLabels& labels, double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// A histogram of fixed upper bounds (and +Inf), observed without a lock.
class Histogram {
 public:
  // `bounds`: strictly increasing upper bounds, +Inf left out.
  explicit Histogram(std::vector<double> bounds);

  void observe(double value);
  // Writes the family's _bucket, _sum and _count samples under `labels` (the
  // family line is the caller's: several histograms may share it).
  void write(PrometheusText& out, std::string_view name, const MetricLabels& labels) const;

 private:
  const std::vector<double> bounds_;
  // Per bucket (the last: +Inf), not cumulative; summed when written.
  std::vector<std::atomic<std::uint64_t>> counts_;
  // The sum in millionths, so that it adds without a lock.
  std::atomic<std::int64_t> sum_micros_{0};
};

}  // namespace lumbung::server
