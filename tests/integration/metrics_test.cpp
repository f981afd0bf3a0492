// lumbungd's GET /metrics (docs/lumbungd.md, "Metrics"): the Prometheus text
// format, read by a real parser (python3-prometheus-client), whose counts
// agree with the request log, served to an admin's token on the sync
// listener and without one on --metrics-listen.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "lumbung/v1/sync.pb.h"
#include "protocol/wire.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

using Json = nlohmann::json;

struct Sample {
  std::string family;
  std::string type;
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Every sample of `exposition`, as python3-prometheus-client parses it; the
// test fails when a line does not parse, or when a sample line is left out.
std::vector<Sample> parse_exposition(const std::string& exposition, const TempDir& dir) {
  const std::string path = dir.file("metrics.txt");
  std::ofstream(path) << exposition;
  const ProcessResult parsed = run_process({PYTHON3, PARSE_METRICS, path}, {}, dir.path());
  INFO(parsed.err);
  REQUIRE(parsed.exit_code == 0);
  std::vector<Sample> samples;
  std::istringstream lines(parsed.out);
  for (std::string line; std::getline(lines, line);) {
    const Json sample = Json::parse(line);
    samples.push_back({sample["family"], sample["type"], sample["name"],
                       sample["labels"].get<std::map<std::string, std::string>>(),
                       sample["value"].get<double>()});
  }
  std::size_t sample_lines = 0;
  std::istringstream text(exposition);
  for (std::string line; std::getline(text, line);) sample_lines += !line.starts_with('#');
  CHECK(samples.size() == sample_lines);
  return samples;
}

// The sum of the samples named `name` whose labels include `labels`.
double total(const std::vector<Sample>& samples, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  double sum = 0;
  for (const Sample& sample : samples) {
    if (sample.name != name) continue;
    bool matches = true;
    for (const auto& [label, value] : labels) {
      const auto found = sample.labels.find(label);
      matches = matches && found != sample.labels.end() && found->second == value;
    }
    if (matches) sum += sample.value;
  }
  return sum;
}

bool has_family(const std::vector<Sample>& samples, const std::string& family,
                const std::string& type) {
  for (const Sample& sample : samples) {
    if (sample.family == family) return sample.type == type;
  }
  return false;
}

HttpResponse get(const std::string& url, const std::string& token = "") {
  // "http://HOST:PORT/PATH": the transport takes the origin, the request the path.
  const std::size_t path = url.find('/', std::string("http://").size());
  Result<std::shared_ptr<Transport>> transport = make_http_transport(url.substr(0, path));
  REQUIRE(transport.is_ok());
  HttpHeaders headers;
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  Result<HttpResponse> answer =
      (*transport)
          ->exchange({"GET", path == std::string::npos ? "/" : url.substr(path), headers, ""});
  REQUIRE(answer.is_ok());
  return *answer;
}

// Sends bytes that are not HTTP to the daemon's port and reads its answer's
// status line.
std::string send_garbage(const std::string& url) {
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  const std::string garbage = "NOT HTTP AT ALL\r\n\r\n";
  REQUIRE(::write(fd, garbage.data(), garbage.size()) == static_cast<ssize_t>(garbage.size()));
  std::string answer;
  char buffer[512];
  for (ssize_t got; (got = ::read(fd, buffer, sizeof buffer)) > 0;) answer.append(buffer, got);
  ::close(fd);
  return answer.substr(0, answer.find('\r'));
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

TEST_CASE("lumbungd's metrics parse, agree with its request log and are an admin's to read",
          "[integration]") {
  TempDir dir;
  const std::string data = dir.file("data");
  lumbungd_output({"grant", "--data", data, "--officer", "sri", "--villages", "desa-a"});
  lumbungd_output({"grant", "--data", data, "--officer", "pusat", "--all", "--role", "admin"});
  const auto token_of = [&](const std::string& officer) {
    return first_line(lumbungd_output({"token", "--data", data, "--officer", officer}));
  };
  const std::string admin = token_of("pusat");
  DaemonProcess daemon(LUMBUNGD, data, {"--log-format", "json", "--metrics-listen", "127.0.0.1:0"});
  REQUIRE(daemon.metrics_url().starts_with("http://127.0.0.1:"));

  // Two phones of one officer: a household, an edit of the same cell on
  // each (a conflict), and an insert beyond the officer's grant (refused).
  const auto phone = [&](const std::string& name) {
    ReplicaOptions options = options_for(dir.file(name + ".db"));
    options.device_id = name;
    options.server_url = daemon.url();
    options.token = token_of("sri");
    return open_replica(options);
  };
  std::unique_ptr<Replica> first = phone("phone-1");
  std::unique_ptr<Replica> second = phone("phone-2");
  const Row household = {{"id", "h1"},
                         {"village_id", "desa-a"},
                         {"head_name", "Tarsono"},
                         {"created_by", "sri"},
                         {"created_at", "2026-12-07T08:00:00Z"}};
  REQUIRE(first->insert("household", household).is_ok());
  REQUIRE(first->sync().is_ok());
  REQUIRE(second->sync().is_ok());
  REQUIRE(first->update("household", "h1", {{"head_name", "Tarsono W."}}).is_ok());
  REQUIRE(second->update("household", "h1", {{"head_name", "Tarsono Wiryo"}}).is_ok());
  Row beyond = household;
  beyond["id"] = "h2";
  beyond["village_id"] = "desa-b";
  REQUIRE(second->insert("household", beyond).is_ok());
  REQUIRE(first->sync().is_ok());
  REQUIRE(second->sync().is_ok());
  lumbungd_output({"snapshot", "--data", data});

  // A long poll held while the metrics are read: a caught-up device pulls
  // again with its cursors and a wait.
  const std::string poller = token_of("sri");
  const auto pull = [&](const v1::PullPage* after, std::uint32_t wait) {
    v1::PullRequest request;
    request.mutable_header()->set_protocol_version(protocol::kProtocolVersion);
    request.mutable_header()->set_schema_version(1);
    request.mutable_header()->set_device_id("phone-3");
    if (after != nullptr) *request.mutable_cursors() = after->cursors();
    request.set_wait_seconds(wait);
    HttpRequest http = protocol::make_request("/v1/pull", request);
    http.headers.emplace_back("Authorization", "Bearer " + poller);
    Result<std::shared_ptr<Transport>> transport = make_http_transport(daemon.url());
    v1::PullPage page;
    if (!transport.is_ok()) return page;
    Result<HttpResponse> answer = (*transport)->exchange(http);
    if (answer.is_ok() && answer->status == 200) {
      (void)protocol::decode_body(answer->headers, answer->body, 64u << 20, &page);
    }
    return page;
  };
  const v1::PullPage caught_up = pull(nullptr, 0);
  REQUIRE(caught_up.cursors_size() > 0);
  std::jthread long_poll([&] { pull(&caught_up, 30); });

  CHECK(send_garbage(daemon.url()) == "HTTP/1.1 400 Bad Request");
  const std::string officer_token = token_of("sri");
  CHECK(get(daemon.url() + "/metrics").status == 401);
  CHECK(get(daemon.url() + "/metrics", officer_token).status == 403);
  CHECK(get(daemon.metrics_url().substr(0, daemon.metrics_url().rfind('/')) + "/v1/pull").status ==
        404);

  // Wait until the long poll is held: the gauge says so.
  std::vector<Sample> samples;
  for (int scrape = 0; scrape < 100; ++scrape) {
    const HttpResponse scraped = get(daemon.metrics_url());
    REQUIRE(scraped.status == 200);
    CHECK(find_header(scraped.headers, "Content-Type") ==
          std::optional<std::string_view>("text/plain; version=0.0.4; charset=utf-8"));
    samples = parse_exposition(scraped.body, dir);
    if (total(samples, "lumbung_long_polls_waiting") == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(total(samples, "lumbung_long_polls_waiting") == 1);
  // The same through the sync listener, with an admin's token.
  const HttpResponse as_admin = get(daemon.url() + "/metrics", admin);
  REQUIRE(as_admin.status == 200);
  CHECK(!parse_exposition(as_admin.body, dir).empty());

  for (const auto& [family, type] : std::vector<std::pair<std::string, std::string>>{
           {"lumbung_requests", "counter"},
           {"lumbung_request_duration_seconds", "histogram"},
           {"lumbung_changes", "counter"},
           {"lumbung_conflicts", "counter"},
           {"lumbung_rows_served", "counter"},
           {"lumbung_long_polls_waiting", "gauge"},
           {"lumbung_open_connections", "gauge"},
           {"lumbung_commit_group_pushes", "histogram"},
           {"lumbung_commit_group_seconds", "histogram"},
           {"lumbung_store_bytes", "gauge"},
           {"lumbung_last_seq", "gauge"},
           {"lumbung_snapshot_age_seconds", "gauge"},
           {"process_resident_memory_bytes", "gauge"},
           {"process_cpu_seconds", "counter"}}) {
    INFO(family);
    CHECK(has_family(samples, family, type));
  }
  CHECK(total(samples, "lumbung_changes_total", {{"outcome", "refused"}}) == 1);
  CHECK(total(samples, "lumbung_changes_total", {{"outcome", "applied"}}) >= 2);
  CHECK(total(samples, "lumbung_rows_served_total") >= 1);
  CHECK(total(samples, "lumbung_http_refusals_total", {{"status", "400"}}) == 1);
  CHECK(total(samples, "lumbung_last_seq") >= 3);
  CHECK(total(samples, "lumbung_store_bytes") > 0);
  CHECK(total(samples, "lumbung_open_connections") >= 1);  // the long poll's
  CHECK(total(samples, "lumbung_snapshot_seq", {{"village", "desa-a"}}) >= 1);
  CHECK(total(samples, "lumbung_snapshot_age_seconds", {{"village", "desa-a"}}) >= 0);
  CHECK(total(samples, "process_resident_memory_bytes") > 1e6);
  CHECK(total(samples, "process_cpu_seconds_total") > 0);
  CHECK(total(samples, "lumbung_commit_group_pushes_count") ==
        total(samples, "lumbung_requests_total", {{"route", "/v1/push"}, {"status", "200"}}));
  CHECK(total(samples, "lumbung_request_duration_seconds_count", {{"route", "/v1/pull"}}) ==
        total(samples, "lumbung_requests_total", {{"route", "/v1/pull"}}));

  // Nothing was pushed or pulled after that scrape but the long poll's
  // answer: each count agrees with the request log's lines before it.
  const std::optional<ProcessResult> stopped = daemon.terminate();
  long_poll.join();
  REQUIRE(stopped);
  std::map<std::pair<std::string, int>, double> logged;
  std::map<std::string, double> outcomes;
  double conflicts = 0;
  std::vector<Json> requests;
  std::istringstream log(stopped->err);
  for (std::string line; std::getline(log, line);) {
    const Json entry = Json::parse(line);
    if (entry["event"] == "request" && entry["route"] != "/metrics") requests.push_back(entry);
  }
  // The long poll, answered as the daemon stopped: phone-3's last pull.
  const auto long_polled = std::find_if(requests.rbegin(), requests.rend(), [](const Json& entry) {
    return entry["device"] == "phone-3";
  });
  REQUIRE(long_polled != requests.rend());
  requests.erase(std::next(long_polled).base());
  for (const Json& entry : requests) {
    const std::string route = entry["route"];
    ++logged[{route, entry["status"].get<int>()}];
    for (const char* outcome : {"applied", "superseded", "refused"}) {
      outcomes[outcome] += entry.value(outcome, 0);
    }
    conflicts += entry.value("conflicts", 0);
  }
  for (const auto& [key, count] : logged) {
    INFO(key.first << " " << key.second);
    CHECK(total(samples, "lumbung_requests_total",
                {{"route", key.first}, {"status", std::to_string(key.second)}}) == count);
  }
  for (const auto& [outcome, count] : outcomes) {
    CHECK(total(samples, "lumbung_changes_total", {{"outcome", outcome}}) == count);
  }
  CHECK(conflicts == 1);  // the two phones' edits of h1's head_name
  CHECK(total(samples, "lumbung_conflicts_total", {{"policy", "last_writer_wins"}}) == conflicts);
}

}  // namespace lumbung::test
