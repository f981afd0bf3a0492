// Throwaway PostgreSQL 15 clusters for tests (docs/decisions/0032): initdb in
// a temporary folder, a server listening on a Unix socket in that folder only
// (never TCP, never the system's service), stopped and removed at the end.
//
// Under ctest, one cluster serves the whole run: the fixture tests
// pg.cluster_start and pg.cluster_stop (tests/CMakeLists.txt,
// lumbung_pg_tests()) start and stop it and hand its URL to the tests in
// LUMBUNG_TEST_PG_URL; shared_pg_cluster() returns it. A test binary run by
// hand, without that variable, starts a cluster of its own on first use.
// Each test takes a database of its own: shared_pg_cluster().create_database().
//
// As root (CI), initdb and postgres refuse to run: the cluster's programs run
// as `nobody` (setpriv) in a folder that belongs to it; root's clients connect
// through the socket as the cluster's superuser, "postgres".
//
// Thread-safety: none; use a cluster from one thread at a time.
#pragma once

#include <filesystem>
#include <string>

namespace lumbung::test {

// A PostgreSQL server the tests connect to, by its URL.
class PgServer {
 public:
  // `url`: postgresql:///DATABASE?host=SOCKET_DIR&... (the form
  // PgCluster::url() gives).
  explicit PgServer(std::string url) : url_(std::move(url)) {}

  // The URL of the server's "postgres" database.
  const std::string& url() const { return url_; }
  // Creates the database `name` ([a-z0-9_], starting with a letter), empty,
  // dropping one of that name first (from an earlier run), and returns its
  // URL. Throws std::runtime_error when it cannot.
  std::string create_database(const std::string& name) const;

 private:
  std::string url_;
};

class PgCluster {
 public:
  // Creates a cluster (initdb -A trust -N -E UTF8 --locale=C -U postgres) in
  // `folder` and starts it (pg_ctl start -w). A cluster a killed run left in
  // `folder` is stopped and removed first. Without a folder: a new one,
  // /tmp/lumbung-pg-XXXXXX, marked with this process's id, and clusters left
  // in such folders by processes that no longer exist are removed first.
  // Throws std::runtime_error, with the server's log, when it cannot.
  explicit PgCluster(std::filesystem::path folder = {});
  // Stops the server (pg_ctl stop -m fast -w) and removes the folder, unless
  // release() was called.
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // The URL of the "postgres" database: postgresql:///postgres?host=...&user=postgres.
  std::string url() const { return url_for(folder_, "postgres"); }
  PgServer server() const { return PgServer(url()); }
  std::string create_database(const std::string& name) const {
    return server().create_database(name);
  }
  // Stops the server (pg_ctl restart -m fast: connections are closed) and
  // starts it again; returns once it accepts connections.
  void restart();
  const std::filesystem::path& folder() const { return folder_; }
  // The server's postmaster process, from its postmaster.pid (benchmarks
  // count the CPU of it and its backends). Throws std::runtime_error when
  // it cannot be read.
  int postmaster_pid() const;

  // Leaves the server running and its folder in place when this object ends:
  // for the ctest fixture, whose cleanup step calls remove().
  void release() { released_ = true; }
  // Stops the server of a cluster in `folder`, if one runs (pg_ctl stop -m
  // immediate: it is being thrown away), and removes the folder. Nothing
  // when there is no such folder.
  static void remove(const std::filesystem::path& folder);
  // The URL of database `database` of a cluster in `folder`.
  static std::string url_for(const std::filesystem::path& folder, const std::string& database);

 private:
  void start();

  std::filesystem::path folder_;
  bool released_ = false;
};

// The server this process's tests share: the ctest fixture's when
// LUMBUNG_TEST_PG_URL is set, else a PgCluster started on the first call and
// removed when the process exits.
const PgServer& shared_pg_cluster();

}  // namespace lumbung::test
