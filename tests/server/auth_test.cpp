// Authentication and village scopes at the protocol core (docs/security.md):
// a real SyncServer with token checks on, and tokens issued by a second
// TokenAuthority on its data directory, as `lumbungd token` does.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>

#include "auth/token_authority.hpp"
#include "server/server_fixture.hpp"
#include "server/snapshot_files.hpp"

namespace lumbung::test {
namespace {

class AuthServer : public TestServer {
 public:
  AuthServer() : TestServer(/*authenticated=*/true) {
    Result<std::unique_ptr<auth::TokenAuthority>> opened =
        auth::TokenAuthority::open(data_dir(), clock);
    REQUIRE(opened.is_ok());
    authority = std::move(opened).value();
  }

  auth::IssuedToken issue(const std::string& officer, std::set<std::string, std::less<>> villages,
                          auth::Role role = auth::Role::kOfficer,
                          std::chrono::seconds ttl = std::chrono::hours(24)) {
    auth::TokenRequest request;
    request.officer = officer;
    request.villages = std::move(villages);
    request.role = role;
    request.ttl = ttl;
    Result<auth::IssuedToken> issued = authority->issue(request);
    INFO(issued.status().to_string());
    REQUIRE(issued.is_ok());
    return *issued;
  }

  // Sends `request` and returns the error code of its non-2xx answer.
  std::pair<int, ErrorCode> refusal(HttpRequest request) {
    const HttpResponse response = call(std::move(request));
    return {response.status, protocol::status_from_response(response).code()};
  }

  std::unique_ptr<auth::TokenAuthority> authority;
};

HttpRequest push_request(const Batch& batch) {
  return protocol::make_request("/v1/push", batch.request());
}

// Rows in both villages, written by an admin.
void seed_two_villages(AuthServer& server) {
  server.token = server.issue("admin", {}, auth::Role::kAdmin).token;
  server.push(Batch("office", 1)
                  .insert("household", "hA", household(kVillage), stamp(0))
                  .insert("household", "hB", household(kOtherVillage), stamp(1)));
}

std::set<std::string> row_ids(const v1::PullPage& page) {
  std::set<std::string> ids;
  for (const v1::RowState& row : page.rows()) ids.insert(row.row_id());
  return ids;
}

TEST_CASE("every sync request needs a valid token; nothing is read or written without",
          "[server][auth]") {
  AuthServer server;
  const Batch batch = Batch("phone", 1).insert("household", "h1", household(), stamp(0));
  const std::string empty = server.dump();

  SECTION("no token") {
    CHECK(server.refusal(push_request(batch)) == std::pair(401, ErrorCode::kTokenMissing));
    CHECK(server.refusal(protocol::make_request("/v1/pull", TestServer::pull_request("phone"))) ==
          std::pair(401, ErrorCode::kTokenMissing));
  }
  SECTION("not a bearer token") {
    server.token = "not-a-token";
    CHECK(server.refusal(push_request(batch)) == std::pair(401, ErrorCode::kTokenMalformed));
  }
  SECTION("signed by another server's key") {
    TempDir other;
    Result<std::unique_ptr<auth::TokenAuthority>> foreign =
        auth::TokenAuthority::open(other.file("data"), server.clock);
    REQUIRE(foreign.is_ok());
    auth::TokenRequest request;
    request.officer = "sri";
    request.villages = {kVillage};
    server.token = (*foreign)->issue(request)->token;
    CHECK(server.refusal(push_request(batch)) == std::pair(401, ErrorCode::kTokenForged));
  }
  SECTION("expired") {
    server.token =
        server.issue("sri", {kVillage}, auth::Role::kOfficer, std::chrono::hours(1)).token;
    server.clock->advance(2 * 3600 * 1000);
    CHECK(server.refusal(push_request(batch)) == std::pair(401, ErrorCode::kTokenExpired));
  }
  SECTION("revoked while the server runs") {
    const auth::IssuedToken issued = server.issue("sri", {kVillage});
    server.token = issued.token;
    REQUIRE(server.authority->revoke(issued.token_id).is_ok());
    CHECK(server.refusal(push_request(batch)) == std::pair(401, ErrorCode::kTokenRevoked));
  }
  CHECK(server.dump() == empty);

  SECTION("health needs none") {
    HttpRequest health;
    health.method = "GET";
    health.target = "/healthz";
    CHECK(server.call(health).status == 200);
  }
}

TEST_CASE("a pull serves only the villages the token grants", "[server][auth]") {
  AuthServer server;
  seed_two_villages(server);

  server.token = server.issue("sri", {kVillage}).token;
  const v1::PullPage page = server.pull("sri-phone");
  CHECK(row_ids(page) == std::set<std::string>{"hA"});
  CHECK(cursors_of(page).count(kOtherVillage) == 0);
  REQUIRE(page.checksums_size() == 1);
  CHECK(page.checksums(0).scope() == kVillage);

  // Naming the other village's cursor does not open it.
  const v1::PullPage asked = server.pull("sri-phone", {{kOtherVillage, 0}});
  CHECK(row_ids(asked) == std::set<std::string>{"hA"});
  CHECK(std::vector<std::string>(asked.dropped_scopes().begin(), asked.dropped_scopes().end()) ==
        std::vector<std::string>{kOtherVillage});
}

TEST_CASE("a pushed change beyond the grant is refused alone; a row beyond it reads as missing",
          "[server][auth]") {
  AuthServer server;
  seed_two_villages(server);
  server.token = server.issue("sri", {kVillage}).token;
  const v1::PullPage before = server.pull("sri-phone");
  const std::int64_t base = before.rows(0).seq();

  const v1::PushResponse response =
      server.push(Batch("sri-phone", 1)
                      .insert("household", "hA2", household(kVillage), stamp(10))       // 1
                      .insert("household", "hB2", household(kOtherVillage), stamp(11))  // 2
                      .update("household", "hB", "head_name", "X", stamp(12), base)     // 3
                      .update("household", "hA", "village_id", kOtherVillage, stamp(13),
                              base)                                                        // 4
                      .remove("household", "hB", stamp(14), base)                          // 5
                      .update("household", "hA", "head_name", "Siti A.", stamp(15), base)  // 6
                      .update("household", "hZ", "head_name", "X", stamp(16), base)        // 7
                      .remove("household", "hZ", stamp(17), base));                        // 8
  CHECK(outcome(response, 1).outcome() == v1::OUTCOME_APPLIED);
  for (std::uint32_t id : {2u, 4u}) {
    INFO("change " << id);
    CHECK(outcome(response, id).outcome() == v1::OUTCOME_REFUSED);
    CHECK(outcome(response, id).reason() == v1::REFUSAL_REASON_OUT_OF_SCOPE);
  }
  CHECK(outcome(response, 6).outcome() == v1::OUTCOME_APPLIED);
  // Only the village the officer named is named back.
  CHECK(outcome(response, 2).message().find(kOtherVillage) != std::string::npos);
  // A row of another village is answered as one that does not exist (hZ):
  // an update is refused, a delete superseded, in the same words.
  CHECK(outcome(response, 3).outcome() == v1::OUTCOME_REFUSED);
  CHECK(outcome(response, 3).reason() == outcome(response, 7).reason());
  CHECK(outcome(response, 3).message() ==
        "table 'household': no row 'hB' to update in a village granted to officer 'sri'");
  CHECK(outcome(response, 7).message() ==
        "table 'household': no row 'hZ' to update in a village granted to officer 'sri'");
  for (std::uint32_t id : {5u, 8u}) {
    INFO("change " << id);
    CHECK(outcome(response, id).outcome() == v1::OUTCOME_SUPERSEDED);
    CHECK(outcome(response, id).row_deleted());
  }

  server.token = server.issue("admin", {}, auth::Role::kAdmin).token;
  const std::string dump = server.dump();
  CHECK(dump.find("\"hB2\"") == std::string::npos);
  CHECK(dump.find("\"hB\"") != std::string::npos);  // neither changed nor deleted
  CHECK(dump.find("\"hA2\"") != std::string::npos);
  CHECK(dump.find("Siti A.") != std::string::npos);
  CHECK(dump.find("\"X\"") == std::string::npos);
}

TEST_CASE("a device id is bound to its first token and its officer", "[server][auth]") {
  AuthServer server;
  const Batch batch = Batch("sri-phone", 1).insert("household", "h1", household(), stamp(0));
  const std::string sri = server.issue("sri", {kVillage}).token;
  server.token = sri;
  server.push(batch);

  // Another device presenting sri's token.
  CHECK(server.refusal(push_request(Batch("ani-phone", 1))) ==
        std::pair(403, ErrorCode::kDeviceMismatch));
  // Another officer claiming sri's device, replaying its batch number.
  server.token = server.issue("ani", {kVillage}).token;
  CHECK(server.refusal(push_request(batch)) == std::pair(403, ErrorCode::kDeviceMismatch));
  CHECK(server.refusal(protocol::make_request("/v1/pull", TestServer::pull_request("sri-phone"))) ==
        std::pair(403, ErrorCode::kDeviceMismatch));
  // A newer token of sri's own (a changed grant) may use the device.
  server.token = server.issue("sri", {kVillage, kOtherVillage}).token;
  CHECK(server.push(batch).outcomes(0).outcome() == v1::OUTCOME_APPLIED);
}

TEST_CASE("a village taken out of the grant is named as dropped", "[server][auth]") {
  AuthServer server;
  seed_two_villages(server);
  server.token = server.issue("sri", {kVillage, kOtherVillage}).token;
  const v1::PullPage both = server.pull("sri-phone");
  CHECK(row_ids(both) == std::set<std::string>{"hA", "hB"});
  CHECK(both.dropped_scopes_size() == 0);

  REQUIRE(
      server.authority
          ->ungrant("sri", std::vector<auth::Selector>{{auth::SelectorKind::kVillage, kVillage}})
          .is_ok());
  const v1::PullPage after = server.pull("sri-phone", cursors_of(both));
  CHECK(after.rows_size() == 0);
  CHECK(std::vector<std::string>(after.dropped_scopes().begin(), after.dropped_scopes().end()) ==
        std::vector<std::string>{kVillage});
  CHECK(cursors_of(after) ==
        std::map<std::string, std::int64_t>{{kOtherVillage, cursors_of(both).at(kOtherVillage)}});
}

// Publishes `bytes` as the snapshot of `village` at `seq`, as the builder does.
void publish(AuthServer& server, const std::string& village, std::int64_t seq,
             const std::string& bytes) {
  const std::string dir = server::snapshot_dir(server.data_dir());
  std::filesystem::create_directories(dir);
  const std::string written = dir + "/written.tmp";
  std::ofstream(written, std::ios::binary) << bytes;
  REQUIRE(server::publish_snapshot(dir, written, village, seq, 7).is_ok());
}

HttpRequest snapshot_request(const std::string& scope = "", std::int64_t seq = 0,
                             std::uint64_t offset = 0, std::uint32_t max_bytes = 0,
                             std::uint32_t schema_version = 1) {
  v1::SnapshotRequest request;
  *request.mutable_header() = header("sri-phone", schema_version);
  request.set_scope(scope);
  request.set_seq(seq);
  request.set_offset(offset);
  request.set_max_bytes(max_bytes);
  return protocol::make_request("/v1/snapshot", request);
}

TEST_CASE("snapshots are listed and served only to a token that may read their village",
          "[server][auth][snapshot]") {
  AuthServer server;
  publish(server, kVillage, 10, "0123456789");
  publish(server, kOtherVillage, 12, "abcdef");
  server.token = server.issue("sri", {kVillage}).token;

  const auto listed = decode<v1::SnapshotResponse>(server.call(snapshot_request()));
  REQUIRE(listed.snapshots_size() == 1);
  CHECK(listed.snapshots(0).scope() == kVillage);
  CHECK(listed.snapshots(0).seq() == 10);
  CHECK(listed.snapshots(0).bytes() == 10);
  CHECK(listed.snapshots(0).rows() == 7);
  CHECK(listed.data().empty());

  const auto chunk =
      decode<v1::SnapshotResponse>(server.call(snapshot_request(kVillage, 10, 3, 4)));
  CHECK(chunk.data() == "3456");
  const auto last = decode<v1::SnapshotResponse>(server.call(snapshot_request(kVillage, 10, 8, 4)));
  CHECK(last.data() == "89");

  CHECK(server.refusal(snapshot_request(kOtherVillage, 12)) ==
        std::pair(403, ErrorCode::kForbidden));
  CHECK(server.refusal(snapshot_request(kVillage, 11)) == std::pair(404, ErrorCode::kNotFound));
  CHECK(server.refusal(snapshot_request(kVillage, 10, 11)) ==
        std::pair(400, ErrorCode::kInvalidArgument));
  // A device of an older schema version would copy tables unlike its own.
  CHECK(decode<v1::SnapshotResponse>(server.call(snapshot_request("", 0, 0, 0, 0)))
            .snapshots_size() == 0);

  // The newest two of a village are kept: a download survives one rebuild.
  publish(server, kVillage, 20, "twenty");
  publish(server, kVillage, 30, "thirty");
  CHECK(server.refusal(snapshot_request(kVillage, 10)) == std::pair(404, ErrorCode::kNotFound));
  CHECK(decode<v1::SnapshotResponse>(server.call(snapshot_request(kVillage, 20))).data() ==
        "twenty");
  const auto newest = decode<v1::SnapshotResponse>(server.call(snapshot_request()));
  REQUIRE(newest.snapshots_size() == 1);
  CHECK(newest.snapshots(0).seq() == 30);
}

TEST_CASE("an officer's long polls beyond the limit are answered 429 at once", "[server][auth]") {
  AuthServer server;
  struct Poll {
    std::string device;
    std::optional<HttpResponse> answer;
  };
  // Fixed size: the responders hold pointers into it.
  std::vector<Poll> polls(server::ServerOptions().max_long_polls_per_officer + 2);
  const auto start_poll = [&](Poll& poll, const std::string& officer) {
    server.token = server.issue(officer, {kVillage}).token;
    v1::PullRequest request =
        TestServer::pull_request(poll.device, cursors_of(server.pull(poll.device)));
    request.set_wait_seconds(30);
    HttpRequest http = protocol::make_request("/v1/pull", request);
    http.headers.emplace_back("Authorization", "Bearer " + server.token);
    server.server->handle(std::move(http),
                          [&poll](HttpResponse response) { poll.answer = std::move(response); });
  };
  for (std::size_t i = 0; i + 1 < polls.size(); ++i) {
    polls[i].device = "sri-" + std::to_string(i);
    start_poll(polls[i], "sri");
  }
  polls.back().device = "ani-phone";
  start_poll(polls.back(), "ani");

  // Sri's first 16 wait, the 17th is told to come back; Ani's own waits.
  for (std::size_t i = 0; i + 2 < polls.size(); ++i) CHECK_FALSE(polls[i].answer);
  const std::optional<HttpResponse>& over = polls[polls.size() - 2].answer;
  REQUIRE(over);
  CHECK(over->status == 429);
  CHECK(find_header(over->headers, "Retry-After") == "60");
  CHECK(protocol::status_from_response(*over).code() == ErrorCode::kUnavailable);
  CHECK_FALSE(polls.back().answer);

  server.server->stop();  // answers the waiting polls
  for (const Poll& poll : polls) CHECK(poll.answer);
}

// A long poll sent as a transport sends it, with a flag that says when its
// client has gone; its answer may come from any of the server's threads.
struct LongPoll {
  std::shared_ptr<std::atomic<bool>> client_gone = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::promise<HttpResponse>> answer =
      std::make_shared<std::promise<HttpResponse>>();
  std::future<HttpResponse> answered = answer->get_future();

  bool is_answered() const {
    return answered.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  // Its answer; fails the test when none comes within 30 s.
  HttpResponse wait() {
    REQUIRE(answered.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    return answered.get();
  }
};

// Starts a long poll of `device` with a token of its own (server.token from
// then), caught up on what it may read.
LongPoll start_long_poll(AuthServer& server, const std::string& officer, const char* village,
                         const std::string& device) {
  server.token = server.issue(officer, {village}).token;
  v1::PullRequest request = TestServer::pull_request(device, cursors_of(server.pull(device)));
  request.set_wait_seconds(30);
  HttpRequest http = protocol::make_request("/v1/pull", request);
  http.headers.emplace_back("Authorization", "Bearer " + server.token);
  LongPoll poll;
  http.client_gone = poll.client_gone;
  server.server->handle(std::move(http), [answer = poll.answer](HttpResponse response) {
    answer->set_value(std::move(response));
  });
  return poll;
}

TEST_CASE("a long poll whose client has gone frees its officer's slot at the next tick",
          "[server][auth]") {
  AuthServer server;
  std::vector<LongPoll> polls;
  for (std::uint32_t i = 0; i < server::ServerOptions().max_long_polls_per_officer; ++i) {
    polls.push_back(start_long_poll(server, "sri", kVillage, "sri-" + std::to_string(i)));
  }
  for (const LongPoll& poll : polls) CHECK_FALSE(poll.is_answered());
  REQUIRE(start_long_poll(server, "sri", kVillage, "sri-over").wait().status == 429);

  // The transport saw the first one's client hang up.
  polls[0].client_gone->store(true);
  server.server->tick();
  CHECK(polls[0].is_answered());  // for no one: the connection has closed
  const LongPoll again = start_long_poll(server, "sri", kVillage, "sri-again");
  CHECK_FALSE(again.is_answered());
  for (std::size_t i = 1; i < polls.size(); ++i) CHECK_FALSE(polls[i].is_answered());
  server.server->stop();
  CHECK(again.is_answered());
}

TEST_CASE("a commit answers the long polls that wait on its village and leaves the others held",
          "[server][auth]") {
  AuthServer server;
  seed_two_villages(server);
  const std::string admin = server.token;
  LongPoll ani = start_long_poll(server, "ani", kVillage, "ani-phone");
  LongPoll budi = start_long_poll(server, "budi", kOtherVillage, "budi-phone");
  CHECK_FALSE(ani.is_answered());
  CHECK_FALSE(budi.is_answered());

  server.token = admin;
  server.push(Batch("office", 2).insert("household", "hA2", household(kVillage), stamp(2)));
  const HttpResponse to_ani = ani.wait();
  REQUIRE(to_ani.status == 200);
  CHECK(row_ids(decode<v1::PullPage>(to_ani)) == std::set<std::string>{"hA2"});
  CHECK_FALSE(budi.is_answered());

  server.push(Batch("office", 3).insert("household", "hB2", household(kOtherVillage), stamp(3)));
  const HttpResponse to_budi = budi.wait();
  REQUIRE(to_budi.status == 200);
  CHECK(row_ids(decode<v1::PullPage>(to_budi)) == std::set<std::string>{"hB2"});
}

}  // namespace
}  // namespace lumbung::test
