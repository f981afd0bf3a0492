// The fleet view with real lumbungd processes (docs/operations.md, "Fleet
// view"): two officers' phones sync, `lumbungd devices` shows each with its
// officer, app and schema version, villages and times, filtered by village
// and by days unseen; `lumbungd tokens` lists the issued tokens, revoked ones
// marked.
#include <sys/types.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "auth/token.hpp"
#include "integration/village_row.hpp"
#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

constexpr const char* kKrasak = "0193f2a4-7c1e-7d2b-9a61-000000000001";
constexpr const char* kCikedung = "0193f2a4-7c1e-7d2b-9a61-000000000002";

// The UTC time `lumbungd` prints for now, to the second.
std::string utc_now() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return auth::utc_text(std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

// `lumbungd COMMAND --data DATA ARGS... --json`, one parsed object per line.
std::vector<nlohmann::json> json_lines(const std::string& command, const std::string& data,
                                       std::vector<std::string> args = {}) {
  args.insert(args.begin(), {command, "--data", data});
  args.push_back("--json");
  std::vector<nlohmann::json> lines;
  std::istringstream out(lumbungd_output(args));
  for (std::string line; std::getline(out, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// `lumbungd devices --json ARGS...` by device id.
std::map<std::string, nlohmann::json> devices(const std::string& data,
                                              std::vector<std::string> args = {}) {
  std::map<std::string, nlohmann::json> found;
  for (const nlohmann::json& line : json_lines("devices", data, std::move(args))) {
    found.emplace(line.at("device").get<std::string>(), line);
  }
  return found;
}

// The first line of `lumbungd token`'s stdout, and the token id it printed on stderr.
std::string issue_token(const std::string& data, const std::string& officer,
                        std::string* token_id) {
  const ProcessResult result = run_lumbungd({"token", "--data", data, "--officer", officer});
  REQUIRE(result.exit_code == 0);
  const std::string prefix = "token id: ";
  const std::size_t at = result.err.find(prefix);
  REQUIRE(at != std::string::npos);
  *token_id = result.err.substr(at + prefix.size(), 32);
  return result.out.substr(0, result.out.find('\n'));
}

Row household(const std::string& id, const std::string& village) {
  return {{"id", id},
          {"village_id", village},
          {"head_name", "Tarsono"},
          {"created_by", "test"},
          {"created_at", "2026-12-07T08:00:00Z"}};
}

void sync(Replica& phone, const std::string& url) {
  Result<std::shared_ptr<Transport>> transport = make_http_transport(url);
  REQUIRE(transport.is_ok());
  SyncOptions options;
  options.transport = std::move(transport).value();
  const Result<SyncSummary> summary = phone.sync(options);
  INFO("sync of " << phone.device_id() << ": " << summary.status().to_string());
  REQUIRE(summary.is_ok());
}

}  // namespace

TEST_CASE("lumbungd devices shows each officer's phones; tokens lists them, revoked marked",
          "[integration][fleet]") {
  TempDir dir;
  const std::string data = dir.file("data");
  lumbungd_output({"grant", "--data", data, "--officer", "pusat", "--role", "admin"});
  lumbungd_output({"grant", "--data", data, "--officer", "sri", "--villages", kKrasak});
  lumbungd_output({"grant", "--data", data, "--officer", "ani", "--villages", kCikedung});
  std::map<std::string, std::string> token_ids;
  const auto phone = [&](const std::string& officer, const std::string& url) {
    ReplicaOptions options = options_for(dir.file(officer + ".db"));
    options.device_id = officer + "-phone";
    options.server_url = url;
    options.token = issue_token(data, officer, &token_ids[officer]);
    options.app_version = officer == "pusat" ? "" : "2.4.1";
    return open_replica(options);
  };

  const std::string started = utc_now();
  auto daemon = std::make_unique<DaemonProcess>(LUMBUNGD, data);
  std::unique_ptr<Replica> admin = phone("pusat", daemon->url());
  std::unique_ptr<Replica> sri = phone("sri", daemon->url());
  std::unique_ptr<Replica> ani = phone("ani", daemon->url());
  REQUIRE(admin->insert("village", village_row(kKrasak)).is_ok());
  REQUIRE(admin->insert("village", village_row(kCikedung)).is_ok());
  sync(*admin, daemon->url());
  sync(*sri, daemon->url());
  sync(*ani, daemon->url());
  REQUIRE(sri->insert("household", household("h-sri", kKrasak)).is_ok());
  REQUIRE(ani->insert("household", household("h-ani", kCikedung)).is_ok());
  sync(*sri, daemon->url());
  sync(*ani, daemon->url());

  // While it serves: the pushes are recorded with their commits.
  std::map<std::string, nlohmann::json> seen = devices(data);
  REQUIRE(seen.size() == 3);
  CHECK(seen.at("sri-phone").at("last_push").is_string());

  // What the last pulls told is written when the daemon stops.
  REQUIRE(daemon->terminate().has_value());
  daemon.reset();
  const std::string stopped = utc_now();
  seen = devices(data);
  REQUIRE(seen.size() == 3);
  for (const auto& [officer, villages] :
       std::map<std::string, std::vector<std::string>>{{"sri", {kKrasak}}, {"ani", {kCikedung}}}) {
    INFO(officer);
    const nlohmann::json& device = seen.at(officer + "-phone");
    CHECK(device.at("officer") == officer);
    CHECK(device.at("villages") == villages);
    CHECK(device.at("all_villages") == false);
    CHECK(device.at("app_version") == "2.4.1");
    CHECK(device.at("schema_version") == sri->status().value().schema_version);
    CHECK(device.at("refused_pending") == 0);
    const std::string first = device.at("first_seen");
    const std::string last = device.at("last_seen");
    const std::string pushed = device.at("last_push");
    CHECK(started <= first);
    CHECK(first <= pushed);
    CHECK(pushed <= last);
    CHECK(last <= stopped);
  }
  const nlohmann::json& admin_phone = seen.at("pusat-phone");
  CHECK(admin_phone.at("officer") == "pusat");
  CHECK(admin_phone.at("all_villages") == true);
  CHECK(admin_phone.at("app_version") == "");

  // --village: the devices its last pull served; --stale: those unseen for so many days.
  const std::map<std::string, nlohmann::json> krasak = devices(data, {"--village", kKrasak});
  CHECK(krasak.size() == 2);
  CHECK(krasak.contains("sri-phone"));
  CHECK(krasak.contains("pusat-phone"));
  CHECK(devices(data, {"--stale", "0"}).size() == 3);
  CHECK(devices(data, {"--stale", "7"}).empty());
  CHECK(devices(data, {"--village", kCikedung, "--stale", "0"}).size() == 2);

  // Text: one line per device.
  const std::string text = lumbungd_output({"devices", "--data", data, "--village", kCikedung});
  CHECK_THAT(text, Catch::Contains("ani-phone officer ani app 2.4.1 schema "));
  CHECK_THAT(text, Catch::Contains(std::string(" villages ") + kCikedung + "\n"));
  const ProcessResult bad = run_lumbungd({"devices", "--data", data, "--stale", "soon"});
  CHECK(bad.exit_code == 2);
  CHECK(run_lumbungd({"devices", "--data", dir.file("typo")}).exit_code == 1);

  // Tokens: every issued one, revoked marked.
  lumbungd_output({"revoke", "--data", data, "--token-id", token_ids.at("sri")});
  const std::vector<nlohmann::json> tokens = json_lines("tokens", data);
  REQUIRE(tokens.size() == 3);
  for (const nlohmann::json& token : tokens) {
    const std::string officer = token.at("officer");
    INFO(officer);
    CHECK(token.at("id") == token_ids.at(officer));
    CHECK(token.at("revoked") == (officer == "sri"));
    CHECK(token.at("device") == officer + "-phone");
    CHECK(token.at("role") == (officer == "pusat" ? "admin" : "officer"));
  }
  const ProcessResult unknown =
      run_lumbungd({"revoke", "--data", data, "--token-id", std::string(32, 'c')});
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::Contains("is unknown"));
}

}  // namespace lumbung::test
