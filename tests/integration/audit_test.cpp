// Audit retention with real lumbungd processes
// (docs/decisions/0028-audit-retention.md): `lumbungd audit` prints an insert
// as one line holding its row; `lumbungd audit --archive-before DATE --out
// FILE` moves the older entries into FILE while `lumbungd serve` takes
// pushes, and `lumbungd audit --from FILE` prints them exactly as `lumbungd
// audit` did; a file cut short or damaged is refused.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "auth/token.hpp"
#include "integration/household_push.hpp"
#include "lumbung/http.hpp"
#include "protocol/wire.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

// One device speaking the protocol by hand, pushing one household a batch.
// Returns Status rather than asserting, so that it may run on a thread of
// its own.
class Pusher {
 public:
  Pusher(const DaemonProcess& daemon, std::string device) : device_(std::move(device)) {
    Result<std::shared_ptr<Transport>> transport = make_http_transport(daemon.url());
    if (transport.is_ok()) transport_ = std::move(transport).value();
  }

  // Inserts household `row_id` of village v1; its seq.
  Result<std::int64_t> insert(const std::string& row_id, const std::string& head_name) {
    if (!transport_) return Status(ErrorCode::kNetwork, "no transport");
    v1::RequestHeader header;
    header.set_protocol_version(protocol::kProtocolVersion);
    header.set_schema_version(1);
    header.set_device_id(device_);
    const v1::PushRequest push = household_push(header, ++batch_, row_id, "v1", head_name);
    Result<HttpResponse> answer = transport_->exchange(protocol::make_request("/v1/push", push));
    if (!answer) return answer.status();
    LUMBUNG_RETURN_IF_ERROR(protocol::status_from_response(*answer));
    v1::PushResponse response;
    LUMBUNG_RETURN_IF_ERROR(protocol::decode_body(
        answer->headers, answer->body, HttpTransportOptions().max_response_bytes, &response));
    if (response.outcomes_size() != 1 || response.outcomes(0).outcome() != v1::OUTCOME_APPLIED) {
      return Status(ErrorCode::kInternal, "household " + row_id + " was not applied");
    }
    return response.outcomes(0).seq();
  }

 private:
  std::shared_ptr<Transport> transport_;
  std::string device_;
  std::uint64_t batch_ = 0;
};

std::int64_t inserted(Pusher& pusher, const std::string& row_id, const std::string& head_name) {
  Result<std::int64_t> seq = pusher.insert(row_id, head_name);
  INFO(seq.status().to_string());
  REQUIRE(seq.is_ok());
  return *seq;
}

std::vector<std::string> lines_of(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> audit_lines(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"audit"};
  all.insert(all.end(), args.begin(), args.end());
  return lines_of(lumbungd_output(all));
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// `ms` as an RFC 3339 time in UTC, to the millisecond: 2026-12-07T06:40:19.123Z.
std::string rfc3339(std::int64_t ms) {
  const std::string seconds = auth::utc_text(ms / 1000);  // ...T06:40:19Z
  const std::string fraction = std::to_string(1000 + ms % 1000).substr(1);
  return seconds.substr(0, seconds.size() - 1) + "." + fraction + "Z";
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

TEST_CASE("lumbungd audit prints an insert as one line that holds every value", "[integration]") {
  TempDir dir;
  const std::string data = dir.file("data");
  DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth"});
  Pusher ani(daemon, "device-ani");
  const std::int64_t seq = inserted(ani, "h1", "Tarsono");

  const std::vector<std::string> lines = audit_lines({"--data", data});
  REQUIRE(lines.size() == 1);
  const nlohmann::json line = nlohmann::json::parse(lines[0]);
  CHECK(line.at("column").is_null());
  CHECK(line.at("old").is_null());
  CHECK(line.at("outcome") == "applied");
  CHECK(line.at("seq") == seq);
  CHECK(line.at("table") == "household");
  CHECK(line.at("row") == "h1");
  CHECK(line.at("scope") == "v1");
  CHECK(line.at("device") == "device-ani");
  const nlohmann::json& row = line.at("new");
  REQUIRE(row.is_object());
  CHECK(row.at("id") == "h1");
  CHECK(row.at("village_id") == "v1");
  CHECK(row.at("head_name") == "Tarsono");
  CHECK(row.at("created_by") == "device-ani");
  CHECK(row.at("created_at") == "2026-11-28T04:07:26Z");
  // The columns the device did not send, with the values the insert gave them.
  CHECK(row.size() > 5);
}

TEST_CASE(
    "lumbungd audit --archive-before moves older entries into a file that --from prints "
    "as the log did, while lumbungd serve takes pushes",
    "[integration]") {
  TempDir dir;
  const std::string data = dir.file("data");
  const std::string archive = dir.file("audit-2026.lumbung-audit");
  DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth"});
  Pusher ani(daemon, "device-ani");
  for (int i = 1; i <= 10; ++i) inserted(ani, "h" + std::to_string(i), "Head " + std::to_string(i));
  const std::vector<std::string> older = audit_lines({"--data", data});
  REQUIRE(older.size() == 10);
  std::int64_t first_ms = INT64_MAX;
  std::int64_t last_ms = 0;
  for (const std::string& line : older) {
    const std::int64_t time_ms = nlohmann::json::parse(line).at("time_ms");
    first_ms = std::min(first_ms, time_ms);
    last_ms = std::max(last_ms, time_ms);
  }
  // Every entry from now on is at or after the cut.
  const std::int64_t cut = last_ms + 1;
  while (now_ms() <= cut) std::this_thread::yield();
  for (int i = 11; i <= 20; ++i)
    inserted(ani, "h" + std::to_string(i), "Head " + std::to_string(i));
  const std::vector<std::string> before = audit_lines({"--data", data});
  REQUIRE(before.size() == 20);
  CHECK(std::equal(older.begin(), older.end(), before.begin()));

  // Another device pushes all along the archiving.
  std::atomic<bool> stop = false;
  std::atomic<int> pushed = 0;
  std::future<Status> pushing = std::async(std::launch::async, [&]() -> Status {
    Pusher budi(daemon, "device-budi");
    while (!stop) {
      Result<std::int64_t> seq = budi.insert("b" + std::to_string(pushed + 1), "Budi's");
      if (!seq) return seq.status();
      ++pushed;
    }
    return Status::ok();
  });
  while (pushed == 0 && pushing.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    std::this_thread::yield();
  }
  const ProcessResult archived =
      run_lumbungd({"audit", "--data", data, "--archive-before", rfc3339(cut), "--out", archive});
  const int pushed_during = pushed;
  while (pushed < pushed_during + 2 &&
         pushing.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    std::this_thread::yield();
  }
  stop = true;
  const Status pusher = pushing.get();
  INFO(pusher.to_string());
  REQUIRE(pusher.is_ok());
  INFO(archived.err);
  REQUIRE(archived.exit_code == 0);
  const nlohmann::json summary = nlohmann::json::parse(archived.out);
  CHECK(summary.at("entries") == 10);
  CHECK(summary.at("path") == std::filesystem::absolute(archive).string());
  CHECK(summary.at("bytes") == std::filesystem::file_size(archive));
  CHECK(summary.at("first_time_ms") == first_ms);
  CHECK(summary.at("last_time_ms") == last_ms);
  CHECK((std::filesystem::status(archive).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));

  // The archive prints exactly the lines the log printed for those entries.
  CHECK(audit_lines({"--from", archive}) == older);
  CHECK(audit_lines({"--from", archive, "--row", "household/h3"}) ==
        std::vector<std::string>{older[2]});
  CHECK(audit_lines({"--from", archive, "--village", "v1"}) == older);
  CHECK(audit_lines({"--from", archive, "--village", "v2"}).empty());
  // The log keeps the rest, and every push made meanwhile.
  const std::vector<std::string> kept = audit_lines({"--data", data});
  REQUIRE(kept.size() == 10 + static_cast<std::size_t>(pushed.load()));
  CHECK(std::equal(before.begin() + 10, before.end(), kept.begin()));
  for (std::size_t i = 10; i < kept.size(); ++i) {
    CHECK(nlohmann::json::parse(kept[i]).at("device") == "device-budi");
  }

  // An archive is never written over.
  const ProcessResult again =
      run_lumbungd({"audit", "--data", data, "--archive-before", "2026-01-01", "--out", archive});
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.err, Catch::Contains("exists"));
  CHECK(audit_lines({"--from", archive}) == older);
}

TEST_CASE("lumbungd audit --from refuses a file cut short or damaged, printing nothing",
          "[integration]") {
  TempDir dir;
  const std::string data = dir.file("data");
  const std::string archive = dir.file("archive");
  {
    DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth"});
    Pusher ani(daemon, "device-ani");
    for (int i = 1; i <= 20; ++i) inserted(ani, "h" + std::to_string(i), "Head");
  }
  lumbungd_output({"audit", "--data", data, "--archive-before", "2999-12-31", "--out", archive});
  CHECK(audit_lines({"--data", data}).empty());
  REQUIRE(audit_lines({"--from", archive}).size() == 20);
  const std::string whole = read_file(archive);
  const std::string broken = dir.file("broken");
  std::string damaged = whole;
  damaged[whole.size() / 2] = static_cast<char>(damaged[whole.size() / 2] ^ 0x01);
  for (const std::string& bytes : {whole.substr(0, whole.size() - 10), damaged, std::string()}) {
    write_file(broken, bytes);
    const ProcessResult refused = run_lumbungd({"audit", "--from", broken});
    CHECK(refused.exit_code == 1);
    CHECK(refused.out.empty());
    CHECK_THAT(refused.err,
               Catch::Contains("'" + broken + "' is not a whole, intact lumbungd audit archive"));
  }
  const ProcessResult missing = run_lumbungd({"audit", "--from", dir.file("none")});
  CHECK(missing.exit_code == 1);
  CHECK(missing.out.empty());

  // The command line: --from alone, --archive-before with --out and --data.
  CHECK(run_lumbungd({"audit", "--from", archive, "--data", data}).exit_code == 2);
  CHECK(run_lumbungd({"audit", "--data", data, "--archive-before", "2026-01-01"}).exit_code == 2);
  CHECK(
      run_lumbungd({"audit", "--archive-before", "2026-01-01", "--out", dir.file("x")}).exit_code ==
      2);
  CHECK(run_lumbungd({"audit"}).exit_code == 2);
  for (const char* date :
       {"2026-02-30", "2026-1-01", "yesterday", "2026-01-01T25:00:00Z", "2026-01-01T10:00:00"}) {
    const ProcessResult bad =
        run_lumbungd({"audit", "--data", data, "--archive-before", date, "--out", dir.file("x")});
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Catch::Contains("is not a UTC date"));
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("x")));
}

}  // namespace lumbung::test
