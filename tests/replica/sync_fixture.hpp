// A small world for sync tests: a real SyncServer and real Replicas in one
// process, connected by MemoryTransport (no sockets), all on one fake clock.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/token_authority.hpp"
#include "lumbung/replica.hpp"
#include "server/epoch.hpp"
#include "server/sqlite_store.hpp"
#include "server/sync_server.hpp"
#include "support/memory_transport.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {

// Two villages: the scopes of the Desmigratif schema.
inline constexpr const char* kVillageA = "0190f1c2-7a00-7000-8000-00000000000a";
inline constexpr const char* kVillageB = "0190f1c2-7a00-7000-8000-00000000000b";

// Now on the wall clock: stamps made by plain SQL on another connection (which
// reads the wall clock) then stay close to the fake clock's, well within the
// server's bound on clock skew.
inline std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A household of `village`, with `cells` over the required ones.
inline Row household(const std::string& id, const std::string& village, Row cells = {}) {
  Row row = {{"id", id},
             {"village_id", village},
             {"created_by", "officer"},
             {"created_at", "2026-11-28T08:00:00Z"}};
  for (auto& [column, value] : cells) row[column] = std::move(value);
  return row;
}

// A Transport in front of another that lets a test act on each request: look
// at it, write on a device before it leaves, or answer it instead of the
// server (a failure, an error page).
class HookTransport : public Transport {
 public:
  using Hook = std::function<std::optional<Result<HttpResponse>>(const HttpRequest&)>;
  HookTransport(std::shared_ptr<Transport> inner, Hook hook)
      : inner_(std::move(inner)), hook_(std::move(hook)) {}

  Result<HttpResponse> exchange(const HttpRequest& request) override {
    if (std::optional<Result<HttpResponse>> answer = hook_(request)) return *answer;
    return inner_->exchange(request);
  }

 private:
  std::shared_ptr<Transport> inner_;
  Hook hook_;
};

class SyncWorld {
 public:
  // Without `authenticated`, the server runs with insecure_no_auth; with it,
  // issue() makes tokens for add_device().
  explicit SyncWorld(bool authenticated = false)
      : authenticated_(authenticated), clock_(std::make_shared<FakeClock>(wall_clock_ms())) {
    open_server();
    transport_ = std::make_shared<MemoryTransport>(server_.get());
  }

  // Adds a device named `name` (its device id) and returns its index.
  int add_device(const std::string& name, const std::string& token = "") {
    ReplicaOptions options = options_for(dir_.file(name + ".db"), clock_);
    options.device_id = name;
    options.token = token;
    device_options_.push_back(options);
    devices_.push_back(open_replica(options));
    return static_cast<int>(devices_.size()) - 1;
  }

  Replica& device(int i) { return *devices_.at(i); }
  // Another handle on device i's file, as another thread of the app opens
  // one to write while a sync runs (a Replica is used by one thread at a time).
  std::unique_ptr<Replica> open_again(int i) const { return open_replica(device_options_.at(i)); }
  const std::string& path(int i) const { return device_options_.at(i).path; }

  // Closes and opens a device again, as after a crash (every sync step that
  // matters is committed before the next request goes out).
  void reopen(int i) {
    while_closed(i, [] {});
  }
  // Closes device i, runs `work` on its files, and opens it again.
  void while_closed(int i, const std::function<void()>& work) {
    devices_.at(i).reset();
    work();
    devices_.at(i) = open_replica(device_options_.at(i));
  }
  void restart_server() {
    while_server_stopped([] {});
  }

  // A copy of the server's data directory, taken while it is stopped: a
  // backup, named `name`.
  std::string back_up_server(const std::string& name) {
    const std::string copy = dir_.file(name);
    while_server_stopped([&] {
      std::filesystem::copy(dir_.file("server"), copy, std::filesystem::copy_options::recursive);
    });
    return copy;
  }
  // Puts `backup` back as the server's data directory, as `lumbungd restore`
  // does: with a new epoch, unless `new_epoch` is false (files copied back by
  // hand, which no device can tell but by seqs and batches).
  void restore_server(const std::string& backup, bool new_epoch = true) {
    while_server_stopped([&] {
      const std::string data = dir_.file("server");
      std::filesystem::remove_all(data);
      std::filesystem::copy(backup, data, std::filesystem::copy_options::recursive);
      if (new_epoch) begin_server_epoch();
    });
  }
  // The server starts again without its store (the disk that held it is
  // gone): its signing keys and credentials stay.
  void lose_server_store() {
    while_server_stopped([&] {
      for (const char* file : {"lumbung.db", "lumbung.db-wal", "lumbung.db-shm"}) {
        std::filesystem::remove(dir_.file("server") + "/" + file);
      }
    });
  }
  // The server's store, opened beside the running server (for reads).
  std::unique_ptr<server::SqliteStore> open_server_store() {
    Result<std::unique_ptr<server::SqliteStore>> store =
        server::SqliteStore::open(dir_.file("server"));
    INFO(store.status().to_string());
    REQUIRE(store.is_ok());
    return std::move(store).value();
  }

  SyncOptions options() const {
    SyncOptions options;
    options.transport = transport_;
    options.initial_backoff = std::chrono::milliseconds(1);
    options.max_backoff = std::chrono::milliseconds(2);
    return options;
  }

  // A sync that must succeed.
  SyncSummary sync(int i) { return sync(i, options()); }
  SyncSummary sync(int i, const SyncOptions& options) {
    Result<SyncSummary> summary = device(i).sync(options);
    INFO("sync of device " << i << ": " << summary.status().to_string());
    REQUIRE(summary.is_ok());
    return *summary;
  }

  std::string server_dump() {
    Result<std::string> dump = server_->dump_json();
    REQUIRE(dump.is_ok());
    return *dump;
  }
  std::string dump(int i) {
    Result<std::string> dump = device(i).dump_json();
    REQUIRE(dump.is_ok());
    return *dump;
  }
  // Every device holds exactly the server's state and has nothing pending.
  void check_converged() {
    const std::string expected = server_dump();
    for (int i = 0; i < static_cast<int>(devices_.size()); ++i) {
      INFO("device " << i);
      CHECK(dump(i) == expected);
      CHECK(device(i).pending_changes()->empty());
    }
  }

  Value cell(int i, const std::string& table, const std::string& id, const std::string& column) {
    Result<std::optional<Row>> row = device(i).get(table, id);
    REQUIRE(row.is_ok());
    if (!*row) return Value();
    return (*row)->at(column);
  }

  // A token of the server's, as `lumbungd token` issues it.
  std::string issue(const std::string& officer, std::set<std::string, std::less<>> villages,
                    auth::Role role = auth::Role::kOfficer) {
    Result<std::unique_ptr<auth::TokenAuthority>> authority =
        auth::TokenAuthority::open(dir_.file("server"), clock_);
    REQUIRE(authority.is_ok());
    auth::TokenRequest request;
    request.officer = officer;
    request.villages = std::move(villages);
    request.role = role;
    Result<auth::IssuedToken> issued = (*authority)->issue(request);
    INFO(issued.status().to_string());
    REQUIRE(issued.is_ok());
    return issued->token;
  }

  // Takes `villages` out of the officer's grant, as `lumbungd ungrant` does.
  void ungrant(const std::string& officer, const std::vector<std::string>& villages) {
    Result<std::unique_ptr<auth::TokenAuthority>> authority =
        auth::TokenAuthority::open(dir_.file("server"), clock_);
    REQUIRE(authority.is_ok());
    std::vector<auth::Selector> selectors;
    for (const std::string& village : villages) {
      selectors.push_back({auth::SelectorKind::kVillage, village});
    }
    REQUIRE((*authority)->ungrant(officer, selectors).is_ok());
  }

  FakeClock& clock() { return *clock_; }
  std::shared_ptr<MemoryTransport> transport() { return transport_; }
  server::SyncServer& server() { return *server_; }
  TempDir& dir() { return dir_; }

 private:
  void while_server_stopped(const std::function<void()>& work) {
    transport_->set_server(nullptr);
    server_.reset();
    work();
    open_server();
    transport_->set_server(server_.get());
  }

  void begin_server_epoch() {
    std::unique_ptr<server::SqliteStore> store = open_server_store();
    REQUIRE(
        store
            ->write([](server::WriteTransaction& txn) { return server::begin_epoch(txn).status(); })
            .is_ok());
  }

  void open_server() {
    server::ServerOptions options;
    options.data_dir = dir_.file("server");
    options.clock = clock_;
    options.insecure_no_auth = !authenticated_;
    Result<std::unique_ptr<server::SyncServer>> opened = server::SyncServer::open(options);
    INFO(opened.status().to_string());
    REQUIRE(opened.is_ok());
    server_ = std::move(opened).value();
  }

  const bool authenticated_;
  TempDir dir_;
  std::shared_ptr<FakeClock> clock_;
  std::unique_ptr<server::SyncServer> server_;
  std::shared_ptr<MemoryTransport> transport_;
  std::vector<ReplicaOptions> device_options_;
  std::vector<std::unique_ptr<Replica>> devices_;
};

}  // namespace lumbung::test
