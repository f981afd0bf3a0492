// The daemon's log lines (server/log.hpp, server/request_record.hpp): both
// formats, read back by a JSON parser and by the text format's own rules.
#include "server/log.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "auth/token_authority.hpp"
#include "protocol/wire.hpp"
#include "server/request_record.hpp"
#include "server/sync_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

using server::LogField;
using server::LogFormat;
using server::Logger;
using server::LogLevel;

// 2026-12-07T03:50:00.123Z
constexpr std::int64_t kTime = 1796615400123;

const std::vector<LogField> kFields = {{"route", std::string("/v1/push")},
                                       {"status", std::int64_t{200}},
                                       {"ms", 12.5},
                                       {"officer", std::string("sri \"the\" officer")},
                                       {"villages", std::vector<std::string>{"desa-a", "desa-b"}},
                                       {"device", std::string()}};

}  // namespace

TEST_CASE("a JSON log line is one object with time, level, event and the fields in order",
          "[server][log]") {
  const Logger logger(STDERR_FILENO, LogFormat::kJson, LogLevel::kInfo);
  const std::string line = logger.format_line(kTime, LogLevel::kWarn, "request", kFields);
  CHECK(line.find('\n') == std::string::npos);
  const nlohmann::ordered_json json = nlohmann::ordered_json::parse(line);
  CHECK(json["time"] == "2026-12-07T03:50:00.123Z");
  CHECK(json["level"] == "warn");
  CHECK(json["event"] == "request");
  CHECK(json["route"] == "/v1/push");
  CHECK(json["status"] == 200);
  CHECK(json["ms"] == 12.5);
  CHECK(json["officer"] == "sri \"the\" officer");
  CHECK(json["villages"] == nlohmann::json::array({"desa-a", "desa-b"}));
  CHECK(json["device"] == "");
  std::vector<std::string> keys;
  for (const auto& item : json.items()) keys.push_back(item.key());
  CHECK(keys == std::vector<std::string>{"time", "level", "event", "route", "status", "ms",
                                         "officer", "villages", "device"});
}

TEST_CASE("a text log line quotes only what is not a plain word", "[server][log]") {
  const Logger logger(STDERR_FILENO, LogFormat::kText, LogLevel::kInfo);
  CHECK(logger.format_line(kTime, LogLevel::kInfo, "request", kFields) ==
        "2026-12-07T03:50:00.123Z INFO request route=/v1/push status=200 ms=12.5 "
        "officer=\"sri \\\"the\\\" officer\" villages=desa-a,desa-b device=\"\"");
  CHECK(logger.format_line(kTime, LogLevel::kError, "stop", {}) ==
        "2026-12-07T03:50:00.123Z ERROR stop");
}

TEST_CASE("lines below the logger's level are dropped", "[server][log]") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  const Logger logger(fileno(file), LogFormat::kText, LogLevel::kWarn);
  CHECK_FALSE(logger.enabled(LogLevel::kInfo));
  logger.log(LogLevel::kInfo, "request", kFields);
  logger.log(LogLevel::kWarn, "config", {{"message", std::string("plain HTTP")}});
  std::rewind(file);
  char buffer[512] = {};
  const std::size_t read = std::fread(buffer, 1, sizeof buffer - 1, file);
  std::fclose(file);
  const std::string written(buffer, read);
  CHECK(written.find(" WARN config message=\"plain HTTP\"\n") != std::string::npos);
  CHECK(written.find("request") == std::string::npos);
  CHECK(std::count(written.begin(), written.end(), '\n') == 1);
}

TEST_CASE("a request's line names its refusal by code and counts its villages", "[server][log]") {
  server::RequestRecord record;
  record.id = "00000001deadbeef";
  record.route = "/v1/pull";
  record.started = std::chrono::steady_clock::now();
  for (int i = 0; i < 12; ++i) record.note_village("desa-" + std::to_string(i));
  const HttpResponse refused = protocol::error_response(
      Status(ErrorCode::kTokenRevoked, "token 0123 was revoked: a message the log leaves out"));
  CHECK(server::request_level(refused) == LogLevel::kInfo);
  const Logger logger(STDERR_FILENO, LogFormat::kJson, LogLevel::kInfo);
  const nlohmann::json json = nlohmann::json::parse(logger.format_line(
      kTime, LogLevel::kInfo, "request", server::request_fields(record, refused)));
  CHECK(json["status"] == 401);
  CHECK(json["error"] == "TokenRevoked");
  CHECK(json.dump().find("a message the log leaves out") == std::string::npos);
  CHECK(json["villages"].size() == server::kLoggedVillages);
  CHECK(json["villages_total"] == 12);
  CHECK(json["bytes_out"] == refused.body.size());
  CHECK(server::request_level(HttpResponse{500, {}, ""}) == LogLevel::kError);
}

}  // namespace lumbung::test

namespace lumbung::test {

TEST_CASE("the daemon logs a rotation of its signing key within 10 s", "[server][log]") {
  TempDir dir;
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  auto clock = std::make_shared<FakeClock>(1'800'000'000'000);
  server::ServerOptions options;
  options.data_dir = dir.file("data");
  options.clock = clock;
  options.logger = std::make_shared<const Logger>(fileno(file), LogFormat::kJson, LogLevel::kInfo);
  Result<std::unique_ptr<server::SyncServer>> opened = server::SyncServer::open(options);
  REQUIRE(opened.is_ok());
  server::SyncServer& sync = **opened;
  const std::string first = sync.signing_key_id();
  CHECK(first.size() == 16);

  Result<std::unique_ptr<auth::TokenAuthority>> keys =
      auth::TokenAuthority::open(options.data_dir, clock);
  REQUIRE(keys.is_ok());
  Result<std::string> rotated = (*keys)->rotate_key();
  REQUIRE(rotated.is_ok());
  sync.tick();  // looks at once: the first check is due
  clock->advance(9'000);
  REQUIRE((*keys)->rotate_key().is_ok());  // a second rotation, not yet looked at
  sync.tick();
  const std::string seen_first = sync.signing_key_id();
  clock->advance(1'000);
  sync.tick();
  CHECK(sync.signing_key_id() != seen_first);

  std::rewind(file);
  char buffer[2048] = {};
  const std::size_t read = std::fread(buffer, 1, sizeof buffer - 1, file);
  std::fclose(file);
  std::vector<nlohmann::json> rotations;
  std::istringstream lines(std::string(buffer, read));
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json entry = nlohmann::json::parse(line);
    if (entry["event"] == "signing_key") rotations.push_back(entry);
  }
  REQUIRE(rotations.size() == 2);
  CHECK(rotations[0]["previous"] == first);
  CHECK(rotations[0]["key_id"] == *rotated);
  CHECK(rotations[1]["previous"] == *rotated);
  CHECK(rotations[1]["key_id"] == sync.signing_key_id());
}

}  // namespace lumbung::test
