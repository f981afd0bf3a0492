// A Transport that hands each request straight to a SyncServer in this
// process: the device's and the daemon's real protocol code, without sockets.
// Faults can be injected per request, as a flaky 2G link would. It may also
// stand for a load balancer in front of several daemons over one store
// (docs/decisions/0036): set_servers() names them and picks one for each
// request.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
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
  explicit MemoryTransport(server::SyncServer* server) : servers_{server} {}

  // Points the transport at another server object (a restarted daemon); with
  // several, at daemon 0.
  void set_server(server::SyncServer* server) { set_server_at(0, server); }
  // Several daemons: each delivery of a request (its duplicate's and a
  // delayed one's too, as a retry may reach another daemon) goes to
  // servers[pick()]; `pick` returns an index below servers.size() and is
  // called under the transport's lock. REQUIRES: servers not empty.
  void set_servers(std::vector<server::SyncServer*> servers, std::function<std::size_t()> pick) {
    std::lock_guard<std::mutex> lock(mu_);
    servers_ = std::move(servers);
    pick_ = std::move(pick);
  }
  // Points daemon `index` at another server object (a restarted daemon).
  void set_server_at(std::size_t index, server::SyncServer* server) {
    std::lock_guard<std::mutex> lock(mu_);
    servers_.at(index) = server;
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
    up_ = up ? [up = std::move(up)](std::size_t) { return up(); }
             : std::function<bool(std::size_t)>();
  }
  // The same for each of several daemons, by index.
  void set_daemon_up(std::function<bool(std::size_t)> up) {
    std::lock_guard<std::mutex> lock(mu_);
    up_ = std::move(up);
  }
  // Called after each delivery a daemon handled, with its index (0 with one
  // server), before the transport looks whether it is still up: a test may
  // take it down there, as a daemon killed before its answer left.
  void set_on_handled(std::function<void(std::size_t)> handled) {
    std::lock_guard<std::mutex> lock(mu_);
    handled_ = std::move(handled);
  }
  int exchanges() const { return exchanges_.load(); }

  Result<HttpResponse> exchange(const HttpRequest& request) override {
    LinkFault fault = LinkFault::kNone;
    std::vector<HttpRequest> late;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (faults_) fault = faults_(request);
      late.swap(delayed_);
      if (fault == LinkFault::kDelayRequest) delayed_.push_back(request);
      ++exchanges_;
    }
    for (const HttpRequest& stale : late) {
      const Daemon daemon = pick();
      if (up(daemon)) (void)deliver(daemon, stale);
    }
    if (fault == LinkFault::kDropRequest || fault == LinkFault::kDelayRequest) {
      return Status(ErrorCode::kNetwork, "test link: request dropped");
    }
    Daemon daemon = pick();
    if (!up(daemon)) return Status(ErrorCode::kNetwork, "test link: request dropped");
    Result<HttpResponse> answer = deliver(daemon, request);
    if (fault == LinkFault::kDuplicateRequest) {
      const Daemon second = pick();
      if (up(second)) {
        daemon = second;
        answer = deliver(daemon, request);
      }
    }
    if (fault == LinkFault::kDropResponse || !up(daemon)) {
      return Status(ErrorCode::kNetwork, "test link: response dropped");
    }
    return answer;
  }

 private:
  // The daemon a delivery goes to: servers_[0] unless set_servers() gave a pick.
  struct Daemon {
    server::SyncServer* server;
    std::size_t index;
  };
  Daemon pick() {
    std::lock_guard<std::mutex> lock(mu_);
    const std::size_t index = pick_ ? pick_() : 0;
    return {servers_.at(index), index};
  }
  bool up(const Daemon& daemon) {
    std::function<bool(std::size_t)> is_up;
    {
      std::lock_guard<std::mutex> lock(mu_);
      is_up = up_;
    }
    return !is_up || is_up(daemon.index);
  }
  Result<HttpResponse> deliver(const Daemon& daemon, const HttpRequest& request) {
    Result<HttpResponse> answer = handle(daemon.server, request);
    std::function<void(std::size_t)> handled;
    {
      std::lock_guard<std::mutex> lock(mu_);
      handled = handled_;
    }
    if (handled) handled(daemon.index);
    return answer;
  }

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
  std::vector<server::SyncServer*> servers_;
  std::function<std::size_t()> pick_;  // unset: servers_[0]
  std::function<LinkFault(const HttpRequest&)> faults_;
  std::function<bool(std::size_t)> up_;
  std::function<void(std::size_t)> handled_;
  std::vector<HttpRequest> delayed_;  // kDelayRequest's, for the next exchange
  std::atomic<int> exchanges_{0};
};

}  // namespace lumbung::test
