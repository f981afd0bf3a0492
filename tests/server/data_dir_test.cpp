// The data directory in process: its lock (server/data_dir.hpp), the modes
// its store, credentials and keys get whatever the process's umask (the
// daemon also sets its own; the library must not rely on it), an older
// version's wide modes narrowed on open, and the names a backup file may
// hold (server/backup_file.hpp).
#include "server/data_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "auth/token_authority.hpp"
#include "server/backup_file.hpp"
#include "server/sqlite_store.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

namespace fs = std::filesystem;

unsigned mode_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::lstat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

// Opens DIR's store (writing a value, so that its -wal and -shm exist while
// it is open) and its token authority; calls `check` while both are open.
template <typename Check>
void open_data_dir(const std::string& dir, Check check) {
  auto store = server::SqliteStore::open(dir);
  REQUIRE(store.is_ok());
  REQUIRE((*store)
              ->write([](server::WriteTransaction& txn) { return txn.set_meta("probe", "1"); })
              .is_ok());
  auto authority = auth::TokenAuthority::open(dir, nullptr);
  REQUIRE(authority.is_ok());
  check();
}

TEST_CASE("a second lock on a data directory is refused, naming it and the holder", "[server]") {
  TempDir dir;
  const std::string data = dir.file("data");
  auto first = server::DataDirLock::acquire(data);
  REQUIRE(first.is_ok());
  CHECK(mode_of(data) == 0700);
  CHECK(mode_of(data + "/" + server::kLockFileName) == 0600);

  auto second = server::DataDirLock::acquire(data);
  REQUIRE_FALSE(second.is_ok());
  CHECK(second.status().code() == ErrorCode::kBusy);
  CHECK(second.status().message() == "data directory '" + data +
                                         "' is in use by another lumbungd (pid " +
                                         std::to_string(::getpid()) + ")");

  first->reset();  // released
  auto third = server::DataDirLock::acquire(data);
  CHECK(third.is_ok());
}

TEST_CASE("an abandoned lock removes the lock file it created, and only that", "[server]") {
  TempDir dir;
  const std::string data = dir.file("data");
  const std::string lock_file = data + "/" + server::kLockFileName;
  {
    auto created = server::DataDirLock::acquire(data);
    REQUIRE(created.is_ok());
    (*created)->abandon();
    CHECK_FALSE(fs::exists(lock_file));
  }
  REQUIRE(server::DataDirLock::acquire(data).is_ok());  // leaves its file
  REQUIRE(fs::exists(lock_file));
  auto reused = server::DataDirLock::acquire(data);
  REQUIRE(reused.is_ok());
  (*reused)->abandon();
  CHECK(fs::exists(lock_file));
}

TEST_CASE("the store, credentials and keys are private whatever the umask", "[server]") {
  const mode_t mask = GENERATE(mode_t{022}, mode_t{0});
  INFO("umask " << mask);
  const Umask umask(mask);
  TempDir dir;
  const std::string data = dir.file("new/data");
  open_data_dir(data, [&] {
    CHECK(mode_of(data) == 0700);
    for (const std::string name :
         {"lumbung.db", "lumbung.db-wal", "lumbung.db-shm", "credentials.sqlite",
          "credentials.sqlite-wal", "credentials.sqlite-shm", "keys/current"}) {
      INFO(name);
      CHECK(mode_of(data + "/" + name) == 0600);
    }
    CHECK(mode_of(data + "/keys") == 0700);
  });
}

TEST_CASE("an older version's wide modes are narrowed when the store opens", "[server]") {
  TempDir dir;
  const std::string data = dir.file("data");
  open_data_dir(data, [&] {
    // As an older lumbungd left them under umask 022.
    for (const std::string name : {"lumbung.db", "lumbung.db-wal", "lumbung.db-shm",
                                   "credentials.sqlite", "credentials.sqlite-wal"}) {
      REQUIRE(::chmod((data + "/" + name).c_str(), 0644) == 0);
    }
    REQUIRE(::chmod(data.c_str(), 0755) == 0);
  });
  open_data_dir(data, [&] {
    CHECK(mode_of(data) == 0700);
    for (const std::string name : {"lumbung.db", "lumbung.db-wal", "lumbung.db-shm",
                                   "credentials.sqlite", "credentials.sqlite-wal"}) {
      INFO(name);
      CHECK(mode_of(data + "/" + name) == 0600);
    }
  });
}

TEST_CASE("a backup file names only files inside the directory it is unpacked into", "[server]") {
  for (const std::string name : {"lumbung.db", "keys/current", "keys/0123abcd.pem",
                                 "snapshots/6465-12-3.zst", "credentials.sqlite"}) {
    INFO(name);
    CHECK(server::is_backup_entry_name(name));
  }
  const std::vector<std::string> refused = {"",
                                            "/etc/passwd",
                                            "../lumbung.db",
                                            "keys/../../x",
                                            "a/b/c",
                                            ".hidden",
                                            "keys/.x",
                                            "keys/",
                                            "/",
                                            "keys//x",
                                            "a b",
                                            "keys/x\\y",
                                            std::string(256, 'a'),
                                            "keys/\xc3\xa9"};
  for (const std::string& name : refused) {
    INFO(name);
    CHECK_FALSE(server::is_backup_entry_name(name));
  }
}

}  // namespace
}  // namespace lumbung::test
