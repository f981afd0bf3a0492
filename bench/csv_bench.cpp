// `lumbungd import` and `lumbungd export` of a generated household register
// (docs/decisions/0029-csv-import-export.md): wall time and peak resident
// memory of each command, which must stay flat whatever the file's size,
// beside the file's size and the store's. Baseline: the same file read with
// the same CSV reader into a plain SQLite table of the same columns (WAL,
// synchronous = FULL) in one transaction: what loading the rows costs
// without merging, stamping, seqs and audit.
//
//   build/bench/csv_bench [LINES...]   (default: 20000 200000)
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/csv_reader.hpp"
#include "support/measured_process.hpp"
#include "support/register_csv.hpp"
#include "support/temp_dir.hpp"

namespace {

using lumbung::test::MeasuredRun;
using lumbung::test::run_measured;

MeasuredRun lumbungd(const lumbung::test::TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), LUMBUNGD);
  MeasuredRun run = run_measured(args, dir.file("out"), dir.file("err"));
  if (run.exit_code != 0) {
    std::ifstream err(dir.file("err"));
    std::string text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
    throw std::runtime_error("lumbungd " + args[1] + " failed: " + text);
  }
  return run;
}

void check(int rc, sqlite3* db) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db));
  }
}

// The baseline: the file's records inserted as text into a plain table.
double plain_sqlite_seconds(const std::string& csv, const std::string& path) {
  const auto started = std::chrono::steady_clock::now();
  sqlite3* db = nullptr;
  check(sqlite3_open(path.c_str(), &db), db);
  check(sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; BEGIN;", nullptr,
                     nullptr, nullptr),
        db);
  std::ifstream in(csv, std::ios::binary);
  lumbung::server::CsvReader reader(in);
  lumbung::server::CsvRecord record;
  lumbung::server::CsvProblem problem;
  if (reader.next(&record, &problem) != lumbung::server::CsvReader::Next::kRecord) {
    throw std::runtime_error("no header");
  }
  std::string columns;
  std::string params;
  for (std::size_t i = 0; i < record.fields.size(); ++i) {
    columns += (i ? ", " : "") + record.fields[i].text;
    params += i ? ", ?" : "?";
  }
  check(sqlite3_exec(db, ("CREATE TABLE household (" + columns + ", PRIMARY KEY (id))").c_str(),
                     nullptr, nullptr, nullptr),
        db);
  sqlite3_stmt* insert = nullptr;
  check(sqlite3_prepare_v2(db, ("INSERT INTO household VALUES (" + params + ")").c_str(), -1,
                           &insert, nullptr),
        db);
  while (reader.next(&record, &problem) == lumbung::server::CsvReader::Next::kRecord) {
    for (std::size_t i = 0; i < record.fields.size(); ++i) {
      const std::string& text = record.fields[i].text;
      check(sqlite3_bind_text(insert, static_cast<int>(i) + 1, text.data(),
                              static_cast<int>(text.size()), SQLITE_TRANSIENT),
            db);
    }
    check(sqlite3_step(insert), db);
    sqlite3_reset(insert);
  }
  sqlite3_finalize(insert);
  check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db);
  sqlite3_close(db);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

void bench(long long lines) {
  lumbung::test::TempDir dir;
  const std::string data = dir.file("data");
  const std::string csv = dir.file("households.csv");
  std::vector<std::string> villages;
  std::string granted;
  for (int v = 1; v <= 10; ++v) {
    villages.push_back("v" + std::to_string(v));
    granted += (v > 1 ? "," : "") + villages.back();
  }
  const std::uint64_t bytes = lumbung::test::write_household_register(csv, lines, villages);
  lumbungd(dir, {"grant", "--data", data, "--officer", "rina", "--villages", granted});
  const MeasuredRun imported = lumbungd(
      dir, {"import", "--data", data, "--table", "household", "--csv", csv, "--officer", "rina"});
  const auto store_bytes = std::filesystem::file_size(std::filesystem::path(data) / "lumbung.db");
  const MeasuredRun exported = lumbungd(
      dir, {"export", "--data", data, "--table", "household", "--csv", "--out", dir.file("x.csv")});
  const double baseline = plain_sqlite_seconds(csv, dir.file("plain.db"));
  std::printf(
      "%9lld lines  file %7.1f MB  import %7.2f s  %6.1f MB peak RSS  store %7.1f MB  "
      "export %6.2f s  %6.1f MB peak RSS  plain SQLite %6.2f s\n",
      lines, static_cast<double>(bytes) / 1e6, imported.seconds,
      static_cast<double>(imported.peak_rss_kb) / 1024, static_cast<double>(store_bytes) / 1e6,
      exported.seconds, static_cast<double>(exported.peak_rss_kb) / 1024, baseline);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) try {
  std::vector<long long> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  if (sizes.empty()) sizes = {20000, 200000};
  for (long long lines : sizes) {
    if (lines <= 0) throw std::runtime_error("usage: csv_bench [LINES...]");
  }
  std::printf("csv_bench: lumbungd import and export of a household register (12 columns)\n");
  for (long long lines : sizes) bench(lines);
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "csv_bench: %s\n", error.what());
  return 1;
}
