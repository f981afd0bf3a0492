// Audit log size (issue 19, item 7): ROWS households, 14 columns each as a
// device sends them, pushed in batches of 1,000 through a real lumbungd over
// loopback; then the store's size (lumbung.db plus its WAL after a
// checkpoint) and its audit_log rows, and what `lumbungd audit
// --archive-before` moves into an archive file. Run once with this build's
// lumbungd and once with a build from before decision 0028 (one audit entry
// per cell of an insert) to compare:
//
//   build/bench/audit_bench [ROWS] [LUMBUNGD]   (default: 100000, this build's)
//
// The household's values are those of a register: a KK number, a name, an
// address, a phone number, coordinates, a date.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lumbung/http.hpp"
#include "protocol/wire.hpp"
#include "support/daemon_process.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace lumbung;
namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "audit_bench: %s\n", what.c_str());
  std::exit(1);
}

constexpr int kBatchRows = 1000;

// A push of households [first, first + count) of one village.
v1::PushRequest household_batch(std::uint64_t batch, int first, int count) {
  v1::PushRequest push;
  v1::RequestHeader* header = push.mutable_header();
  header->set_protocol_version(protocol::kProtocolVersion);
  header->set_schema_version(1);
  header->set_device_id("bench-phone");
  push.set_batch(batch);
  v1::TableColumns* table = push.add_tables();
  table->set_table("household");
  const std::vector<std::string> columns = {
      "id", "village_id", "head_name", "created_by", "created_at", "no_kk", "dusun",
      "rt", "rw",         "phone",     "latitude",   "longitude",  "notes", "remittance_use"};
  for (const std::string& column : columns) table->add_columns(column);
  const std::int64_t hlc = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count()
                           << 16;
  for (int i = first; i < first + count; ++i) {
    v1::Change* change = push.add_changes();
    change->set_id(static_cast<std::uint64_t>(i - first + 1));
    change->set_table(0);
    const std::string id = "0193f2a4-7c1e-7d2b-9a61-" + std::to_string(100000000000 + i);
    change->set_row_id(id);
    change->set_op(v1::CHANGE_OP_INSERT);
    change->set_hlc(hlc + i);
    const auto text = [&](std::uint32_t column, const std::string& value) {
      change->add_columns(column);
      change->add_values()->set_text(value);
    };
    text(0, id);
    text(1, "0193f2a4-7c1e-7d2b-9a61-000000000001");
    text(2, "Kepala Keluarga " + std::to_string(i));
    text(3, "bench-phone");
    text(4, "2026-11-28T04:07:26Z");
    text(5, std::to_string(3212140000000000 + i));
    text(6, "Krajan " + std::to_string(i % 5));
    text(7, std::to_string(i % 12 + 1));
    text(8, std::to_string(i % 6 + 1));
    text(9, "0812" + std::to_string(10000000 + i));
    change->add_columns(10);
    change->add_values()->set_real(-6.41 - (i % 1000) * 1e-5);
    change->add_columns(11);
    change->add_values()->set_real(108.43 + (i % 1000) * 1e-5);
    text(12, i % 3 == 0 ? "rumah semi permanen" : "");
    text(13, i % 4 == 0 ? "MODAL_USAHA" : "BANGUN_RUMAH");
  }
  return push;
}

std::int64_t single_integer(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) fail(sqlite3_errmsg(db));
  std::int64_t value = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return value;
}

std::uintmax_t size_or_zero(const std::string& path) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

}  // namespace

int main(int argc, char** argv) {
  const int rows = argc > 1 ? std::atoi(argv[1]) : 100000;
  const std::string binary = argc > 2 ? argv[2] : LUMBUNGD;
  if (rows <= 0) fail("ROWS must be a positive number");
  test::TempDir dir;
  const std::string data = dir.file("data");
  const auto started = std::chrono::steady_clock::now();
  {
    test::DaemonProcess daemon(binary, data, {"--insecure-no-auth", "--log-level", "warn"});
    Result<std::shared_ptr<Transport>> transport = make_http_transport(daemon.url());
    if (!transport) fail(transport.status().to_string());
    std::uint64_t batch = 0;
    for (int first = 0; first < rows; first += kBatchRows) {
      const int count = std::min(kBatchRows, rows - first);
      const v1::PushRequest push = household_batch(++batch, first, count);
      Result<HttpResponse> answer =
          (*transport)->exchange(protocol::make_request("/v1/push", push));
      if (!answer) fail(answer.status().to_string());
      if (Status status = protocol::status_from_response(*answer); !status) {
        fail(status.to_string());
      }
      v1::PushResponse response;
      if (Status decoded = protocol::decode_body(
              answer->headers, answer->body, HttpTransportOptions().max_response_bytes, &response);
          !decoded) {
        fail(decoded.to_string());
      }
      for (const v1::ChangeOutcome& outcome : response.outcomes()) {
        if (outcome.outcome() != v1::OUTCOME_APPLIED) fail("a change was not applied");
      }
    }
  }
  const double push_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string store = data + "/lumbung.db";
  sqlite3* db = nullptr;
  if (sqlite3_open(store.c_str(), &db) != SQLITE_OK) fail("cannot open " + store);
  single_integer(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  const std::int64_t audit_rows = single_integer(db, "SELECT count(*) FROM _lumbung_audit_log");
  const std::int64_t page_size = single_integer(db, "PRAGMA page_size");
  // The audit log's share of the file, from SQLite's own page count when the
  // build has dbstat; -1 otherwise.
  const std::int64_t audit_pages =
      single_integer(db, "SELECT count(*) FROM dbstat WHERE name = '_lumbung_audit_log'");
  const std::int64_t free_pages = single_integer(db, "PRAGMA freelist_count");
  std::string largest;  // the largest tables and indexes, by pages
  {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT name, count(*) FROM dbstat GROUP BY name ORDER BY 2 DESC "
                           "LIMIT 6",
                           -1, &stmt, nullptr) == SQLITE_OK) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        largest += std::string(largest.empty() ? "" : ", ") +
                   reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)) + " " +
                   std::to_string(sqlite3_column_int64(stmt, 1) * page_size / 1000000) + " MB";
      }
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  const std::uintmax_t store_bytes = size_or_zero(store) + size_or_zero(store + "-wal");
  std::printf("lumbungd: %s\n", binary.c_str());
  std::printf("rows pushed: %d in %.1f s (batches of %d)\n", rows, push_seconds, kBatchRows);
  std::printf("audit_log rows: %lld\n", static_cast<long long>(audit_rows));
  std::printf("store bytes (db + wal after checkpoint): %ju (wal %ju; %.1f MB per 100,000 rows)\n",
              store_bytes, size_or_zero(store + "-wal"),
              static_cast<double>(store_bytes) / 1e6 * 100000.0 / rows);
  if (audit_pages >= 0) {
    std::printf("audit_log pages: %lld (%.1f MB)\n", static_cast<long long>(audit_pages),
                static_cast<double>(audit_pages * page_size) / 1e6);
    std::printf("largest: %s; free pages %lld\n", largest.c_str(),
                static_cast<long long>(free_pages));
  }

  // What an archive of the whole log takes, when the binary can make one.
  const std::string archive = dir.file("audit.lumbung-audit");
  test::ChildProcess child(
      {binary, "audit", "--data", data, "--archive-before", "2999-12-31", "--out", archive}, {},
      fs::current_path().string());
  const std::optional<test::ProcessResult> archived =
      child.wait(test::Deadline::clock::now() + std::chrono::minutes(10));
  if (archived && archived->exit_code == 0) {
    std::printf("archive: %s", archived->out.c_str());
    if (sqlite3_open(store.c_str(), &db) != SQLITE_OK) fail("cannot open " + store);
    single_integer(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite3_close(db);
    std::printf("store bytes after archiving (db + wal after checkpoint; freed pages kept): %ju\n",
                size_or_zero(store) + size_or_zero(store + "-wal"));
  } else {
    std::printf("archive: not made by this lumbungd\n");
  }
  return 0;
}
