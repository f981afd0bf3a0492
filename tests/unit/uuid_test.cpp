#include "core/uuid.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using lumbung::core::is_uuid_v7;
using lumbung::core::UuidV7Generator;

struct FakeClock : lumbung::Clock {
  explicit FakeClock(std::int64_t start) : ms(start) {}
  std::int64_t now_ms() override { return ms; }
  std::atomic<std::int64_t> ms;
};

constexpr std::int64_t kMs = 0x0193'1234'5678;  // 2024-11-11

std::uint64_t hex_field(const std::string& id, std::size_t from, std::size_t length) {
  std::string digits;
  for (char c : id.substr(from, length)) {
    if (c != '-') digits += c;
  }
  return std::stoull(digits, nullptr, 16);
}
std::int64_t timestamp_of(const std::string& id) {
  return static_cast<std::int64_t>(hex_field(id, 0, 13));
}
std::uint64_t counter_of(const std::string& id) { return hex_field(id, 15, 3); }

}  // namespace

TEST_CASE("UUIDv7 has version 7, variant 10 and the clock's milliseconds", "[core]") {
  auto clock = std::make_shared<FakeClock>(kMs);
  UuidV7Generator generator(clock);
  const std::string id = generator.next();
  REQUIRE(id.size() == 36);
  CHECK(id.substr(0, 13) == "01931234-5678");
  CHECK(id[14] == '7');
  CHECK(std::string("89ab").find(id[19]) != std::string::npos);
  CHECK(timestamp_of(id) == kMs);
  CHECK(is_uuid_v7(id));

  clock->ms = kMs + 12345;
  CHECK(timestamp_of(generator.next()) == kMs + 12345);
}

TEST_CASE("UUIDv7 takes its last 62 bits from the random source", "[core]") {
  auto clock = std::make_shared<FakeClock>(kMs);
  UuidV7Generator ones(clock, [] { return ~std::uint64_t{0}; });
  CHECK(ones.next() == "01931234-5678-7000-bfff-ffffffffffff");
  UuidV7Generator zeros(clock, [] { return std::uint64_t{0}; });
  CHECK(zeros.next() == "01931234-5678-7000-8000-000000000000");
  CHECK(zeros.next() == "01931234-5678-7001-8000-000000000000");
}

TEST_CASE("UUIDv7 counts within one millisecond and restarts on the next", "[core]") {
  auto clock = std::make_shared<FakeClock>(kMs);
  UuidV7Generator generator(clock);
  CHECK(counter_of(generator.next()) == 0);
  CHECK(counter_of(generator.next()) == 1);
  CHECK(counter_of(generator.next()) == 2);
  clock->ms = kMs + 1;
  const std::string id = generator.next();
  CHECK(counter_of(id) == 0);
  CHECK(timestamp_of(id) == kMs + 1);
}

TEST_CASE("UUIDv7 is strictly increasing over 100k ids with a frozen clock", "[core]") {
  auto clock = std::make_shared<FakeClock>(kMs);
  UuidV7Generator generator(clock);
  std::string previous = generator.next();
  for (int i = 1; i < 100000; ++i) {
    const std::string id = generator.next();
    REQUIRE(id > previous);
    REQUIRE(is_uuid_v7(id));
    previous = id;
  }
  // 4096 ids fit in one millisecond; the rest borrow the following ones.
  CHECK(timestamp_of(previous) == kMs + 99999 / 4096);
  CHECK(counter_of(previous) == 99999 % 4096);
}

TEST_CASE("UUIDv7 is strictly increasing when the clock steps back", "[core]") {
  auto clock = std::make_shared<FakeClock>(kMs);
  UuidV7Generator generator(clock);
  std::string previous = generator.next();
  for (int i = 1; i < 100000; ++i) {
    if (i == 50000) clock->ms = kMs - 3600 * 1000;  // an hour back
    if (i % 1000 == 0) clock->ms += 1;
    const std::string id = generator.next();
    REQUIRE(id > previous);
    previous = id;
  }
  // After the step back the generator stays on its own timeline.
  CHECK(timestamp_of(previous) >= kMs);
}

TEST_CASE("UUIDv7 ids stay unique and ordered per thread when threads share a generator",
          "[core]") {
  auto clock = std::make_shared<FakeClock>(kMs);
  UuidV7Generator generator(clock);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) made[t].push_back(generator.next());
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> all;
  for (const auto& ids : made) {
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    all.insert(ids.begin(), ids.end());
  }
  CHECK(all.size() == kThreads * kPerThread);
}

TEST_CASE("UUIDv7 from the default clock and random source are distinct and valid", "[core]") {
  UuidV7Generator first;
  UuidV7Generator second;
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    ids.insert(first.next());
    ids.insert(second.next());
  }
  CHECK(ids.size() == 2000);
  for (const auto& id : ids) CHECK(is_uuid_v7(id));
  const std::int64_t now = lumbung::system_clock()->now_ms();
  CHECK(std::abs(timestamp_of(*ids.begin()) - now) < 60 * 1000);
}

TEST_CASE("is_uuid_v7 accepts canonical v7 text and rejects everything else", "[core]") {
  CHECK(is_uuid_v7("01931234-5678-7abc-8def-0123456789ab"));
  CHECK(is_uuid_v7("01931234-5678-7abc-bdef-0123456789ab"));
  CHECK_FALSE(is_uuid_v7("01931234-5678-7ABC-8DEF-0123456789AB"));   // upper case
  CHECK_FALSE(is_uuid_v7("01931234-5678-4abc-8def-0123456789ab"));   // version 4
  CHECK_FALSE(is_uuid_v7("01931234-5678-7abc-cdef-0123456789ab"));   // variant 110
  CHECK_FALSE(is_uuid_v7("01931234-5678-7abc-7def-0123456789ab"));   // variant 0
  CHECK_FALSE(is_uuid_v7("0193123456787abc8def0123456789ab"));       // no dashes
  CHECK_FALSE(is_uuid_v7("01931234-5678-7abc-8def-0123456789a"));    // short
  CHECK_FALSE(is_uuid_v7("01931234-5678-7abc-8def-0123456789abc"));  // long
  CHECK_FALSE(is_uuid_v7("01931234-5678-7abc-8def-0123456789ag"));   // not hex
  CHECK_FALSE(is_uuid_v7("01931234_5678-7abc-8def-0123456789ab"));   // wrong separator
  CHECK_FALSE(is_uuid_v7("{1931234-5678-7abc-8def-0123456789ab"));
  CHECK_FALSE(is_uuid_v7(""));
}
