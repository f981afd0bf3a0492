// Conflict review against a real SyncServer (docs/protocol.md, "Resolve"):
// keeping a side or entering a new value, the refusals, what the other
// devices pull afterwards, the audit log, and who may resolve.
#include <catch2/catch.hpp>

#include "auth/token_authority.hpp"
#include "server/server_fixture.hpp"
#include "server/sqlite_store.hpp"
#include "server/store_formats.hpp"

namespace lumbung::test {
namespace {

Row person(const char* migrant_status) {
  return {{"village_id", kVillage},
          {"full_name", "Siti Aminah"},
          {"migrant_status", migrant_status},
          {"created_by", "sri"},
          {"created_at", "2026-11-28T04:00:00Z"}};
}

// Device "a" inserts p1 (CALON) and sets it to AKTIF; device "b", which saw
// only the insert, sets it to PURNA: migrant_status is manual_review, so the
// server keeps AKTIF and records a pending_review conflict. Returns it.
v1::Conflict pending_conflict(TestServer& server) {
  const v1::PushResponse seeded =
      server.push(Batch("a", 1).insert("person", "p1", person("CALON"), stamp(-60000)));
  const std::int64_t base = seeded.outcomes(0).seq();
  server.push(Batch("a", 2).update("person", "p1", "migrant_status", "AKTIF", stamp(-5000), base));
  const v1::PushResponse pushed = server.push(
      Batch("b", 1).update("person", "p1", "migrant_status", "PURNA", stamp(-1000), base));
  REQUIRE(pushed.conflicts_size() == 1);
  REQUIRE(pushed.conflicts(0).outcome() == "pending_review");
  return pushed.conflicts(0);
}

v1::ResolveRequest keep(std::uint64_t conflict_id, v1::Keep side, const std::string& device = "s") {
  v1::ResolveRequest request;
  *request.mutable_header() = header(device);
  request.set_conflict_id(conflict_id);
  request.set_keep(side);
  return request;
}

v1::ResolveRequest new_value(std::uint64_t conflict_id, const Value& value,
                             const std::string& device = "s") {
  v1::ResolveRequest request;
  *request.mutable_header() = header(device);
  request.set_conflict_id(conflict_id);
  protocol::to_wire(value, request.mutable_value());
  return request;
}

HttpResponse send(TestServer& server, const v1::ResolveRequest& request) {
  return server.call(protocol::make_request("/v1/resolve", request));
}

v1::ResolveResponse resolve(TestServer& server, const v1::ResolveRequest& request) {
  const HttpResponse response = send(server, request);
  INFO(response.status << " " << protocol::status_from_response(response).to_string());
  REQUIRE(response.status == 200);
  return decode<v1::ResolveResponse>(response);
}

// The status of a refused resolution.
Status refusal(TestServer& server, const v1::ResolveRequest& request) {
  const HttpResponse response = send(server, request);
  REQUIRE(response.status != 200);
  const Status status = protocol::status_from_response(response);
  CHECK(response.status == protocol::http_status_for(status.code()));
  return status;
}

// The audit entries of person p1, read from the server's store as
// `lumbungd audit --row person/p1` reads them.
std::vector<server::AuditEntry> audit_of_p1(TestServer& server) {
  Result<std::unique_ptr<server::SqliteStore>> store = server::SqliteStore::open(server.data_dir());
  REQUIRE(store.is_ok());
  std::vector<server::AuditEntry> entries;
  server::AuditQuery query;
  query.table = "person";
  query.row_id = "p1";
  REQUIRE((*store)
              ->read([&](server::ReadTransaction& txn) {
                return txn.scan_audit(query,
                                      [&](const server::AuditEntry& e) { entries.push_back(e); });
              })
              .is_ok());
  return entries;
}

// The migrant_status cell of p1 on `page`, if the page carries it.
std::optional<Value> migrant_status(const v1::PullPage& page) {
  for (const v1::RowState& row : page.rows()) {
    if (row.row_id() == "p1") return cell_of(page, row, "migrant_status");
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("resolve: keep server writes the server's value anew and settles the conflict",
          "[server]") {
  TestServer server;
  const v1::Conflict conflict = pending_conflict(server);
  server.clock->advance(1000);
  const v1::ResolveResponse response =
      resolve(server, keep(conflict.id(), v1::KEEP_SERVER, "supervisor-phone"));
  const v1::Conflict& resolved = response.conflict();
  CHECK(resolved.id() == conflict.id());
  CHECK(resolved.outcome() == "resolved_server");
  CHECK(protocol::from_wire(resolved.resolved_value()) == Value("AKTIF"));
  CHECK(resolved.resolved_device() == "supervisor-phone");
  CHECK(resolved.resolved_by().empty());  // no authentication
  CHECK(resolved.resolved_ms() == kNowMs + 1000);
  // What the reviewer chose from stays as recorded.
  CHECK(protocol::from_wire(resolved.server_value()) == Value("AKTIF"));
  CHECK(protocol::from_wire(resolved.device_value()) == Value("PURNA"));
  CHECK(response.seq() > 0);
  CHECK(response.server_hlc() > 0);
  CHECK(server.dump().find("\"migrant_status\":\"AKTIF\"") != std::string::npos);
}

TEST_CASE("resolve: keep device writes the device's value", "[server]") {
  TestServer server;
  const v1::Conflict conflict = pending_conflict(server);
  const v1::ResolveResponse response = resolve(server, keep(conflict.id(), v1::KEEP_DEVICE));
  CHECK(response.conflict().outcome() == "resolved_device");
  CHECK(protocol::from_wire(response.conflict().resolved_value()) == Value("PURNA"));
  CHECK(server.dump().find("\"migrant_status\":\"PURNA\"") != std::string::npos);
}

TEST_CASE("resolve: a new value is written when the column accepts it", "[server]") {
  TestServer server;
  const v1::Conflict conflict = pending_conflict(server);
  const v1::ResolveResponse response =
      resolve(server, new_value(conflict.id(), Value("NON_PROSEDURAL")));
  CHECK(response.conflict().outcome() == "resolved_value");
  CHECK(protocol::from_wire(response.conflict().resolved_value()) == Value("NON_PROSEDURAL"));
  CHECK(server.dump().find("\"migrant_status\":\"NON_PROSEDURAL\"") != std::string::npos);
}

TEST_CASE("resolve: a value the column refuses changes nothing", "[server]") {
  TestServer server;
  const v1::Conflict conflict = pending_conflict(server);
  const std::string before = server.dump();
  SECTION("CHECK") {
    const Status status = refusal(server, new_value(conflict.id(), Value("BOGUS")));
    CHECK(status.code() == ErrorCode::kConstraint);
    CHECK_THAT(status.message(), Catch::Contains("conflict " + std::to_string(conflict.id())) &&
                                     Catch::Contains("CHECK failed"));
  }
  SECTION("type") {
    const Status status = refusal(server, new_value(conflict.id(), Value(std::int64_t{5})));
    CHECK(status.code() == ErrorCode::kTypeMismatch);
  }
  CHECK(server.dump() == before);
  // Still pending: a valid resolution goes through afterwards.
  CHECK(resolve(server, keep(conflict.id(), v1::KEEP_SERVER)).conflict().outcome() ==
        "resolved_server");
}

TEST_CASE("resolve: an unknown conflict id is NotFound", "[server]") {
  TestServer server;
  pending_conflict(server);
  const Status status = refusal(server, keep(987654, v1::KEEP_SERVER));
  CHECK(status.code() == ErrorCode::kNotFound);
  CHECK(status.message() == "no conflict 987654");
}

TEST_CASE("resolve: a request that chooses nothing is refused", "[server]") {
  TestServer server;
  const v1::Conflict conflict = pending_conflict(server);
  v1::ResolveRequest request = keep(conflict.id(), v1::KEEP_UNSPECIFIED);
  CHECK(refusal(server, request).code() == ErrorCode::kInvalidArgument);
  request.clear_keep();
  CHECK(refusal(server, request).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("resolve: resolving twice is refused", "[server]") {
  TestServer server;
  const v1::Conflict conflict = pending_conflict(server);
  resolve(server, keep(conflict.id(), v1::KEEP_DEVICE, "s1"));
  const std::string after_first = server.dump();
  const Status status = refusal(server, keep(conflict.id(), v1::KEEP_SERVER, "s2"));
  CHECK(status.code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(status.message(), Catch::Contains("is not pending review") &&
                                   Catch::Contains("resolved_device") && Catch::Contains("'s1'"));
  CHECK(server.dump() == after_first);
}

TEST_CASE("resolve: a conflict not pending review cannot be resolved", "[server]") {
  TestServer server;
  const v1::PushResponse seeded =
      server.push(Batch("a", 1).insert("household", "h1", household(), stamp(-60000)));
  const std::int64_t base = seeded.outcomes(0).seq();
  server.push(Batch("a", 2).update("household", "h1", "head_name", "Tarsono", stamp(-5000), base));
  const v1::PushResponse pushed = server.push(
      Batch("b", 1).update("household", "h1", "head_name", "Tarsono B.", stamp(-1000), base));
  REQUIRE(pushed.conflicts_size() == 1);
  REQUIRE(pushed.conflicts(0).policy() == "last_writer_wins");
  const Status status = refusal(server, keep(pushed.conflicts(0).id(), v1::KEEP_SERVER));
  CHECK(status.code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(status.message(), Catch::Contains("is not pending review (its outcome is '" +
                                               pushed.conflicts(0).outcome() + "')"));
}

TEST_CASE("resolve: a conflict of a row deleted since cannot be resolved", "[server]") {
  TestServer server;
  const v1::Conflict conflict = pending_conflict(server);
  server.push(Batch("a", 3).remove("person", "p1", stamp(0), 1000));
  const Status status = refusal(server, keep(conflict.id(), v1::KEEP_SERVER));
  CHECK(status.code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(status.message(), Catch::Contains("was deleted since"));
}

TEST_CASE("resolve: the other devices pull the resolved value and the resolved record",
          "[server]") {
  TestServer server;
  const v1::Conflict conflict = pending_conflict(server);
  // "a" and a third device "c" are caught up and hold the pending record.
  const v1::PullPage a_before = server.pull("a");
  const v1::PullPage c_before = server.pull("c");
  REQUIRE(c_before.conflicts_size() == 1);
  CHECK(c_before.conflicts(0).outcome() == "pending_review");

  const v1::ResolveResponse response =
      resolve(server, new_value(conflict.id(), Value("NON_PROSEDURAL"), "supervisor-phone"));
  for (const auto& [device, before] : {std::pair{"a", &a_before}, std::pair{"c", &c_before}}) {
    INFO("device " << device);
    const v1::PullPage page = server.pull(device, cursors_of(*before));
    CHECK(migrant_status(page) == Value("NON_PROSEDURAL"));
    REQUIRE(page.conflicts_size() == 1);
    CHECK(page.conflicts(0).id() == conflict.id());
    CHECK(page.conflicts(0).outcome() == "resolved_value");
    CHECK(page.conflicts(0).resolved_device() == "supervisor-phone");
    CHECK(cursors_of(page).at(kVillage) >= response.seq());
  }
  // The reviewer's own device gets the cell like any other.
  CHECK(migrant_status(server.pull("supervisor-phone")) == Value("NON_PROSEDURAL"));
}

// A pull leaves out the conflicts the pulling device caused (its
// PushResponse carried them), but not their resolutions.
TEST_CASE("resolve: the device that caused the conflict pulls the resolved record", "[server]") {
  TestServer server;
  const v1::Conflict conflict = pending_conflict(server);
  const v1::PullPage before = server.pull("b");
  resolve(server, keep(conflict.id(), v1::KEEP_DEVICE));
  const v1::PullPage page = server.pull("b", cursors_of(before));
  CHECK(migrant_status(page) == Value("PURNA"));
  REQUIRE(page.conflicts_size() == 1);
  CHECK(page.conflicts(0).outcome() == "resolved_device");
}

TEST_CASE("resolve: the audit log records the resolution", "[server]") {
  TestServer server;
  const v1::Conflict conflict = pending_conflict(server);
  server.clock->advance(2000);
  const v1::ResolveResponse response =
      resolve(server, new_value(conflict.id(), Value("NON_PROSEDURAL"), "supervisor-phone"));
  const std::vector<server::AuditEntry> entries = audit_of_p1(server);
  REQUIRE(!entries.empty());
  const server::AuditEntry& last = entries.back();
  CHECK(last.outcome == "resolved_value");
  CHECK(last.conflict_id == conflict.id());
  CHECK(last.seq == response.seq());
  CHECK(last.time_ms == kNowMs + 2000);
  CHECK(last.device_id == "supervisor-phone");
  CHECK(last.table == "person");
  CHECK(last.row_id == "p1");
  CHECK(last.column == "migrant_status");
  CHECK(last.old_value == Value("AKTIF"));
  CHECK(last.new_value == Value("NON_PROSEDURAL"));
  CHECK(last.scope == kVillage);
  // The superseded push that made the conflict is there before it.
  CHECK(std::any_of(entries.begin(), entries.end(), [](const server::AuditEntry& e) {
    return e.device_id == "b" && e.outcome == "superseded" && e.new_value == Value("PURNA");
  }));
}

TEST_CASE("resolve: only a supervisor or an admin of the village may resolve", "[server]") {
  TestServer server(/*authenticated=*/true);
  Result<std::unique_ptr<auth::TokenAuthority>> authority =
      auth::TokenAuthority::open(server.data_dir(), server.clock);
  REQUIRE(authority.is_ok());
  const auto issue = [&](const std::string& officer, auth::Role role, const std::string& village) {
    auth::TokenRequest request;
    request.officer = officer;
    request.role = role;
    if (role != auth::Role::kAdmin) request.villages = {village};
    Result<auth::IssuedToken> issued = (*authority)->issue(request);
    REQUIRE(issued.is_ok());
    return issued->token;
  };
  const std::string officer_a = issue("ani", auth::Role::kOfficer, kVillage);
  const std::string officer_b = issue("budi", auth::Role::kOfficer, kVillage);
  server.token = officer_a;
  const v1::PushResponse seeded =
      server.push(Batch("a", 1).insert("person", "p1", person("CALON"), stamp(-60000)));
  const std::int64_t base = seeded.outcomes(0).seq();
  server.push(Batch("a", 2).update("person", "p1", "migrant_status", "AKTIF", stamp(-5000), base));
  server.token = officer_b;
  const v1::PushResponse pushed = server.push(
      Batch("b", 1).update("person", "p1", "migrant_status", "PURNA", stamp(-1000), base));
  REQUIRE(pushed.conflicts_size() == 1);
  const std::uint64_t id = pushed.conflicts(0).id();

  SECTION("an officer may not") {
    server.token = issue("ani", auth::Role::kOfficer, kVillage);
    const Status status = refusal(server, keep(id, v1::KEEP_SERVER, "a2"));
    CHECK(status.code() == ErrorCode::kForbidden);
    CHECK_THAT(status.message(), Catch::Contains("officer 'ani' (role officer)"));
  }
  SECTION("a supervisor of another village may not, and learns nothing of it") {
    server.token = issue("sup", auth::Role::kSupervisor, kOtherVillage);
    const Status beyond = refusal(server, keep(id, v1::KEEP_SERVER, "sup-phone"));
    const Status missing = refusal(server, keep(id + 1000, v1::KEEP_SERVER, "sup-phone"));
    CHECK(beyond.code() == ErrorCode::kNotFound);
    CHECK(beyond.message() == "no conflict " + std::to_string(id));
    CHECK(missing.code() == ErrorCode::kNotFound);
    CHECK(missing.message() == "no conflict " + std::to_string(id + 1000));
    // An officer is refused whether the conflict exists or not.
    server.token = issue("ani", auth::Role::kOfficer, kOtherVillage);
    CHECK(refusal(server, keep(id + 1000, v1::KEEP_SERVER, "a3")).code() == ErrorCode::kForbidden);
  }
  SECTION("a supervisor of the village may, and the audit log names them") {
    server.token = issue("sup", auth::Role::kSupervisor, kVillage);
    const v1::ResolveResponse response = resolve(server, keep(id, v1::KEEP_DEVICE, "sup-phone"));
    CHECK(response.conflict().resolved_by() == "sup");
    const std::vector<server::AuditEntry> entries = audit_of_p1(server);
    REQUIRE(!entries.empty());
    CHECK(entries.back().officer == "sup");
    CHECK(entries.back().outcome == "resolved_device");
    // Pushes name the officer of their token too.
    CHECK(entries.front().officer == "ani");
    CHECK(std::any_of(entries.begin(), entries.end(), [](const server::AuditEntry& e) {
      return e.officer == "budi" && e.outcome == "superseded";
    }));
  }
  SECTION("an admin may") {
    server.token = issue("root", auth::Role::kAdmin, "");
    CHECK(resolve(server, keep(id, v1::KEEP_SERVER, "office")).conflict().resolved_by() == "root");
  }
}

TEST_CASE("resolve: a store of format 2 is upgraded in place and keeps its data", "[server]") {
  TestServer server;
  pending_conflict(server);
  const std::string before = server.dump();
  server.server.reset();
  downgrade_to_7(server.data_dir());
  rewrite_store(server.data_dir(), kDowngradeTo6);
  rewrite_store(server.data_dir(), kDowngradeTo5);
  rewrite_store(server.data_dir(), kDowngradeTo4);
  rewrite_store(server.data_dir(), kDowngradeTo3);
  rewrite_store(server.data_dir(), kDowngradeTo2);
  server.open();
  CHECK(server.dump() == before);
  const std::vector<server::AuditEntry> entries = audit_of_p1(server);
  REQUIRE(!entries.empty());
  CHECK(entries.front().officer.empty());
  // The conflict recorded before the upgrade can be resolved after it.
  const v1::PullPage page = server.pull("c");
  REQUIRE(page.conflicts_size() == 1);
  CHECK(resolve(server, keep(page.conflicts(0).id(), v1::KEEP_SERVER)).conflict().outcome() ==
        "resolved_server");
}

}  // namespace lumbung::test
