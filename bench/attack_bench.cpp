// Attack: for S seconds an attacker process does at once what issue 17 found
// costly, against one real lumbungd over loopback, while N honest simulated
// phones (simulated_devices.hpp) sync through it:
//
//   - amplified bodies: a ~1 KB zstd body that inflates to 16 MiB of empty
//     changes, sent without a token and with the attacker's own;
//   - a push of a million changes with the attacker's token;
//   - 2,000 sockets held open: 1,000 that never send a byte, from eight
//     addresses, and 1,000 that send a header announcing a 16 MB body and
//     then stall, from two;
//   - 1,000 long polls with the attacker's token, each hanging up after a
//     second.
// The attacker is an insider: an officer with a valid token for one of the
// honest devices' villages. Its threads open a connection per request, as
// fast as the daemon answers, and reopen the sockets the daemon closes.
//
//   build/bench/attack_bench [--devices N] [--seconds S] [--think-ms M]
//                            [--attacks LIST]
//   (default: N = 100, S = 60, M = 5000; LIST: all of
//   amplified,million,sockets,polls, or some of them, to see what each costs)
//
// Passes (exit 0) when the honest devices saw no error, their pushes' p99
// stayed under 1 s and the daemon's peak RSS under 512 MiB (issue 17, item 6).
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lumbung/v1/sync.pb.h"
#include "measure.hpp"
#include "net/raw_tcp.hpp"
#include "protocol/wire.hpp"
#include "simulated_devices.hpp"
#include "support/daemon_process.hpp"
#include "support/subprocess.hpp"

namespace {

using namespace lumbung::bench;
using lumbung::test::after;
using lumbung::test::http_text;
using lumbung::test::RawConnection;
using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "attack_bench: %s\n", what.c_str());
  std::exit(1);
}

// --- the attacker ---

// How often each attack got each HTTP status (0: the connection closed
// unanswered), printed by the attacker at the end.
class Outcomes {
 public:
  void count(const std::string& attack, int status) {
    std::lock_guard lock(mu_);
    ++counts_[attack][status];
  }
  void print() {
    std::lock_guard lock(mu_);
    for (const auto& [attack, statuses] : counts_) {
      std::printf("  %-24s", attack.c_str());
      for (const auto& [status, count] : statuses) {
        std::printf(" %s %lld", status == 0 ? "closed" : std::to_string(status).c_str(),
                    static_cast<long long>(count));
      }
      std::printf("\n");
    }
    std::fflush(stdout);
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::map<int, std::int64_t>> counts_;
};

struct Attacker {
  std::uint16_t port = 0;
  std::string token;
  std::string village;
  SteadyClock::time_point end;
  Outcomes outcomes;
};

std::uint32_t schema_version() { return load_workload().schema_version; }

lumbung::v1::RequestHeader request_header(const std::string& device) {
  lumbung::v1::RequestHeader header;
  header.set_protocol_version(lumbung::protocol::kProtocolVersion);
  header.set_schema_version(schema_version());
  header.set_device_id(device);
  return header;
}

// The status of the HTTP response at the start of `answer`; 0 when none.
int status_of(const std::string& answer) {
  if (answer.rfind("HTTP/1.1 ", 0) != 0 || answer.size() < 12) return 0;
  return std::atoi(answer.c_str() + 9);
}

// Sends `request` on a new connection from 127.0.0.`from` and reads the
// answer's status line; the connection is closed after.
int exchange(std::uint16_t port, std::uint8_t from, const std::string& request) {
  try {
    RawConnection connection = RawConnection::connect(port, from);
    if (!connection.send(request)) return 0;
    return status_of(connection.read(after(std::chrono::seconds(30)), "\r\n\r\n"));
  } catch (const std::system_error&) {
    return 0;  // refused at connect (the listen queue was full)
  }
}

// 16 MiB of empty `changes` (field 4, length 0) of a PushRequest, compressed:
// a kilobyte or so on the wire, eight million messages once parsed.
std::string amplified_body() {
  const std::string decoded(std::size_t{16} << 20, '\0');
  std::string empty_changes = decoded;
  for (std::size_t i = 0; i < empty_changes.size(); i += 2) empty_changes[i] = '\x22';
  std::string frame(ZSTD_compressBound(empty_changes.size()), '\0');
  const std::size_t size =
      ZSTD_compress(frame.data(), frame.size(), empty_changes.data(), empty_changes.size(), 19);
  if (ZSTD_isError(size)) fail(std::string("zstd: ") + ZSTD_getErrorName(size));
  frame.resize(size);
  return frame;
}

void send_amplified(Attacker& attacker, bool with_token) {
  const std::string body = amplified_body();
  const std::string request =
      http_text({"POST",
                 "/v1/push",
                 {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "zstd"}},
                 body},
                with_token ? attacker.token : "");
  const std::string name = with_token ? "amplified, token" : "amplified, anonymous";
  while (SteadyClock::now() < attacker.end) {
    attacker.outcomes.count(name, exchange(attacker.port, 2, request));
  }
}

// A million updates of rows of the attacker's village, each refused (no
// such row): the body compresses to a couple of megabytes.
void send_million_changes(Attacker& attacker) {
  lumbung::v1::PushRequest push;
  *push.mutable_header() = request_header("device-mallory-1");
  push.set_batch(1);
  lumbung::v1::TableColumns* table = push.add_tables();
  table->set_table("person");
  table->add_columns("phone");
  for (std::uint32_t id = 1; id <= 1000000; ++id) {
    lumbung::v1::Change* change = push.add_changes();
    change->set_id(id);
    change->set_row_id("r" + std::to_string(id));
    change->set_op(lumbung::v1::CHANGE_OP_UPDATE);
    change->add_columns(0);
    change->add_values()->set_text("+62");
  }
  const std::string request =
      http_text(lumbung::protocol::make_request("/v1/push", push), attacker.token);
  while (SteadyClock::now() < attacker.end) {
    attacker.outcomes.count("million changes", exchange(attacker.port, 3, request));
  }
}

// Keeps `count` sockets open from the addresses 127.0.0.`first`..., each
// sending `opening` once (nothing: idle), reopening those the daemon closes.
void hold_sockets(Attacker& attacker, const std::string& name, int count, std::uint8_t first,
                  int addresses, const std::string& opening) {
  std::vector<std::optional<RawConnection>> sockets(static_cast<std::size_t>(count));
  while (SteadyClock::now() < attacker.end) {
    for (std::size_t i = 0; i < sockets.size() && SteadyClock::now() < attacker.end; ++i) {
      std::optional<RawConnection>& socket = sockets[i];
      if (socket) {
        // Whatever the daemon sent (a 503, a 408) and closed: gone.
        const std::string answer = socket->read(after(std::chrono::milliseconds(0)));
        if (!socket->closed()) continue;
        attacker.outcomes.count(name, status_of(answer));
        socket.reset();
      }
      try {
        socket.emplace(RawConnection::connect(
            attacker.port,
            static_cast<std::uint8_t>(first + i % static_cast<std::size_t>(addresses))));
        if (!opening.empty()) socket->send(opening);
      } catch (const std::system_error&) {
        attacker.outcomes.count(name, 0);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a pace, not a wait
  }
}

// Long polls of the attacker's village that hang up a second after asking.
void hang_up_long_polls(Attacker& attacker) {
  lumbung::v1::PullRequest pull;
  *pull.mutable_header() = request_header("device-mallory-2");
  pull.set_wait_seconds(60);
  lumbung::HttpRequest encoded = lumbung::protocol::make_request("/v1/pull", pull);
  encoded.headers.emplace_back(lumbung::kLongPollWaitHeader, "60");
  const std::string request = http_text(encoded, attacker.token);
  constexpr int kPolls = 1000;
  while (SteadyClock::now() < attacker.end) {
    std::vector<RawConnection> polls;
    for (int i = 0; i < kPolls; ++i) {
      try {
        polls.push_back(
            RawConnection::connect(attacker.port, static_cast<std::uint8_t>(20 + i % 2)));
        polls.back().send(request);
      } catch (const std::system_error&) {
        attacker.outcomes.count("long polls", 0);
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the attack: hang up after a second
    for (RawConnection& poll : polls) {
      const std::string answer = poll.read(after(std::chrono::milliseconds(0)));
      attacker.outcomes.count("long polls", answer.empty() ? -1 : status_of(answer));
    }
  }
}

int run_attacker(std::uint16_t port, const std::string& token, std::chrono::seconds duration,
                 const std::string& attacks) {
  const auto chosen = [&](const char* attack) {
    return ("," + attacks + ",").find(std::string(",") + attack + ",") != std::string::npos;
  };
  Attacker attacker;
  attacker.port = port;
  attacker.token = token;
  attacker.end = SteadyClock::now() + duration;
  const std::string stalled = http_text(
      {"POST", "/v1/push", {{"Content-Type", "application/x-protobuf"}}, "x"}, token, 16000000);
  std::vector<std::thread> threads;
  if (chosen("amplified")) {
    threads.emplace_back([&] { send_amplified(attacker, false); });
    threads.emplace_back([&] { send_amplified(attacker, true); });
  }
  if (chosen("million")) threads.emplace_back([&] { send_million_changes(attacker); });
  if (chosen("sockets")) {
    threads.emplace_back([&] { hold_sockets(attacker, "idle sockets", 1000, 4, 8, ""); });
    threads.emplace_back([&] { hold_sockets(attacker, "stalled bodies", 1000, 12, 2, stalled); });
  }
  if (chosen("polls")) threads.emplace_back([&] { hang_up_long_polls(attacker); });
  for (std::thread& thread : threads) thread.join();
  attacker.outcomes.print();
  return 0;
}

// --- the run ---

struct Settings {
  int devices = 100;
  std::chrono::seconds duration{60};
  std::chrono::milliseconds think{5000};
  std::string attacks = "amplified,million,sockets,polls";
};

int run(const std::string& self, const Settings& settings) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("lumbung-attack-bench-" + std::to_string(::getpid())))
                              .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::vector<Identity> honest =
      issue_identities(LUMBUNGD, dir, "honest", settings.devices, 10);
  const Identity mallory = issue_identities(LUMBUNGD, dir, "mallory", 1, 1).front();
  lumbung::test::DaemonProcess daemon(LUMBUNGD, dir);
  const boost::asio::ip::tcp::endpoint endpoint = endpoint_of(daemon.url());

  const SteadyClock::time_point start = SteadyClock::now();
  lumbung::test::ChildProcess attacker(
      {self, "--attacker", std::to_string(endpoint.port()), mallory.token,
       std::to_string(settings.duration.count()), settings.attacks},
      {}, dir);
  boost::asio::io_context io;
  Tally tally;
  const Workload workload = load_workload();
  const SimulatedDevices devices(io, endpoint, honest, workload, settings.think,
                                 start + settings.duration, true, tally);
  io.run();
  const std::optional<lumbung::test::ProcessResult> attacked =
      attacker.wait(after(std::chrono::seconds(60)));
  const double wall = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const long daemon_peak_kib = peak_rss_kib(daemon.pid());
  const double daemon_cpu = cpu_seconds(daemon.pid());
  daemon.terminate();
  std::filesystem::remove_all(dir);

  const double push_p99 = percentile(tally.push_ms, 0.99);
  std::printf("\n%d honest devices, think %lld ms, under attack for %.1f s\n", settings.devices,
              static_cast<long long>(settings.think.count()), wall);
  std::printf("  honest        %zu pushes, %zu pulls, %lld changes pushed, %lld rows pulled\n",
              tally.push_ms.size(), tally.pull_ms.size(),
              static_cast<long long>(tally.changes_pushed),
              static_cast<long long>(tally.rows_pulled));
  std::printf("  push latency  p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              percentile(tally.push_ms, 0.5), push_p99, percentile(tally.push_ms, 1.0));
  std::printf("  pull latency  p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              percentile(tally.pull_ms, 0.5), percentile(tally.pull_ms, 0.99),
              percentile(tally.pull_ms, 1.0));
  std::printf("  errors        %lld\n", static_cast<long long>(tally.errors));
  for (const std::string& error : tally.first_errors) std::printf("    %s\n", error.c_str());
  std::printf("  lumbungd      peak RSS %.1f MiB, CPU %.1f s\n", daemon_peak_kib / 1024.0,
              daemon_cpu);
  std::printf(
      "  attacker      answers by HTTP status (closed: none; -1: a long poll still held "
      "when it hung up)\n%s",
      attacked ? attacked->out.c_str() : "    did not finish in time\n");
  const bool passed = attacked && attacked->exit_code == 0 && tally.errors == 0 &&
                      push_p99 < 1000 && daemon_peak_kib < 512 * 1024;
  std::printf("  %s (0 honest errors, push p99 < 1000 ms, peak RSS < 512 MiB)\n",
              passed ? "PASSED" : "FAILED");
  std::fflush(stdout);
  return passed ? 0 : 1;
}

long parse_positive(const char* flag, const char* text) {
  const std::optional<long> value = positive_number(text);
  if (!value) fail(std::string("malformed ") + flag);
  return *value;
}

}  // namespace

int main(int argc, char** argv) {
  raise_open_files_limit();  // sockets by the thousand
  if (argc == 6 && std::string(argv[1]) == "--attacker") {
    return run_attacker(static_cast<std::uint16_t>(parse_positive("port", argv[2])), argv[3],
                        std::chrono::seconds(parse_positive("seconds", argv[4])), argv[5]);
  }
  Settings settings;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 == argc) {
      fail("usage: attack_bench [--devices N] [--seconds S] [--think-ms M] [--attacks LIST]");
    }
    if (flag == "--attacks") {
      settings.attacks = argv[i + 1];
      continue;
    }
    const long value = parse_positive(argv[i], argv[i + 1]);
    if (flag == "--devices") {
      settings.devices = static_cast<int>(value);
    } else if (flag == "--seconds") {
      settings.duration = std::chrono::seconds(value);
    } else if (flag == "--think-ms") {
      settings.think = std::chrono::milliseconds(value);
    } else {
      fail("unknown option " + flag);
    }
  }
  std::printf("attack_bench: honest devices and an attacker against one lumbungd\n");
  return run(std::filesystem::read_symlink("/proc/self/exe").string(), settings);
}
