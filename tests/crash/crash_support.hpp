// What the crash and disk-fault tests share: their seed, the rows they write,
// and the checks they make of a replica and of lumbungd's store.
#pragma once

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "crash_rows.hpp"
#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "support/lumbungd_command.hpp"
#include "support/subprocess.hpp"

namespace lumbung::test {

// LUMBUNG_CRASH_SEED when set (to replay a failure), a fresh one otherwise;
// printed either way, as the only thing needed to rerun the same faults.
inline unsigned crash_seed(const char* test) {
  const char* given = std::getenv("LUMBUNG_CRASH_SEED");
  const unsigned seed =
      given ? static_cast<unsigned>(std::strtoul(given, nullptr, 10)) : std::random_device{}();
  std::fprintf(stderr, "%s: seed %u (rerun with LUMBUNG_CRASH_SEED=%u)\n", test, seed, seed);
  return seed;
}

// "ok", or what PRAGMA integrity_check found wrong.
inline std::string integrity_check(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open " + path;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    result.clear();
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        result += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      }
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(db);
  return result;
}

inline std::shared_ptr<Transport> http_to(const std::string& url) {
  HttpTransportOptions options;
  options.connect_timeout = std::chrono::milliseconds(1000);
  options.request_timeout = std::chrono::milliseconds(5000);
  Result<std::shared_ptr<Transport>> transport = make_http_transport(url, options);
  REQUIRE(transport.is_ok());
  return std::move(transport).value();
}

// A sync to `url` that must succeed: a device's quiet sync after the faults.
inline SyncSummary sync_to(Replica& replica, const std::string& url) {
  SyncOptions options;
  options.transport = http_to(url);
  Result<SyncSummary> summary = replica.sync(options);
  INFO("sync of " << replica.device_id() << ": " << summary.status().to_string());
  REQUIRE(summary.is_ok());
  return *summary;
}

// The audit log against the state, from `lumbungd dump` and then `lumbungd
// audit` (so the log is at least as new as the dump): every live cell's value
// is the last value the log says was written to it, and no cell of `once_rows`
// (rows written by one insert and never again) was applied more than once.
// Returns what disagrees, one line each; empty when all agrees.
inline std::string audit_disagreements(const std::string& dump_text, const std::string& audit_text,
                                       const std::string& once_table = "") {
  using Cell = std::tuple<std::string, std::string, std::string>;
  std::map<Cell, nlohmann::json> last_written;
  std::map<Cell, int> applied;
  std::istringstream lines(audit_text);
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json entry = nlohmann::json::parse(line);
    const std::string outcome = entry.at("outcome");
    if (outcome == "superseded" || outcome == "refused") continue;
    // An applied insert: one entry, "new" the whole row (decision 0028).
    if (entry.at("column").is_null()) {
      if (!entry.at("new").is_object()) continue;  // a delete
      for (const auto& [column, value] : entry.at("new").items()) {
        const Cell cell{entry.at("table"), entry.at("row"), column};
        last_written[cell] = value;
        ++applied[cell];
      }
      continue;
    }
    const Cell cell{entry.at("table"), entry.at("row"), entry.at("column")};
    last_written[cell] = entry.at("new");
    if (outcome == "applied") ++applied[cell];
  }
  std::string problems;
  const nlohmann::json state = nlohmann::json::parse(dump_text);
  for (const auto& [table, rows] : state.items()) {
    for (const auto& [row, cells] : rows.items()) {
      for (const auto& [column, value] : cells.items()) {
        const Cell cell{table, row, column};
        const auto written = last_written.find(cell);
        if (written == last_written.end()) {
          if (!value.is_null()) problems += table + "/" + row + "/" + column + ": not in the log\n";
        } else if (written->second != value) {
          problems += table + "/" + row + "/" + column + ": " + value.dump() + " in the state, " +
                      written->second.dump() + " in the log\n";
        }
        if (table == once_table && applied[cell] > 1) {
          problems += table + "/" + row + "/" + column + ": applied " +
                      std::to_string(applied[cell]) + " times\n";
        }
      }
    }
  }
  return problems;
}

}  // namespace lumbung::test
