// Helpers shared by the tests: temporary directories, a fake clock, and
// replica options that carry a key in the SQLCipher build.
#pragma once

#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "lumbung/clock.hpp"
#include "lumbung/replica.hpp"
#include "temp_dir.hpp"

namespace lumbung::test {

class FakeClock : public Clock {
 public:
  explicit FakeClock(std::int64_t ms) : ms_(ms) {}
  std::int64_t now_ms() override { return ms_.load(); }
  void set(std::int64_t ms) { ms_.store(ms); }
  void advance(std::int64_t ms) { ms_.fetch_add(ms); }

 private:
  std::atomic<std::int64_t> ms_;
};

// The key every test replica uses in the SQLCipher build, none otherwise.
inline std::string test_key() {
#ifdef LUMBUNG_HAVE_SQLCIPHER
  return "correct horse battery staple";
#else
  return "";
#endif
}

inline ReplicaOptions options_for(const std::string& path, std::shared_ptr<Clock> clock = nullptr) {
  ReplicaOptions options;
  options.path = path;
  options.key = test_key();
  options.clock = std::move(clock);
  return options;
}

inline std::unique_ptr<Replica> open_replica(const ReplicaOptions& options) {
  Result<std::unique_ptr<Replica>> replica = Replica::open(options);
  if (!replica.is_ok()) throw std::runtime_error(replica.status().to_string());
  return std::move(replica).value();
}

// The ids of `table`'s rows on `phone`.
inline std::set<std::string> ids_on(Replica& phone, const std::string& table) {
  Result<std::vector<Row>> rows = phone.query("SELECT id FROM " + table);
  if (!rows.is_ok()) throw std::runtime_error(rows.status().to_string());
  std::set<std::string> ids;
  for (const Row& row : *rows) ids.insert(row.at("id").as_text());
  return ids;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Sets the process's umask (which the programs it starts inherit) for the
// object's life.
class Umask {
 public:
  explicit Umask(mode_t mask) : saved_(::umask(mask)) {}
  ~Umask() { ::umask(saved_); }
  Umask(const Umask&) = delete;
  Umask& operator=(const Umask&) = delete;

 private:
  mode_t saved_;
};

// A second, plain SQLite connection to the same file, as an app would open.
class PlainConnection {
 public:
  explicit PlainConnection(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + path);
    }
#ifdef LUMBUNG_HAVE_SQLCIPHER
    const std::string key = test_key();
    sqlite3_key(db_, key.data(), static_cast<int>(key.size()));
#endif
    sqlite3_busy_timeout(db_, 5000);
  }
  ~PlainConnection() { sqlite3_close_v2(db_); }

  // Runs SQL; returns SQLite's error message, or "" on success.
  std::string exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) == SQLITE_OK) return "";
    std::string error = message ? message : "error";
    sqlite3_free(message);
    return error;
  }

  std::int64_t scalar(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::int64_t value = -1;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    return value;
  }

  // What running a query to its end cost SQLite: the rows it stepped through
  // in full scans of tables and the sorts it made.
  struct ReadCost {
    int full_scan_steps = -1;
    int sorts = -1;
  };
  // `params`: ?1, ?2... (integers and text only).
  ReadCost read_cost(const std::string& sql, const std::vector<Value>& params) {
    sqlite3_stmt* stmt = nullptr;
    ReadCost cost;
    bool bound = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK;
    for (std::size_t i = 0; bound && i < params.size(); ++i) {
      const int at = static_cast<int>(i + 1);
      bound = (params[i].type() == ValueType::kInteger
                   ? sqlite3_bind_int64(stmt, at, params[i].as_integer())
                   : sqlite3_bind_text(stmt, at, params[i].as_text().c_str(), -1,
                                       SQLITE_TRANSIENT)) == SQLITE_OK;
    }
    if (bound) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
      }
      cost.full_scan_steps = sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
      cost.sorts = sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_SORT, 0);
    }
    sqlite3_finalize(stmt);
    return cost;
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace lumbung::test
