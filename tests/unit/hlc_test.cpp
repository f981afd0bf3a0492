#include "core/hlc.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>
#include <vector>

namespace {

using lumbung::core::Hlc;
using lumbung::core::hlc_next;
using lumbung::core::HlcClock;
using lumbung::core::Stamp;

struct FakeClock : lumbung::Clock {
  explicit FakeClock(std::int64_t start) : ms(start) {}
  std::int64_t now_ms() override { return ms; }
  std::atomic<std::int64_t> ms;
};

constexpr std::int64_t kNov28 = 1795838846123;  // 2026-11-28T04:07:26.123Z
constexpr std::int64_t kHour = 3600 * 1000;

}  // namespace

TEST_CASE("Hlc packs milliseconds and counter so integer order is clock order", "[core]") {
  const Hlc stamp = Hlc::from_parts(kNov28, 5);
  CHECK(stamp.physical_ms() == kNov28);
  CHECK(stamp.logical() == 5);
  CHECK(stamp.packed() == (kNov28 << 16 | 5));
  CHECK(Hlc::from_parts(kNov28, 65535) < Hlc::from_parts(kNov28 + 1, 0));
  CHECK(Hlc::from_parts(kNov28, 1) > Hlc::from_parts(kNov28, 0));
}

TEST_CASE("Hlc::to_string prints UTC time and counter", "[core]") {
  CHECK(Hlc::from_parts(kNov28, 5).to_string() == "2026-11-28T04:07:26.123Z/5");
  CHECK(Hlc().to_string() == "1970-01-01T00:00:00.000Z/0");
  CHECK(Hlc::from_parts(-1, 0).to_string() == "1969-12-31T23:59:59.999Z/0");
  CHECK(Hlc::from_parts(951782400000, 65535).to_string() == "2000-02-29T00:00:00.000Z/65535");
}

TEST_CASE("hlc_next is max(last + 1, now << 16)", "[core]") {
  static_assert(hlc_next(Hlc(5), 0) == Hlc(6));
  CHECK(hlc_next(Hlc::from_parts(100, 3), 200) == Hlc::from_parts(200, 0));
  CHECK(hlc_next(Hlc::from_parts(200, 7), 200) == Hlc::from_parts(200, 8));
  CHECK(hlc_next(Hlc::from_parts(200, 7), 100) == Hlc::from_parts(200, 8));
  CHECK(hlc_next(Hlc::from_parts(200, 65535), 100) == Hlc::from_parts(201, 0));
}

TEST_CASE("HlcClock::send follows the wall clock when it moves forward", "[core]") {
  auto clock = std::make_shared<FakeClock>(kNov28);
  HlcClock hlc(clock);
  CHECK(hlc.send() == Hlc::from_parts(kNov28, 0));
  CHECK(hlc.send() == Hlc::from_parts(kNov28, 1));
  clock->ms = kNov28 + 10;
  CHECK(hlc.send() == Hlc::from_parts(kNov28 + 10, 0));
  CHECK(hlc.last() == Hlc::from_parts(kNov28 + 10, 0));
  CHECK(hlc.physical_now() == kNov28 + 10);
}

TEST_CASE("HlcClock::send is strictly monotonic when the clock stands still", "[core]") {
  auto clock = std::make_shared<FakeClock>(kNov28);
  HlcClock hlc(clock);
  Hlc previous = hlc.send();
  for (int i = 0; i < 1000; ++i) {
    const Hlc next = hlc.send();
    REQUIRE(next > previous);
    previous = next;
  }
  CHECK(previous == Hlc::from_parts(kNov28, 1000));
}

TEST_CASE("HlcClock::send is strictly monotonic when the clock jumps back an hour", "[core]") {
  auto clock = std::make_shared<FakeClock>(kNov28);
  HlcClock hlc(clock);
  const Hlc before = hlc.send();
  clock->ms = kNov28 - kHour;
  Hlc previous = before;
  for (int i = 0; i < 100; ++i) {
    const Hlc next = hlc.send();
    REQUIRE(next > previous);
    previous = next;
  }
  // The physical part holds at the latest time seen; only the counter moves.
  CHECK(previous == Hlc::from_parts(kNov28, 100));
  clock->ms = kNov28 + 1;
  CHECK(hlc.send() == Hlc::from_parts(kNov28 + 1, 0));
}

TEST_CASE("HlcClock::send carries a full counter into the milliseconds", "[core]") {
  auto clock = std::make_shared<FakeClock>(kNov28);
  HlcClock hlc(clock);
  Hlc previous = hlc.send();
  REQUIRE(previous == Hlc::from_parts(kNov28, 0));
  for (int i = 1; i < 65536; ++i) {
    const Hlc next = hlc.send();
    REQUIRE(next > previous);
    previous = next;
  }
  CHECK(previous == Hlc::from_parts(kNov28, 65535));
  const Hlc carried = hlc.send();
  CHECK(carried > previous);
  CHECK(carried.physical_ms() == kNov28 + 1);
  CHECK(carried.logical() == 0);
}

TEST_CASE("HlcClock::receive dominates the remote stamp, the local stamp and the clock", "[core]") {
  auto clock = std::make_shared<FakeClock>(kNov28);
  HlcClock hlc(clock);
  const Hlc local = hlc.send();

  SECTION("remote ahead") {
    const Hlc remote = Hlc::from_parts(kNov28 + kHour, 9);
    CHECK(hlc.receive(remote) == Hlc::from_parts(kNov28 + kHour, 10));
    CHECK(hlc.send() == Hlc::from_parts(kNov28 + kHour, 11));
  }
  SECTION("local ahead") {
    CHECK(hlc.receive(Hlc::from_parts(kNov28 - kHour, 9)) == Hlc(local.packed() + 1));
  }
  SECTION("remote equal to local") { CHECK(hlc.receive(local) == Hlc(local.packed() + 1)); }
  SECTION("wall clock ahead of both") {
    clock->ms = kNov28 + 500;
    CHECK(hlc.receive(Hlc::from_parts(kNov28 + 100, 9)) == Hlc::from_parts(kNov28 + 500, 0));
  }
  SECTION("the result is always greater than both inputs") {
    for (const std::int64_t offset :
         {-kHour, std::int64_t{-1}, std::int64_t{0}, std::int64_t{1}, kHour}) {
      const Hlc before = hlc.last();
      const Hlc remote = Hlc::from_parts(kNov28 + offset, 65535);
      const Hlc merged = hlc.receive(remote);
      CHECK(merged > before);
      CHECK(merged > remote);
    }
  }
}

TEST_CASE("A restarted HlcClock never goes below the persisted stamp", "[core]") {
  auto clock = std::make_shared<FakeClock>(kNov28);
  Hlc persisted;
  {
    HlcClock first(clock);
    for (int i = 0; i < 5; ++i) (void)first.send();
    persisted = first.last();
  }
  clock->ms = kNov28 - kHour;  // the phone's clock was reset while it was off
  HlcClock second(clock, persisted);
  CHECK(second.last() == persisted);
  const Hlc next = second.send();
  CHECK(next > persisted);
  CHECK(next == Hlc(persisted.packed() + 1));
}

TEST_CASE("Stamp orders by HLC first and breaks ties by device id", "[core]") {
  const Hlc early = Hlc::from_parts(kNov28, 1);
  const Hlc late = Hlc::from_parts(kNov28, 2);
  CHECK(Stamp{early, "device-b"} < Stamp{early, "device-c"});
  CHECK(Stamp{early, "device-z"} < Stamp{late, "device-a"});
  CHECK(Stamp{late, "device-a"} == Stamp{late, "device-a"});
  CHECK(Stamp{late, "device-a"} != Stamp{late, "device-b"});
}

TEST_CASE("HlcClock issues unique stamps across threads", "[core]") {
  auto clock = std::make_shared<FakeClock>(kNov28);
  HlcClock hlc(clock);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10000;
  std::vector<std::vector<Hlc>> issued(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (t == 0 && i % 100 == 0) clock->ms += (i % 200 == 0) ? 1 : -5;
        issued[t].push_back(hlc.send());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<Hlc> all;
  for (const auto& stamps : issued) {
    CHECK(std::is_sorted(stamps.begin(), stamps.end()));
    all.insert(stamps.begin(), stamps.end());
  }
  CHECK(all.size() == kThreads * kPerThread);
  CHECK(hlc.last() == *all.rbegin());
}

TEST_CASE("HlcClock without a clock uses the system clock", "[core]") {
  const std::int64_t before = lumbung::system_clock()->now_ms();
  HlcClock hlc(nullptr);
  const Hlc stamp = hlc.send();
  const std::int64_t after = lumbung::system_clock()->now_ms();
  CHECK(stamp.physical_ms() >= before);
  CHECK(stamp.physical_ms() <= after);
}
