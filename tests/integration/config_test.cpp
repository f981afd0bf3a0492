// lumbungd serve's configuration beyond its command line (docs/lumbungd.md,
// "Configuration"): a TOML file, LUMBUNGD_* variables over it, the command
// line over both; `check-config`; and a data directory that remembers the
// schema it was served with, so that `dump` and `snapshot` need not be told.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.hpp"
#include "lumbung/replica.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

using Json = nlohmann::json;

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// `lumbungd ARGS...` with `env` as its whole environment.
ProcessResult lumbungd_with(const std::vector<std::string>& env,
                            const std::vector<std::string>& args) {
  std::vector<std::string> argv = {LUMBUNGD};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, env, std::filesystem::current_path().string());
}

}  // namespace

TEST_CASE("check-config reads a serve configuration, and names what is wrong in it",
          "[integration][config]") {
  TempDir dir;
  const std::string config = dir.file("lumbungd.toml");
  write_file(config,
             "# the ministry's daemon\n"
             "data = \"" +
                 dir.file("data") +
                 "\"\n"
                 "listen = \"127.0.0.1:8787\"\n"
                 "metrics-listen = \"127.0.0.1:9787\"\n"
                 "log-format = \"json\"\n"
                 "max-changes-per-push = 2000\n"
                 "require-tls = true\n");
  ProcessResult checked = lumbungd_with({}, {"check-config", "--config", config});
  INFO(checked.err);
  REQUIRE(checked.exit_code == 0);
  const Json summary = Json::parse(checked.out);
  CHECK(summary["data"] == dir.file("data"));
  CHECK(summary["listen"] == "127.0.0.1:8787");
  CHECK(summary["metrics_listen"] == "127.0.0.1:9787");
  CHECK(summary["auth"] == "tokens");
  CHECK(summary["tls"] == false);
  CHECK(summary["store"] == "sqlite");
  // A store URL from the environment, its password never printed.
  checked = lumbungd_with({"LUMBUNGD_STORE=postgresql://lumbungd:s3cret@db.internal/lumbung"},
                          {"check-config", "--config", config});
  REQUIRE(checked.exit_code == 0);
  CHECK(Json::parse(checked.out)["store"] == "postgresql://lumbungd:***@db.internal/lumbung");
  CHECK(checked.out.find("s3cret") == std::string::npos);

  // The environment wins over the file.
  checked = lumbungd_with({"LUMBUNGD_LISTEN=127.0.0.1:9000", "LUMBUNGD_REQUIRE_TLS=false"},
                          {"check-config", "--config", config});
  REQUIRE(checked.exit_code == 0);
  CHECK(Json::parse(checked.out)["listen"] == "127.0.0.1:9000");
  // ... and beyond this machine, plain HTTP with require-tls is refused.
  checked = lumbungd_with({"LUMBUNGD_LISTEN=0.0.0.0:8787"}, {"check-config", "--config", config});
  CHECK(checked.exit_code == 2);
  CHECK(checked.err.find("--require-tls") != std::string::npos);

  const auto refused = [&](const std::string& line, const std::string& expected, int code) {
    write_file(config, "data = \"" + dir.file("data") + "\"\n" + line + "\n");
    const ProcessResult result = lumbungd_with({}, {"check-config", "--config", config});
    INFO(line << " -> " << result.err);
    CHECK(result.exit_code == code);
    CHECK(result.err.find(expected) != std::string::npos);
    CHECK(result.out.empty());
  };
  refused("listn = \"127.0.0.1:1\"", config + ":2: unknown key 'listn'", 1);
  refused("threads = \"many\"", "malformed --threads 'many'", 2);
  refused("threads = 0", "malformed --threads '0'", 2);
  refused("require-tls = \"yes\"", config + ":2: 'require-tls' takes true or false", 1);
  refused("log-format = \"xml\"", "unknown --log-format 'xml'", 2);
  refused("[limits]\nmax-changes-per-push = 10", config + ":2: unknown key 'limits'", 1);
  refused("listen = \"127.0.0.1:1", config + ":2:", 1);  // TOML syntax
  refused("schema = \"" + dir.file("missing.json") + "\"", "cannot read schema file", 1);
  refused("tls-cert = \"" + dir.file("none.pem") + "\"\ntls-key = \"" + dir.file("none.pem") + "\"",
          "none.pem", 1);
  const ProcessResult missing =
      lumbungd_with({}, {"check-config", "--config", dir.file("absent.toml")});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("cannot read configuration file") != std::string::npos);
}

TEST_CASE("serve --config serves as configured, the command line and environment winning over it",
          "[integration][config]") {
  TempDir dir;
  const std::string data = dir.file("data");
  const std::string config = dir.file("lumbungd.toml");
  write_file(config, "data = \"" + data +
                         "\"\n"
                         "listen = \"127.0.0.1:1\"\n"          // overridden on the command line
                         "metrics-listen = \"127.0.0.1:1\"\n"  // and by the environment
                         "log-format = \"text\"\n"
                         "insecure-no-auth = true\n");
  std::vector<std::string> env = {"LUMBUNGD_METRICS_LISTEN=127.0.0.1:0",
                                  "LUMBUNGD_LOG_FORMAT=json"};
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (!std::string_view(*entry).starts_with("LUMBUNGD_")) env.emplace_back(*entry);
  }
  ChildProcess daemon({LUMBUNGD, "serve", "--config", config, "--listen", "127.0.0.1:0"}, env,
                      dir.path());
  const Deadline deadline = Deadline::clock::now() + DaemonProcess::kStartTimeout;
  const std::optional<std::string> metrics = daemon.read_line(deadline);
  REQUIRE(metrics);
  CHECK(metrics->starts_with("lumbungd metrics on http://127.0.0.1:"));
  CHECK(!metrics->ends_with(":1/metrics"));
  const std::optional<std::string> listening = daemon.read_line(deadline);
  REQUIRE(listening);
  REQUIRE(listening->starts_with("lumbungd listening on http://127.0.0.1:"));
  const std::string url = listening->substr(std::string("lumbungd listening on ").size());
  CHECK(!url.ends_with(":1"));

  // Served without tokens, as the file says: a phone syncs with none.
  ReplicaOptions options = options_for(dir.file("phone.db"));
  options.device_id = "phone";
  options.server_url = url;
  std::unique_ptr<Replica> phone = open_replica(options);
  REQUIRE(phone
              ->insert("household", {{"id", "h1"},
                                     {"village_id", "desa-a"},
                                     {"created_by", "sri"},
                                     {"created_at", "2026-12-07T08:00:00Z"}})
              .is_ok());
  REQUIRE(phone->sync().is_ok());
  // Without TLS a SIGHUP (systemctl reload) reloads nothing and ends nothing.
  daemon.send_signal(SIGHUP);
  REQUIRE(phone->sync().is_ok());
  daemon.send_signal(SIGTERM);
  const std::optional<ProcessResult> stopped =
      daemon.wait(Deadline::clock::now() + DaemonProcess::kStopTimeout);
  REQUIRE(stopped);
  CHECK(stopped->exit_code == 0);
  // The log is JSON, as the environment says over the file.
  std::istringstream lines(stopped->err);
  int logged = 0;
  int reloads = 0;
  for (std::string line; std::getline(lines, line); ++logged) {
    REQUIRE(Json::accept(line));
    reloads += Json::parse(line)["event"] == "tls_reload";
  }
  CHECK(logged >= 3);
  CHECK(reloads == 1);
}

TEST_CASE("a data directory remembers the schema it was served with", "[integration][config]") {
  TempDir dir;
  const std::string data = dir.file("data");
  // Version 2 of the built-in schema: a column more on household.
  Json schema = Json::parse(core::builtin_schema_text());
  schema["version"] = 2;
  for (Json& table : schema["tables"]) {
    if (table["name"] == "household") {
      table["columns"].push_back({{"name", "water_source"}, {"type", "text"}});
    }
  }
  const std::string schema_file = dir.file("schema-v2.json");
  write_file(schema_file, schema.dump());
  {
    DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth", "--schema", schema_file});
    ReplicaOptions options = options_for(dir.file("phone.db"));
    options.schema_text = schema.dump();
    options.device_id = "phone";
    options.server_url = daemon.url();
    std::unique_ptr<Replica> phone = open_replica(options);
    REQUIRE(phone
                ->insert("household", {{"id", "h1"},
                                       {"village_id", "desa-a"},
                                       {"water_source", "sumur"},
                                       {"created_by", "sri"},
                                       {"created_at", "2026-12-07T08:00:00Z"}})
                .is_ok());
    REQUIRE(phone->sync().is_ok());
  }
  std::filesystem::remove(schema_file);  // the data directory alone knows it now

  const Json dump = Json::parse(lumbungd_output({"dump", "--data", data}));
  CHECK(dump["household"]["h1"]["water_source"] == "sumur");
  const Json snapshot = Json::parse(first_line(lumbungd_output({"snapshot", "--data", data})));
  CHECK(snapshot["village"] == "desa-a");
  CHECK(snapshot["rows"] == 1);
  // A restart without --schema serves version 2 still: a version-2 phone syncs.
  DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth"});
  ReplicaOptions options = options_for(dir.file("phone-2.db"));
  options.schema_text = schema.dump();
  options.device_id = "phone-2";
  options.server_url = daemon.url();
  std::unique_ptr<Replica> second = open_replica(options);
  REQUIRE(second->sync().is_ok());
  CHECK(Json::parse(second->dump_json().value())["household"]["h1"]["water_source"] == "sumur");
}

}  // namespace lumbung::test
