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

#include "lumbung/http.hpp"
#include "server/sync_server.hpp"

namespace lumbung::test {

enum class LinkFault {
  kNone,
  kDropRequest,   // the request never reaches the server
  kDropResponse,  // the server handles it, the answer is lost
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
  int exchanges() const { return exchanges_.load(); }

  Result<HttpResponse> exchange(const HttpRequest& request) override {
    server::SyncServer* server;
    LinkFault fault = LinkFault::kNone;
    {
      std::lock_guard<std::mutex> lock(mu_);
      server = server_;
      if (faults_) fault = faults_(request);
      ++exchanges_;
    }
    if (fault == LinkFault::kDropRequest) {
      return Status(ErrorCode::kNetwork, "test link: request dropped");
    }
    auto promise = std::make_shared<std::promise<HttpResponse>>();
    std::future<HttpResponse> answer = promise->get_future();
    server->handle(request, [promise](HttpResponse response) {
      promise->set_value(std::move(response));
    });
    // A long poll answers later, from a push or the server's tick().
    if (answer.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      return Status(ErrorCode::kTimeout, "test link: no answer in 30 s");
    }
    if (fault == LinkFault::kDropResponse) {
      return Status(ErrorCode::kNetwork, "test link: response dropped");
    }
    return answer.get();
  }

 private:
  std::mutex mu_;
  server::SyncServer* server_;
  std::function<LinkFault(const HttpRequest&)> faults_;
  std::atomic<int> exchanges_{0};
};

}  // namespace lumbung::test
