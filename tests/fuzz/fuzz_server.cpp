// Fuzzes the daemon's request handling: SyncServer::handle with an HTTP
// request made from the input (request_text.hpp), against real stores in a
// temporary directory made once per process. Every request goes to a server
// with insecure_no_auth that starts from FuzzWorld's state; one carrying an
// Authorization header also goes to a second server that checks tokens, with
// "$TOKEN" in the header replaced by a supervisor's token for village A that
// this server issued.
//
// Checks: the responder is called exactly once (a long poll is ended by moving
// the clock past the longest wait); the status is one docs/protocol.md lists
// for a healthy server (never 500 or 503: the store is on a working disk and
// the server is not stopping); a 200 carries the path's response message and
// any other status an Error whose code maps to it (a 200 of /metrics is
// Prometheus text, never served to the supervisor's token); the insecure server never
// answers 401 or 403.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "auth/token_authority.hpp"
#include "fuzz_check.hpp"
#include "fuzz_world.hpp"
#include "protocol/wire.hpp"
#include "request_text.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::HttpRequest;
using lumbung::HttpResponse;
using lumbung::Result;
using lumbung::server::SyncServer;
namespace v1 = lumbung::v1;

constexpr std::string_view kTokenPlaceholder = "$TOKEN";
constexpr std::size_t kMaxResponseBytes = 64u << 20;

struct Servers {
  Servers() {
    lumbung::server::ServerOptions options;
    options.data_dir = auth_dir.file("server");
    options.clock = world.shared_clock();
    Result<std::unique_ptr<SyncServer>> opened = SyncServer::open(options);
    lumbung::fuzz::require(opened.status(), "authenticating server");
    authenticating = std::move(opened).value();
    auto authority = lumbung::auth::TokenAuthority::open(options.data_dir, world.shared_clock());
    lumbung::fuzz::require(authority.status(), "token authority");
    lumbung::auth::TokenRequest request;
    request.officer = "rina";
    request.role = lumbung::auth::Role::kSupervisor;
    request.villages = {lumbung::fuzz::kVillageA};
    auto issued = (*authority)->issue(request);
    lumbung::fuzz::require(issued.status(), "token");
    token = issued->token;
  }

  lumbung::fuzz::FuzzWorld world;
  lumbung::test::TempDir auth_dir;
  std::unique_ptr<SyncServer> authenticating;
  std::string token;
};

Servers& servers() {
  static Servers servers;  // made on the first input; its directories removed at exit
  return servers;
}

bool decodes_as(const HttpResponse& response, google::protobuf::MessageLite* message) {
  return lumbung::protocol::decode_body(response.headers, response.body, kMaxResponseBytes, message)
      .is_ok();
}

void check_response(const HttpRequest& request, const HttpResponse& response, bool authenticating) {
  const std::string what =
      request.method + " " + request.target + " -> " + std::to_string(response.status);
  static const std::set<int> kHealthy = {200, 400, 401, 403, 404, 405, 409, 413};
  LUMBUNG_FUZZ_CHECK(kHealthy.count(response.status) == 1, what);
  if (!authenticating) {
    LUMBUNG_FUZZ_CHECK(response.status != 401 && response.status != 403, what);
  }
  const std::string_view path =
      std::string_view(request.target).substr(0, request.target.find('?'));
  if (response.status == 200) {
    if (path == "/healthz") {
      LUMBUNG_FUZZ_CHECK(response.body == "ok", what);
    } else if (path == "/metrics") {
      // Prometheus text; the authenticating server serves it to an admin only,
      // and the harness's token is a supervisor's.
      LUMBUNG_FUZZ_CHECK(!authenticating, what);
      LUMBUNG_FUZZ_CHECK(response.body.find("# TYPE ") != std::string::npos, what);
    } else if (path == "/v1/push") {
      v1::PushResponse message;
      LUMBUNG_FUZZ_CHECK(decodes_as(response, &message), what);
    } else if (path == "/v1/pull") {
      v1::PullPage message;
      LUMBUNG_FUZZ_CHECK(decodes_as(response, &message), what);
    } else if (path == "/v1/snapshot") {
      v1::SnapshotResponse message;
      LUMBUNG_FUZZ_CHECK(decodes_as(response, &message), what);
    } else {
      v1::ResolveResponse message;
      LUMBUNG_FUZZ_CHECK(path == "/v1/resolve" && decodes_as(response, &message), what);
    }
    return;
  }
  v1::Error error;
  LUMBUNG_FUZZ_CHECK(decodes_as(response, &error) && error.code() != 0, what);
  const auto code = static_cast<ErrorCode>(error.code());
  const bool wrong_method = response.status == 405 && code == ErrorCode::kProtocol;
  LUMBUNG_FUZZ_CHECK(wrong_method || lumbung::protocol::http_status_for(code) == response.status,
                     what + " with " + error.name());
}

void handle(SyncServer& server, const HttpRequest& request, bool authenticating) {
  struct Answer {
    std::atomic<int> calls{0};
    std::promise<HttpResponse> promise;
  };
  auto answer = std::make_shared<Answer>();
  std::future<HttpResponse> answered = answer->promise.get_future();
  server.handle(request, [answer](HttpResponse response) {
    LUMBUNG_FUZZ_CHECK(++answer->calls == 1, "a second response");
    answer->promise.set_value(std::move(response));
  });
  const auto ready = [&answered](std::chrono::seconds within) {
    return answered.wait_for(within) == std::future_status::ready;
  };
  // A push is answered from the server's commit thread, once it is durable.
  const std::string_view target = request.target;
  if (target.substr(0, target.find('?')) == "/v1/push") ready(std::chrono::seconds(30));
  if (!ready(std::chrono::seconds(0))) {
    // A long poll: move past its longest wait and back, so that time does not
    // run on across inputs (tokens would expire).
    lumbung::test::FakeClock& clock = servers().world.clock();
    const std::int64_t wait_ms = 61 * 1000;  // ServerOptions.max_wait_seconds + 1
    clock.advance(wait_ms);
    server.tick();
    clock.advance(-wait_ms);
  }
  LUMBUNG_FUZZ_CHECK(ready(std::chrono::seconds(0)),
                     "no response to " + request.method + " " + request.target);
  check_response(request, answered.get(), authenticating);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Servers& all = servers();
  HttpRequest request = lumbung::fuzz::parse_request_text(
      std::string_view(reinterpret_cast<const char*>(data), size));
  handle(all.world.server(), request, false);
  if (!lumbung::find_header(request.headers, "Authorization")) return 0;
  for (auto& [name, value] : request.headers) {
    const std::size_t at = value.find(kTokenPlaceholder);
    if (at != std::string::npos) value.replace(at, kTokenPlaceholder.size(), all.token);
  }
  handle(*all.authenticating, request, true);
  return 0;
}
