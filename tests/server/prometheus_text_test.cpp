// The Prometheus text format as GET /metrics writes it (server/prometheus_text.hpp);
// that a real parser reads the daemon's whole answer is tests/integration/metrics_test.cpp.
#include "server/prometheus_text.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace lumbung::server {

TEST_CASE("metric samples escape their label values and help, and write numbers shortest",
          "[server][metrics]") {
  PrometheusText out;
  out.family("lumbung_x_total", "counter", "A \\ help\nline.");
  out.sample("lumbung_x_total", {{"village", "desa \"a\"\\\n"}, {"status", "200"}}, 3);
  out.sample("lumbung_y", 0.005);
  out.sample("lumbung_z", 1e20);
  CHECK(out.text() ==
        "# HELP lumbung_x_total A \\\\ help\\nline.\n"
        "# TYPE lumbung_x_total counter\n"
        "lumbung_x_total{village=\"desa \\\"a\\\"\\\\\\n\",status=\"200\"} 3\n"
        "lumbung_y 0.005\n"
        "lumbung_z 1e+20\n");
}

TEST_CASE("a histogram writes cumulative buckets, +Inf, its sum and count", "[server][metrics]") {
  Histogram histogram({0.1, 1});
  for (const double value : {0.05, 0.1, 0.5, 2.0, 3.0}) histogram.observe(value);
  PrometheusText out;
  histogram.write(out, "d", {{"route", "/v1/push"}});
  CHECK(out.text() ==
        "d_bucket{route=\"/v1/push\",le=\"0.1\"} 2\n"
        "d_bucket{route=\"/v1/push\",le=\"1\"} 3\n"
        "d_bucket{route=\"/v1/push\",le=\"+Inf\"} 5\n"
        "d_sum{route=\"/v1/push\"} 5.65\n"
        "d_count{route=\"/v1/push\"} 5\n");
}

}  // namespace lumbung::server
