// A Transport that hands each request straight to a SyncServer in this
// process: the device's and the daemon's real protocol code, without sockets.
// Faults can be injected per request, as a flaky 2G link would.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "lumbung/http.hpp"
#include "server/sync_server.hpp"

namespace lumbung::test {

// The faults of a flaky link (and of tests/support/fault_proxy.hpp's kinds):
// the device sees a network error, except after kDuplicateRequest.
enum class LinkFault {
  kNone,
  kDropRequest,       // the request never reaches the server
  kDropResponse,      // the server handles it, then the connection resets (or
                      // the body is truncated, which Content-Length reveals)
  kDuplicateRequest,  // the server handles it twice; the device gets the second answer
  kDelayRequest,      // the device times out; the request reaches the server
                      // late, before the next exchange, and its answer is lost
};

class MemoryTransport : public Transport {
 public:
  explicit MemoryTransport(server::SyncServer* server) : server_(server) {}

  // Points the transport at another server object (a restarted daemon).
  void set_server(server::SyncServer* server) {
    std::lock_guard<std::mutex> lock(mu_);
    server_ = server;
  }
  // Decides the fate of each request; unset means no faults.
  void set_faults(std::function<LinkFault(const HttpRequest&)> faults) {
    std::lock_guard<std::mutex> lock(mu_);
    faults_ = std::move(faults);
  }
  // Whether the server is up; while it returns false (the daemon lost power
  // and does not know it yet), requests fail and answers are lost.
  void set_server_up(std::function<bool()> up) {
    std::lock_guard<std::mutex> lock(mu_);
    up_ = std::move(up);
  }
  int exchanges() const { return exchanges_.load(); }

  Result<HttpResponse> exchange(const HttpRequest& request) override {
    server::SyncServer* server;
    LinkFault fault = LinkFault::kNone;
    std::vector<HttpRequest> late;
    std::function<bool()> up;
    {
      std::lock_guard<std::mutex> lock(mu_);
      server = server_;
      if (faults_) fault = faults_(request);
      late.swap(delayed_);
      if (fault == LinkFault::kDelayRequest) delayed_.push_back(request);
      up = up_;
      ++exchanges_;
    }
    const auto server_up = [&up] { return !up || up(); };
    for (const HttpRequest& stale : late) {
      if (server_up()) (void)handle(server, stale);
    }
    if (fault == LinkFault::kDropRequest || fault == LinkFault::kDelayRequest || !server_up()) {
      return Status(ErrorCode::kNetwork, "test link: request dropped");
    }
    Result<HttpResponse> answer = handle(server, request);
    if (fault == LinkFault::kDuplicateRequest && server_up()) answer = handle(server, request);
    if (fault == LinkFault::kDropResponse || !server_up()) {
      return Status(ErrorCode::kNetwork, "test link: response dropped");
    }
    return answer;
  }

 private:
  static Result<HttpResponse> handle(server::SyncServer* server, const HttpRequest& request) {
    auto promise = std::make_shared<std::promise<HttpResponse>>();
    std::future<HttpResponse> answer = promise->get_future();
    server->handle(request,
                   [promise](HttpResponse response) { promise->set_value(std::move(response)); });
    // A long poll answers later, from a push or the server's tick().
    if (answer.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      return Status(ErrorCode::kTimeout, "test link: no answer in 30 s");
    }
    return answer.get();
  }

  std::mutex mu_;
  server::SyncServer* server_;
  std::function<LinkFault(const HttpRequest&)> faults_;
  std::function<bool()> up_;
  std::vector<HttpRequest> delayed_;  // kDelayRequest's, for the next exchange
  std::atomic<int> exchanges_{0};
};

}  // namespace lumbung::test
