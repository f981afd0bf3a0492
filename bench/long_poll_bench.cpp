// Long polls and the commit thread (issue 17): N long polls of one officer
// wait on village B while an office pushes households, one after the other,
// into village A; then one push into village B. In process: a real
// SyncServer on a temporary directory, tokens from its TokenAuthority.
//
//   build/bench/long_poll_bench [POLLS] [PUSHES]   (default: 1000 20)
//
// Prints the pushes' latencies into A with and without the polls waiting,
// how many polls those pushes answered, and how long the push into B took
// to answer every poll.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "auth/token_authority.hpp"
#include "integration/household_push.hpp"
#include "protocol/wire.hpp"
#include "server/sync_server.hpp"

namespace {

using namespace lumbung;
using Steady = std::chrono::steady_clock;

constexpr const char* kVillageA = "desa-a";
constexpr const char* kVillageB = "desa-b";

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

template <typename T>
T checked(Result<T> result, const char* what) {
  if (!result.is_ok()) fail(std::string(what) + ": " + result.status().to_string());
  return std::move(result).value();
}

v1::RequestHeader header(const std::string& device) {
  v1::RequestHeader header;
  header.set_protocol_version(protocol::kProtocolVersion);
  header.set_schema_version(1);
  header.set_device_id(device);
  return header;
}

HttpRequest with_token(HttpRequest request, const std::string& token) {
  request.headers.emplace_back("Authorization", "Bearer " + token);
  return request;
}

// Handles `request` and waits for its answer.
HttpResponse call(server::SyncServer& server, HttpRequest request) {
  auto answer = std::make_shared<std::promise<HttpResponse>>();
  std::future<HttpResponse> answered = answer->get_future();
  server.handle(std::move(request),
                [answer](HttpResponse response) { answer->set_value(std::move(response)); });
  HttpResponse response = answered.get();
  if (response.status != 200)
    fail("HTTP " + std::to_string(response.status) + ": " + response.body);
  return response;
}

// Counts the long polls answered, and lets the bench wait for a number.
class Answers {
 public:
  void add() {
    std::lock_guard lock(mu_);
    ++count_;
    changed_.notify_all();
  }
  int count() {
    std::lock_guard lock(mu_);
    return count_;
  }
  bool wait_for(int count, std::chrono::seconds within) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, within, [&] { return count_ >= count; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int count_ = 0;
};

struct Office {
  std::string token;
  std::uint64_t batch = 0;
};

// Pushes `pushes` households into village A one after the other; the
// milliseconds each took from handle() to its answer.
std::vector<double> push_into_a(server::SyncServer& server, Office& office, int pushes) {
  std::vector<double> latencies;
  for (int i = 0; i < pushes; ++i) {
    ++office.batch;
    const std::string row = "h-a-" + std::to_string(office.batch);
    const Steady::time_point start = Steady::now();
    call(server, with_token(protocol::make_request(
                                "/v1/push", test::household_push(header("office"), office.batch,
                                                                 row, kVillageA, "Siti")),
                            office.token));
    latencies.push_back(std::chrono::duration<double, std::milli>(Steady::now() - start).count());
  }
  return latencies;
}

void print_latencies(const char* what, std::vector<double> latencies) {
  std::sort(latencies.begin(), latencies.end());
  double total = 0;
  for (const double latency : latencies) total += latency;
  std::printf("%-40s mean %8.2f ms, median %8.2f ms, max %8.2f ms\n", what,
              total / static_cast<double>(latencies.size()), latencies[latencies.size() / 2],
              latencies.back());
}

void bench(const std::string& dir, int polls, int pushes) {
  server::ServerOptions options;
  options.data_dir = dir;
  options.max_long_polls_per_officer = 0;  // one officer's N polls all wait
  std::unique_ptr<server::SyncServer> server =
      checked(server::SyncServer::open(options), "open the server");
  std::unique_ptr<auth::TokenAuthority> authority =
      checked(auth::TokenAuthority::open(dir, system_clock()), "open the token authority");

  auth::TokenRequest admin;
  admin.officer = "office";
  admin.role = auth::Role::kAdmin;
  Office office{checked(authority->issue(admin), "issue").token};
  // Something in both villages, so that the polls' pages read real scopes.
  office.batch = 1;
  call(*server, with_token(protocol::make_request("/v1/push",
                                                  test::household_push(header("office"), 1, "h-b-0",
                                                                       kVillageB, "Siti")),
                           office.token));
  print_latencies("push into A, no long poll waiting:", push_into_a(*server, office, pushes));

  Answers answers;
  for (int i = 0; i < polls; ++i) {
    const std::string device = "ani-" + std::to_string(i);
    auth::TokenRequest request;
    request.officer = "ani";
    request.villages = {kVillageB};
    request.device_id = device;
    const std::string token = checked(authority->issue(request), "issue").token;
    v1::PullRequest pull;
    *pull.mutable_header() = header(device);
    const HttpResponse first =
        call(*server, with_token(protocol::make_request("/v1/pull", pull), token));
    v1::PullPage page;
    const Status decoded = protocol::decode_body(first.headers, first.body, 64u << 20, &page);
    if (!decoded.is_ok()) fail("first pull: " + decoded.to_string());
    *pull.mutable_cursors() = page.cursors();
    pull.set_wait_seconds(60);
    server->handle(with_token(protocol::make_request("/v1/pull", pull), token),
                   [&answers](HttpResponse) { answers.add(); });
  }
  if (answers.count() != 0) fail("a long poll was answered at once");
  print_latencies(("push into A, " + std::to_string(polls) + " polls waiting on B:").c_str(),
                  push_into_a(*server, office, pushes));
  std::printf("long polls answered by the pushes into A: %d of %d\n", answers.count(), polls);

  const Steady::time_point start = Steady::now();
  ++office.batch;
  call(*server, with_token(protocol::make_request(
                               "/v1/push", test::household_push(header("office"), office.batch,
                                                                "h-b-1", kVillageB, "Siti")),
                           office.token));
  const double pushed = std::chrono::duration<double, std::milli>(Steady::now() - start).count();
  if (!answers.wait_for(polls, std::chrono::seconds(60))) fail("the polls on B were not answered");
  const double all = std::chrono::duration<double, std::milli>(Steady::now() - start).count();
  std::printf("push into B: answered in %.2f ms, its %d polls all answered in %.2f ms\n", pushed,
              polls, all);
  server->stop();
}

}  // namespace

int main(int argc, char** argv) try {
  const int polls = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int pushes = argc > 2 ? std::atoi(argv[2]) : 20;
  if (polls < 1 || pushes < 1 || argc > 3) fail("usage: long_poll_bench [POLLS] [PUSHES]");
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("long_poll_bench-" + std::to_string(Steady::now().time_since_epoch().count()));
  bench(dir.string(), polls, pushes);
  std::filesystem::remove_all(dir);
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "long_poll_bench: %s\n", error.what());
  return 1;
}
