// `lumbungd migrate-store --data DIR --to URL` (docs/operations.md, "Moving to
// PostgreSQL"): a data directory served with its SQLite store, with rows,
// an update, a delete, a conflict and an audit log, is copied into a database
// of the run's throwaway cluster; `serve --store URL` then goes on where the
// SQLite store was: phones pull nothing again and still verify their
// checksums, a push retried from before the move gets its stored answer, and
// new writes follow the copied seqs.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "integration/household_push.hpp"
#include "integration/protocol_device.hpp"
#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "protocol/wire.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/pg_cluster.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

constexpr const char* kVillage = "desa-a";

Row household(const std::string& id, const std::string& head_name) {
  return {{"id", id},
          {"village_id", kVillage},
          {"head_name", head_name},
          {"created_by", "officer"},
          {"created_at", "2026-12-07T08:00:00Z"}};
}

// What `lumbungd ARGS` prints, which must succeed.
std::string lumbungd_out(const std::vector<std::string>& args) {
  const ProcessResult result = run_lumbungd(args);
  INFO(lumbungd_command_line(args) << "\n" << result.err);
  REQUIRE(result.exit_code == 0);
  return result.out;
}

// The answer to `push`, sent to the daemon at `url`.
v1::PushResponse push_to(const std::string& url, const v1::PushRequest& push) {
  std::shared_ptr<Transport> http = value_of(make_http_transport(url));
  const HttpResponse answer = value_of(http->exchange(protocol::make_request("/v1/push", push)));
  REQUIRE(protocol::status_from_response(answer).is_ok());
  v1::PushResponse response;
  REQUIRE(protocol::decode_body(answer.headers, answer.body,
                                HttpTransportOptions().max_response_bytes, &response)
              .is_ok());
  return response;
}

}  // namespace

TEST_CASE("migrate-store moves a served SQLite store into PostgreSQL, and serving goes on",
          "[integration][postgresql]") {
  TempDir dir;
  const std::string data = dir.file("data");
  const std::string url =
      shared_pg_cluster().create_database("migrate_" + std::to_string(::getpid()));

  ReplicaOptions ani_options = options_for(dir.file("ani.db"));
  ani_options.device_id = "ani";
  ReplicaOptions budi_options = options_for(dir.file("budi.db"));
  budi_options.device_id = "budi";
  v1::RequestHeader header;
  header.set_protocol_version(protocol::kProtocolVersion);
  header.set_schema_version(1);
  header.set_device_id("citra");
  const v1::PushRequest citra_push = household_push(header, 1, "h-citra", kVillage, "Sumiati");
  v1::PushResponse citra_answer;
  std::string before_dump;
  std::string before_audit;
  {
    DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth"});
    ani_options.server_url = daemon.url();
    budi_options.server_url = daemon.url();
    std::unique_ptr<Replica> ani = open_replica(ani_options);
    std::unique_ptr<Replica> budi = open_replica(budi_options);
    for (int i = 0; i < 30; ++i) {
      const std::string id = "h" + std::to_string(i);
      REQUIRE(ani->insert("household", household(id, "Kepala " + std::to_string(i))).is_ok());
    }
    REQUIRE(ani->sync().is_ok());
    REQUIRE(budi->sync().is_ok());
    // An update, a delete, and a conflict: both edit h1's notes.
    REQUIRE(ani->update("household", "h1", {{"notes", "ani"}}).is_ok());
    REQUIRE(budi->update("household", "h1", {{"notes", "budi"}}).is_ok());
    REQUIRE(ani->remove("household", "h2").is_ok());
    citra_answer = push_to(daemon.url(), citra_push);
    REQUIRE(citra_answer.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
    REQUIRE(ani->sync().is_ok());
    REQUIRE(budi->sync().is_ok());
    REQUIRE(ani->sync().is_ok());
  }
  // A token issued before the move is known after it.
  lumbungd_out({"token", "--data", data, "--officer", "sri", "--villages", kVillage});
  const std::string before_tokens = lumbungd_out({"tokens", "--data", data});
  before_dump = lumbungd_out({"dump", "--data", data});
  before_audit = lumbungd_out({"audit", "--data", data});

  const nlohmann::json moved =
      nlohmann::json::parse(lumbungd_out({"migrate-store", "--data", data, "--to", url}));
  CHECK(moved["last_seq"].get<std::int64_t>() > 30);
  CHECK(moved["scopes"] == 1);
  CHECK(moved["to"] == url);  // no password in this URL to replace
  CHECK(lumbungd_out({"dump", "--data", data, "--store", url}) == before_dump);
  CHECK(lumbungd_out({"audit", "--data", data, "--store", url}) == before_audit);
  CHECK(lumbungd_out({"tokens", "--data", data, "--store", url}) == before_tokens);
  // The SQLite store is left as it was.
  CHECK(lumbungd_out({"dump", "--data", data}) == before_dump);

  // A second move into the same database is refused; nothing changes.
  const ProcessResult again = run_lumbungd({"migrate-store", "--data", data, "--to", url});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("already holds a store with data") != std::string::npos);

  DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth", "--store", url});
  // A move while the directory is served is refused.
  const ProcessResult busy = run_lumbungd({"migrate-store", "--data", data, "--to", url});
  CHECK(busy.exit_code == 1);
  CHECK(busy.err.find("is in use") != std::string::npos);

  // The phones go on from their cursors: nothing to pull, checksums verified.
  SyncOptions to_daemon;
  to_daemon.transport = value_of(make_http_transport(daemon.url()));
  std::unique_ptr<Replica> ani = open_replica(ani_options);
  std::unique_ptr<Replica> budi = open_replica(budi_options);
  CHECK(value_of(ani->sync(to_daemon)).pulled == 0);
  CHECK(value_of(budi->sync(to_daemon)).pulled == 0);
  // A push retried from before the move gets its stored answer, applied once.
  const v1::PushResponse retried = push_to(daemon.url(), citra_push);
  CHECK(retried.SerializeAsString() == citra_answer.SerializeAsString());
  CHECK(lumbungd_out({"dump", "--data", data, "--store", url}) == before_dump);
  // New writes follow the copied seqs and reach the other phone.
  REQUIRE(ani->insert("household", household("h-new", "Warsih")).is_ok());
  REQUIRE(ani->sync(to_daemon).is_ok());
  CHECK(value_of(budi->sync(to_daemon)).pulled == 1);
  CHECK(nlohmann::json::parse(budi->dump_json().value()) ==
        nlohmann::json::parse(lumbungd_out({"dump", "--data", data, "--store", url})));
}

}  // namespace lumbung::test
