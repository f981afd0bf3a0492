// Hostile input against a real lumbungd with tokens (docs/security.md): each
// attack is refused cleanly with its error, changes nothing, and honest
// officers' devices keep syncing to completion while the attacks run.
#include <zstd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/household_push.hpp"
#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "net/raw_tcp.hpp"
#include "protocol/wire.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kVillageA = "desa-a";
constexpr const char* kVillageB = "desa-b";

// `lumbungd token`: the token (stdout's first line) and its id (from stderr).
struct Issued {
  std::string token;
  std::string token_id;
};
Issued issue(const std::string& data, const std::string& officer, const std::string& villages) {
  const ProcessResult result =
      run_lumbungd({"token", "--data", data, "--officer", officer, "--villages", villages});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  Issued issued;
  issued.token = result.out.substr(0, result.out.find('\n'));
  const std::string label = "token id: ";
  const std::size_t at = result.err.find(label);
  REQUIRE(at != std::string::npos);
  issued.token_id = result.err.substr(at + label.size(), 32);
  return issued;
}

v1::RequestHeader header(const std::string& device) {
  v1::RequestHeader header;
  header.set_protocol_version(protocol::kProtocolVersion);
  header.set_schema_version(1);
  header.set_device_id(device);
  return header;
}

// A push of one household into `village`, numbered `batch`.
v1::PushRequest household_push(const std::string& device, std::uint64_t batch,
                               const std::string& row_id, const std::string& village) {
  return test::household_push(header(device), batch, row_id, village, "Mallory");
}

// A zstd frame that inflates to `bytes` zeros: a few kilobytes on the wire.
std::string zstd_bomb(std::size_t bytes) {
  ZSTD_CCtx* context = ZSTD_createCCtx();
  const std::string zeros(1u << 20, '\0');
  std::string frame(ZSTD_CStreamOutSize(), '\0');
  std::string out;
  for (std::size_t fed = 0; fed < bytes; fed += zeros.size()) {
    ZSTD_inBuffer in{zeros.data(), zeros.size(), 0};
    const ZSTD_EndDirective mode = fed + zeros.size() >= bytes ? ZSTD_e_end : ZSTD_e_continue;
    for (bool done = false; !done;) {
      ZSTD_outBuffer chunk{frame.data(), frame.size(), 0};
      const std::size_t left = ZSTD_compressStream2(context, &chunk, &in, mode);
      out.append(frame.data(), chunk.pos);
      done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
    }
  }
  ZSTD_freeCCtx(context);
  return out;
}

// What one attack got back: the HTTP status and the error's code, or the
// transport's failure.
struct Answer {
  int status = 0;
  ErrorCode code = ErrorCode::kOk;
  HttpResponse response;
};

bool decode(const Answer& answer, google::protobuf::MessageLite* message) {
  return protocol::decode_body(answer.response.headers, answer.response.body, 64u << 20, message)
      .is_ok();
}

class Attacker {
 public:
  explicit Attacker(const std::string& url) {
    Result<std::shared_ptr<Transport>> transport = make_http_transport(url);
    if (!transport.is_ok()) throw std::runtime_error(transport.status().to_string());
    transport_ = std::move(transport).value();
  }

  Answer send(HttpRequest request, const std::string& token) {
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    Result<HttpResponse> response = transport_->exchange(request);
    if (!response.is_ok()) return {0, response.status().code(), {}};
    Answer answer{response->status, ErrorCode::kOk, *response};
    if (response->status != 200) answer.code = protocol::status_from_response(*response).code();
    return answer;
  }

 private:
  std::shared_ptr<Transport> transport_;
};

// An honest officer's phone: registers households and syncs, round after
// round; returns the first failure, if any (it runs on a thread of its own).
std::string honest_officer(const std::string& path, const std::string& device,
                           const std::string& url, const std::string& token,
                           const std::string& village, int rounds) {
  ReplicaOptions options = options_for(path);
  options.device_id = device;
  options.server_url = url;
  options.token = token;
  Result<std::unique_ptr<Replica>> replica = Replica::open(options);
  if (!replica.is_ok()) return replica.status().to_string();
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < 5; ++i) {
      const Row household = {{"village_id", village},
                             {"head_name", device + " household " + std::to_string(i)},
                             {"created_by", device},
                             {"created_at", "2026-11-28T08:00:00Z"}};
      Result<std::string> id = (*replica)->insert_new("household", household);
      if (!id.is_ok()) return id.status().to_string();
    }
    Result<SyncSummary> synced = (*replica)->sync();
    if (!synced.is_ok()) return device + ": sync: " + synced.status().to_string();
    if (synced->refused != 0) return device + ": a change was refused";
  }
  return {};
}

std::string dump_of(const std::string& path) {
  Result<std::unique_ptr<Replica>> replica = Replica::open(options_for(path));
  if (!replica.is_ok()) return replica.status().to_string();
  Result<std::string> dump = (*replica)->dump_json();
  return dump.is_ok() ? *dump : dump.status().to_string();
}

TEST_CASE("hostile requests are refused cleanly while honest devices sync", "[integration][auth]") {
  TempDir dir;
  const std::string data = dir.file("data");
  const Issued sri = issue(data, "sri", kVillageA);
  const Issued ani = issue(data, "ani", kVillageB);
  const Issued eve = issue(data, "eve", kVillageA);
  const Issued revoked = issue(data, "mallory", kVillageA);
  REQUIRE(run_lumbungd({"revoke", "--data", data, "--token-id", revoked.token_id}).exit_code == 0);
  DaemonProcess daemon(LUMBUNGD, data);
  const std::uint16_t port =
      static_cast<std::uint16_t>(std::stoi(daemon.url().substr(daemon.url().rfind(':') + 1)));

  // Both phones exist and are bound to their tokens before the attacks.
  REQUIRE(honest_officer(dir.file("sri.db"), "sri-phone", daemon.url(), sri.token, kVillageA, 1)
              .empty());
  REQUIRE(honest_officer(dir.file("ani.db"), "ani-phone", daemon.url(), ani.token, kVillageB, 1)
              .empty());

  // Connections that hold resources: idle ones, and headers that never end.
  std::vector<RawConnection> held;
  for (int i = 0; i < 200; ++i) held.push_back(RawConnection::connect(port));
  for (int i = 0; i < 20; ++i) {
    RawConnection& trickler = held.emplace_back(RawConnection::connect(port));
    trickler.send("POST /v1/push HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }

  auto sri_phone = std::async(std::launch::async, [&] {
    return honest_officer(dir.file("sri.db"), "sri-phone", daemon.url(), sri.token, kVillageA, 4);
  });
  auto ani_phone = std::async(std::launch::async, [&] {
    return honest_officer(dir.file("ani.db"), "ani-phone", daemon.url(), ani.token, kVillageB, 4);
  });

  Attacker attacker(daemon.url());
  const HttpRequest eve_push =
      protocol::make_request("/v1/push", household_push("eve-phone", 1, "h-eve", kVillageA));
  const HttpRequest pull_b = [&] {
    v1::PullRequest pull;
    *pull.mutable_header() = header("eve-phone");
    v1::ScopeCursor* cursor = pull.add_cursors();
    cursor->set_scope(kVillageB);
    return protocol::make_request("/v1/pull", pull);
  }();
  std::string forged = eve.token;  // a signature byte changed
  char& flipped = forged[forged.size() - 20];
  flipped = flipped == 'A' ? 'B' : 'A';

  SECTION("requests without a valid token") {
    CHECK(attacker.send(eve_push, "").code == ErrorCode::kTokenMissing);
    CHECK(attacker.send(eve_push, "lbt1.garbage").code == ErrorCode::kTokenMalformed);
    CHECK(attacker.send(eve_push, forged).code == ErrorCode::kTokenForged);
    CHECK(attacker.send(eve_push, revoked.token).code == ErrorCode::kTokenRevoked);
    CHECK(attacker.send(pull_b, "").status == 401);
  }
  SECTION("requests refused from their header, before a byte of their body") {
    // Each announces a body it never sends: the answer can only come from
    // the header (the daemon would wait minutes for the body otherwise).
    const std::string body_to_come = "Content-Length: 10000000\r\n\r\n";
    const struct {
      std::string request;
      std::string answer;
    } refused[] = {
        {"POST /v1/push HTTP/1.1\r\nHost: x\r\n", "HTTP/1.1 401"},
        {"POST /v1/pull HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + forged + "\r\n",
         "HTTP/1.1 401"},
        {"POST /v1/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + revoked.token + "\r\n",
         "HTTP/1.1 401"},
        {"POST /v1/nowhere HTTP/1.1\r\nHost: x\r\n", "HTTP/1.1 404"},
        {"PUT /v1/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + eve.token + "\r\n",
         "HTTP/1.1 405"},
    };
    for (const auto& [request, expected] : refused) {
      INFO(request);
      RawConnection connection = RawConnection::connect(port);
      REQUIRE(connection.send(request + body_to_come));
      const std::string answer = connection.read(after(10s));
      CHECK(answer.rfind(expected, 0) == 0);
      CHECK(connection.closed());
    }
  }
  SECTION("another device's id and batch numbers") {
    const HttpRequest replay =
        protocol::make_request("/v1/push", household_push("sri-phone", 1, "h-eve", kVillageA));
    const Answer answer = attacker.send(replay, eve.token);
    CHECK(answer.status == 403);
    CHECK(answer.code == ErrorCode::kDeviceMismatch);
  }
  SECTION("writes and reads beyond the grant") {
    const HttpRequest cross =
        protocol::make_request("/v1/push", household_push("eve-phone", 1, "h-eve", kVillageB));
    const Answer pushed = attacker.send(cross, eve.token);
    REQUIRE(pushed.status == 200);
    v1::PushResponse response;
    REQUIRE(decode(pushed, &response));
    REQUIRE(response.outcomes_size() == 1);
    CHECK(response.outcomes(0).outcome() == v1::OUTCOME_REFUSED);
    CHECK(response.outcomes(0).reason() == v1::REFUSAL_REASON_OUT_OF_SCOPE);
    const Answer pulled = attacker.send(pull_b, eve.token);
    REQUIRE(pulled.status == 200);
    v1::PullPage page;
    REQUIRE(decode(pulled, &page));
    for (const v1::RowState& row : page.rows()) CHECK(row.row_id().rfind("ani", 0) != 0);
    for (const v1::ScopeCursor& cursor : page.cursors()) CHECK(cursor.scope() != kVillageB);
  }
  SECTION("bodies that are too big, inflate too far, do not parse or stop short") {
    RawConnection huge = RawConnection::connect(port);
    huge.send("POST /v1/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + eve.token +
              "\r\nContent-Length: 100000000\r\n\r\n");
    CHECK(huge.read(after(10s), "\r\n\r\n").rfind("HTTP/1.1 413", 0) == 0);

    HttpRequest bomb = eve_push;
    bomb.body = zstd_bomb(std::size_t{2} << 30);  // two gigabytes
    REQUIRE(bomb.body.size() < 256 * 1024);       // small on the wire
    bomb.headers = {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "zstd"}};
    const Answer inflated = attacker.send(bomb, eve.token);
    CHECK(inflated.status == 413);
    CHECK(inflated.code == ErrorCode::kTooLarge);

    HttpRequest garbage = eve_push;
    garbage.body = "\x0a\xff\xff\xff\xff\x0f not protobuf";
    CHECK(attacker.send(garbage, eve.token).code == ErrorCode::kProtocol);

    RawConnection truncated = RawConnection::connect(port);
    truncated.send("POST /v1/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + eve.token +
                   "\r\nContent-Type: application/x-protobuf\r\nContent-Length: 4000\r\n\r\n" +
                   eve_push.body.substr(0, eve_push.body.size() / 2));
  }

  // The honest phones finished every round, alongside.
  REQUIRE(sri_phone.wait_for(120s) == std::future_status::ready);
  REQUIRE(ani_phone.wait_for(120s) == std::future_status::ready);
  CHECK(sri_phone.get().empty());
  CHECK(ani_phone.get().empty());
  held.clear();

  // Nothing the attacks sent is in the server's state; each phone holds
  // exactly its village.
  const std::optional<ProcessResult> stopped = daemon.terminate(SIGTERM);
  REQUIRE(stopped);
  CHECK(stopped->exit_code == 0);
  const ProcessResult all = run_lumbungd({"dump", "--data", data});
  REQUIRE(all.exit_code == 0);
  CHECK(all.out.find("h-eve") == std::string::npos);
  CHECK(all.out.find("Mallory") == std::string::npos);
  CHECK(nlohmann::json::parse(all.out)["household"].size() == 50);
  for (const auto& [phone, village] : std::vector<std::pair<std::string, std::string>>{
           {"sri.db", kVillageA}, {"ani.db", kVillageB}}) {
    const ProcessResult served = run_lumbungd({"dump", "--data", data, "--village", village});
    REQUIRE(served.exit_code == 0);
    CHECK(served.out == dump_of(dir.file(phone)) + "\n");
  }
}

// A pull of `device` that may wait `wait_seconds` for news.
HttpRequest long_poll(const std::string& device, std::uint32_t wait_seconds) {
  v1::PullRequest pull;
  *pull.mutable_header() = header(device);
  pull.set_wait_seconds(wait_seconds);
  return protocol::make_request("/v1/pull", pull);
}

TEST_CASE("a long poll whose client hung up frees its officer's slot within seconds",
          "[integration][auth]") {
  TempDir dir;
  const std::string data = dir.file("data");
  std::vector<Issued> sri;  // a token per phone: each binds to its first device
  for (int i = 0; i < 4; ++i) sri.push_back(issue(data, "sri", kVillageA));
  DaemonProcess daemon(LUMBUNGD, data, {"--max-long-polls-per-officer", "2"});
  const std::uint16_t port =
      static_cast<std::uint16_t>(std::stoi(daemon.url().substr(daemon.url().rfind(':') + 1)));

  // Nothing is new on an empty server: of three polls that may wait 60 s,
  // two wait and the last one the daemon handles is refused.
  std::vector<RawConnection> polls;
  for (std::size_t i = 0; i < 3; ++i) {
    RawConnection& poll = polls.emplace_back(RawConnection::connect(port));
    REQUIRE(poll.send(http_text(long_poll("sri-" + std::to_string(i), 60), sri[i].token)));
  }
  bool refused = false;
  for (const Deadline deadline = after(20s);
       !refused && std::chrono::steady_clock::now() < deadline;) {
    for (RawConnection& poll : polls) {
      const std::string answer = poll.read(after(20ms), "\r\n\r\n");
      if (answer.empty()) continue;
      CHECK(answer.starts_with("HTTP/1.1 429"));
      refused = true;
      break;
    }
  }
  REQUIRE(refused);
  // A fourth phone's poll of a second: refused while the two wait; held,
  // then answered empty, once a slot is free.
  Attacker fourth(daemon.url());
  const auto poll_status = [&] { return fourth.send(long_poll("sri-3", 1), sri[3].token).status; };
  CHECK(poll_status() == 429);

  // The two waiting polls' clients hang up: their slots free well before 60 s.
  polls.clear();
  const Deadline deadline = after(10s);
  int status = poll_status();
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    status = poll_status();
  }
  CHECK(status == 200);
}

TEST_CASE("an officer's pushes beyond the daemon's limits are refused, and devices adapt",
          "[integration][auth]") {
  TempDir dir;
  const std::string data = dir.file("data");
  const Issued eve = issue(data, "eve", kVillageA);
  const Issued eve_phone = issue(data, "eve", kVillageA);
  DaemonProcess daemon(LUMBUNGD, data,
                       {"--max-changes-per-push", "10", "--max-pushes-per-officer-per-second", "1",
                        "--push-burst-per-officer", "3"});
  Attacker attacker(daemon.url());

  // Eleven changes: refused whole, before the body is parsed.
  v1::PushRequest eleven = household_push("eve-laptop", 1, "h-0", kVillageA);
  for (int i = 1; i < 11; ++i) {
    v1::Change* change = eleven.add_changes();
    *change = eleven.changes(0);
    change->set_id(static_cast<std::uint32_t>(i + 1));
    change->set_row_id("h-" + std::to_string(i));
  }
  const Answer too_many = attacker.send(protocol::make_request("/v1/push", eleven), eve.token);
  CHECK(too_many.status == 413);
  CHECK(too_many.code == ErrorCode::kTooLarge);
  CHECK(protocol::status_from_response(too_many.response).message() ==
        "push of 11 changes is over the 10-change limit (serve --max-changes-per-push)");

  // Pushes faster than one a second: after the burst, 429 with Retry-After.
  std::optional<Answer> throttled;
  for (std::uint64_t batch = 1; batch <= 20 && !throttled; ++batch) {
    const Answer answer = attacker.send(
        protocol::make_request("/v1/push", household_push("eve-laptop", batch, "h-x", kVillageA)),
        eve.token);
    if (answer.status == 429) throttled = answer;
    if (!throttled) REQUIRE(answer.status == 200);
  }
  REQUIRE(throttled);
  CHECK(throttled->code == ErrorCode::kUnavailable);
  CHECK(find_header(throttled->response.headers, "Retry-After") == "1");

  // The same officer's phone, batching 1,000 changes by default, gets its 25
  // households through: it halves its batches on the 413s and waits out the
  // 429s.
  ReplicaOptions options = options_for(dir.file("eve.db"));
  options.device_id = "eve-phone";
  options.server_url = daemon.url();
  options.token = eve_phone.token;
  Result<std::unique_ptr<Replica>> replica = Replica::open(options);
  REQUIRE(replica.is_ok());
  for (int i = 0; i < 25; ++i) {
    const Row household = {{"village_id", kVillageA},
                           {"head_name", "household " + std::to_string(i)},
                           {"created_by", "eve-phone"},
                           {"created_at", "2026-11-28T08:00:00Z"}};
    REQUIRE((*replica)->insert_new("household", household).is_ok());
  }
  Result<SyncSummary> synced = (*replica)->sync();
  INFO(synced.status().to_string());
  REQUIRE(synced.is_ok());
  CHECK(synced->pushed == 25);
  CHECK(synced->applied == 25);
}

}  // namespace
}  // namespace lumbung::test
