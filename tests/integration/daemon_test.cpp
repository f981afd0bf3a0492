// The real `lumbungd` binary over real TCP on 127.0.0.1: its command line, its
// lifecycle, and the sync protocol through the HTTP transport. Every test
// runs its own daemon on a free port in a fresh directory.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/schema.hpp"
#include "integration/protocol_device.hpp"
#include "lumbung/http.hpp"
#include "protocol/wire.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

namespace lumbung::test {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<Transport> transport_to(const DaemonProcess& daemon) {
  Result<std::shared_ptr<Transport>> transport = make_http_transport(daemon.url());
  REQUIRE(transport.is_ok());
  return std::move(transport).value();
}

TEST_CASE("lumbungd answers /healthz over TCP and exits 0 on SIGTERM or SIGINT", "[integration]") {
  const int signal = GENERATE(SIGTERM, SIGINT);
  TempDir dir;
  DaemonProcess daemon(LUMBUNGD, dir.file("data"));  // /healthz needs no token
  CHECK(daemon.url().starts_with("http://127.0.0.1:"));
  CHECK_FALSE(daemon.url().ends_with(":0"));  // the port really bound

  Result<HttpResponse> health = transport_to(daemon)->exchange({"GET", "/healthz", {}, {}});
  REQUIRE(health.is_ok());
  CHECK(health->status == 200);
  CHECK(health->body == "ok");

  const std::optional<ProcessResult> stopped = daemon.terminate(signal);
  REQUIRE(stopped);
  CHECK(stopped->exit_code == 0);
  // Its log: a start and a stop, no warning (/healthz is logged at debug level only).
  CHECK(stopped->err.find(" INFO start url=" + daemon.url() + " ") != std::string::npos);
  CHECK(stopped->err.find(" INFO stop") != std::string::npos);
  CHECK(stopped->err.find(" WARN ") == std::string::npos);
  CHECK(stopped->err.find("healthz") == std::string::npos);
}

TEST_CASE(
    "serve refuses to serve without tokens, or with --require-tls plain HTTP, beyond loopback",
    "[integration]") {
  TempDir dir;
  const std::string data = dir.file("data");
  for (const std::string listen : {"0.0.0.0:0", "[::]:0"}) {
    for (const std::string flag : {"--insecure-no-auth", "--require-tls"}) {
      const ProcessResult refused =
          run_lumbungd({"serve", "--data", data, "--listen", listen, flag});
      INFO(listen << " " << flag << ": " << refused.err);
      CHECK(refused.exit_code == 2);
      CHECK(refused.err.starts_with("lumbungd: " + flag));
      CHECK(refused.err.find(listen) != std::string::npos);
      CHECK(refused.out.empty());
      CHECK_FALSE(std::filesystem::exists(data));  // refused before anything is touched
    }
  }
  // On loopback both are served, without a word about plain HTTP.
  DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth", "--require-tls"});
  const std::optional<ProcessResult> stopped = daemon.terminate(SIGTERM);
  REQUIRE(stopped);
  CHECK(stopped->exit_code == 0);
  CHECK(stopped->err.find(" WARN config message=\"--insecure-no-auth: every request") !=
        std::string::npos);
  CHECK(stopped->err.find("plain HTTP") == std::string::npos);
}

TEST_CASE("plain HTTP beyond loopback starts with a warning", "[integration]") {
  TempDir dir;
  // Listens on every interface for as long as it takes to start and stop;
  // nothing connects to it.
  ChildProcess daemon({LUMBUNGD, "serve", "--data", dir.file("data"), "--listen", "0.0.0.0:0"}, {},
                      dir.path().string());
  const Deadline deadline = Deadline::clock::now() + 30s;
  const std::optional<std::string> listening = daemon.read_line(deadline);
  REQUIRE(listening);
  CHECK(listening->starts_with("lumbungd listening on http://0.0.0.0:"));
  daemon.send_signal(SIGTERM);
  const std::optional<ProcessResult> stopped = daemon.wait(deadline);
  REQUIRE(stopped);
  CHECK(stopped->exit_code == 0);
  CHECK(stopped->err.find(" WARN config message=\"plain HTTP on 0.0.0.0:0, beyond this machine") !=
        std::string::npos);
}

// The soft limit on open files in /proc/PID/limits.
long open_files_limit(pid_t pid) {
  std::ifstream limits("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(limits, line);) {
    if (line.rfind("Max open files", 0) == 0) return std::stol(line.substr(26));
  }
  return -1;
}

TEST_CASE("serve raises its open files limit to fit the connections it admits", "[integration]") {
  rlimit inherited{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &inherited) == 0);
  constexpr rlim_t kWanted = 1024 + 64;  // the default connection limit and the daemon's own
  if (inherited.rlim_max < kWanted) {
    WARN("the hard limit on open files is " << inherited.rlim_max << ": nothing to raise to");
    return;
  }
  TempDir dir;
  // Started as a systemd service would be: a soft limit of 1024 or less.
  rlimit low = inherited;
  low.rlim_cur = 256;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::optional<DaemonProcess> daemon;
  try {
    daemon.emplace(LUMBUNGD, dir.file("data"));
  } catch (...) {
    ::setrlimit(RLIMIT_NOFILE, &inherited);
    throw;
  }
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &inherited) == 0);
  CHECK(open_files_limit(daemon->pid()) >= static_cast<long>(kWanted));
}

TEST_CASE("serve --max-connections bounds the connections, and a low open-file limit lowers it",
          "[integration]") {
  TempDir dir;
  {
    DaemonProcess daemon(
        LUMBUNGD, dir.file("data"),
        {"--insecure-no-auth", "--max-connections", "4", "--max-connections-per-address", "2"});
    const std::uint16_t port =
        static_cast<std::uint16_t>(std::stoi(daemon.url().substr(daemon.url().rfind(':') + 1)));
    // Two idle connections from 127.0.0.1 take its share; a third is answered 503.
    const auto connect_to = [&] {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      REQUIRE(fd >= 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(port);
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
      return fd;
    };
    const int first = connect_to();
    const int second = connect_to();
    const int third = connect_to();
    std::string answer;
    char buffer[256];
    for (ssize_t got; (got = ::read(third, buffer, sizeof buffer)) > 0;) answer.append(buffer, got);
    CHECK(answer.starts_with("HTTP/1.1 503"));
    for (const int fd : {first, second, third}) ::close(fd);
  }
  // Started under a hard limit of 200 open files: 136 connections and the
  // daemon's own files fit, and it says so. (The test's environment goes
  // along: sanitizer settings reach the daemon.)
  char** end = environ;
  while (*end != nullptr) ++end;
  ChildProcess daemon({"/bin/sh", "-c",
                       "ulimit -n 200 && exec \"$0\" serve --data \"$1\" --listen 127.0.0.1:0 "
                       "--insecure-no-auth",
                       LUMBUNGD, dir.file("data")},
                      std::vector<std::string>(environ, end), dir.path());
  const std::optional<std::string> line =
      daemon.read_line(Deadline::clock::now() + DaemonProcess::kStartTimeout);
  REQUIRE(line);
  CHECK(line->starts_with("lumbungd listening on "));
  daemon.send_signal(SIGTERM);
  const std::optional<ProcessResult> stopped =
      daemon.wait(Deadline::clock::now() + DaemonProcess::kStopTimeout);
  REQUIRE(stopped);
  CHECK(stopped->exit_code == 0);
  CHECK(stopped->err.find("serving 136 connections, not 1024") != std::string::npos);
}

TEST_CASE("lumbungd dump of an empty server prints every table empty", "[integration]") {
  TempDir dir;
  const std::string data = dir.file("data");
  DaemonProcess(LUMBUNGD, data, {"--insecure-no-auth"}).terminate();  // creates the store

  const ProcessResult dump = run_lumbungd({"dump", "--data", data});
  REQUIRE(dump.exit_code == 0);
  CHECK(dump.out.ends_with("}\n"));
  const nlohmann::json tables = nlohmann::json::parse(dump.out);
  REQUIRE(tables.is_object());
  CHECK(tables.contains("village"));
  for (const auto& [table, rows] : tables.items()) {
    INFO(table);
    CHECK(rows == nlohmann::json::object());
  }

  const ProcessResult missing = run_lumbungd({"dump", "--data", dir.file("nowhere")});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.starts_with("lumbungd: NotFound: "));
  CHECK_FALSE(std::filesystem::exists(dir.file("nowhere")));
}

TEST_CASE("lumbungd --help and usage errors", "[integration]") {
  for (const std::vector<std::string>& help : {std::vector<std::string>{"--help"},
                                               {"serve", "--help"},
                                               {"dump", "-h"},
                                               {"serve", "--data", "x", "--bogus", "--help"}}) {
    const ProcessResult result = run_lumbungd(help);
    INFO(help.front() << " " << help.back());
    CHECK(result.exit_code == 0);
    CHECK(result.out.starts_with("usage: lumbungd"));
  }
  TempDir dir;
  const std::string data = dir.file("data");
  for (const std::vector<std::string>& usage :
       {std::vector<std::string>{},
        {"start"},
        {"serve"},
        {"dump"},
        {"serve", "--data"},
        {"serve", "--data", data, "--listen", "8787"},
        {"serve", "--data", data, "--listen", "127.0.0.1:99999"},
        {"serve", "--data", data, "--threads", "0"},
        {"serve", "--data", data, "--max-clock-skew", "soon"},
        {"serve", "--data", data, "--village", "v1"},
        {"dump", "--data", data, "extra"},
        {"dump", "--data", data, "--data", data}}) {
    const ProcessResult result = run_lumbungd(usage);
    INFO(nlohmann::json(usage).dump());
    CHECK(result.exit_code == 2);
    CHECK(result.err.starts_with("lumbungd: "));
    CHECK(result.out.empty());
  }
  CHECK_FALSE(std::filesystem::exists(data));  // a usage error changes nothing
}

TEST_CASE("lumbungd --version prints its release, revision, protocol and schema versions",
          "[integration]") {
  const Result<core::Schema> builtin =
      core::load_schema(core::builtin_schema_text(), "built-in schema");
  REQUIRE(builtin.is_ok());
  const ProcessResult result = run_lumbungd({"--version"});
  CHECK(result.exit_code == 0);
  CHECK(result.err.empty());
  std::vector<std::string> lines;
  for (std::size_t start = 0, end; (end = result.out.find('\n', start)) != std::string::npos;
       start = end + 1) {
    lines.push_back(result.out.substr(start, end - start));
  }
  INFO(result.out);
  REQUIRE(lines.size() == 5);
  // "lumbungd MAJOR.MINOR.PATCH"
  REQUIRE(lines[0].starts_with("lumbungd "));
  const std::string release = lines[0].substr(9);
  CHECK(std::count(release.begin(), release.end(), '.') == 2);
  CHECK(release.find_first_not_of("0123456789.") == std::string::npos);
  // A `git describe` (hash, tag, -dirty) or "unknown": one word.
  REQUIRE(lines[1].starts_with("revision: "));
  CHECK(lines[1].size() > 10);
  CHECK(lines[1].find(' ', 10) == std::string::npos);
  CHECK(lines[2] == "protocol: " + std::to_string(protocol::kProtocolVersion));
  CHECK(lines[3] == "schema format: lumbung-schema/1");
  CHECK(lines[4] == "built-in schema: " + builtin->name + " " + std::to_string(builtin->version));
  CHECK(lines[4] == "built-in schema: desmigratif 1");

  // Alone on the line: anything after it is a usage error.
  const ProcessResult extra = run_lumbungd({"--version", "serve"});
  CHECK(extra.exit_code == 2);
  CHECK(extra.err.starts_with("lumbungd: --version takes no arguments"));
  CHECK(extra.out.empty());
  // The program's help points at it.
  CHECK(run_lumbungd({"--help"}).out.find("'lumbungd --version' prints") != std::string::npos);
}

TEST_CASE("lumbungd fails with status 1 when its port is taken", "[integration]") {
  TempDir dir;
  DaemonProcess first(LUMBUNGD, dir.file("first"), {"--insecure-no-auth"});
  const std::string address = first.url().substr(std::string_view("http://").size());
  const ProcessResult second =
      run_lumbungd({"serve", "--data", dir.file("second"), "--listen", address});
  CHECK(second.exit_code == 1);
  CHECK(second.err.find("cannot listen on") != std::string::npos);
}

TEST_CASE("a push and a pull travel through lumbungd", "[integration]") {
  TempDir dir;
  const std::string data = dir.file("data");
  {
    DaemonProcess daemon(LUMBUNGD, data, {"--insecure-no-auth"});
    Device ani(transport_to(daemon), "device-ani");
    Device budi(transport_to(daemon), "device-budi");

    const v1::PushResponse pushed = value_of(ani.insert_household("h1", "Tarsono"));
    REQUIRE(pushed.outcomes_size() == 1);
    CHECK(pushed.outcomes(0).outcome() == v1::OUTCOME_APPLIED);

    CHECK(row_ids(value_of(budi.pull(0))) == std::vector<std::string>{"h1"});

    // Budi is caught up: his long poll waits until Ani's next push commits.
    std::future<Result<v1::PullPage>> waiting =
        std::async(std::launch::async, [&] { return budi.pull(30); });
    CHECK(waiting.wait_for(200ms) == std::future_status::timeout);
    value_of(ani.insert_household("h2", "Warsih"));
    REQUIRE(waiting.wait_for(10s) == std::future_status::ready);
    CHECK(row_ids(value_of(waiting.get())) == std::vector<std::string>{"h2"});

    // With nothing new, a short long poll ends empty when its wait runs out.
    const auto started = std::chrono::steady_clock::now();
    CHECK(value_of(budi.pull(1)).rows_size() == 0);
    CHECK(std::chrono::steady_clock::now() - started >= 900ms);

    const std::optional<ProcessResult> stopped = daemon.terminate(SIGTERM);
    REQUIRE(stopped);
    CHECK(stopped->exit_code == 0);
    CHECK(stopped->err.find(" WARN config message=\"--insecure-no-auth:") != std::string::npos);
  }
  const ProcessResult dump = run_lumbungd({"dump", "--data", data, "--village", "v1"});
  REQUIRE(dump.exit_code == 0);
  const nlohmann::json state = nlohmann::json::parse(dump.out);
  CHECK(state["household"]["h1"]["head_name"] == "Tarsono");
  CHECK(state["household"]["h2"]["head_name"] == "Warsih");
}

TEST_CASE("SIGTERM answers a waiting long poll, then lumbungd exits 0", "[integration]") {
  TempDir dir;
  DaemonProcess daemon(LUMBUNGD, dir.file("data"), {"--insecure-no-auth"});
  Device budi(transport_to(daemon), "device-budi");
  value_of(budi.pull(0));  // caught up: the next pull waits

  std::future<Result<v1::PullPage>> waiting =
      std::async(std::launch::async, [&] { return budi.pull(30); });
  CHECK(waiting.wait_for(300ms) == std::future_status::timeout);
  const auto stopping = std::chrono::steady_clock::now();
  const std::optional<ProcessResult> stopped = daemon.terminate(SIGTERM);
  REQUIRE(stopped);
  CHECK(stopped->exit_code == 0);
  REQUIRE(waiting.wait_for(0s) == std::future_status::ready);  // answered before the exit
  CHECK(value_of(waiting.get()).rows_size() == 0);
  CHECK(std::chrono::steady_clock::now() - stopping < 10s);
}

}  // namespace
}  // namespace lumbung::test
