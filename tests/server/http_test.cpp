// Routes, statuses and Error bodies of a real SyncServer, refused requests
// that change nothing, and the dump's format against a device's.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "server/server_fixture.hpp"

using namespace lumbung;
using namespace lumbung::test;

namespace {

HttpRequest request(const char* method, const char* target, std::string body = "") {
  HttpRequest request;
  request.method = method;
  request.target = target;
  request.body = std::move(body);
  return request;
}

}  // namespace

TEST_CASE("http: /healthz answers ok; unknown paths and wrong methods are refused", "[server]") {
  TestServer server;
  const HttpResponse health = server.call(request("GET", "/healthz?probe=1"));
  CHECK(health.status == 200);
  CHECK(health.body == "ok");

  const HttpResponse missing = server.call(request("POST", "/v1/nothing"));
  CHECK(missing.status == 404);
  CHECK(error_of(missing).name() == "NotFound");
  CHECK(error_of(missing).message() == "no such path '/v1/nothing'");

  const HttpResponse get_push = server.call(request("GET", "/v1/push"));
  CHECK(get_push.status == 405);
  CHECK(find_header(get_push.headers, "Allow") == "POST");
  CHECK(error_of(get_push).message() == "method GET is not allowed on /v1/push (use POST)");
  CHECK(server.call(request("DELETE", "/healthz")).status == 405);
}

TEST_CASE("http: bodies that do not decode get 400 with an Error body", "[server]") {
  TestServer server;
  for (const char* target : {"/v1/push", "/v1/pull"}) {
    INFO(target);
    // Field 1 claims more bytes than follow.
    const HttpResponse malformed = server.call(request("POST", target, "\x0a\x7f\x01"));
    CHECK(malformed.status == 400);
    CHECK(error_of(malformed).name() == "Protocol");
    CHECK(error_of(malformed).retry() == v1::RETRY_CLASS_PERMANENT);

    HttpRequest bad_zstd = request("POST", target, "this is not a zstd frame");
    bad_zstd.headers.emplace_back("Content-Encoding", "zstd");
    const HttpResponse zstd = server.call(bad_zstd);
    CHECK(zstd.status == 400);
    CHECK(error_of(zstd).message().find("not valid zstd") != std::string::npos);

    HttpRequest gzip = request("POST", target, "x");
    gzip.headers.emplace_back("Content-Encoding", "gzip");
    CHECK(server.call(gzip).status == 400);

    const HttpResponse huge =
        server.call(request("POST", target, std::string((16u << 20) + 1, 'x')));
    CHECK(huge.status == 413);
    CHECK(error_of(huge).name() == "TooLarge");
  }
  CHECK(server.dump().find(R"("household":{})") != std::string::npos);
}

TEST_CASE("http: request headers are checked before anything is read or written", "[server]") {
  TestServer server;
  Batch batch("a", 1);
  batch.insert("household", "h1", household(), stamp(0));

  batch.request().mutable_header()->set_schema_version(2);
  const HttpResponse newer = server.call(protocol::make_request("/v1/push", batch.request()));
  CHECK(newer.status == 409);
  CHECK(error_of(newer).name() == "SchemaIncompatible");
  CHECK(error_of(newer).message() ==
        "the device's schema version 2 is newer than the server's version 1 of schema "
        "'desmigratif'");
  v1::PullRequest pull = TestServer::pull_request("a");
  pull.mutable_header()->set_schema_version(2);
  CHECK(server.call(protocol::make_request("/v1/pull", pull)).status == 409);

  batch.request().mutable_header()->set_schema_version(1);
  batch.request().mutable_header()->set_protocol_version(2);
  const HttpResponse protocol = server.call(protocol::make_request("/v1/push", batch.request()));
  CHECK(protocol.status == 400);
  CHECK(error_of(protocol).message() ==
        "protocol version 2 is not supported (this server speaks 1)");

  batch.request().mutable_header()->set_protocol_version(1);
  batch.request().mutable_header()->clear_device_id();
  CHECK(server.call(protocol::make_request("/v1/push", batch.request())).status == 400);

  batch.request().mutable_header()->set_device_id("a");
  batch.request().set_batch(0);
  const HttpResponse zero = server.call(protocol::make_request("/v1/push", batch.request()));
  CHECK(zero.status == 400);
  CHECK(error_of(zero).name() == "InvalidArgument");

  batch.request().set_batch(1);
  *batch.request().add_changes() = batch.request().changes(0);  // the same change id twice
  const HttpResponse twice = server.call(protocol::make_request("/v1/push", batch.request()));
  CHECK(twice.status == 400);
  CHECK(error_of(twice).message() == "batch 1: change id 1 appears twice");
  CHECK(server.dump().find("\"h1\"") == std::string::npos);

  // An older schema version is accepted.
  batch.request().mutable_changes()->RemoveLast();
  batch.request().mutable_header()->set_schema_version(0);
  CHECK(server.push(batch).outcomes(0).outcome() == v1::OUTCOME_APPLIED);
}

TEST_CASE("dump: the server's dump is byte for byte a device's dump of the same rows", "[server]") {
  TestServer server;
  Row tricky = household();
  tricky["latitude"] = -6.25;
  tricky["longitude"] = 108.0;
  tricky["notes"] = "baris \"satu\"\nbaris dua\tdan \u00e9";
  const Row person = {{"village_id", kVillage},
                      {"full_name", "Dewi Lestari"},
                      {"created_by", "sri"},
                      {"created_at", "2026-11-28T04:00:00Z"}};
  server.push(Batch("a", 1)
                  .insert("household", "h1", tricky, stamp(0))
                  .insert("household", "h2", household(kOtherVillage), stamp(0))
                  .insert("person", "p1", person, stamp(0)));

  TempDir dir;
  auto device = open_replica(options_for(dir.file("device.db")));
  Row h1 = tricky;
  h1["id"] = "h1";
  Row h2 = household(kOtherVillage);
  h2["id"] = "h2";
  Row p1 = person;
  p1["id"] = "p1";
  REQUIRE(device->insert("household", h1).is_ok());
  REQUIRE(device->insert("household", h2).is_ok());
  REQUIRE(device->insert("person", p1).is_ok());
  const std::string dump = server.dump();
  CHECK(dump == device->dump_json().value());
  CHECK(dump.find(R"("deceased":0)") != std::string::npos);   // the schema's default
  CHECK(dump.find(R"("activity":{})") != std::string::npos);  // empty tables are listed

  Result<std::string> village = server.server->dump_json(std::string(kVillage));
  REQUIRE(village.is_ok());
  CHECK(village->find("\"h1\"") != std::string::npos);
  CHECK(village->find("\"p1\"") != std::string::npos);
  CHECK(village->find("\"h2\"") == std::string::npos);
}

TEST_CASE("a newer schema that drops what a version served before had is refused at open",
          "[server]") {
  TempDir dir;
  server::ServerOptions options;
  options.data_dir = dir.file("data");
  options.insecure_no_auth = true;
  REQUIRE(server::SyncServer::open(options).is_ok());  // serves the built-in version 1

  nlohmann::json schema = nlohmann::json::parse(core::builtin_schema_text());
  schema["version"] = 2;
  for (auto& table : schema["tables"]) {
    if (table["name"] != "household") continue;
    auto& columns = table["columns"];
    for (auto column = columns.begin(); column != columns.end(); ++column) {
      if ((*column)["name"] == "notes") {
        columns.erase(column);
        break;
      }
    }
  }
  options.schema_text = schema.dump();
  const Result<std::unique_ptr<server::SyncServer>> reopened = server::SyncServer::open(options);
  REQUIRE_FALSE(reopened.is_ok());
  CHECK(reopened.status().code() == ErrorCode::kSchemaIncompatible);
  CHECK(reopened.status().message() ==
        "schema version 1: table 'household': column 'notes' is gone in version 2");
}
