// What one request, device and officer may cost (docs/security.md, decision
// 0022): requests over their limits on changes, cells and objects are
// refused before they are parsed, refused changes add a bounded number of
// audit entries, the answer a retry gets is kept apart from the device's
// row, conflict ids tell nothing, and officers' pushes per second and
// requests in flight are bounded.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "auth/token_authority.hpp"
#include "protocol/request_limits.hpp"
#include "server/server_fixture.hpp"
#include "server/sqlite_store.hpp"
#include "server/store_formats.hpp"

namespace lumbung::test {
namespace {

HttpRequest push_request(const Batch& batch) {
  return protocol::make_request("/v1/push", batch.request());
}

// A batch of `count` updates of rows the server never had.
Batch updates(const std::string& device, std::uint64_t number, int count) {
  Batch batch(device, number);
  for (int i = 0; i < count; ++i) {
    batch.update("household", "h" + std::to_string(i), "phone", "0811", stamp(0), 0);
  }
  return batch;
}

std::vector<server::AuditEntry> audit_log(TestServer& server) {
  Result<std::unique_ptr<server::SqliteStore>> store = server::SqliteStore::open(server.data_dir());
  REQUIRE(store.is_ok());
  std::vector<server::AuditEntry> entries;
  REQUIRE((*store)
              ->read([&](server::ReadTransaction& txn) {
                return txn.scan_audit({},
                                      [&](const server::AuditEntry& e) { entries.push_back(e); });
              })
              .is_ok());
  return entries;
}

// The status and Error of a refused request.
std::pair<int, Status> refusal(TestServer& server, HttpRequest request) {
  const HttpResponse response = server.call(std::move(request));
  return {response.status, protocol::status_from_response(response)};
}

TEST_CASE("limits: a push of more changes than allowed is refused whole, naming the limit",
          "[server]") {
  TestServer server;
  server.configure = [](server::ServerOptions& options) { options.max_changes_per_push = 10; };
  server.restart();
  const std::string empty = server.dump();

  const auto [status, error] = refusal(server, push_request(updates("a", 1, 11)));
  CHECK(status == 413);
  CHECK(error.code() == ErrorCode::kTooLarge);
  CHECK(error.message() ==
        "push of 11 changes is over the 10-change limit (serve --max-changes-per-push)");
  CHECK(server.dump() == empty);
  CHECK(audit_log(server).empty());
  // At the limit, the batch is merged (each update refused: no such row).
  CHECK(server.push(updates("a", 1, 10)).outcomes_size() == 10);
}

TEST_CASE("limits: a change with more cells than twice the widest table's columns is refused",
          "[server]") {
  TestServer server;
  // Desmigratif's widest table, person, has 22 columns: the limit is 44.
  Batch batch("a", 1);
  batch.insert("household", "h1", household(), stamp(0));
  v1::Change* change = batch.request().mutable_changes(0);
  SECTION("values") {
    for (int i = 0; i < 100000; ++i) change->add_values();  // 2 bytes each, an object each
  }
  SECTION("cell authors") {
    for (int i = 0; i < 45; ++i) change->add_cell_authors("x");
  }
  SECTION("column indexes, packed") {
    for (int i = 0; i < 45; ++i) change->add_columns(0);
  }
  const auto [status, error] = refusal(server, push_request(batch));
  CHECK(status == 413);
  CHECK(error.code() == ErrorCode::kTooLarge);
  CHECK_THAT(error.message(), Catch::StartsWith("change 1 of the push has "));
  CHECK_THAT(error.message(),
             Catch::EndsWith("cells, over the 44-cell limit (serve --max-cells-per-change)"));
}

TEST_CASE("limits: a device's largest batch is well within the default limits", "[server]") {
  TestServer server;
  // 1,000 re-offered inserts of every column of the widest table, each
  // value with its own stamp and author: the most a device sends at once.
  const core::Table& person = *server.server->schema().find_table("person");
  Batch batch("a", 1);
  for (int i = 0; i < 1000; ++i) {
    Row row;
    for (const core::Column& column : person.columns) row[column.name] = "some text";
    batch.insert("person", "p" + std::to_string(i), row, stamp(0));
    v1::Change* change = batch.request().mutable_changes(i);
    change->set_author("another-phone");
    for (std::size_t c = 0; c < person.columns.size(); ++c) {
      change->add_cell_hlcs(stamp(0).packed());
      change->add_cell_authors("another-phone");
    }
  }
  const std::string bytes = batch.request().SerializeAsString();
  const server::ServerOptions defaults;
  protocol::RequestLimits limits{.max_objects = defaults.max_objects_per_request,
                                 .max_changes_per_push = defaults.max_changes_per_push,
                                 .max_cells_per_change = 2 * person.columns.size()};
  CHECK(protocol::check_request_bytes<v1::PushRequest>(bytes, limits).is_ok());
  // It holds about 120,000 objects: a quarter of the limit.
  limits.max_objects = 125000;
  CHECK(protocol::check_request_bytes<v1::PushRequest>(bytes, limits).is_ok());
  limits.max_objects = 100000;
  CHECK(protocol::check_request_bytes<v1::PushRequest>(bytes, limits).code() ==
        ErrorCode::kTooLarge);
}

TEST_CASE("limits: a device on a newer schema with more columns is told so, not TooLarge",
          "[server]") {
  TestServer server;
  Batch batch("a", 1);
  batch.request().mutable_header()->set_schema_version(2);
  batch.insert("person", "p1", {}, stamp(0));
  v1::Change* change = batch.request().mutable_changes(0);
  for (int i = 0; i < 29; ++i) {  // 30 cells: more than person's 22 columns
    change->add_columns(0);
    change->add_values();
  }
  const auto [status, error] = refusal(server, push_request(batch));
  CHECK(status == 409);
  CHECK(error.code() == ErrorCode::kSchemaIncompatible);
}

TEST_CASE("limits: a request of more objects than allowed is refused before it is parsed",
          "[server]") {
  TestServer server;
  server.configure = [](server::ServerOptions& options) { options.max_objects_per_request = 1000; };
  server.restart();
  SECTION("a push naming many columns") {
    Batch batch = updates("a", 1, 1);
    for (int i = 0; i < 1000; ++i) batch.request().mutable_tables(0)->add_columns("");
    const auto [status, error] = refusal(server, push_request(batch));
    CHECK(status == 413);
    CHECK(error.message() ==
          "PushRequest of 1016 objects (fields, list elements and messages) is over the "
          "1000-object limit (serve --max-objects-per-request)");
  }
  SECTION("a pull of many cursors") {
    v1::PullRequest pull = TestServer::pull_request("a");
    for (int i = 0; i < 500; ++i) pull.add_cursors()->set_scope("v" + std::to_string(i));
    const auto [status, error] = refusal(server, protocol::make_request("/v1/pull", pull));
    CHECK(status == 413);
    CHECK_THAT(error.message(), Catch::StartsWith("PullRequest of 1004 objects"));
  }
}

TEST_CASE("limits: bytes that are not a message are refused as malformed", "[server]") {
  TestServer server;
  HttpRequest request = push_request(updates("a", 1, 1));
  SECTION("cut short") { request.body.pop_back(); }
  SECTION("a group, which proto3 never sends") { request.body += "\x0b"; }
  const auto [status, error] = refusal(server, request);
  CHECK(status == 400);
  CHECK(error.code() == ErrorCode::kProtocol);
  CHECK(error.message() == "malformed PushRequest message");
}

TEST_CASE("limits: a push's refused changes beyond 100 are audited as one entry per reason",
          "[server]") {
  TestServer server;
  Batch batch = updates("a", 1, 250);  // no such rows
  batch.insert("nosuch", "x1", {}, stamp(0));
  const v1::PushResponse answer = server.push(batch);
  REQUIRE(answer.outcomes_size() == 251);
  for (const v1::ChangeOutcome& outcome : answer.outcomes()) {
    CHECK(outcome.outcome() == v1::OUTCOME_REFUSED);
  }

  const std::vector<server::AuditEntry> entries = audit_log(server);
  REQUIRE(entries.size() == 102);
  for (std::size_t i = 0; i < 100; ++i) CHECK(entries[i].row_id == "h" + std::to_string(i));
  CHECK(entries[100].row_id.empty());
  CHECK(entries[100].outcome == "refused");
  CHECK(entries[100].detail ==
        "1 more changes of this push refused as unknown_table (only the first 100 refusals of a "
        "push are recorded one by one)");
  CHECK(entries[101].row_id.empty());
  CHECK(entries[101].detail ==
        "150 more changes of this push refused as no_such_row (only the first 100 refusals of a "
        "push are recorded one by one)");
}

TEST_CASE("limits: a store of format 4 keeps its devices' answers when upgraded", "[server]") {
  TestServer server;
  const Batch batch = Batch("a", 1).insert("household", "h1", household(), stamp(0));
  const v1::PushResponse first = server.push(batch);
  server.server.reset();
  downgrade_to_7(server.data_dir());
  rewrite_store(server.data_dir(), kDowngradeTo6);
  rewrite_store(server.data_dir(), kDowngradeTo5);
  rewrite_store(server.data_dir(), kDowngradeTo4);
  server.open();
  // The retry gets the answer the device did not receive, from the upgraded store.
  const v1::PushResponse retried = server.push(batch);
  CHECK(retried.SerializeAsString() == first.SerializeAsString());
  const v1::PushResponse next =
      server.push(Batch("a", 2).update("household", "h1", "phone", "0811", stamp(1), 0));
  CHECK(next.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
}

TEST_CASE("limits: conflict ids are random, not counted, and resolve as before", "[server]") {
  TestServer server;
  const std::int64_t base =
      server.push(Batch("a", 1).insert("household", "h1", household(), stamp(-9000)))
          .outcomes(0)
          .seq();
  // d0 edits on top of the insert; the others, from the same base, conflict with it.
  server.push(Batch("d0", 1).update("household", "h1", "phone", "d0", stamp(-8500), base));
  std::vector<std::uint64_t> ids;
  for (int i = 1; i <= 4; ++i) {
    const std::string device = "d" + std::to_string(i);
    const v1::PushResponse answer = server.push(
        Batch(device, 1).update("household", "h1", "phone", device, stamp(-8000 + i), base));
    REQUIRE(answer.conflicts_size() == 1);
    ids.push_back(answer.conflicts(0).id());
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    CHECK(ids[i] > 0);
    CHECK(ids[i] < (std::uint64_t{1} << 53));  // exact in JSON
    if (i > 0) CHECK(ids[i] != ids[i - 1] + 1);
  }
  // A pull delivers them in the order they were recorded.
  const v1::PullPage page = server.pull("reader");
  REQUIRE(page.conflicts_size() == 4);
  for (int i = 0; i < 4; ++i) CHECK(page.conflicts(i).id() == ids[static_cast<std::size_t>(i)]);
}

class OfficerServer : public TestServer {
 public:
  explicit OfficerServer(const std::function<void(server::ServerOptions&)>& options)
      : TestServer(/*authenticated=*/true) {
    configure = options;
    restart();
    Result<std::unique_ptr<auth::TokenAuthority>> opened =
        auth::TokenAuthority::open(data_dir(), clock);
    REQUIRE(opened.is_ok());
    authority = std::move(opened).value();
  }

  std::string token_of(const std::string& officer) {
    auth::TokenRequest request;
    request.officer = officer;
    request.villages = {kVillage};
    request.ttl = std::chrono::hours(24);
    Result<auth::IssuedToken> issued = authority->issue(request);
    REQUIRE(issued.is_ok());
    return issued->token;
  }

  // What SyncServer::admit says of the header of a request to `target` with `token`.
  std::optional<HttpResponse> admit(const char* target, const std::string& token) {
    HttpRequest head;
    head.method = "POST";
    head.target = target;
    head.headers.emplace_back("Authorization", "Bearer " + token);
    return server->admit(head);
  }
  std::optional<HttpResponse> admit_push(const std::string& token) {
    return admit("/v1/push", token);
  }

  std::unique_ptr<auth::TokenAuthority> authority;
};

TEST_CASE("limits: an officer's pushes beyond the rate are answered 429 before the body",
          "[server][auth]") {
  OfficerServer server([](server::ServerOptions& options) {
    options.max_pushes_per_officer_per_second = 2;
    options.push_burst_per_officer = 3;
  });
  const std::string sri = server.token_of("sri");
  for (int i = 0; i < 3; ++i) CHECK_FALSE(server.admit_push(sri));
  const std::optional<HttpResponse> over = server.admit_push(sri);
  REQUIRE(over);
  CHECK(over->status == 429);
  CHECK(find_header(over->headers, "Retry-After") == "1");
  const Status status = protocol::status_from_response(*over);
  CHECK(status.code() == ErrorCode::kUnavailable);
  CHECK(status.message() ==
        "officer 'sri' pushes more often than 2 times a second (serve "
        "--max-pushes-per-officer-per-second); try again later");
  // Another officer has a bucket of their own; pulls are not pushes.
  CHECK_FALSE(server.admit_push(server.token_of("ani")));
  CHECK_FALSE(server.admit("/v1/pull", sri));
  // Half a second later, one more token.
  server.clock->advance(500);
  CHECK_FALSE(server.admit_push(sri));
  CHECK(server.admit_push(sri));
}

TEST_CASE("limits: an officer's pulls and snapshot downloads beyond the rate are answered 429",
          "[server][auth]") {
  OfficerServer server([](server::ServerOptions& options) {
    options.max_pulls_per_officer_per_second = 1;
    options.pull_burst_per_officer = 2;
  });
  const std::string sri = server.token_of("sri");
  CHECK_FALSE(server.admit("/v1/pull", sri));
  CHECK_FALSE(server.admit("/v1/snapshot", sri));
  const std::optional<HttpResponse> over = server.admit("/v1/pull", sri);
  REQUIRE(over);
  CHECK(over->status == 429);
  CHECK(find_header(over->headers, "Retry-After") == "1");
  CHECK(protocol::status_from_response(*over).message() ==
        "officer 'sri' pulls more often than 1 times a second (serve "
        "--max-pulls-per-officer-per-second); try again later");
  CHECK(server.admit("/v1/snapshot", sri));
  // Pushes and resolutions have buckets of their own, or none.
  CHECK_FALSE(server.admit_push(sri));
  CHECK_FALSE(server.admit("/v1/resolve", sri));
  server.clock->advance(1000);
  CHECK_FALSE(server.admit("/v1/pull", sri));
}

TEST_CASE("limits: an officer's requests in flight beyond the limit are answered 429",
          "[server][auth]") {
  std::vector<std::optional<HttpResponse>> polls(2);  // outlives the server's answers
  OfficerServer server(
      [](server::ServerOptions& options) { options.max_requests_per_officer = 2; });
  for (std::size_t i = 0; i < polls.size(); ++i) {
    const std::string device = "sri-" + std::to_string(i);
    server.token = server.token_of("sri");  // a token binds to its first device
    v1::PullRequest request = TestServer::pull_request(device, cursors_of(server.pull(device)));
    request.set_wait_seconds(30);
    HttpRequest http = protocol::make_request("/v1/pull", request);
    http.headers.emplace_back("Authorization", "Bearer " + server.token);
    server.server->handle(std::move(http),
                          [&polls, i](HttpResponse response) { polls[i] = std::move(response); });
  }
  CHECK_FALSE(polls[0]);
  CHECK_FALSE(polls[1]);
  server.token = server.token_of("sri");
  const HttpRequest third = protocol::make_request("/v1/pull", TestServer::pull_request("sri-2"));
  const HttpResponse over = server.call(third);
  CHECK(over.status == 429);
  CHECK(find_header(over.headers, "Retry-After") == "1");
  CHECK(protocol::status_from_response(over).message() ==
        "officer 'sri' has 2 requests in flight, as many as this server allows (serve "
        "--max-requests-per-officer); try again later");
  // Another officer is not held back; once the polls are answered, their places are free.
  const std::string sri = server.token;
  server.token = server.token_of("ani");
  server.pull("ani-phone");
  server.clock->advance(31000);
  server.server->tick();
  CHECK(polls[0]);
  CHECK(polls[1]);
  server.token = sri;
  server.pull("sri-2");
}

}  // namespace
}  // namespace lumbung::test
