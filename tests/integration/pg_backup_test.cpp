// `lumbungd backup --store URL` and `lumbungd restore --store URL`
// (docs/lumbungd.md, docs/decisions/0040-backup-of-a-postgresql-store.md),
// against real daemons over databases of the run's throwaway cluster: a
// backup taken while a daemon serves and a device pushes restores into a
// fresh database that serves the state of the backup's moment, with the
// same tokens and a new epoch; the same file restores into a SQLite data
// directory; a database with data is refused without --force and replaced
// with it; a database a daemon serves is refused; a damaged file leaves the
// database as it was.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/protocol_device.hpp"
#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "pg/connection.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/pg_cluster.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

constexpr const char* kVillage = "desa-a";

// A command that must succeed and print one JSON object.
nlohmann::json run_json(const std::vector<std::string>& args) {
  return nlohmann::json::parse(lumbungd_output(args));
}

// A command that must fail with status 1, naming `problem`.
void check_refused(const std::vector<std::string>& args, const std::string& problem) {
  const ProcessResult result = run_lumbungd(args);
  INFO(lumbungd_command_line(args));
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.err, Contains(problem));
  CHECK(result.out.empty());
}

std::string issue_token(const std::string& data, const std::string& url,
                        const std::string& officer) {
  const std::string out = lumbungd_output(
      {"token", "--data", data, "--store", url, "--officer", officer, "--villages", kVillage});
  return out.substr(0, out.find('\n'));
}

std::string dump_of(const std::string& data, const std::string& url = "") {
  std::vector<std::string> args = {"dump", "--data", data};
  if (!url.empty()) args.insert(args.end(), {"--store", url});
  return lumbungd_output(args);
}

// The epoch the database's store holds, read with a connection of its own,
// closed before it returns (a restore refuses while lumbungd's connections
// are open, and a pg::Connection has lumbungd's application name).
std::string epoch_in(const std::string& url) {
  Result<std::unique_ptr<pg::Connection>> conn = pg::Connection::open(url);
  REQUIRE(conn.is_ok());
  Result<pg::Rows> rows = (*conn)->query("SELECT value FROM _lumbung_meta WHERE key = 'epoch'");
  REQUIRE(rows.is_ok());
  REQUIRE(rows->step());
  return rows->text(0);
}

Row household(const std::string& device, int i) {
  return {{"village_id", kVillage},
          {"head_name", device + " household " + std::to_string(i)},
          {"created_by", device},
          {"created_at", "2026-12-07T08:00:00Z"}};
}

// A phone of its own file, whose syncs name their daemon (to() below).
std::unique_ptr<Replica> phone(const std::string& path, const std::string& device_id,
                               const std::string& token) {
  ReplicaOptions options = options_for(path);
  options.device_id = device_id;
  options.token = token;
  return open_replica(options);
}

// Sync options that send to `daemon`.
SyncOptions to(const DaemonProcess& daemon) {
  SyncOptions options;
  options.transport = value_of(make_http_transport(daemon.url()));
  return options;
}

// A connection of the test's own to `url`, under an application name other
// than lumbungd's (a restore counts lumbungd's connections).
std::unique_ptr<pg::Connection> test_connection(const std::string& url, const std::string& name) {
  return value_of(pg::Connection::open(url + "&application_name=" + name));
}

// A database of the run's cluster, a data directory to serve it with, and a
// backup file's name.
struct ServedDatabase {
  TempDir dir;
  std::string url;
  std::string data = dir.file("data");
  std::string file = dir.file("backup.lbk");

  explicit ServedDatabase(const std::string& name)
      : url(shared_pg_cluster().create_database(name + "_" + std::to_string(::getpid()))) {}
};

// Registers households `first` to `last` - 1 on `replica`, then syncs with
// `daemon`.
void register_households(Replica& replica, const DaemonProcess& daemon, int first, int last) {
  for (int i = first; i < last; ++i) {
    REQUIRE(replica.insert_new("household", household("sri", i)).is_ok());
  }
  value_of(replica.sync(to(daemon)));
}

}  // namespace

TEST_CASE("backup and restore of a PostgreSQL store, into PostgreSQL and into SQLite",
          "[integration][postgresql][backup]") {
  TempDir dir;
  const std::string suffix = std::to_string(::getpid());
  const std::string url_a = shared_pg_cluster().create_database("backup_a_" + suffix);
  const std::string url_b = shared_pg_cluster().create_database("backup_b_" + suffix);
  const std::string data_a = dir.file("data-a");
  const std::string quiet = dir.file("quiet.lbk");
  const std::string busy = dir.file("busy.lbk");

  std::optional<DaemonProcess> daemon_a;
  daemon_a.emplace(LUMBUNGD, data_a, std::vector<std::string>{"--store", url_a});
  const std::string sri_token = issue_token(data_a, url_a, "sri");
  const std::string budi_token = issue_token(data_a, url_a, "budi");
  const SyncOptions to_a = to(*daemon_a);
  std::unique_ptr<Replica> sri = phone(dir.file("sri.db"), "phone-sri", sri_token);
  std::unique_ptr<Replica> budi = phone(dir.file("budi.db"), "phone-budi", budi_token);
  register_households(*sri, *daemon_a, 0, 20);
  value_of(budi->sync(to_a));
  // An update from each phone of the same row: a conflict, and audit entries.
  const std::string shared_id = value_of(budi->insert_new("household", household("budi", 0)));
  value_of(budi->sync(to_a));
  value_of(sri->sync(to_a));
  REQUIRE(sri->update("household", shared_id, {{"notes", "sri"}}).is_ok());
  REQUIRE(budi->update("household", shared_id, {{"notes", "budi"}}).is_ok());
  value_of(sri->sync(to_a));
  value_of(budi->sync(to_a));
  const std::string epoch_a = epoch_in(url_a);

  // A backup while the daemon serves, between pushes: the state of its moment.
  const std::string dump_at_backup = dump_of(data_a, url_a);
  const std::string audit_at_backup =
      lumbungd_output({"audit", "--data", data_a, "--store", url_a});
  const nlohmann::json quiet_backup =
      run_json({"backup", "--data", data_a, "--store", url_a, "--out", quiet});
  CHECK(quiet_backup.at("path") == quiet);
  CHECK(quiet_backup.at("bytes") == fs::file_size(quiet));
  CHECK(dump_of(data_a, url_a) == dump_at_backup);
  // A database without a store has nothing to back up; a URL of another kind is refused.
  const std::string empty = shared_pg_cluster().create_database("backup_e_" + suffix);
  check_refused({"backup", "--data", data_a, "--store", empty, "--out", dir.file("empty.lbk")},
                "holds no lumbungd store");
  check_refused({"backup", "--data", data_a, "--store", "mysql://db/x", "--out", dir.file("x.lbk")},
                "is not a PostgreSQL URL");
  CHECK_FALSE(fs::exists(dir.file("empty.lbk")));

  // A backup while a phone pushes, round after round of three households
  // and a sync, from its first round until the backup is written: one
  // consistent moment of the database.
  std::atomic<bool> backed_up = false;
  std::promise<void> first_round;
  std::future<void> first_round_done = first_round.get_future();
  std::vector<std::string> registered;  // the pusher's, until it ends
  std::future<std::string> pusher = std::async(std::launch::async, [&]() -> std::string {
    for (int round = 0; round == 0 || !backed_up; ++round) {
      for (int i = 0; i < 3; ++i) {
        Result<std::string> id =
            sri->insert_new("household", household("sri", 100 + 3 * round + i));
        if (!id.is_ok()) return "insert: " + id.status().to_string();
        registered.push_back(*id);
      }
      if (Result<SyncSummary> synced = sri->sync(to_a); !synced.is_ok()) {
        return "sync: " + synced.status().to_string();
      }
      if (round == 0) first_round.set_value();
    }
    return {};
  });
  first_round_done.wait();
  const nlohmann::json busy_backup =
      run_json({"backup", "--data", data_a, "--store", url_a, "--out", busy});
  backed_up = true;
  CHECK(pusher.get().empty());
  CHECK(busy_backup.at("last_seq").get<std::int64_t>() >
        quiet_backup.at("last_seq").get<std::int64_t>());
  const std::string final_dump = dump_of(data_a, url_a);
  REQUIRE(final_dump != dump_at_backup);

  SECTION("restored into a fresh database, it serves the backup's state with a new epoch") {
    const std::string data_b = dir.file("data-b");
    const nlohmann::json restored =
        run_json({"restore", "--from", quiet, "--data", data_b, "--store", url_b});
    CHECK(restored.at("last_seq") == quiet_backup.at("last_seq"));
    CHECK(restored.at("path") == data_b);
    CHECK(restored.at("epoch") != epoch_a);
    CHECK(restored.at("epoch") == epoch_in(url_b));
    // DIR holds the keys, not a SQLite store.
    CHECK(fs::is_directory(data_b + "/keys"));
    CHECK_FALSE(fs::exists(data_b + "/lumbung.db"));
    CHECK_FALSE(fs::exists(data_b + "/credentials.sqlite"));
    CHECK_FALSE(fs::exists(data_b + "/restore-staging"));
    CHECK(dump_of(data_b, url_b) == dump_at_backup);
    CHECK(lumbungd_output({"audit", "--data", data_b, "--store", url_b}) == audit_at_backup);

    // The fleet view (booleans and all) reads the same from the file
    // restored into the database and into a SQLite data directory.
    const std::string data_s = dir.file("data-s");
    run_json({"restore", "--from", quiet, "--data", data_s});
    const std::string devices = lumbungd_output({"devices", "--data", data_s, "--json"});
    CHECK(devices.find("\"all_villages\":false") != std::string::npos);
    CHECK(lumbungd_output({"devices", "--data", data_b, "--store", url_b, "--json"}) == devices);
    CHECK(lumbungd_output({"tokens", "--data", data_b, "--store", url_b}) ==
          lumbungd_output({"tokens", "--data", data_s}));

    DaemonProcess daemon_b(LUMBUNGD, data_b, {"--store", url_b});
    // The tokens issued before the backup are good, still bound to their
    // phones: budi's phone, reinstalled, pulls the rows again.
    std::unique_ptr<Replica> again = phone(dir.file("budi2.db"), "phone-budi", budi_token);
    const SyncSummary pulled = value_of(again->sync(to(daemon_b)));
    CHECK(pulled.pulled == 21);
    CHECK(nlohmann::json::parse(value_of(again->dump_json())) ==
          nlohmann::json::parse(dump_at_backup));

    // A database a daemon serves is refused, even with --force; nothing changes.
    check_refused(
        {"restore", "--from", busy, "--data", dir.file("data-x"), "--store", url_b, "--force"},
        "other lumbungd connection");
    CHECK_FALSE(fs::exists(dir.file("data-x")));
    CHECK(dump_of(data_b, url_b) == dump_at_backup);
  }

  SECTION("the same files restore into SQLite data directories") {
    const std::string data_q = dir.file("data-q");
    const nlohmann::json restored = run_json({"restore", "--from", quiet, "--data", data_q});
    CHECK(restored.at("last_seq") == quiet_backup.at("last_seq"));
    CHECK(restored.at("epoch") != epoch_a);
    CHECK(dump_of(data_q) == dump_at_backup);
    CHECK(lumbungd_output({"audit", "--data", data_q}) == audit_at_backup);
    {
      DaemonProcess daemon_q(LUMBUNGD, data_q);
      std::unique_ptr<Replica> again = phone(dir.file("sri2.db"), "phone-sri", sri_token);
      CHECK(value_of(again->sync(to(daemon_q))).pulled == 21);
    }

    // The backup taken during pushes holds, of the phone's households, the
    // first ones it registered, as the database has them now.
    const std::string data_c = dir.file("data-c");
    run_json({"restore", "--from", busy, "--data", data_c});
    const nlohmann::json households = nlohmann::json::parse(dump_of(data_c)).at("household");
    const nlohmann::json final_households = nlohmann::json::parse(final_dump).at("household");
    std::size_t prefix = 0;
    while (prefix < registered.size() && households.contains(registered[prefix])) ++prefix;
    CHECK(prefix >= 3);  // the first round was synced before the backup began
    for (std::size_t k = prefix; k < registered.size(); ++k) {
      CHECK_FALSE(households.contains(registered[k]));
    }
    CHECK(households.size() == 21 + prefix);
    for (const auto& [id, row] : households.items()) CHECK(final_households.at(id) == row);
  }

  SECTION("a database with data is refused without --force and replaced with it") {
    daemon_a.reset();
    const std::string data_y = dir.file("data-y");
    check_refused({"restore", "--from", quiet, "--data", data_y, "--store", url_a},
                  "already holds a store with data");
    CHECK_FALSE(fs::exists(data_y));
    CHECK(dump_of(data_a, url_a) == final_dump);
    CHECK(epoch_in(url_a) == epoch_a);

    // A damaged file is refused before the database is touched.
    std::string bytes = read_file(quiet);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
    const std::string damaged = dir.file("damaged.lbk");
    std::ofstream(damaged, std::ios::binary) << bytes;
    const ProcessResult refused =
        run_lumbungd({"restore", "--from", damaged, "--data", data_y, "--store", url_a, "--force"});
    CHECK(refused.exit_code == 1);
    CHECK(dump_of(data_a, url_a) == final_dump);
    CHECK(epoch_in(url_a) == epoch_a);

    const nlohmann::json restored =
        run_json({"restore", "--from", quiet, "--data", data_y, "--store", url_a, "--force"});
    CHECK(restored.at("epoch") != epoch_a);
    CHECK(dump_of(data_y, url_a) == dump_at_backup);
    CHECK(lumbungd_output({"audit", "--data", data_y, "--store", url_a}) == audit_at_backup);
    // The replaced store serves, to the phone that pushed after the backup:
    // it sees the new epoch and offers again what the store lacks.
    DaemonProcess daemon_y(LUMBUNGD, data_y, {"--store", url_a});
    sri.reset();
    std::unique_ptr<Replica> back = phone(dir.file("sri.db"), "phone-sri", sri_token);
    value_of(back->sync(to(daemon_y)));
    value_of(back->sync(to(daemon_y)));
    CHECK(nlohmann::json::parse(dump_of(data_y, url_a)).at("household").size() ==
          nlohmann::json::parse(final_dump).at("household").size());
  }
}

TEST_CASE("a restore killed inside its transaction leaves the database as it was",
          "[integration][postgresql][backup]") {
  ServedDatabase served("backup_kill");
  TempDir& dir = served.dir;
  const std::string& url = served.url;
  const std::string& data = served.data;
  const std::string& file = served.file;
  {
    DaemonProcess daemon(LUMBUNGD, data, {"--store", url});
    std::unique_ptr<Replica> sri =
        phone(dir.file("sri.db"), "phone-sri", issue_token(data, url, "sri"));
    register_households(*sri, daemon, 0, 10);
    run_json({"backup", "--data", data, "--store", url, "--out", file});
    register_households(*sri, daemon, 10, 15);
  }
  const std::string dump_before = dump_of(data, url);
  const std::string epoch_before = epoch_in(url);

  // A reader of the audit log holds the restore up inside its transaction,
  // after it dropped the row tables, until the restore is killed.
  std::unique_ptr<pg::Connection> reader = test_connection(url, "pg_backup_test_reader");
  REQUIRE(reader->exec("BEGIN; LOCK TABLE _lumbung_audit_log IN ACCESS SHARE MODE").is_ok());
  const std::string restored = dir.file("restored");
  ChildProcess restore(
      {LUMBUNGD, "restore", "--from", file, "--data", restored, "--store", url, "--force"}, {},
      fs::current_path().string());
  {
    std::unique_ptr<pg::Connection> watcher = test_connection(url, "pg_backup_test_watcher");
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    bool waiting = false;
    while (!waiting && std::chrono::steady_clock::now() < deadline) {
      pg::Rows rows = value_of(
          watcher->query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                         "AND application_name = 'lumbungd' AND wait_event_type = 'Lock'"));
      waiting = rows.step() && rows.integer(0) == 1;
      if (!waiting) std::this_thread::sleep_for(10ms);  // polls the condition, bounded
    }
    REQUIRE(waiting);
  }
  restore.send_signal(SIGKILL);
  REQUIRE(restore.wait(std::chrono::steady_clock::now() + 10s));
  REQUIRE(reader->exec("COMMIT").is_ok());
  reader.reset();

  // The server side of the killed restore rolls back: the store is whole.
  CHECK(dump_of(data, url) == dump_before);
  CHECK(epoch_in(url) == epoch_before);
  // The next restore into the same DIR clears what the killed one staged.
  const nlohmann::json again =
      run_json({"restore", "--from", file, "--data", restored, "--store", url, "--force"});
  CHECK(again.at("epoch") != epoch_before);
  CHECK_FALSE(fs::exists(restored + "/restore-staging"));
  CHECK(nlohmann::json::parse(dump_of(restored, url)).at("household").size() == 10);
}

TEST_CASE("a table of more rows than a page of the copy is copied whole",
          "[integration][postgresql][backup]") {
  ServedDatabase served("backup_pages");
  const std::string& url = served.url;
  const std::string& data = served.data;
  {
    DaemonProcess daemon(LUMBUNGD, data, {"--store", url});
    std::unique_ptr<Replica> sri =
        phone(served.dir.file("sri.db"), "phone-sri", issue_token(data, url, "sri"));
    register_households(*sri, daemon, 0, 10050);
  }
  {
    // The copy reads 10,000 rows a page: the row table, the change log and
    // the audit log (one entry per row inserted) take two each.
    std::unique_ptr<pg::Connection> conn = test_connection(url, "pg_backup_test_count");
    pg::Rows rows = value_of(conn->query("SELECT count(*) FROM _lumbung_audit_log"));
    REQUIRE(rows.step());
    REQUIRE(rows.integer(0) > 10000);
  }
  const std::string audit = lumbungd_output({"audit", "--data", data, "--store", url});
  const std::string dump = dump_of(data, url);
  run_json({"backup", "--data", data, "--store", url, "--out", served.file});
  const std::string restored = served.dir.file("restored");
  run_json({"restore", "--from", served.file, "--data", restored});
  CHECK(dump_of(restored) == dump);
  CHECK(lumbungd_output({"audit", "--data", restored}) == audit);
}

}  // namespace lumbung::test
