// What the store records of devices for the fleet view
// (docs/decisions/0025-fleet-view.md): a push in its own commit, pulls kept
// in memory until a commit group, the flush interval or the store's close,
// refusals pending until the row is pushed again, and a store of format 5
// upgraded in place.
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "server/server_fixture.hpp"
#include "server/sqlite_store.hpp"
#include "server/store_formats.hpp"

namespace lumbung::test {
namespace {

using Devices = std::map<std::string, server::DeviceRecord>;

// The devices recorded in the store in `data_dir`, read through a connection
// of its own, as `lumbungd devices` reads them while the daemon serves.
Devices devices(const std::string& data_dir) {
  Result<std::unique_ptr<server::SqliteStore>> store = server::SqliteStore::open(data_dir);
  REQUIRE(store.is_ok());
  Devices found;
  const Status read = (*store)->read([&](server::ReadTransaction& txn) {
    return txn.scan_devices(
        [&](const server::DeviceRecord& device) { found.emplace(device.device_id, device); });
  });
  INFO(read.to_string());
  REQUIRE(read.is_ok());
  return found;
}

// Waits, up to 30 s, for `done` to hold: what the commit thread writes
// after a request was answered.
bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

TEST_CASE("fleet: a push is recorded with its commit, refusals until the row is pushed again",
          "[server]") {
  TestServer server;
  const std::string dir = server.data_dir();
  Batch first("phone-a", 1);
  first.insert("household", "h1", household(), stamp(0));
  first.update("household", "ghost", "head_name", Value("Budi"), stamp(0), 0);  // no such row
  first.request().mutable_header()->set_app_version("2.4.1");
  const v1::PushResponse pushed = server.push(first);
  REQUIRE(outcome(pushed, 1).outcome() == v1::OUTCOME_APPLIED);
  REQUIRE(outcome(pushed, 2).outcome() == v1::OUTCOME_REFUSED);

  Devices seen = devices(dir);
  REQUIRE(seen.size() == 1);
  const server::DeviceRecord& phone = seen.at("phone-a");
  CHECK(phone.officer.empty());  // --insecure-no-auth
  CHECK(phone.first_seen_ms == kNowMs);
  CHECK(phone.last_seen_ms == kNowMs);
  CHECK(phone.last_push_ms == kNowMs);
  CHECK(phone.schema_version == 1);
  CHECK(phone.app_version == "2.4.1");
  CHECK(phone.refused_pending == 1);
  CHECK(phone.villages.empty());
  CHECK_FALSE(phone.all_villages);  // no pull yet

  // Another change pushed leaves the refusal pending; the row pushed again clears it.
  server.clock->advance(1000);
  server.push(Batch("phone-a", 2).insert("household", "h2", household(), stamp(1000)));
  CHECK(devices(dir).at("phone-a").refused_pending == 1);
  CHECK(devices(dir).at("phone-a").last_push_ms == kNowMs + 1000);
  CHECK(devices(dir).at("phone-a").app_version.empty());  // this request sent none
  server.clock->advance(1000);
  server.push(Batch("phone-a", 3).insert("household", "ghost", household(), stamp(2000)));
  CHECK(devices(dir).at("phone-a").refused_pending == 0);
  CHECK(devices(dir).at("phone-a").first_seen_ms == kNowMs);
}

TEST_CASE("fleet: the refused rows kept pending per device are bounded", "[server]") {
  TestServer server;
  // Updates of rows that do not exist, refused one by one, of ever new rows.
  const auto refused_batch = [](std::uint64_t batch, int first, int count) {
    Batch refused("phone-a", batch);
    for (int i = first; i < first + count; ++i) {
      refused.update("household", "ghost-" + std::to_string(i), "head_name", Value("Budi"),
                     stamp(i), 0);
    }
    return refused;
  };
  server.push(refused_batch(1, 0, 1200));
  CHECK(devices(server.data_dir()).at("phone-a").refused_pending ==
        server::kMaxRefusalsKeptPerDevice);
  server.push(refused_batch(2, 1200, 100));
  CHECK(devices(server.data_dir()).at("phone-a").refused_pending ==
        server::kMaxRefusalsKeptPerDevice);
}

TEST_CASE("fleet: pulls are written with the next commit, after the flush interval, or at close",
          "[server]") {
  TestServer server;
  const std::string dir = server.data_dir();
  server.pull("phone-b");
  CHECK(devices(dir).empty());  // in memory: no write a pull

  // A push's commit group writes the sightings noted before it.
  server.clock->advance(500);
  server.push(Batch("phone-a", 1).insert("household", "h1", household(), stamp(500)));
  Devices seen = devices(dir);
  REQUIRE(seen.contains("phone-b"));
  CHECK(seen.at("phone-b").first_seen_ms == kNowMs);
  CHECK(seen.at("phone-b").last_seen_ms == kNowMs);
  CHECK(seen.at("phone-b").last_push_ms == 0);
  CHECK(seen.at("phone-b").all_villages);  // --insecure-no-auth serves every village

  // Without a push, the pull that comes kSightingFlushMs after the oldest
  // sighting kept has them written.
  server.clock->advance(1000);
  server.pull("phone-c");
  server.clock->advance(server::Store::kSightingFlushMs - 1);
  server.pull("phone-b");
  CHECK_FALSE(devices(dir).contains("phone-c"));
  server.clock->advance(1);
  server.pull("phone-b");
  const std::int64_t flushed_at = kNowMs + 1500 + server::Store::kSightingFlushMs;
  CHECK(eventually([&] { return devices(dir).contains("phone-c"); }));
  CHECK(eventually([&] { return devices(dir).at("phone-b").last_seen_ms == flushed_at; }));
  CHECK(devices(dir).at("phone-b").first_seen_ms == kNowMs);

  // The last pulls are written when the server closes.
  server.clock->advance(1000);
  server.pull("phone-d");
  server.server.reset();
  CHECK(devices(dir).at("phone-d").last_seen_ms == flushed_at + 1000);
}

TEST_CASE("fleet: a store of format 5 is upgraded in place, its devices kept", "[server]") {
  TestServer server;
  const std::string dir = server.data_dir();
  server.push(Batch("phone-a", 1).insert("household", "h1", household(), stamp(0)));
  server.server.reset();
  downgrade_to_7(dir);
  rewrite_store(dir, kDowngradeTo6);
  rewrite_store(dir, kDowngradeTo5);

  server.open();
  // Known from its last batch, seen at no known time.
  Devices seen = devices(dir);
  REQUIRE(seen.size() == 1);
  CHECK(seen.at("phone-a").last_seen_ms == 0);
  CHECK(seen.at("phone-a").first_seen_ms == 0);
  CHECK(seen.at("phone-a").refused_pending == 0);
  // Its batches go on from where they were (batch 1 again is a retry).
  server.clock->advance(1000);
  const v1::PushResponse retried =
      server.push(Batch("phone-a", 1).insert("household", "h1", household(), stamp(0)));
  CHECK(retried.outcomes_size() == 1);
  server.push(Batch("phone-a", 2).insert("household", "h2", household(), stamp(1000)));
  seen = devices(dir);
  CHECK(seen.at("phone-a").first_seen_ms == kNowMs + 1000);
  CHECK(seen.at("phone-a").last_seen_ms == kNowMs + 1000);
  CHECK(seen.at("phone-a").last_push_ms == kNowMs + 1000);
}

}  // namespace
}  // namespace lumbung::test
