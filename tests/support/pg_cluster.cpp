#include "pg_cluster.hpp"

#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "pg/connection.hpp"
#include "subprocess.hpp"

#ifndef LUMBUNG_PG_BINDIR
#error "LUMBUNG_PG_BINDIR: the folder of initdb, pg_ctl and postgres (tests/CMakeLists.txt)"
#endif

namespace lumbung::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFolderPrefix = "lumbung-pg-";
constexpr const char* kOwnerFile = "owner";  // the pid of the process a folder belongs to

// Who runs the cluster's programs: this process, or `nobody` when root.
struct RunAs {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

RunAs run_as() {
  RunAs who;
  if (::geteuid() != 0) return who;
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr)
    throw std::runtime_error("pg_cluster: running as root, and no user 'nobody'");
  who.switch_user = true;
  who.uid = nobody->pw_uid;
  who.gid = nobody->pw_gid;
  return who;
}

// Runs PostgreSQL's program `program` (initdb, pg_ctl) with `args`, as RunAs
// says, in `folder`.
ProcessResult run_pg(const std::string& program, const std::vector<std::string>& args,
                     const fs::path& folder) {
  const RunAs who = run_as();
  std::vector<std::string> argv;
  if (who.switch_user) {
    argv = {"/usr/bin/setpriv", "--reuid=" + std::to_string(who.uid),
            "--regid=" + std::to_string(who.gid), "--clear-groups", "--"};
  }
  argv.push_back(std::string(LUMBUNG_PG_BINDIR) + "/" + program);
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}, folder.string());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

[[noreturn]] void fail(const std::string& what, const ProcessResult& result,
                       const fs::path& folder) {
  throw std::runtime_error("pg_cluster: " + what + " failed (exit " +
                           std::to_string(result.exit_code) + "): " + result.out + result.err +
                           "\nserver log:\n" + read_file(folder / "log"));
}

// The folder, its socket folder and the server's log file belong to the
// user that runs the cluster.
void give_to_cluster_user(const fs::path& path) {
  const RunAs who = run_as();
  if (who.switch_user && ::chown(path.c_str(), who.uid, who.gid) != 0) {
    throw std::system_error(errno, std::generic_category(), "chown " + path.string());
  }
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// Removes the clusters of folders /tmp/lumbung-pg-XXXXXX whose process died
// without removing them (a test binary killed by a timeout or a crash).
void remove_orphans() {
  std::error_code ignored;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(fs::temp_directory_path(), ignored)) {
    if (!entry.path().filename().string().starts_with(kFolderPrefix)) continue;
    std::ifstream owner(entry.path() / kOwnerFile);
    pid_t pid = 0;
    if (!(owner >> pid) || pid <= 0 || process_exists(pid)) continue;  // the fixture's has none
    PgCluster::remove(entry.path());
  }
}

// PostgreSQL reads the socket folder from its configuration file, and libpq
// from a URL: keep both to characters neither needs to quote.
void check_plain_path(const fs::path& path) {
  for (char c : path.string()) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '-' && c != '_' &&
        c != '.') {
      throw std::runtime_error("pg_cluster: folder '" + path.string() +
                               "' has a character other than [A-Za-z0-9/._-]");
    }
  }
}

}  // namespace

std::string PgServer::create_database(const std::string& name) const {
  bool valid = !name.empty() && std::islower(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    valid = valid && (std::islower(static_cast<unsigned char>(c)) ||
                      std::isdigit(static_cast<unsigned char>(c)) || c == '_');
  }
  if (!valid) throw std::invalid_argument("pg_cluster: bad database name '" + name + "'");
  const std::string prefix = "postgresql:///";
  const std::size_t query = url_.find('?');
  if (!url_.starts_with(prefix) || query == std::string::npos) {
    throw std::invalid_argument(
        "pg_cluster: expected a URL postgresql:///DATABASE?host=..., got '" + url_ + "'");
  }
  auto conn = pg::Connection::open(url_);
  if (!conn.is_ok()) throw std::runtime_error("pg_cluster: " + conn.status().to_string());
  Status status = (*conn)->exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  if (status.is_ok()) status = (*conn)->exec("CREATE DATABASE " + name);
  if (!status.is_ok()) throw std::runtime_error("pg_cluster: " + status.to_string());
  return prefix + name + url_.substr(query);
}

int PgCluster::postmaster_pid() const {
  std::ifstream file(folder_ / "data" / "postmaster.pid");
  int pid = 0;
  if (!(file >> pid) || pid <= 0) {
    throw std::runtime_error("cannot read " + (folder_ / "data" / "postmaster.pid").string());
  }
  return pid;
}

PgCluster::PgCluster(fs::path folder) : folder_(std::move(folder)) {
  if (folder_.empty()) {
    remove_orphans();
    std::string templ =
        (fs::temp_directory_path() / (std::string(kFolderPrefix) + "XXXXXX")).string();
    if (::mkdtemp(templ.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    folder_ = templ;
    std::ofstream(folder_ / kOwnerFile) << ::getpid() << "\n";
  } else {
    remove(folder_);  // what a killed run left
    fs::create_directories(folder_);
  }
  try {
    check_plain_path(folder_);
    fs::permissions(folder_, fs::perms::owner_all);
    give_to_cluster_user(folder_);
    fs::create_directory(folder_ / "socket");
    give_to_cluster_user(folder_ / "socket");
    const ProcessResult initdb = run_pg("initdb",
                                        {"-D", (folder_ / "data").string(), "-A", "trust", "-N",
                                         "-E", "UTF8", "--locale=C", "-U", "postgres"},
                                        folder_);
    if (initdb.exit_code != 0) fail("initdb", initdb, folder_);
    // Unix socket only, in the folder. fsync off: no test survives a power
    // cut of the machine itself, and a server restart loses nothing.
    std::ofstream conf(folder_ / "data" / "postgresql.conf", std::ios::app);
    conf << "\n# pg_cluster (tests/support/pg_cluster.cpp)\n"
         << "listen_addresses = ''\n"
         << "unix_socket_directories = '" << (folder_ / "socket").string() << "'\n"
         << "fsync = off\n"
         << "max_connections = 200\n";
    conf.close();
    if (!conf) throw std::runtime_error("pg_cluster: cannot write postgresql.conf");
    start();
  } catch (...) {
    remove(folder_);
    throw;
  }
}

void PgCluster::start() {
  const ProcessResult started = run_pg("pg_ctl",
                                       {"start", "-D", (folder_ / "data").string(), "-l",
                                        (folder_ / "log").string(), "-w", "-t", "60"},
                                       folder_);
  if (started.exit_code != 0) fail("pg_ctl start", started, folder_);
}

PgCluster::~PgCluster() {
  if (released_) return;
  const ProcessResult stopped =
      run_pg("pg_ctl", {"stop", "-D", (folder_ / "data").string(), "-m", "fast", "-w"}, folder_);
  (void)stopped;  // remove() below stops it harder if it still runs
  remove(folder_);
}

void PgCluster::restart() {
  const ProcessResult restarted =
      run_pg("pg_ctl",
             {"restart", "-D", (folder_ / "data").string(), "-l", (folder_ / "log").string(), "-m",
              "fast", "-w", "-t", "60"},
             folder_);
  if (restarted.exit_code != 0) fail("pg_ctl restart", restarted, folder_);
}

void PgCluster::remove(const fs::path& folder) {
  std::error_code ignored;
  if (fs::exists(folder / "data" / "postmaster.pid", ignored)) {
    (void)run_pg("pg_ctl", {"stop", "-D", (folder / "data").string(), "-m", "immediate", "-w"},
                 folder);
  }
  fs::remove_all(folder, ignored);
}

std::string PgCluster::url_for(const fs::path& folder, const std::string& database) {
  return "postgresql:///" + database + "?host=" + (folder / "socket").string() + "&user=postgres";
}

const PgServer& shared_pg_cluster() {
  static const std::unique_ptr<PgCluster> own = [] {
    const char* url = std::getenv("LUMBUNG_TEST_PG_URL");
    return url != nullptr && *url != '\0' ? nullptr : std::make_unique<PgCluster>();
  }();
  static const PgServer server = [] {
    const char* url = std::getenv("LUMBUNG_TEST_PG_URL");
    return own ? own->server() : PgServer(url);
  }();
  return server;
}

}  // namespace lumbung::test
