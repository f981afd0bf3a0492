// Schema evolution with phones of both versions at once (issue 20 item 4,
// docs/protocol.md "Schema versions"): a real lumbungd first serves version 1
// of the schema, then version 2, which adds a column and a table; its store
// (SQLite in the data dir, or PostgreSQL) gains them in place. Phones still on
// version 1 keep syncing: their pulls leave the new column and table out,
// their checksums still match (so they keep verifying), and their pushes
// leave the new column alone. Phones on version 2 get everything, and a
// version 1 phone that moves to version 2 ends with what the server holds.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/schema.hpp"
#include "integration/protocol_device.hpp"
#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/pg_cluster.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

constexpr const char* kVillage = "desa-a";

// The built-in schema as version 2: household gains "nickname" and a table
// "visit" is new.
std::string schema_v2() {
  nlohmann::json schema = nlohmann::json::parse(core::builtin_schema_text());
  schema["version"] = 2;
  for (auto& table : schema["tables"]) {
    if (table["name"] == "household") {
      table["columns"].push_back({{"name", "nickname"}, {"type", "text"}});
    }
  }
  schema["tables"].push_back({{"name", "visit"},
                              {"scope", "village_id"},
                              {"columns",
                               {{{"name", "id"}, {"type", "text"}, {"primary_key", true}},
                                {{"name", "village_id"}, {"type", "text"}, {"not_null", true}},
                                {{"name", "note"}, {"type", "text"}}}}});
  return schema.dump(2);
}

Row household(const std::string& id, Row cells = {}) {
  Row row = {{"id", id},
             {"village_id", kVillage},
             {"created_by", "officer"},
             {"created_at", "2026-12-07T08:00:00Z"}};
  for (auto& [column, value] : cells) row[column] = std::move(value);
  return row;
}

// Whether `phone` stopped comparing checksums because a page named what its
// schema lacks (replica/sync.cpp, kSchemaBehindServer).
bool stopped_verifying(Replica& phone) {
  const std::vector<Row> rows =
      phone.query("SELECT value FROM _lumbung_meta WHERE key = 'schema_behind_server'").value();
  return !rows.empty();
}

// `lumbungd dump` of the server's state.
nlohmann::json server_dump(const std::vector<std::string>& store_args, const std::string& data) {
  std::vector<std::string> args = {"dump", "--data", data};
  args.insert(args.end(), store_args.begin(), store_args.end());
  const ProcessResult dump = run_lumbungd(args);
  INFO(dump.err);
  REQUIRE(dump.exit_code == 0);
  return nlohmann::json::parse(dump.out);
}

nlohmann::json phone_dump(Replica& phone) {
  return nlohmann::json::parse(phone.dump_json().value());
}

void run_evolution(const std::vector<std::string>& store_args) {
  TempDir dir;
  const std::string data = dir.file("data");
  const std::string v2_file = dir.file("schema-v2.json");
  { std::ofstream(v2_file) << schema_v2(); }
  std::vector<std::string> serve_args = {"--insecure-no-auth"};
  serve_args.insert(serve_args.end(), store_args.begin(), store_args.end());

  ReplicaOptions old_options = options_for(dir.file("old.db"));
  old_options.device_id = "phone-old";
  {
    // Version 1 served; the old phone registers a household.
    DaemonProcess daemon(LUMBUNGD, data, serve_args);
    old_options.server_url = daemon.url();
    std::unique_ptr<Replica> old_phone = open_replica(old_options);
    REQUIRE(old_phone->insert("household", household("h1", {{"head_name", "Tarsono"}})).is_ok());
    REQUIRE(old_phone->sync().is_ok());
  }

  std::vector<std::string> v2_args = serve_args;
  v2_args.insert(v2_args.end(), {"--schema", v2_file});
  DaemonProcess daemon(LUMBUNGD, data, v2_args);
  // The old phone's file keeps the first daemon's address: both sync
  // through this one's.
  SyncOptions to_daemon;
  to_daemon.transport = value_of(make_http_transport(daemon.url()));
  std::unique_ptr<Replica> old_phone = open_replica(old_options);
  ReplicaOptions new_options = options_for(dir.file("new.db"));
  new_options.device_id = "phone-new";
  new_options.schema_text = schema_v2();
  std::unique_ptr<Replica> new_phone = open_replica(new_options);

  // The new phone gets the old phone's row, and writes the new column and table.
  REQUIRE(new_phone->sync(to_daemon).is_ok());
  REQUIRE(new_phone->get("household", "h1").value().has_value());
  REQUIRE(new_phone->update("household", "h1", {{"nickname", "Pak RT"}}).is_ok());
  REQUIRE(new_phone->insert("household", household("h2", {{"nickname", "Bu Sri"}})).is_ok());
  REQUIRE(
      new_phone->insert("visit", {{"id", "v1"}, {"village_id", kVillage}, {"note", "rumah kosong"}})
          .is_ok());
  REQUIRE(new_phone->sync(to_daemon).is_ok());

  // The old phone pulls h2 alone: h1's new cell and the visit are not its to
  // read. It still compares checksums, and they match: nothing is pulled again.
  const SyncSummary pulled = value_of(old_phone->sync(to_daemon));
  CHECK(pulled.pulled == 1);
  CHECK_FALSE(stopped_verifying(*old_phone));
  CHECK(value_of(old_phone->sync(to_daemon)).pulled == 0);
  CHECK(phone_dump(*old_phone)["household"].size() == 2);

  // Its pushes leave the new column alone.
  REQUIRE(old_phone->update("household", "h1", {{"head_name", "Tarsono Wiryo"}}).is_ok());
  REQUIRE(old_phone->insert("household", household("h3", {{"head_name", "Warsih"}})).is_ok());
  REQUIRE(old_phone->sync(to_daemon).is_ok());
  CHECK(value_of(old_phone->sync(to_daemon)).pulled == 0);
  REQUIRE(new_phone->sync(to_daemon).is_ok());
  const Row h1 = value_of(new_phone->get("household", "h1")).value();
  CHECK(h1.at("nickname") == Value("Pak RT"));
  CHECK(h1.at("head_name") == Value("Tarsono Wiryo"));
  CHECK(new_phone->get("household", "h3").value().value().at("nickname").is_null());
  const nlohmann::json server = server_dump(store_args, data);
  CHECK(phone_dump(*new_phone) == server);
  CHECK(server["visit"]["v1"]["note"] == "rumah kosong");

  // The old phone's app moves to version 2: it gets what it lacked.
  old_phone.reset();
  old_options.schema_text = schema_v2();
  old_phone = open_replica(old_options);
  REQUIRE(old_phone->sync(to_daemon).is_ok());
  CHECK(phone_dump(*old_phone) == server_dump(store_args, data));
  CHECK(value_of(old_phone->sync(to_daemon)).pulled == 0);
}

}  // namespace

TEST_CASE("phones of two schema versions sync through lumbungd over SQLite",
          "[integration][schema]") {
  run_evolution({});
}

TEST_CASE("phones of two schema versions sync through lumbungd over PostgreSQL",
          "[integration][schema][postgresql]") {
  run_evolution(
      {"--store", shared_pg_cluster().create_database("evolution_" + std::to_string(::getpid()))});
}

}  // namespace lumbung::test
