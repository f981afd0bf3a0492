// The commit feed's notices (server/commit_feed.hpp) as text, and the long
// polls' handling of a commit that wakes every waiter; the feed over a real
// PostgreSQL is tested by tests/integration/several_daemons_test.cpp.
#include "server/commit_feed.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

namespace lumbung::test {
namespace {

constexpr const char* kVillage = "desa-a";
constexpr const char* kOtherVillage = "desa-b";

server::CommitNotice notice_of(std::set<std::string> scopes, std::string device) {
  server::CommitNotice notice;
  notice.sender = "0123456789abcdef";
  notice.changes.seq = 42;
  notice.changes.scopes = std::move(scopes);
  notice.changes.device_id = std::move(device);
  notice.changes.region_rows = std::vector<std::string>{"v1"};
  notice.hlc = std::int64_t{1796000000000} << 16;
  return notice;
}

server::PullWaiter waiter_of(const std::string& device, const std::string& village) {
  server::PullWaiter waiter;
  waiter.query.device_id = device;
  auth::Grant grant;
  grant.officer = device + "-officer";
  grant.villages = {village};
  waiter.query.set_grant(std::move(grant));
  waiter.deadline_ms = 30000;
  return waiter;
}

}  // namespace

TEST_CASE("commit notices: what one daemon tells, another reads back", "[server][daemons]") {
  // Texts with what a line format must escape.
  const server::CommitNotice sent = notice_of({"v1", "desa\nbaru", "back\\slash"}, "hp-01\n");
  const std::string text = server::encode_commit_notice(sent);
  CHECK(text.find('\0') == std::string::npos);
  const std::optional<server::CommitNotice> read = server::decode_commit_notice(text);
  REQUIRE(read);
  CHECK(read->sender == sent.sender);
  CHECK(read->changes.seq == 42);
  CHECK(read->hlc == sent.hlc);
  CHECK(read->changes.scopes == sent.changes.scopes);
  CHECK(read->changes.device_id == sent.changes.device_id);
  CHECK_FALSE(read->changes.every_waiter);
  CHECK(read->changes.region_rows == sent.changes.region_rows);

  server::CommitNotice resolution = notice_of({"v1"}, "");
  resolution.changes.region_rows.reset();  // not known
  const std::optional<server::CommitNotice> unknown =
      server::decode_commit_notice(server::encode_commit_notice(resolution));
  REQUIRE(unknown);
  CHECK_FALSE(unknown->changes.region_rows.has_value());

  CHECK_FALSE(server::decode_commit_notice("lumbung-commit 2\nseq 1"));
  CHECK_FALSE(server::decode_commit_notice("lumbung-commit 1\nfrom x"));  // no seq
  CHECK_FALSE(server::decode_commit_notice("lumbung-commit 1\nseq 1x"));
  CHECK_FALSE(server::decode_commit_notice("lumbung-commit 1\nseq 1\nscope a\\q"));
  CHECK_FALSE(server::decode_commit_notice(""));
}

TEST_CASE("commit notices: scopes beyond NOTIFY's 8000 bytes become every waiter",
          "[server][daemons]") {
  std::set<std::string> scopes;
  for (int i = 0; i < 2000; ++i) scopes.insert("village-" + std::to_string(i));
  server::CommitNotice big = notice_of(scopes, "hp-01");
  const std::string text = server::encode_commit_notice(big);
  CHECK(text.size() <= server::kMaxNoticeBytes);
  const std::optional<server::CommitNotice> read = server::decode_commit_notice(text);
  REQUIRE(read);
  CHECK(read->changes.every_waiter);
  CHECK(read->changes.scopes.empty());
  CHECK(read->changes.seq == 42);
  CHECK(read->changes.region_rows == std::vector<std::string>{"v1"});

  // Region rows beyond it too: read them all again.
  std::vector<std::string> rows(scopes.begin(), scopes.end());
  big.changes.region_rows = rows;
  const std::optional<server::CommitNotice> all =
      server::decode_commit_notice(server::encode_commit_notice(big));
  REQUIRE(all);
  CHECK(all->changes.every_waiter);
  CHECK_FALSE(all->changes.region_rows.has_value());
  CHECK(server::encode_commit_notice(big).size() <= server::kMaxNoticeBytes);
}

TEST_CASE("long polls: a commit of unknown scopes wakes every waiter, and answers later holds",
          "[server][daemons]") {
  server::LongPolls polls(10, 0);
  server::PullWaiter ani = waiter_of("ani-phone", kVillage);
  server::PullWaiter budi = waiter_of("budi-phone", kOtherVillage);
  REQUIRE(polls.hold(ani, 10) == server::LongPolls::Hold::kHeld);
  REQUIRE(polls.hold(budi, 10) == server::LongPolls::Hold::kHeld);
  server::CommittedChanges unknown;
  unknown.seq = 12;
  unknown.every_waiter = true;
  polls.committed(unknown);
  CHECK(polls.take_woken().size() == 2);
  // Its page read before that commit, held after it: answered at once, even
  // for a village no commit named.
  server::PullWaiter citra = waiter_of("citra-phone", "desa-lain");
  CHECK(polls.hold(citra, 11) == server::LongPolls::Hold::kAnswerNow);
  CHECK(polls.hold(citra, 12) == server::LongPolls::Hold::kHeld);
  CHECK(polls.stop().size() == 1);
}

}  // namespace lumbung::test
