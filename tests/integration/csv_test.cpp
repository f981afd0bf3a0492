// `lumbungd import` and `lumbungd export` (docs/decisions/0029-csv-import-export.md)
// with real lumbungd processes and real files: a register imported is pulled
// by an officer's phone from a real `serve`, a file with refused lines is
// reported line by line and changes nothing, an export imports back to the
// same state, the import is audited, and its memory stays flat however long
// the file.
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/measured_process.hpp"
#include "support/register_csv.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// Villages v1 and v2 in Indramayu, v3 in Cirebon.
constexpr const char* kVillages =
    "id,village_id,kode_wilayah,name,kecamatan,kabupaten,provinsi,cohort_year\r\n"
    "v1,v1,3212140007,Juntinyuat,Juntinyuat,Indramayu,Jawa Barat,2017\r\n"
    "v2,v2,3212140008,Limbangan,Juntinyuat,Indramayu,Jawa Barat,2018\r\n"
    "v3,v3,3209010001,Astanajapura,Astanajapura,Cirebon,Jawa Barat,2019\r\n";

// Households of v1 and v2, with what a spreadsheet writes: a byte order mark,
// quotes, a line end inside a field, an empty cell (NULL) and "" (empty text).
constexpr const char* kHouseholds =
    "\xef\xbb\xbfid,village_id,head_name,latitude,notes,phone,created_by,created_at\r\n"
    "h1,v1,Tarsono,-6.3541,\"pindah dari \"\"Blok A\"\",\nrumah baru\",,admin,2026-12-01\r\n"
    "h2,v2,Siti Aminah,,\"\",0812000002,admin,2026-12-02\r\n"
    "h3,v1,Darsem,-6.36,,0812000003,admin,2026-12-03\r\n";

// A data directory with admin 'pusat' and officer 'rina' granted district Indramayu.
struct District {
  TempDir dir;
  std::string data = dir.file("data");

  District() {
    lumbungd_output({"grant", "--data", data, "--officer", "pusat", "--role", "admin"});
    lumbungd_output({"grant", "--data", data, "--officer", "rina", "--district", "Indramayu"});
  }

  // `lumbungd import` of `text` as `officer`.
  ProcessResult import(const std::string& table, const std::string& text,
                       const std::string& officer, const std::string& name = "register.csv") {
    const std::string path = dir.file(name);
    write_text(path, text);
    return run_lumbungd(
        {"import", "--data", data, "--table", table, "--csv", path, "--officer", officer});
  }
  std::string imported(const std::string& table, const std::string& text,
                       const std::string& officer) {
    const ProcessResult result = import(table, text, officer);
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    return result.out;
  }
  std::string dump() const { return lumbungd_output({"dump", "--data", data}); }
  std::string audit() const { return lumbungd_output({"audit", "--data", data}); }
  std::string exported(const std::string& table) const {
    return lumbungd_output({"export", "--data", data, "--table", table, "--csv"});
  }
};

}  // namespace

TEST_CASE("an imported register is pulled by the officer's phone from a real lumbungd",
          "[integration][csv]") {
  District district;
  CHECK(district.imported("village", kVillages, "pusat") ==
        "{\"applied\":3,\"first_seq\":1,\"last_seq\":3,\"lines\":3,\"superseded\":0,"
        "\"table\":\"village\"}\n");
  // Rina's grant covers Indramayu's villages as the imported village rows say.
  CHECK(district.imported("household", kHouseholds, "rina") ==
        "{\"applied\":3,\"first_seq\":4,\"last_seq\":6,\"lines\":3,\"superseded\":0,"
        "\"table\":\"household\"}\n");

  DaemonProcess daemon(LUMBUNGD, district.data);
  const std::string token =
      lumbungd_output({"token", "--data", district.data, "--officer", "rina"});
  ReplicaOptions options = options_for(district.dir.file("rina.db"));
  options.device_id = "phone-rina";
  options.server_url = daemon.url();
  options.token = token.substr(0, token.find('\n'));
  std::unique_ptr<Replica> phone = open_replica(options);
  Result<std::shared_ptr<Transport>> transport = make_http_transport(daemon.url());
  REQUIRE(transport.is_ok());
  SyncOptions sync;
  sync.transport = *transport;
  Result<SyncSummary> summary = phone->sync(sync);
  INFO(summary.status().to_string());
  REQUIRE(summary.is_ok());

  CHECK(ids_on(*phone, "village") == std::set<std::string>{"v1", "v2"});
  CHECK(ids_on(*phone, "household") == std::set<std::string>{"h1", "h2", "h3"});
  Result<std::vector<Row>> h1 =
      phone->query("SELECT notes, phone, latitude FROM household WHERE id = 'h1'");
  REQUIRE(h1.is_ok());
  CHECK(h1->at(0).at("notes") == Value("pindah dari \"Blok A\",\nrumah baru"));
  CHECK(h1->at(0).at("phone").is_null());
  CHECK(h1->at(0).at("latitude") == Value(-6.3541));
  Result<std::vector<Row>> h2 =
      phone->query("SELECT notes, latitude FROM household WHERE id = 'h2'");
  REQUIRE(h2.is_ok());
  CHECK(h2->at(0).at("notes") == Value(""));
  CHECK(h2->at(0).at("latitude").is_null());
}

TEST_CASE("the import is audited as the officer's, from device import:OFFICER",
          "[integration][csv]") {
  District district;
  district.imported("village", kVillages, "pusat");
  district.imported("household", kHouseholds, "rina");
  const std::string audit =
      lumbungd_output({"audit", "--data", district.data, "--row", "household/h3"});
  REQUIRE_FALSE(audit.empty());
  std::size_t entries = 0;
  for (std::size_t start = 0; start < audit.size(); start = audit.find('\n', start) + 1) {
    const std::string entry = audit.substr(start, audit.find('\n', start) - start);
    INFO(entry);
    CHECK(entry.find("\"device\":\"import:rina\"") != std::string::npos);
    CHECK(entry.find("\"officer\":\"rina\"") != std::string::npos);
    CHECK(entry.find("\"outcome\":\"applied\"") != std::string::npos);
    ++entries;
  }
  CHECK(entries >= 1);
  CHECK(audit.find("Darsem") != std::string::npos);
}

TEST_CASE("refused lines are each reported with their line and column, and nothing is applied",
          "[integration][csv]") {
  District district;
  district.imported("village", kVillages, "pusat");
  const std::string dump = district.dump();
  const std::string audit = district.audit();

  const ProcessResult refused = district.import("household",
                                                "id,village_id,head_name,latitude,created_by,"
                                                "created_at\n"
                                                "h1,v1,Tarsono,-6.35,admin,2026-12-01\n"
                                                "h2,v1,Siti,1,5,admin,2026-12-01\n"
                                                "h3,v1,Darsem,utara,admin,2026-12-01\n"
                                                "h4,v3,Wati,-6.7,admin,2026-12-01\n"
                                                "h5,v2,\"Carto\" Jr,-6.4,admin,2026-12-01\n"
                                                "h6,v2,Yanti,-6.4,admin,2026-12-01\n",
                                                "rina", "households.csv");
  CHECK(refused.exit_code == 1);
  CHECK(refused.out.empty());
  const std::string file = district.dir.file("households.csv");
  CHECK(refused.err ==
        file + ":3: 7 fields, but the header names 6 columns\n" + file +
            ":4: table 'household': column 'latitude': not a real number: 'utara'\n" + file +
            ":5: column 'village_id': table 'household': row 'h4': scope 'v3' is not granted to "
            "officer 'rina' for writing\n" +
            file +
            ":6: column 'head_name': text after the closing '\"' of a quoted field (write each "
            "'\"' inside it twice)\n"
            "lumbungd: InvalidArgument: " +
            file + ": 4 of 6 lines refused; nothing was imported\n");
  CHECK(district.dump() == dump);
  CHECK(district.audit() == audit);

  const ProcessResult header = district.import(
      "household", "id,village_id,head_nam,created_by,created_at\n", "rina", "header.csv");
  CHECK(header.exit_code == 1);
  CHECK(header.err == district.dir.file("header.csv") +
                          ":1: table 'household': unknown column 'head_nam'\n"
                          "lumbungd: InvalidArgument: " +
                          district.dir.file("header.csv") +
                          ": the header line is refused; nothing was imported\n");

  const ProcessResult stranger = district.import("household", kHouseholds, "budi");
  CHECK(stranger.exit_code == 1);
  CHECK(stranger.err.find("officer 'budi' is not known to this server") != std::string::npos);
  CHECK(district.dump() == dump);
}

TEST_CASE("an export imports into a fresh data directory to the same rows and the same export",
          "[integration][csv]") {
  District first;
  first.imported("village", kVillages, "pusat");
  first.imported("household", kHouseholds, "rina");
  const std::string villages = first.exported("village");
  const std::string households = first.exported("household");
  CHECK(households.starts_with(
      "id,village_id,no_kk,head_name,dusun,rt,rw,latitude,longitude,phone,notes,remittance_use,"
      "created_by,created_at\r\n"
      "h1,v1,,Tarsono,,,,-6.3541,,,\"pindah dari \"\"Blok A\"\",\nrumah baru\",,admin,"
      "2026-12-01\r\n"
      "h2,v2,,Siti Aminah,,,,,,0812000002,\"\",,admin,2026-12-02\r\n"));
  CHECK(lumbungd_output(
            {"export", "--data", first.data, "--table", "household", "--csv", "--village", "v2"}) ==
        households.substr(0, households.find("\r\n") + 2) +
            "h2,v2,,Siti Aminah,,,,,,0812000002,\"\",,admin,2026-12-02\r\n");

  District second;
  second.imported("village", villages, "pusat");
  second.imported("household", households, "rina");
  CHECK(second.dump() == first.dump());
  CHECK(second.exported("household") == households);
  CHECK(second.exported("village") == villages);
}

TEST_CASE("an import is refused while lumbungd serve runs on the data directory",
          "[integration][csv]") {
  District district;
  DaemonProcess daemon(LUMBUNGD, district.data);
  const ProcessResult refused = district.import("village", kVillages, "pusat");
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("is in use by another lumbungd") != std::string::npos);
  CHECK(refused.err.find("stop 'lumbungd serve' to import") != std::string::npos);
  // Export reads beside it.
  CHECK(district.exported("village") ==
        "id,village_id,kode_wilayah,name,kecamatan,kabupaten,provinsi,cohort_year,"
        "service_post_address,cooperative_name\r\n");
}

TEST_CASE("an import's memory stays flat: 20 times the lines, about the same peak",
          "[integration][csv][memory]") {
  District district;
  district.imported("village", kVillages, "pusat");
  const auto peak = [&](std::int64_t lines) {
    const std::string path = district.dir.file("households-" + std::to_string(lines) + ".csv");
    const std::uint64_t bytes = write_household_register(path, lines, {"v1", "v2"});
    const MeasuredRun run = run_measured({LUMBUNGD, "import", "--data", district.data, "--table",
                                          "household", "--csv", path, "--officer", "rina"},
                                         district.dir.file("out"), district.dir.file("err"));
    INFO(read_file(district.dir.file("err")));
    REQUIRE(run.exit_code == 0);
    std::filesystem::remove(path);
    return std::pair<std::int64_t, std::uint64_t>{run.peak_rss_kb, bytes};
  };
  const auto [small_kb, small_bytes] = peak(3'000);
  const auto [large_kb, large_bytes] = peak(60'000);
  INFO("peak RSS " << small_kb << " kB for " << small_bytes << " bytes, " << large_kb << " kB for "
                   << large_bytes << " bytes");
  REQUIRE(large_bytes > small_bytes + 7'000'000);
  // Holding the file, or anything per line, would add megabytes.
  CHECK(large_kb < small_kb + 3 * 1024);
}

}  // namespace lumbung::test
