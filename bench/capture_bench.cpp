// The cost of change capture: N `person` inserts in one transaction through the
// replica API, against plain SQLite inserts of the same rows into the same
// table (same DDL, indexes and pragmas, capture triggers dropped); then N
// single-cell updates likewise. Also plain SQL with and without the triggers,
// which is the cost of capture alone. Each workload is timed by the wall clock
// and by the process's CPU time, which stays comparable when other work
// shares the machine (the commit's fsync is wall time only). Last, the cost
// the API's capture leaves for later: folding its capture log into the
// outbox, which the next sync (here status()) does first (decision 0016).
//
//   build/bench/capture_bench [ROWS] [ROUNDS] [VARIANT.sql]  (defaults 100000 and 3)
//
// VARIANT.sql, run on the "plain SQL + capture" file before its writes,
// replaces capture triggers to measure another design in the same run
// (bench/capture_variants/).
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "lumbung/replica.hpp"

namespace {

using lumbung::Row;
using lumbung::Value;

constexpr const char* kColumns[] = {"id",
                                    "village_id",
                                    "household_id",
                                    "nik",
                                    "full_name",
                                    "sex",
                                    "birth_date",
                                    "birth_place",
                                    "relation",
                                    "marital_status",
                                    "education",
                                    "phone",
                                    "migrant_status",
                                    "id_pmi",
                                    "skills",
                                    "family_consent",
                                    "school_level",
                                    "school_status",
                                    "caregiver_person_id",
                                    "deceased",
                                    "created_by",
                                    "created_at"};

void fail(const std::string& what) {
  std::fprintf(stderr, "capture_bench: %s\n", what.c_str());
  std::exit(1);
}

void check(const lumbung::Status& status) {
  if (!status.is_ok()) fail(status.to_string());
}

// Realistic person rows with time-ordered ids, as devices make them.
std::vector<Row> make_people(int count) {
  std::mt19937_64 rng(42);
  static const char* kNames[] = {"Siti Aminah", "Budi Santoso", "Dewi Lestari", "Agus Salim",
                                 "Sri Wahyuni", "Eko Prasetyo", "Nur Hidayah",  "Joko Susilo"};
  static const char* kRelations[] = {"KEPALA", "ISTRI", "ANAK", "ANAK", "ORANG_TUA"};
  static const char* kStatus[] = {"CALON", "AKTIF", "PURNA"};
  std::vector<Row> rows;
  rows.reserve(count);
  char buf[64];
  for (int i = 0; i < count; ++i) {
    Row row;
    std::snprintf(buf, sizeof(buf), "0193%04x-%04x-7%03x-8%03x-%012llx", (i >> 16) & 0xffff,
                  i & 0xffff, static_cast<int>(rng() & 0xfff), static_cast<int>(rng() & 0xfff),
                  static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
    row["id"] = Value(buf);
    row["village_id"] = Value("0193a000-0000-7000-8000-000000000001");
    std::snprintf(buf, sizeof(buf), "0193b%03x-0000-7000-8000-%012d", i / 4 % 4096, i / 4);
    row["household_id"] = Value(buf);
    std::snprintf(buf, sizeof(buf), "3201%012llu",
                  static_cast<unsigned long long>(rng() % 1000000000000ULL));
    row["nik"] = Value(buf);
    row["full_name"] = Value(kNames[rng() % 8]);
    row["sex"] = Value(rng() % 2 ? "L" : "P");
    std::snprintf(buf, sizeof(buf), "19%02d-%02d-%02d", static_cast<int>(50 + rng() % 50),
                  static_cast<int>(1 + rng() % 12), static_cast<int>(1 + rng() % 28));
    row["birth_date"] = Value(buf);
    row["birth_place"] = Value("Indramayu");
    row["relation"] = Value(kRelations[i % 5]);
    row["marital_status"] = Value("KAWIN");
    row["education"] = Value("SMP");
    std::snprintf(buf, sizeof(buf), "+62812%08d", static_cast<int>(rng() % 100000000));
    row["phone"] = Value(buf);
    row["migrant_status"] = i % 3 == 0 ? Value(kStatus[rng() % 3]) : Value();
    row["id_pmi"] = Value();
    row["skills"] = Value("menjahit, memasak");
    row["family_consent"] = Value(static_cast<std::int64_t>(rng() % 2));
    row["school_level"] = Value();
    row["school_status"] = Value();
    row["caregiver_person_id"] = Value();
    row["deceased"] = Value(0);
    row["created_by"] = Value("officer-sri");
    row["created_at"] = Value("2026-11-28T04:00:00Z");
    rows.push_back(std::move(row));
  }
  return rows;
}

struct Seconds {
  double wall = 0;
  double cpu = 0;
};

double cpu_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

Seconds seconds(const std::function<void()>& work) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_now();
  work();
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          cpu_now() - cpu_start};
}

// A plain SQLite connection with the replica's pragmas.
sqlite3* open_plain(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) fail("cannot open " + path);
  sqlite3_exec(db,
               "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY",
               nullptr, nullptr, nullptr);
  return db;
}

void exec(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    fail(sql + ": " + (message ? message : "?"));
  }
}

void bind(sqlite3_stmt* stmt, int index, const Value& value) {
  switch (value.type()) {
    case lumbung::ValueType::kNull:
      sqlite3_bind_null(stmt, index);
      break;
    case lumbung::ValueType::kInteger:
      sqlite3_bind_int64(stmt, index, value.as_integer());
      break;
    case lumbung::ValueType::kReal:
      sqlite3_bind_double(stmt, index, value.as_real());
      break;
    case lumbung::ValueType::kText:
      sqlite3_bind_text(stmt, index, value.as_text().c_str(), -1, SQLITE_TRANSIENT);
      break;
    case lumbung::ValueType::kBlob:
      fail("no blobs here");
      break;
  }
}

void step(sqlite3* db, sqlite3_stmt* stmt) {
  if (sqlite3_step(stmt) != SQLITE_DONE) fail(sqlite3_errmsg(db));
  sqlite3_reset(stmt);
}

// Plain SQL inserts then updates on `path`; returns {insert, update}.
std::pair<Seconds, Seconds> plain_sql(const std::string& path, const std::vector<Row>& rows) {
  sqlite3* db = open_plain(path);
  std::string sql = "INSERT INTO person (";
  std::string params;
  for (size_t i = 0; i < std::size(kColumns); ++i) {
    sql += (i ? ", " : "") + std::string(kColumns[i]);
    params += i ? ", ?" : "?";
  }
  sql += ") VALUES (" + params + ")";
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* update = nullptr;
  sqlite3_prepare_v2(db, sql.c_str(), -1, &insert, nullptr);
  sqlite3_prepare_v2(db, "UPDATE person SET phone = ?1 WHERE id = ?2", -1, &update, nullptr);
  const Seconds insert_s = seconds([&] {
    exec(db, "BEGIN");
    for (const Row& row : rows) {
      for (size_t i = 0; i < std::size(kColumns); ++i) {
        bind(insert, static_cast<int>(i + 1), row.at(kColumns[i]));
      }
      step(db, insert);
    }
    exec(db, "COMMIT");
  });
  const Seconds update_s = seconds([&] {
    exec(db, "BEGIN");
    for (const Row& row : rows) {
      sqlite3_bind_text(update, 1, "+6281300000000", -1, SQLITE_STATIC);
      bind(update, 2, row.at("id"));
      step(db, update);
    }
    exec(db, "COMMIT");
  });
  sqlite3_finalize(insert);
  sqlite3_finalize(update);
  sqlite3_close(db);
  return {insert_s, update_s};
}

std::unique_ptr<lumbung::Replica> create_replica(const std::string& path) {
  lumbung::ReplicaOptions options;
  options.path = path;
  auto replica = lumbung::Replica::open(options);
  if (!replica.is_ok()) fail(replica.status().to_string());
  return std::move(replica).value();
}

void drop_capture_triggers(const std::string& path) {
  sqlite3* db = open_plain(path);
  std::vector<std::string> names;
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'trigger'", -1, &stmt,
                     nullptr);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  for (const std::string& name : names) exec(db, "DROP TRIGGER \"" + name + "\"");
  sqlite3_close(db);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Seconds median(const std::vector<Seconds>& runs) {
  std::vector<double> wall, cpu;
  for (const Seconds& run : runs) {
    wall.push_back(run.wall);
    cpu.push_back(run.cpu);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::string variant = argc > 3 ? read_text(argv[3]) : std::string();
  if (count <= 0 || rounds <= 0) fail("usage: capture_bench [ROWS] [ROUNDS] [VARIANT.sql]");
  const std::vector<Row> rows = make_people(count);
  const auto dir = std::filesystem::temp_directory_path() / "lumbung-capture-bench";

  std::vector<Seconds> plain_insert, plain_update, api_insert, api_update, sql_insert, sql_update,
      fold;
  for (int round = 0; round < rounds; ++round) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);

    // Baseline: the same file layout, without capture.
    const std::string plain_path = (dir / "plain.db").string();
    create_replica(plain_path);
    drop_capture_triggers(plain_path);
    auto [pi, pu] = plain_sql(plain_path, rows);
    plain_insert.push_back(pi);
    plain_update.push_back(pu);

    // Plain SQL on a replica: the triggers alone.
    const std::string sql_path = (dir / "sql.db").string();
    create_replica(sql_path);
    if (!variant.empty()) {
      sqlite3* db = open_plain(sql_path);
      exec(db, variant);
      sqlite3_close(db);
    }
    auto [si, su] = plain_sql(sql_path, rows);
    sql_insert.push_back(si);
    sql_update.push_back(su);

    // The replica API.
    auto replica = create_replica((dir / "replica.db").string());
    api_insert.push_back(seconds([&] {
      check(replica->transaction([&]() -> lumbung::Status {
        for (const Row& row : rows) LUMBUNG_RETURN_IF_ERROR(replica->insert("person", row));
        return lumbung::Status::ok();
      }));
    }));
    const Row phone = {{"phone", Value("+6281300000000")}};
    api_update.push_back(seconds([&] {
      check(replica->transaction([&]() -> lumbung::Status {
        for (const Row& row : rows) {
          LUMBUNG_RETURN_IF_ERROR(replica->update("person", row.at("id").as_text(), phone));
        }
        return lumbung::Status::ok();
      }));
    }));
    // The API's writes wait in the capture log; the first read of the outbox
    // (here status(), in use the next sync) folds them in.
    lumbung::Result<lumbung::ReplicaStatus> pending =
        lumbung::Status(lumbung::ErrorCode::kInternal, "status was not read");
    fold.push_back(seconds([&] { pending = replica->status(); }));
    if (!pending.is_ok() || pending->pending_changes != 2 * count) fail("outbox count is wrong");
  }
  std::filesystem::remove_all(dir);

  const Seconds pi = median(plain_insert), pu = median(plain_update);
  std::printf("capture_bench: %d person rows, median of %d rounds, SQLite %s%s%s\n", count, rounds,
              sqlite3_libversion(), argc > 3 ? ", capture variant " : "", argc > 3 ? argv[3] : "");
  std::printf("%-34s %10s %12s %8s %10s %8s\n", "workload", "seconds", "rows/s", "ratio", "cpu s",
              "ratio");
  auto line = [&](const char* name, Seconds s, Seconds base) {
    std::printf("%-34s %10.3f %12.0f %7.2fx %10.3f %7.2fx\n", name, s.wall, count / s.wall,
                s.wall / base.wall, s.cpu, s.cpu / base.cpu);
  };
  line("insert, plain SQLite (baseline)", pi, pi);
  line("insert, plain SQL + capture", median(sql_insert), pi);
  line("insert, replica API", median(api_insert), pi);
  line("update, plain SQLite (baseline)", pu, pu);
  line("update, plain SQL + capture", median(sql_update), pu);
  line("update, replica API", median(api_update), pu);
  const Seconds f = median(fold);
  std::printf(
      "fold of the API's %d logged writes at the next read: %.3f s (%.3f cpu s), "
      "%.1f us a write\n",
      2 * count, f.wall, f.cpu, 1e6 * f.wall / (2 * count));
  return 0;
}
