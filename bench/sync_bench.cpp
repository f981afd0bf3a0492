// Sync over loopback against a real lumbungd: push of new rows, initial
// download to a fresh device, and an incremental sync after 1% of the rows
// changed. Each is reported beside its bound: plain SQLite inserting the same
// rows, and the rows as CSV compressed with zstd -3.
//
//   build/bench/sync_bench [--store sqlite|postgresql] [ROWS...]
//                                             (default: sqlite, 10000 100000)
//
// With --store postgresql, lumbungd keeps its state in a database of a
// throwaway PostgreSQL cluster (tests/support/pg_cluster.hpp) the bench
// starts, and lumbungd's CPU includes the PostgreSQL backends' it used.
// Bytes are counted on the wire by a relay between device and daemon, so HTTP
// headers are included. Every step runs in a child process, so that its peak
// memory (ru_maxrss) is its own: the parent never holds the rows, which a
// forked child would otherwise count as its own resident pages.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lumbung/replica.hpp"
#include "measure.hpp"
#include "people.hpp"
#include "support/pg_cluster.hpp"

namespace {

using lumbung::Row;
using lumbung::Value;
using lumbung::bench::make_people;
using lumbung::bench::people_columns;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "sync_bench: %s\n", what.c_str());
  std::exit(1);
}

void check(const lumbung::Status& status, const char* what) {
  if (!status.is_ok()) fail(std::string(what) + ": " + status.to_string());
}

// The practical floor for this data: the rows as CSV, compressed by zstd -3.
std::size_t csv_zstd_bytes(const std::vector<Row>& rows) {
  std::string csv;
  for (const Row& row : rows) {
    for (std::size_t i = 0; i < people_columns().size(); ++i) {
      const Value& v = row.at(people_columns()[i]);
      if (i) csv += ',';
      if (v.type() == lumbung::ValueType::kText) csv += v.as_text();
    }
    csv += '\n';
  }
  std::string out(ZSTD_compressBound(csv.size()), '\0');
  return ZSTD_compress(out.data(), out.size(), csv.data(), csv.size(), 3);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The bound for a download: plain SQLite inserting the same rows into the
// same table of a file without capture, one transaction. Sets *cpu_seconds
// to the CPU time it took.
double plain_insert_seconds(const std::string& dir, const std::vector<Row>& rows,
                            double* cpu_seconds) {
  const std::string path = dir + "/plain.db";
  {
    lumbung::ReplicaOptions options;
    options.path = path;
    check(lumbung::Replica::open(options).status(), "create plain");
  }
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;"
               "UPDATE _lumbung_clock SET applying = 1",
               nullptr, nullptr, nullptr);
  std::string sql = "INSERT INTO person (", params;
  for (std::size_t i = 0; i < people_columns().size(); ++i) {
    sql += (i ? ", " : "") + people_columns()[i];
    params += i ? ", ?" : "?";
  }
  sql += ") VALUES (" + params + ")";
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = lumbung::bench::own_cpu_seconds();
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  for (const Row& row : rows) {
    for (std::size_t i = 0; i < people_columns().size(); ++i) {
      const std::string& text = row.at(people_columns()[i]).as_text();
      sqlite3_bind_text(stmt, static_cast<int>(i + 1), text.c_str(), -1, SQLITE_TRANSIENT);
    }
    if (sqlite3_step(stmt) != SQLITE_DONE) fail(sqlite3_errmsg(db));
    sqlite3_reset(stmt);
  }
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  const double s = seconds_since(start);
  *cpu_seconds = lumbung::bench::own_cpu_seconds() - cpu_start;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return s;
}

// A TCP relay on 127.0.0.1 that counts the bytes going each way.
class CountingRelay {
 public:
  explicit CountingRelay(int target_port) : target_port_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 16) != 0) {
      fail("relay: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~CountingRelay() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
    for (std::thread& t : pumps_) t.join();
  }
  int port() const { return port_; }
  std::int64_t bytes() const { return up_ + down_; }
  void reset() { up_ = down_ = 0; }

 private:
  void accept_loop() {
    while (!stop_) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      const int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<std::uint16_t>(target_port_));
      if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      pumps_.emplace_back([this, client, server] { pump(client, server); });
    }
  }
  void pump(int client, int server) {
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    char buf[65536];
    while (!stop_) {
      if (::poll(fds, 2, 200) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(client);
          ::close(server);
          return;
        }
        (i == 0 ? up_ : down_) += n;
        for (ssize_t off = 0; off < n;) {
          const ssize_t w = ::write(fds[1 - i].fd, buf + off, static_cast<std::size_t>(n - off));
          if (w <= 0) break;
          off += w;
        }
      }
    }
    ::close(client);
    ::close(server);
  }

  int target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> up_{0}, down_{0};
  std::thread thread_;
  std::vector<std::thread> pumps_;
};

// Where lumbungd keeps its state: its data directory's SQLite store, or a
// PostgreSQL database (`store_url`).
struct Store {
  std::string data_dir;
  std::string store_url;  // empty: the data directory's SQLite store

  // `lumbungd COMMAND --data DIR [--store URL] EXTRA...`, run in this process.
  [[noreturn]] void exec(const char* command, std::vector<std::string> extra) const {
    std::vector<std::string> args = {LUMBUNGD, command, "--data", data_dir};
    if (!store_url.empty()) args.insert(args.end(), {"--store", store_url});
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(LUMBUNGD, argv.data());
    std::_Exit(127);
  }
};

// Starts `lumbungd serve` on an ephemeral port; returns its pid and port.
std::pair<pid_t, int> start_daemon(const Store& store) {
  const std::string& data_dir = store.data_dir;
  const std::string out = data_dir + ".out";
  std::fflush(stdout);  // freopen in the child would flush the buffer again
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen(out.c_str(), "w", stdout);
    store.exec("serve", {"--listen", "127.0.0.1:0", "--insecure-no-auth"});
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(out);
    std::string line;
    if (std::getline(in, line) && line.rfind("lumbungd listening on http://", 0) == 0) {
      return {pid, std::atoi(line.substr(line.rfind(':') + 1).c_str())};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a file; no event exists
  }
  fail("lumbungd did not start");
}

// Runs `lumbungd snapshot` on the daemon's directory, as an operator's cron
// job would once the village's rows are in; returns its wall time.
double build_snapshots(const Store& store) {
  const auto start = std::chrono::steady_clock::now();
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen((store.data_dir + ".snapshot.out").c_str(), "w", stdout);
    store.exec("snapshot", {});
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("lumbungd snapshot failed");
  return seconds_since(start);
}

// What a step measured; trivially copyable, so that a child can send it whole.
struct Measured {
  double seconds = 0;
  double cpu_seconds = 0;         // the step's own code (the insert, the sync)
  double child_cpu_seconds = 0;   // the whole child process
  double daemon_cpu_seconds = 0;  // lumbungd meanwhile
  long peak_kib = 0;
  lumbung::SyncSummary summary;
  double floor_bytes_per_row = 0;  // the baselines' step only
};

// Runs `work` in a child process; returns what it measured with the child's
// peak memory.
Measured in_child(const std::function<Measured()>& work) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) fail("pipe");
  std::fflush(stdout);  // or the child prints the parent's buffer again
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    const Measured m = work();
    std::_Exit(::write(pipe_fds[1], &m, sizeof m) == sizeof m ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  Measured m;
  if (::read(pipe_fds[0], &m, sizeof m) != sizeof m) fail("a step failed");
  ::close(pipe_fds[0]);
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  m.peak_kib = usage.ru_maxrss;
  m.child_cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                        (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  return m;
}

// Opens the device, runs `before` (local writes), then times one sync.
Measured sync_device(const std::string& path, const std::string& url,
                     const std::function<void(lumbung::Replica&)>& before) {
  lumbung::ReplicaOptions options;
  options.path = path;
  options.server_url = url;
  auto replica = lumbung::Replica::open(options);
  check(replica.status(), "open device");
  if (before) before(**replica);
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = lumbung::bench::own_cpu_seconds();
  auto summary = (*replica)->sync();
  check(summary.status(), "sync");
  Measured m;
  m.seconds = seconds_since(start);
  m.cpu_seconds = lumbung::bench::own_cpu_seconds() - cpu_start;
  m.summary = *summary;
  return m;
}

// `cluster`: the PostgreSQL cluster to keep lumbungd's state in; null: its
// data directory's SQLite store.
void bench(int count, const lumbung::test::PgCluster* cluster) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("lumbung-sync-bench-" + std::to_string(::getpid())))
                              .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  constexpr std::uint64_t kSeed = 7;  // every step makes the same rows
  Store store{.data_dir = dir + "/server", .store_url = ""};
  if (cluster != nullptr) {
    store.store_url = cluster->create_database("sync_bench_" + std::to_string(count));
  }
  const auto [daemon, port] = start_daemon(store);
  // lumbungd's CPU, and over PostgreSQL that of the database's processes.
  const auto daemon_cpu_seconds = [&, daemon = daemon] {
    double seconds = lumbung::bench::cpu_seconds(daemon);
    if (cluster != nullptr) {
      seconds += lumbung::bench::cpu_seconds_with_live_children(cluster->postmaster_pid());
    }
    return seconds;
  };
  CountingRelay relay(port);
  const std::string url = "http://127.0.0.1:" + std::to_string(relay.port());

  const Measured baselines = in_child([&] {
    const std::vector<Row> rows = make_people(count, kSeed);
    Measured m;
    m.seconds = plain_insert_seconds(dir, rows, &m.cpu_seconds);
    m.floor_bytes_per_row = static_cast<double>(csv_zstd_bytes(rows)) / count;
    return m;
  });
  const double plain_s = baselines.seconds;
  const double floor_bytes = baselines.floor_bytes_per_row;

  const double daemon_cpu_before_push = daemon_cpu_seconds();
  Measured push = in_child([&] {
    const std::vector<Row> rows = make_people(count, kSeed);
    return sync_device(dir + "/officer.db", url, [&](lumbung::Replica& replica) {
      check(replica.transaction([&]() -> lumbung::Status {
        for (const Row& row : rows) LUMBUNG_RETURN_IF_ERROR(replica.insert("person", row));
        return lumbung::Status::ok();
      }),
            "register");
    });
  });
  push.daemon_cpu_seconds = daemon_cpu_seconds() - daemon_cpu_before_push;
  const std::int64_t push_bytes = relay.bytes();
  relay.reset();
  const double daemon_cpu_before = daemon_cpu_seconds();
  Measured download = in_child([&] { return sync_device(dir + "/fresh.db", url, nullptr); });
  download.daemon_cpu_seconds = daemon_cpu_seconds() - daemon_cpu_before;
  const std::int64_t download_bytes = relay.bytes();

  // The same download once the daemon keeps a snapshot of the village.
  const double snapshot_build_s = build_snapshots(store);
  relay.reset();
  const double daemon_cpu_before_snapshot = daemon_cpu_seconds();
  Measured from_snapshot =
      in_child([&] { return sync_device(dir + "/fresh-from-snapshot.db", url, nullptr); });
  from_snapshot.daemon_cpu_seconds = daemon_cpu_seconds() - daemon_cpu_before_snapshot;
  const std::int64_t from_snapshot_bytes = relay.bytes();

  // 1% of the rows change on the officer's phone; the fresh device catches up.
  in_child([&] {
    const std::vector<Row> rows = make_people(count, kSeed);
    return sync_device(dir + "/officer.db", url, [&](lumbung::Replica& replica) {
      check(replica.transaction([&]() -> lumbung::Status {
        for (int i = 0; i < count; i += 100) {
          LUMBUNG_RETURN_IF_ERROR(replica.update("person", rows[i].at("id").as_text(),
                                                 {{"phone", Value("+6281399999999")}}));
        }
        return lumbung::Status::ok();
      }),
            "edit");
    });
  });
  relay.reset();
  const Measured incremental =
      in_child([&] { return sync_device(dir + "/fresh.db", url, nullptr); });
  const std::int64_t incremental_bytes = relay.bytes();
  if (download.summary.pulled != count || from_snapshot.summary.pulled != count ||
      incremental.summary.pulled != count / 100) {
    fail("pulled " + std::to_string(download.summary.pulled) + ", " +
         std::to_string(from_snapshot.summary.pulled) + " and " +
         std::to_string(incremental.summary.pulled) + " rows");
  }

  std::printf(
      "\n%s store: %d person rows (plain SQLite insert of the same rows: %.3f s, %.0f rows/s;"
      " CSV + zstd -3: %.1f bytes/row)\n",
      cluster != nullptr ? "PostgreSQL" : "SQLite", count, plain_s, count / plain_s, floor_bytes);
  std::printf("plain SQLite insert CPU: %.3f s (%.0f rows per CPU second)\n", baselines.cpu_seconds,
              count / baselines.cpu_seconds);
  std::printf("%-28s %9s %11s %10s %9s %11s\n", "step", "seconds", "rows/s", "bytes/row",
              "vs floor", "peak RSS");
  auto line = [&](const char* name, const Measured& m, int n, std::int64_t bytes) {
    std::printf("%-28s %9.3f %11.0f %10.1f %8.2fx %8ld KiB\n", name, m.seconds, n / m.seconds,
                static_cast<double>(bytes) / n, static_cast<double>(bytes) / n / floor_bytes,
                m.peak_kib);
  };
  line("push of new rows", push, count, push_bytes);
  std::printf("push CPU: device %.3f s, lumbungd %.3f s\n", push.cpu_seconds,
              push.daemon_cpu_seconds);
  line("initial download", download, count, download_bytes);
  std::printf("initial download CPU: device %.3f s, lumbungd %.3f s (%.0f rows per CPU second)\n",
              download.child_cpu_seconds, download.daemon_cpu_seconds,
              count / (download.child_cpu_seconds + download.daemon_cpu_seconds));
  line("initial download, snapshot", from_snapshot, count, from_snapshot_bytes);
  std::printf(
      "snapshot download CPU: device %.3f s, lumbungd %.3f s; `lumbungd snapshot` took %.3f s "
      "before it\n",
      from_snapshot.child_cpu_seconds, from_snapshot.daemon_cpu_seconds, snapshot_build_s);
  line("incremental (1% changed)", incremental, count / 100, incremental_bytes);

  ::kill(daemon, SIGTERM);
  ::waitpid(daemon, nullptr, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> counts;
  bool postgresql = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--store" && i + 1 < argc) {
      const std::string store = argv[++i];
      if (store != "sqlite" && store != "postgresql") fail("--store is sqlite or postgresql");
      postgresql = store == "postgresql";
    } else {
      counts.push_back(std::atoi(argv[i]));
    }
  }
  if (counts.empty()) counts = {10000, 100000};
  std::optional<lumbung::test::PgCluster> cluster;
  if (postgresql) cluster.emplace();
  std::printf("sync_bench: device and lumbungd over loopback, bytes counted on the wire\n");
  for (int count : counts) {
    if (count < 100) fail("ROWS must be at least 100");
    bench(count, cluster ? &*cluster : nullptr);
  }
  return 0;
}
