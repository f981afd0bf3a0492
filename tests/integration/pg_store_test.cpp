// A real lumbungd serving from the PostgreSQL store (`serve --store URL`) on the
// run's throwaway cluster: devices push and pull through it, it is killed
// with SIGKILL and started again without losing an acknowledged row, and the
// merged rows are in the database for any SQL tool, and for `lumbungd dump`.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "integration/protocol_device.hpp"
#include "pg/connection.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/pg_cluster.hpp"
#include "support/temp_dir.hpp"

namespace lumbung::test {
namespace {

std::shared_ptr<Transport> transport_to(const DaemonProcess& daemon) {
  return value_of(make_http_transport(daemon.url()));
}

// The head names of the households in the database at `url`, in id order.
std::vector<std::string> head_names(const std::string& url) {
  std::unique_ptr<pg::Connection> db = value_of(pg::Connection::open(url));
  pg::Rows rows = value_of(db->query("SELECT head_name FROM household ORDER BY id", {}));
  std::vector<std::string> names;
  while (rows.step()) names.push_back(rows.text(0));
  return names;
}

}  // namespace

TEST_CASE("lumbungd serves from PostgreSQL and loses no acknowledged row when killed",
          "[integration][postgresql]") {
  TempDir dir;
  const std::string data = dir.file("data");
  const std::string url =
      shared_pg_cluster().create_database("lumbungd_serve_" + std::to_string(::getpid()));
  const std::vector<std::string> serve_args = {"--insecure-no-auth", "--store", url};
  {
    DaemonProcess daemon(LUMBUNGD, data, serve_args);
    Device ani(transport_to(daemon), "device-ani");
    Device budi(transport_to(daemon), "device-budi");
    const v1::PushResponse pushed = value_of(ani.insert_household("h1", "Tarsono"));
    REQUIRE(pushed.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
    CHECK(row_ids(value_of(budi.pull(0))) == std::vector<std::string>{"h1"});
    value_of(budi.insert_household("h2", "Warsih"));
    // Acknowledged, then killed: no chance to flush anything.
    const std::optional<ProcessResult> killed = daemon.terminate(SIGKILL);
    REQUIRE(killed);
    INFO(killed->err);
    CHECK(killed->err.find(" store=\"postgresql://") != std::string::npos);
  }
  CHECK(head_names(url) == std::vector<std::string>{"Tarsono", "Warsih"});
  // The data directory holds no store of its own.
  CHECK_FALSE(std::filesystem::exists(data + "/lumbung.db"));
  {
    DaemonProcess daemon(LUMBUNGD, data, serve_args);
    Device citra(transport_to(daemon), "device-citra");
    CHECK(row_ids(value_of(citra.pull(0))) == std::vector<std::string>{"h1", "h2"});
    // The seq goes on from where the killed daemon left it.
    value_of(citra.insert_household("h3", "Sumiati"));
    Device dewi(transport_to(daemon), "device-dewi");
    CHECK(row_ids(value_of(dewi.pull(0))) == std::vector<std::string>{"h1", "h2", "h3"});
  }
  const ProcessResult dump = run_lumbungd({"dump", "--data", data, "--store", url});
  INFO(dump.err);
  REQUIRE(dump.exit_code == 0);
  const nlohmann::json state = nlohmann::json::parse(dump.out);
  CHECK(state["household"].size() == 3);
  CHECK(state["household"]["h2"]["head_name"] == "Warsih");
  // A snapshot of the village, read from the database, written under DIR.
  const ProcessResult snapshot = run_lumbungd({"snapshot", "--data", data, "--store", url});
  INFO(snapshot.err);
  REQUIRE(snapshot.exit_code == 0);
  const nlohmann::json built = nlohmann::json::parse(snapshot.out);
  CHECK(built["village"] == "v1");
  CHECK(built["rows"] == 3);
  // A URL that names no PostgreSQL database is refused before anything starts.
  const ProcessResult refused =
      run_lumbungd({"dump", "--data", data, "--store", "mysql://localhost/db"});
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("is not a PostgreSQL URL") != std::string::npos);
}

}  // namespace lumbung::test
