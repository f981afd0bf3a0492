// LongPolls on its own: which held long polls a commit wakes, the check of a
// commit that came between a poll's snapshot and its hold, the officer's
// limit, and the waiters whose client has gone.
#include "server/long_poll.hpp"

#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>

#include "server/server_fixture.hpp"

namespace lumbung::test {
namespace {

// A waiter of `device` that reads what `grant` may; answered by no one.
server::PullWaiter waiter_of(const std::string& device, auth::Grant grant) {
  server::PullWaiter waiter;
  waiter.query.device_id = device;
  waiter.query.set_grant(std::move(grant));
  waiter.deadline_ms = 30000;
  return waiter;
}

auth::Grant officer(const std::string& name, std::set<std::string, std::less<>> villages) {
  auth::Grant grant;
  grant.officer = name;
  grant.villages = std::move(villages);
  return grant;
}

std::set<std::string> devices_of(const std::vector<server::PullWaiter>& waiters) {
  std::set<std::string> devices;
  for (const server::PullWaiter& waiter : waiters) devices.insert(waiter.query.device_id);
  return devices;
}

using Hold = server::LongPolls::Hold;

TEST_CASE("long polls: a commit wakes the polls that read its scopes or its device, no other",
          "[server]") {
  server::LongPolls polls(10, 0);
  server::PullWaiter ani = waiter_of("ani-phone", officer("ani", {kVillage}));
  server::PullWaiter budi = waiter_of("budi-phone", officer("budi", {kOtherVillage}));
  server::PullWaiter dewi = waiter_of("dewi-phone", officer("dewi", {kOtherVillage}));
  server::PullWaiter office = waiter_of("office", auth::Grant::everything());
  for (server::PullWaiter* held : {&ani, &budi, &dewi, &office}) {
    REQUIRE(polls.hold(*held, 10) == Hold::kHeld);
  }

  // Dewi's push in Ani's village: Dewi's own page changes with her batch.
  polls.committed({11, {kVillage}, "dewi-phone"});
  CHECK(devices_of(polls.take_woken()) ==
        std::set<std::string>{"ani-phone", "dewi-phone", "office"});
  polls.committed({12, {kOtherVillage}, ""});
  CHECK(devices_of(polls.take_woken()) == std::set<std::string>{"budi-phone"});
  CHECK(polls.expired(30000).empty());  // none is held any more
}

TEST_CASE("long polls: a commit after a poll's snapshot answers it at its hold if it concerns it",
          "[server]") {
  server::LongPolls polls(10, 0);
  polls.committed({12, {kVillage}, "dewi-phone"});
  server::PullWaiter ani = waiter_of("ani-phone", officer("ani", {kVillage}));
  server::PullWaiter budi = waiter_of("budi-phone", officer("budi", {kOtherVillage}));
  server::PullWaiter dewi = waiter_of("dewi-phone", officer("dewi", {kOtherVillage}));
  server::PullWaiter office = waiter_of("office", auth::Grant::everything());
  CHECK(polls.hold(ani, 11) == Hold::kAnswerNow);
  CHECK(polls.hold(dewi, 11) == Hold::kAnswerNow);
  CHECK(polls.hold(office, 11) == Hold::kAnswerNow);
  CHECK(polls.hold(budi, 11) == Hold::kHeld);
  // Read after the commit: nothing missed.
  CHECK(polls.hold(ani, 12) == Hold::kHeld);
  CHECK(polls.hold(office, 12) == Hold::kHeld);
  CHECK(devices_of(polls.stop()) == std::set<std::string>{"ani-phone", "budi-phone", "office"});
  CHECK(polls.take_woken().empty());  // stopped: returns at once
}

TEST_CASE("long polls: one whose client has gone is handed back by expired() and frees its slot",
          "[server]") {
  server::LongPolls polls(0, 2);
  auto gone = std::make_shared<std::atomic<bool>>(false);
  server::PullWaiter first = waiter_of("sri-1", officer("sri", {kVillage}));
  first.client_gone = gone;
  server::PullWaiter second = waiter_of("sri-2", officer("sri", {kVillage}));
  server::PullWaiter third = waiter_of("sri-3", officer("sri", {kVillage}));
  REQUIRE(polls.hold(first, 0) == Hold::kHeld);
  REQUIRE(polls.hold(second, 0) == Hold::kHeld);
  CHECK(polls.hold(third, 0) == Hold::kOverLimit);
  CHECK(polls.expired(0).empty());

  gone->store(true);
  CHECK(devices_of(polls.expired(0)) == std::set<std::string>{"sri-1"});
  CHECK(polls.hold(third, 0) == Hold::kHeld);
  CHECK(devices_of(polls.expired(30000)) == std::set<std::string>{"sri-2", "sri-3"});
}

}  // namespace
}  // namespace lumbung::test
