// The report queries of docs/reporting.md, read from the document itself and
// run as written by SQL tools beside a serving daemon (SQLite opened
// read-only; psql on the PostgreSQL store), against tables the daemon merged
// from pushes (inserts, an update, a delete): what an operator sees.
#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "server/server_fixture.hpp"
#include "support/pg_cluster.hpp"
#include "support/subprocess.hpp"

namespace lumbung::test {
namespace {

// The fenced ```sql blocks of docs/reporting.md, in order.
std::vector<std::string> report_queries() {
  std::ifstream in(LUMBUNG_REPORTING_DOC);
  REQUIRE(in);
  std::vector<std::string> queries;
  std::string line;
  std::string* query = nullptr;
  while (std::getline(in, line)) {
    if (query == nullptr && line == "```sql") {
      query = &queries.emplace_back();
    } else if (query != nullptr && line == "```") {
      query = nullptr;
    } else if (query != nullptr) {
      *query += line + "\n";
    }
  }
  return queries;
}

// Each row of `sql` run by psql on the database at `url`, its values joined by '|'.
std::vector<std::string> psql_report(const std::string& url, const std::string& sql) {
  const ProcessResult psql = run_process({LUMBUNG_PG_BINDIR "/psql", "-X", "-q", "-A", "-t", "-F",
                                          "|", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql},
                                         {}, ".");
  INFO(sql << psql.err);
  REQUIRE(psql.exit_code == 0);
  std::vector<std::string> rows;
  std::istringstream lines(psql.out);
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  return rows;
}

// Each row of `sql` run on the store file read-only, its values joined by '|'.
std::vector<std::string> sqlite_report(const std::string& data_dir, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((data_dir + "/lumbung.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
          SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  const int prepared = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  INFO(sql << sqlite3_errmsg(db));
  REQUIRE(prepared == SQLITE_OK);
  std::vector<std::string> rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      row += (i ? "|" : "") + std::string(text == nullptr ? "NULL" : text);
    }
    rows.push_back(row);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

Row village(const std::string& id, const std::string& name) {
  return {{"village_id", id},
          {"kode_wilayah", "32.12.01.2001"},
          {"name", name},
          {"kecamatan", "Haurgeulis"},
          {"kabupaten", "Indramayu"},
          {"provinsi", "Jawa Barat"},
          {"cohort_year", std::int64_t{2017}}};
}

Row person(const std::string& village, const std::string& household, const std::string& relation,
           const Value& migrant_status, const Value& school_status, std::int64_t deceased = 0) {
  return {{"village_id", village},
          {"household_id", household},
          {"full_name", "Warga"},
          {"relation", relation},
          {"migrant_status", migrant_status},
          {"school_status", school_status},
          {"deceased", deceased},
          {"created_by", "sri"},
          {"created_at", "2026-11-28T04:00:00Z"}};
}

Row member(const std::string& village, std::int64_t share, const Value& saving,
           const Value& left_on = Value()) {
  return {{"village_id", village},     {"person_id", "w1"},
          {"joined_on", "2026-01-05"}, {"left_on", left_on},
          {"share_capital", share},    {"monthly_saving", saving},
          {"created_by", "sri"},       {"created_at", "2026-11-28T04:00:00Z"}};
}

}  // namespace

TEST_CASE("reporting: the queries of docs/reporting.md give the programme's figures",
          "[server][reporting]") {
  const std::string kind =
      GENERATE(from_range(LUMBUNG_HAVE_PG_SERVER ? std::vector<std::string>{"sqlite", "postgresql"}
                                                 : std::vector<std::string>{"sqlite"}));
  TestServer server;
  std::string url;
  if (kind == "postgresql") {
    url = shared_pg_cluster().create_database("reporting_" + std::to_string(::getpid()));
    server.configure = [&](server::ServerOptions& options) { options.store_url = url; };
    server.restart();
  }
  const auto report = [&](const std::string& sql) {
    return kind == "postgresql" ? psql_report(url, sql) : sqlite_report(server.data_dir(), sql);
  };
  const Value none;
  const v1::PushResponse pushed = server.push(
      Batch("officer-phone", 1)
          .insert("village", kVillage, village(kVillage, "Sukamaju"), stamp(-900))
          .insert("village", kOtherVillage, village(kOtherVillage, "Wanareja"), stamp(-900))
          .insert("household", "h1", household(), stamp(-800))
          .insert("household", "h2", household(), stamp(-800))
          .insert("household", "h3", household(kOtherVillage), stamp(-800))
          .insert("person", "w1", person(kVillage, "h1", "KEPALA", Value("AKTIF"), none),
                  stamp(-700))
          .insert("person", "w2", person(kVillage, "h2", "KEPALA", Value("AKTIF"), none),
                  stamp(-700))
          .insert("person", "w3", person(kVillage, "h2", "ISTRI", Value("CALON"), none),
                  stamp(-700))
          .insert("person", "w4", person(kVillage, "h2", "ORANG_TUA", Value("PURNA"), none, 1),
                  stamp(-700))
          .insert("person", "c1", person(kVillage, "h1", "ANAK", none, Value("SEKOLAH")),
                  stamp(-700))
          .insert("person", "c2", person(kVillage, "h1", "ANAK", none, Value("PUTUS")), stamp(-700))
          .insert("person", "c3", person(kVillage, "h2", "ANAK", none, Value("SEKOLAH")),
                  stamp(-700))
          .insert("person", "w5",
                  person(kOtherVillage, "h3", "KEPALA", Value("NON_PROSEDURAL"), none), stamp(-700))
          .insert("person", "c4", person(kOtherVillage, "h3", "ANAK", none, Value("PUTUS")),
                  stamp(-700))
          .insert("coop_member", "m1", member(kVillage, 500000, Value(std::int64_t{50000})),
                  stamp(-600))
          .insert("coop_member", "m2", member(kVillage, 250000, none), stamp(-600))
          .insert("coop_member", "m3",
                  member(kVillage, 900000, Value(std::int64_t{1}), Value("2026-06-30")),
                  stamp(-600))
          .insert("coop_member", "m4", member(kOtherVillage, 100000, Value(std::int64_t{20000})),
                  stamp(-600)));
  for (const v1::ChangeOutcome& outcome : pushed.outcomes()) {
    INFO(outcome.id() << " " << outcome.message());
    REQUIRE(outcome.outcome() == v1::OUTCOME_APPLIED);
  }
  const std::int64_t seen = pushed.outcomes(pushed.outcomes_size() - 1).seq();
  // w3 has left for work since; w2 was registered twice and is removed.
  server.push(Batch("officer-phone", 2)
                  .update("person", "w3", "migrant_status", Value("AKTIF"), stamp(-100), seen)
                  .remove("person", "w2", stamp(-100), seen));

  const std::vector<std::string> queries = report_queries();
  REQUIRE(queries.size() == 3);
  CHECK(report(queries[0]) ==
        std::vector<std::string>{"Sukamaju|AKTIF|2", "Wanareja|NON_PROSEDURAL|1"});
  CHECK(report(queries[1]) == std::vector<std::string>{"Sukamaju|PUTUS|1", "Sukamaju|SEKOLAH|2"});
  CHECK(report(queries[2]) ==
        std::vector<std::string>{"Sukamaju|2|750000|50000", "Wanareja|1|100000|20000"});
}

}  // namespace lumbung::test
