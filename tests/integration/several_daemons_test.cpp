// Three real lumbungd over one PostgreSQL database (issue 20, item 3;
// docs/decisions/0036-several-daemons.md): devices reach any of them at each
// request; a retry that lands on another daemon is applied once; a long poll
// held by one daemon is woken by a push to another; devices pushing at once
// through all three converge; a daemon killed with SIGKILL, and a PostgreSQL
// restart, lose no acknowledged write.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/household_push.hpp"
#include "integration/protocol_device.hpp"
#include "integration/village_row.hpp"
#include "lumbung/replica.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/pg_cluster.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

constexpr int kDaemons = 3;
// How many times a device sends one request, to daemons in turn, before it
// gives up: a daemon killed, or PostgreSQL restarting, fails a few.
constexpr int kAttempts = 12;

std::string database_name(const std::string& what) {
  return "daemons_" + what + "_" + std::to_string(::getpid());
}

// kDaemons `lumbungd serve --store URL`, each with a data directory of its
// own (the directory's lock admits one serve: docs/operations.md).
class Daemons {
 public:
  // `prepare`, when given, makes the first data directory's signing key and
  // the database's credentials (grants and tokens, with `--store URL`: in
  // the database); the key alone is copied to the others, as
  // docs/operations.md says. Without it the daemons serve without
  // authentication.
  using Prepare = std::function<void(const std::string& data, const std::string& url)>;
  explicit Daemons(const std::string& url, bool with_metrics = false, const Prepare& prepare = {})
      : url_(url), authenticated_(static_cast<bool>(prepare)) {
    if (prepare) {
      prepare(data(0), url_);
      for (int i = 1; i < kDaemons; ++i) {
        std::filesystem::create_directories(data(i));
        std::filesystem::permissions(data(i), std::filesystem::perms::owner_all);
        std::filesystem::copy(data(0) + "/keys", data(i) + "/keys",
                              std::filesystem::copy_options::recursive);
        // No credential store in the directory: the database's serves.
        REQUIRE_FALSE(std::filesystem::exists(data(i) + "/credentials.sqlite"));
      }
    }
    for (int i = 0; i < kDaemons; ++i) start(i, with_metrics);
  }

  std::string data(int i) const { return dir_.file("d" + std::to_string(i)); }

  void start(int i, bool with_metrics = false) {
    std::vector<std::string> args = {"--store", url_};
    if (!authenticated_) args.push_back("--insecure-no-auth");
    if (with_metrics) {
      args.push_back("--metrics-listen");
      args.push_back("127.0.0.1:0");
    }
    if (daemons_.size() <= static_cast<std::size_t>(i)) daemons_.resize(i + 1);
    daemons_[i] = std::make_unique<DaemonProcess>(LUMBUNGD, data(i), args);
  }

  DaemonProcess& operator[](int i) { return *daemons_[i]; }

  // A phone `name` in `dir`, with `token`, whose file names daemon `daemon`.
  std::unique_ptr<Replica> phone(TempDir& dir, const std::string& name, const std::string& token,
                                 int daemon) {
    ReplicaOptions options = options_for(dir.file(name));
    options.device_id = name;
    options.server_url = (*this)[daemon].url();
    options.token = token;
    return open_replica(options);
  }
  // A sync of `replica` through daemon `daemon`.
  Result<SyncSummary> sync(Replica& replica, int daemon) {
    SyncOptions options;
    options.transport = value_of(make_http_transport((*this)[daemon].url()));
    return replica.sync(options);
  }

  std::vector<std::string> urls() const {
    std::vector<std::string> urls;
    for (const auto& daemon : daemons_) urls.push_back(daemon->url());
    return urls;
  }

 private:
  TempDir dir_;
  std::string url_;
  bool authenticated_;
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
};

// A device that sends each request to a daemon picked at random and, when
// that one fails it (killed, or PostgreSQL away), the same bytes to another,
// as a device whose connection broke retries its batch. Its methods return
// Status rather than assert, so that it may run on a thread of its own.
class RoamingDevice {
 public:
  RoamingDevice(std::string id, std::vector<std::string> urls, unsigned seed)
      : id_(std::move(id)), urls_(std::move(urls)), random_(seed) {}

  // Inserts one household of village v1 in a new batch; *answered_by: the
  // daemon that answered.
  Result<v1::PushResponse> insert_household(const std::string& row_id, const std::string& head_name,
                                            int* answered_by) {
    v1::RequestHeader header;
    set_header(&header);
    const v1::PushRequest push = household_push(header, ++batch_, row_id, "v1", head_name);
    v1::PushResponse response;
    LUMBUNG_RETURN_IF_ERROR(exchange_anywhere("/v1/push", push, &response, answered_by));
    return response;
  }

  // Pulls pages from any daemon, each page from one picked anew, until the
  // last (more = false); returns the row ids they brought.
  Result<std::vector<std::string>> pull_all() {
    std::vector<std::string> ids;
    for (int page_number = 0; page_number < 1000; ++page_number) {
      LUMBUNG_ASSIGN_OR_RETURN(const v1::PullPage page, pull_from(-1, 0));
      for (const v1::RowState& row : page.rows()) ids.push_back(row.row_id());
      if (!page.more()) return ids;
    }
    return Status(ErrorCode::kInternal, "device '" + id_ + "': more than 1000 pages");
  }

  // One pull from daemon `daemon` (-1: any), advancing the cursors.
  Result<v1::PullPage> pull_from(int daemon, std::uint32_t wait_seconds) {
    v1::PullRequest pull = pull_from_cursors(cursors_, wait_seconds);
    set_header(pull.mutable_header());
    v1::PullPage page;
    if (daemon < 0) {
      LUMBUNG_RETURN_IF_ERROR(exchange_anywhere("/v1/pull", pull, &page, nullptr));
    } else {
      LUMBUNG_RETURN_IF_ERROR(exchange_with(daemon, "/v1/pull", pull, &page));
    }
    for (const v1::ScopeCursor& cursor : page.cursors()) cursors_[cursor.scope()] = cursor.seq();
    return page;
  }

  const std::string& id() const { return id_; }
  std::int64_t cursor(const std::string& scope) const {
    const auto found = cursors_.find(scope);
    return found == cursors_.end() ? 0 : found->second;
  }

  void set_header(v1::RequestHeader* header) const {
    header->set_protocol_version(protocol::kProtocolVersion);
    header->set_schema_version(1);
    header->set_device_id(id_);
  }

  Status exchange_with(int daemon, const char* target, const google::protobuf::MessageLite& request,
                       google::protobuf::MessageLite* response) {
    LUMBUNG_ASSIGN_OR_RETURN(std::shared_ptr<Transport> transport,
                             make_http_transport(urls_[daemon]));
    LUMBUNG_ASSIGN_OR_RETURN(const HttpResponse answer,
                             transport->exchange(protocol::make_request(target, request)));
    LUMBUNG_RETURN_IF_ERROR(protocol::status_from_response(answer));
    return protocol::decode_body(answer.headers, answer.body,
                                 HttpTransportOptions().max_response_bytes, response);
  }

 private:
  Status exchange_anywhere(const char* target, const google::protobuf::MessageLite& request,
                           google::protobuf::MessageLite* response, int* answered_by) {
    int daemon = static_cast<int>(random_() % urls_.size());
    Status status;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      status = exchange_with(daemon, target, request, response);
      if (status.is_ok()) {
        if (answered_by != nullptr) *answered_by = daemon;
        return status;
      }
      // Only what a lost daemon or database makes: any other error is a bug.
      if (status.code() != ErrorCode::kUnavailable && status.code() != ErrorCode::kNetwork &&
          status.code() != ErrorCode::kTimeout) {
        return status;
      }
      daemon = (daemon + 1) % static_cast<int>(urls_.size());
    }
    return Status(status.code(), "device '" + id_ + "': " + std::to_string(kAttempts) +
                                     " attempts failed, the last: " + status.message());
  }

  std::string id_;
  std::vector<std::string> urls_;
  std::minstd_rand random_;
  std::uint64_t batch_ = 0;
  std::map<std::string, std::int64_t> cursors_;
};

std::vector<std::string> sorted(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

// The value of gauge `name` on the daemon's metrics listener; -1 when absent.
double gauge(const DaemonProcess& daemon, const std::string& name) {
  const std::string& url = daemon.metrics_url();
  const std::size_t path = url.find('/', std::string("http://").size());
  std::shared_ptr<Transport> transport = value_of(make_http_transport(url.substr(0, path)));
  const HttpResponse answer = value_of(transport->exchange({"GET", url.substr(path), {}, ""}));
  REQUIRE(answer.status == 200);
  const std::string prefix = "\n" + name + " ";
  const std::size_t at = ("\n" + answer.body).find(prefix);
  if (at == std::string::npos) return -1;
  return std::stod(answer.body.substr(at + prefix.size() - 1));
}

// Waits (bounded) until the daemon holds `count` long polls.
void wait_for_long_polls(const DaemonProcess& daemon, double count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (gauge(daemon, "lumbung_long_polls_waiting") != count) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

struct Pushed {
  std::vector<std::string> acknowledged;  // the row ids
  std::vector<std::string> failures;
};

// Pushes from `devices` devices at once, `each` households each, through
// every daemon. No assertion: it may run on a thread of its own.
Pushed push_at_once(const std::vector<std::string>& urls, int devices, int each,
                    const std::string& prefix) {
  std::mutex mu;
  Pushed pushed_rows;
  std::vector<std::string>& acked = pushed_rows.acknowledged;
  std::vector<std::string>& failures = pushed_rows.failures;
  std::vector<std::thread> threads;
  for (int d = 0; d < devices; ++d) {
    threads.emplace_back([&, d] {
      RoamingDevice device(prefix + "-dev" + std::to_string(d), urls, 1000 + d);
      for (int i = 0; i < each; ++i) {
        const std::string row = prefix + "-" + std::to_string(d) + "-" + std::to_string(i);
        int daemon = -1;
        Result<v1::PushResponse> pushed = device.insert_household(row, "Head " + row, &daemon);
        std::lock_guard lock(mu);
        if (!pushed.is_ok()) {
          failures.push_back(pushed.status().to_string());
        } else if (pushed->outcomes_size() != 1 ||
                   pushed->outcomes(0).outcome() != v1::OUTCOME_APPLIED) {
          failures.push_back(row + ": not applied");
        } else {
          acked.push_back(row);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return pushed_rows;
}

// The ids `pushed` acknowledged, its failures reported.
std::vector<std::string> acknowledged(const Pushed& pushed) {
  for (const std::string& failure : pushed.failures) FAIL_CHECK(failure);
  return pushed.acknowledged;
}

}  // namespace

TEST_CASE("three daemons over one database serve the same devices, each request to any of them",
          "[integration][postgresql][daemons]") {
  Daemons daemons(shared_pg_cluster().create_database(database_name("any")));
  const std::vector<std::string> urls = daemons.urls();
  std::vector<RoamingDevice> devices;
  for (int d = 0; d < 4; ++d) devices.emplace_back("device-" + std::to_string(d), urls, 7 + d);
  std::vector<std::string> pushed;
  std::set<int> answered_by;
  for (int round = 0; round < 5; ++round) {
    for (RoamingDevice& device : devices) {
      const std::string row = device.id() + "-h" + std::to_string(round);
      int daemon = -1;
      const v1::PushResponse response =
          value_of(device.insert_household(row, "Head of " + row, &daemon));
      REQUIRE(response.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
      answered_by.insert(daemon);
      pushed.push_back(row);
      // What one daemon acknowledged, another serves at once.
      RoamingDevice reader("reader-" + row, urls, 99);
      const v1::PullPage page = value_of(reader.pull_from((daemon + 1) % kDaemons, 0));
      const std::vector<std::string> ids = row_ids(page);
      CHECK(std::find(ids.begin(), ids.end(), row) != ids.end());
    }
  }
  CHECK(answered_by.size() == kDaemons);  // 20 requests at random reached each
  for (RoamingDevice& device : devices) {
    const std::vector<std::string> pulled = value_of(device.pull_all());
    CHECK(sorted(pulled) == sorted(pushed));
  }
}

TEST_CASE("a push retried on another daemon, its answer lost, is applied once",
          "[integration][postgresql][daemons]") {
  Daemons daemons(shared_pg_cluster().create_database(database_name("retry")));
  RoamingDevice device("device-retry", daemons.urls(), 1);
  v1::RequestHeader header;
  device.set_header(&header);

  SECTION("one after the other") {
    const v1::PushRequest push = household_push(header, 1, "h-once", "v1", "Sumarni");
    v1::PushResponse first;
    REQUIRE(device.exchange_with(0, "/v1/push", push, &first).is_ok());
    REQUIRE(first.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
    // Its answer lost, the device sends the same batch again, to another daemon.
    v1::PushResponse again;
    const Status retried = device.exchange_with(1, "/v1/push", push, &again);
    INFO(retried.to_string());
    REQUIRE(retried.is_ok());
    // The answer stored with the first: the same outcomes and seqs.
    CHECK(again.SerializeAsString() == first.SerializeAsString());
  }
  SECTION("at once, on two daemons") {
    const v1::PushRequest push = household_push(header, 1, "h-once", "v1", "Sumarni");
    v1::PushResponse answers[2];
    Status statuses[2];
    std::thread other(
        [&] { statuses[1] = device.exchange_with(2, "/v1/push", push, &answers[1]); });
    RoamingDevice same("device-retry", daemons.urls(), 2);
    statuses[0] = same.exchange_with(1, "/v1/push", push, &answers[0]);
    other.join();
    INFO(statuses[0].to_string() + " / " + statuses[1].to_string());
    REQUIRE(statuses[0].is_ok());
    REQUIRE(statuses[1].is_ok());
    CHECK(answers[0].SerializeAsString() == answers[1].SerializeAsString());
    CHECK(answers[0].outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  }
  // Applied once: one row, and the one batch's changes gave the only seqs (a
  // second application would have given more, as superseded or as an update).
  RoamingDevice reader("reader", daemons.urls(), 3);
  const v1::PullPage page = value_of(reader.pull_from(0, 0));
  CHECK(row_ids(page) == std::vector<std::string>{"h-once"});
  const std::int64_t seq_after_one = reader.cursor("v1");
  CHECK(seq_after_one > 0);
  RoamingDevice next("device-next", daemons.urls(), 4);
  int daemon = -1;
  const v1::PushResponse later = value_of(next.insert_household("h-next", "Karyo", &daemon));
  REQUIRE(later.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  const v1::PullPage more = value_of(reader.pull_from(2, 0));
  CHECK(row_ids(more) == std::vector<std::string>{"h-next"});
  // One insert of a household writes one seq per cell: the same count again.
  CHECK(reader.cursor("v1") == 2 * seq_after_one);
}

TEST_CASE("a long poll held by one daemon is woken by a push to another",
          "[integration][postgresql][daemons]") {
  Daemons daemons(shared_pg_cluster().create_database(database_name("poll")), true);
  RoamingDevice waiter("device-waiter", daemons.urls(), 1);
  RoamingDevice pusher("device-pusher", daemons.urls(), 2);
  for (int round = 0; round < 3; ++round) {
    const int held_on = round % kDaemons;
    const int pushed_to = (round + 1) % kDaemons;
    // Up to date, then waiting up to 30 s on daemon `held_on`.
    (void)value_of(waiter.pull_all());
    const auto started = std::chrono::steady_clock::now();
    std::future<Result<v1::PullPage>> polled =
        std::async(std::launch::async, [&] { return waiter.pull_from(held_on, 30); });
    wait_for_long_polls(daemons[held_on], 1);
    const std::string row = "h-woken-" + std::to_string(round);
    v1::RequestHeader header;
    pusher.set_header(&header);
    v1::PushResponse pushed;
    REQUIRE(pusher
                .exchange_with(pushed_to, "/v1/push",
                               household_push(header, round + 1, row, "v1", "Ratna"), &pushed)
                .is_ok());
    REQUIRE(polled.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    const v1::PullPage page = value_of(polled.get());
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(row_ids(page) == std::vector<std::string>{row});
    // Woken, not ended by its deadline.
    CHECK(took < std::chrono::seconds(15));
  }
}

TEST_CASE("devices pushing at once through three daemons converge to the same rows",
          "[integration][postgresql][daemons]") {
  Daemons daemons(shared_pg_cluster().create_database(database_name("converge")));
  const std::vector<std::string> pushed = acknowledged(push_at_once(daemons.urls(), 6, 15, "c"));
  CHECK(pushed.size() == 6 * 15);
  std::vector<std::string> first;
  for (int d = 0; d < 6; ++d) {
    RoamingDevice device("c-dev" + std::to_string(d), daemons.urls(), 50 + d);
    const std::vector<std::string> pulled = sorted(value_of(device.pull_all()));
    CHECK(pulled == sorted(pushed));
    if (d == 0) first = pulled;
    CHECK(pulled == first);
  }
}

TEST_CASE("a daemon killed in the middle of pushes loses no acknowledged write",
          "[integration][postgresql][daemons]") {
  Daemons daemons(shared_pg_cluster().create_database(database_name("kill")));
  const std::vector<std::string> urls = daemons.urls();
  std::future<Pushed> pushing =
      std::async(std::launch::async, [&] { return push_at_once(urls, 4, 100, "k"); });
  // Once some pushes were answered, daemon 1 dies without a chance to flush.
  RoamingDevice watcher("watcher", urls, 5);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::size_t seen = 0;
  while (seen < 20 && std::chrono::steady_clock::now() < deadline) {
    seen += value_of(watcher.pull_all()).size();
  }
  REQUIRE(seen >= 20);
  const std::optional<ProcessResult> killed = daemons[1].terminate(SIGKILL);
  REQUIRE(killed);
  // In the middle: the devices were still pushing.
  CHECK(pushing.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
  // Those in flight to daemon 1 were sent again to the others.
  const std::vector<std::string> pushed = acknowledged(pushing.get());
  CHECK(pushed.size() == 4 * 100);
  for (const int survivor : {0, 2}) {
    RoamingDevice device("after-" + std::to_string(survivor),
                         {urls[static_cast<std::size_t>(survivor)]}, 1);
    CHECK(sorted(value_of(device.pull_all())) == sorted(pushed));
  }
  // Started again, it serves them too.
  daemons.start(1);
  RoamingDevice device("after-restart", {daemons[1].url()}, 1);
  CHECK(sorted(value_of(device.pull_all())) == sorted(pushed));
}

TEST_CASE("three daemons serve on after PostgreSQL restarts, having lost no acknowledged write",
          "[integration][postgresql][daemons]") {
  PgCluster cluster;  // of its own: it restarts
  Daemons daemons(cluster.create_database("restarted"), true);
  const std::vector<std::string> before =
      acknowledged(push_at_once(daemons.urls(), 3, 5, "before"));
  cluster.restart();  // every connection of every daemon is closed
  const std::vector<std::string> after = acknowledged(push_at_once(daemons.urls(), 3, 5, "after"));
  std::vector<std::string> all = before;
  all.insert(all.end(), after.begin(), after.end());
  CHECK(all.size() == 30);
  for (int d = 0; d < kDaemons; ++d) {
    RoamingDevice device("reader-" + std::to_string(d), {daemons[d].url()}, 1);
    CHECK(sorted(value_of(device.pull_all())) == sorted(all));
  }
  // The daemons listen again: a long poll on one is woken by a push to another.
  RoamingDevice waiter("device-waiter", daemons.urls(), 1);
  (void)value_of(waiter.pull_all());
  std::future<Result<v1::PullPage>> polled =
      std::async(std::launch::async, [&] { return waiter.pull_from(0, 30); });
  wait_for_long_polls(daemons[0], 1);
  RoamingDevice pusher("device-pusher", {daemons[2].url()}, 2);
  int daemon = -1;
  REQUIRE(value_of(pusher.insert_household("h-late", "Sarinah", &daemon)).outcomes_size() == 1);
  REQUIRE(polled.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  CHECK(row_ids(value_of(polled.get())) == std::vector<std::string>{"h-late"});
}

TEST_CASE("a village one daemon adds to a district is read by another daemon's district grants",
          "[integration][postgresql][daemons][auth]") {
  TempDir phones;
  std::string admin_token;
  std::string dinas_token;
  Daemons daemons(shared_pg_cluster().create_database(database_name("regions")), false,
                  [&](const std::string& data, const std::string& url) {
                    lumbungd_output({"grant", "--data", data, "--store", url, "--officer", "pusat",
                                     "--role", "admin"});
                    lumbungd_output({"grant", "--data", data, "--store", url, "--officer", "dinas",
                                     "--district", "Indramayu"});
                    const auto token = [&](const std::string& officer) {
                      const std::string out = lumbungd_output(
                          {"token", "--data", data, "--store", url, "--officer", officer});
                      return out.substr(0, out.find('\n'));
                    };
                    admin_token = token("pusat");
                    dinas_token = token("dinas");
                  });
  const auto phone = [&](const std::string& name, const std::string& token, int daemon) {
    return daemons.phone(phones, name, token, daemon);
  };
  const auto sync = [&](Replica& replica, int daemon) { return daemons.sync(replica, daemon); };
  // Daemon 1 read the regions at its start, before the village existed.
  std::unique_ptr<Replica> dinas = phone("dinas-phone", dinas_token, 1);
  REQUIRE(sync(*dinas, 1).is_ok());
  CHECK(ids_on(*dinas, "village").empty());

  const std::string village = "0193f2a4-7c1e-7d2b-9a61-000000000001";
  std::unique_ptr<Replica> admin = phone("admin-phone", admin_token, 0);
  REQUIRE(admin->insert("village", village_row(village)).is_ok());
  REQUIRE(sync(*admin, 0).is_ok());
  // Daemon 1 reads the village's region once daemon 0's notice reaches it
  // (milliseconds): the district grant covers the village from then on.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ids_on(*dinas, "village").empty()) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    REQUIRE(sync(*dinas, 1).is_ok());
  }
  CHECK(ids_on(*dinas, "village") == std::set<std::string>{village});
}

TEST_CASE("credentials in the database: a token, a grant and a revocation count on every daemon",
          "[integration][postgresql][daemons][auth]") {
  TempDir phones;
  std::string admin_token;
  const std::string url = shared_pg_cluster().create_database(database_name("credentials"));
  Daemons daemons(url, false, [&](const std::string& data, const std::string& store) {
    lumbungd_output(
        {"grant", "--data", data, "--store", store, "--officer", "pusat", "--role", "admin"});
    const std::string out =
        lumbungd_output({"token", "--data", data, "--store", store, "--officer", "pusat"});
    admin_token = out.substr(0, out.find('\n'));
  });
  // The commands run from any daemon's directory (its key signs): the
  // credentials they write are the database's.
  const auto lumbungd_on = [&](int daemon, std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"--data", daemons.data(daemon), "--store", url});
    return lumbungd_output(args);
  };
  const auto phone = [&](const std::string& name, const std::string& token, int daemon) {
    return daemons.phone(phones, name, token, daemon);
  };
  const auto sync = [&](Replica& replica, int daemon) { return daemons.sync(replica, daemon); };
  const std::string village_a = "0193f2a4-7c1e-7d2b-9a61-00000000000a";
  const std::string village_b = "0193f2a4-7c1e-7d2b-9a61-00000000000b";
  std::unique_ptr<Replica> admin = phone("admin-phone", admin_token, 0);
  for (const std::string& village : {village_a, village_b}) {
    REQUIRE(admin->insert("village", village_row(village)).is_ok());
  }
  REQUIRE(sync(*admin, 0).is_ok());

  // sri's phones, one per daemon, each with a token `lumbungd token --store`
  // issued from another daemon's directory.
  lumbungd_on(1, {"grant", "--officer", "sri", "--villages", village_a});
  std::vector<std::unique_ptr<Replica>> sri;
  for (int i = 0; i < kDaemons; ++i) {
    const std::string out = lumbungd_on((i + 1) % kDaemons, {"token", "--officer", "sri"});
    sri.push_back(phone("sri-phone-" + std::to_string(i), out.substr(0, out.find('\n')), i));
    INFO("daemon " << i);
    REQUIRE(sync(*sri[i], i).is_ok());
    CHECK(ids_on(*sri[i], "village") == std::set<std::string>{village_a});
  }
  // A token is bound to its first device on every daemon.
  {
    const std::string out = lumbungd_on(0, {"token", "--officer", "sri"});
    const std::string token = out.substr(0, out.find('\n'));
    std::unique_ptr<Replica> first = phone("sri-first", token, 0);
    REQUIRE(sync(*first, 0).is_ok());
    std::unique_ptr<Replica> other = phone("sri-other", token, 2);
    CHECK(sync(*other, 2).status().code() == ErrorCode::kDeviceMismatch);
  }

  // A grant changed from daemon 2's directory counts on every daemon at the
  // next request, whatever each cached.
  lumbungd_on(2, {"grant", "--officer", "sri", "--villages", village_b});
  for (int i = 0; i < kDaemons; ++i) {
    INFO("daemon " << i);
    REQUIRE(sync(*sri[i], i).is_ok());
    CHECK(ids_on(*sri[i], "village") == std::set<std::string>{village_a, village_b});
  }
  lumbungd_on(0, {"ungrant", "--officer", "sri", "--villages", village_a});
  for (int i = 0; i < kDaemons; ++i) {
    INFO("daemon " << i);
    REQUIRE(sync(*sri[i], i).is_ok());
    CHECK(ids_on(*sri[i], "village") == std::set<std::string>{village_b});
  }
  const std::string listed = lumbungd_on(1, {"officers"});
  CHECK_THAT(listed, Catch::Contains("sri"));
  CHECK_THAT(lumbungd_on(2, {"tokens"}), Catch::Contains("sri"));

  // Revoked with the command, refused by every daemon from the next request on.
  lumbungd_on(1, {"revoke", "--officer", "sri"});
  for (int i = 0; i < kDaemons; ++i) {
    INFO("daemon " << i);
    CHECK(sync(*sri[i], i).status().code() == ErrorCode::kTokenRevoked);
  }
  REQUIRE(sync(*admin, 2).is_ok());  // the others' tokens still serve
}

}  // namespace lumbung::test
