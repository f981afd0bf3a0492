// lumbungd's log on stderr (docs/lumbungd.md, "Logs"): a line per request
// with who, what and how much, lines for start and stop, in JSON that a
// parser reads line by line, and never a token or a record's contents.
#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

using Json = nlohmann::json;

std::vector<Json> lines_of(const std::string& err) {
  std::vector<Json> lines;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) {
    INFO(line);
    REQUIRE(Json::accept(line));
    lines.push_back(Json::parse(line));
  }
  return lines;
}

std::vector<Json> requests_to(const std::vector<Json>& lines, const std::string& route) {
  std::vector<Json> found;
  for (const Json& line : lines) {
    if (line["event"] == "request" && line["route"] == route) found.push_back(line);
  }
  return found;
}

}  // namespace

TEST_CASE("lumbungd logs a JSON line per request, without tokens or records", "[integration]") {
  TempDir dir;
  const std::string data = dir.file("data");
  lumbungd_output({"grant", "--data", data, "--officer", "sri", "--villages", "desa-a"});
  const std::string issued = lumbungd_output({"token", "--data", data, "--officer", "sri"});
  const std::string token = issued.substr(0, issued.find('\n'));
  DaemonProcess daemon(LUMBUNGD, data, {"--log-format", "json"});

  ReplicaOptions options = options_for(dir.file("sri.db"));
  options.device_id = "phone-sri";
  options.server_url = daemon.url();
  options.token = token;
  std::unique_ptr<Replica> phone = open_replica(options);
  REQUIRE(phone
              ->insert("household", {{"id", "h1"},
                                     {"village_id", "desa-a"},
                                     {"head_name", "Tarsono Wiryo"},
                                     {"created_by", "sri"},
                                     {"created_at", "2026-12-07T08:00:00Z"}})
              .is_ok());
  REQUIRE(phone->sync().is_ok());
  // Another phone of the same officer, with a token of its own, pulls the household.
  options.path = dir.file("sri-2.db");
  options.device_id = "phone-sri-2";
  const std::string issued_second = lumbungd_output({"token", "--data", data, "--officer", "sri"});
  options.token = issued_second.substr(0, issued_second.find('\n'));
  REQUIRE(open_replica(options)->sync().is_ok());

  // A forged token is refused from the header, and its answer names the
  // request as the log does.
  Result<std::shared_ptr<Transport>> transport = make_http_transport(daemon.url());
  REQUIRE(transport.is_ok());
  Result<HttpResponse> refused =
      (*transport)
          ->exchange({"POST", "/v1/pull", {{"Authorization", "Bearer lbt1.not-a-token"}}, "x"});
  REQUIRE(refused.is_ok());
  CHECK(refused->status == 401);
  const std::optional<std::string_view> refused_id =
      find_header(refused->headers, "Lumbung-Request-Id");
  REQUIRE(refused_id);

  const std::optional<ProcessResult> stopped = daemon.terminate();
  REQUIRE(stopped);
  CHECK(stopped->exit_code == 0);
  CHECK(stopped->err.find(token) == std::string::npos);
  CHECK(stopped->err.find(token.substr(token.rfind('.') + 1)) == std::string::npos);
  CHECK(stopped->err.find("Tarsono") == std::string::npos);
  const std::vector<Json> lines = lines_of(stopped->err);
  REQUIRE(lines.size() >= 4);
  CHECK(lines.front()["event"] == "start");
  CHECK(lines.front()["url"] == daemon.url());
  CHECK(lines.back()["event"] == "stop");
  for (const Json& line : lines) {
    CHECK(line["time"].get<std::string>().ends_with("Z"));
    CHECK(line["level"] == "info");
  }

  const std::vector<Json> pushes = requests_to(lines, "/v1/push");
  REQUIRE(pushes.size() == 1);
  const Json& push = pushes[0];
  CHECK(push["status"] == 200);
  CHECK(push["officer"] == "sri");
  CHECK(push["device"] == "phone-sri");
  CHECK(push["villages"] == Json::array({"desa-a"}));
  CHECK(push["applied"] == 1);
  CHECK(push["superseded"] == 0);
  CHECK(push["refused"] == 0);
  CHECK(push["bytes_in"].get<int>() > 0);
  CHECK(push["bytes_out"].get<int>() > 0);
  CHECK(push["ms"].get<double>() >= 0);
  CHECK(push["id"].get<std::string>().size() == 16);

  const std::vector<Json> pulls = requests_to(lines, "/v1/pull");
  REQUIRE(pulls.size() >= 3);
  const auto second = std::find_if(
      pulls.begin(), pulls.end(), [](const Json& line) { return line["device"] == "phone-sri-2"; });
  REQUIRE(second != pulls.end());
  CHECK((*second)["officer"] == "sri");
  CHECK((*second)["villages"] == Json::array({"desa-a"}));
  CHECK((*second)["rows"] == 1);
  const Json& forged = pulls.back();
  CHECK(forged["id"] == std::string(*refused_id));
  CHECK(forged["status"] == 401);
  CHECK(forged["error"] == "TokenMalformed");
  CHECK(forged["officer"] == "");
}

}  // namespace lumbung::test
