// The `lumbung` CLI as scripts drive it: the real binary, a fresh directory per
// test, exit status and output checked against docs/cli.md.
#include <sqlite3.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/daemon_process.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"

extern char** environ;

namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using lumbung::test::ProcessResult;
using Json = nlohmann::json;

// The village row has a fixed id: its CHECK wants village_id = id.
constexpr const char* kVillageId = "0190f1c2-7a00-7000-8000-000000000001";

// True when text has the shape of pattern: 'x' stands for a lowercase hex digit,
// '9' for a decimal digit, '*' for one or more decimal digits at the end; any
// other character stands for itself. (std::regex trips -Wmaybe-uninitialized
// in g++ 12 under ASan.)
bool has_shape(std::string_view text, std::string_view pattern) {
  std::size_t i = 0;
  for (const char p : pattern) {
    if (p == '*') {
      if (i == text.size()) return false;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
      return i == text.size();
    }
    if (i == text.size()) return false;
    const char c = text[i++];
    const bool ok = p == 'x'   ? std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(c)
                    : p == '9' ? std::isdigit(static_cast<unsigned char>(c)) != 0
                               : c == p;
    if (!ok) return false;
  }
  return i == text.size();
}

bool is_uuid_v7_line(std::string_view text) {
  return has_shape(text, "xxxxxxxx-xxxx-7xxx-xxxx-xxxxxxxxxxxx\n") &&
         std::string_view("89ab").find(text[19]) != std::string_view::npos;
}

// Our environment without LUMBUNG_KEY; in the SQLCipher build, with a test key.
std::vector<std::string> child_env() {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (!std::string_view(*entry).starts_with("LUMBUNG_KEY=")) env.emplace_back(*entry);
  }
#ifdef LUMBUNG_HAVE_SQLCIPHER
  env.emplace_back("LUMBUNG_KEY=cli-test-key");
#endif
  return env;
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

class Cli {
 protected:
  lumbung::test::TempDir dir_;
  std::string db_ = (dir_.path() / "village.db").string();
  std::vector<std::string> env_ = child_env();

  ProcessResult run(std::vector<std::string> args) const {
    args.insert(args.begin(), LUMBUNG_CLI);
    return lumbung::test::run_process(args, env_, dir_.path().string());
  }

  // Runs a command that must succeed; returns its stdout.
  std::string ok(const std::vector<std::string>& args) const {
    const ProcessResult result = run(args);
    INFO("stderr: " << result.err);
    REQUIRE(result.exit_code == 0);
    return result.out;
  }

  void init() const { ok({"init", "--db", db_}); }

  // The village row; in the field the server writes it, not the device.
  void put_village() const {
    ok({"put", "--db", db_, "village", kVillageId, std::string("village_id=") + kVillageId,
        "kode_wilayah=3212140007", "name=Juntinyuat", "kecamatan=Juntinyuat", "kabupaten=Indramayu",
        "provinsi=Jawa Barat", "cohort_year=2017"});
  }

  // Inserts a person with `extra` cells; returns the new id.
  std::string put_person(const std::string& full_name, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"put",
                                     "--db",
                                     db_,
                                     "person",
                                     "new",
                                     std::string("village_id=") + kVillageId,
                                     "full_name=" + full_name,
                                     "created_by=officer-sri",
                                     "created_at=2026-11-28T04:07:26Z"};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string out = ok(args);
    REQUIRE(is_uuid_v7_line(out));
    return out.substr(0, out.size() - 1);
  }

  Json get(const std::string& table, const std::string& id) const {
    return Json::parse(ok({"get", "--db", db_, table, id}));
  }

  std::string dump() const { return ok({"dump", "--db", db_}); }

  Json status() const { return Json::parse(ok({"status", "--db", db_})); }
};

// A failed command: exit 1 and one "lumbung: " line naming the problem.
void check_error(const ProcessResult& result) {
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.err, StartsWith("lumbung: "));
  CHECK(result.out.empty());
}

TEST_CASE_METHOD(Cli, "init creates a replica file and refuses an existing one", "[cli]") {
  init();
  CHECK(std::filesystem::is_regular_file(db_));
  const std::string before = read_bytes(db_);

  const ProcessResult again = run({"init", "--db", db_});
  check_error(again);
  CHECK_THAT(again.err, Contains("already exists"));
  CHECK(read_bytes(db_) == before);
}

TEST_CASE_METHOD(Cli, "init --schema reads the file, and a bad one creates nothing", "[cli]") {
  SECTION("the Desmigratif schema from its file") {
    ok({"init", "--db", db_, "--schema", LUMBUNG_DESMIGRATIF_SCHEMA});
    put_village();
    CHECK(status()["schema_version"].get<int>() >= 1);
  }
  SECTION("a missing file") {
    const ProcessResult result = run({"init", "--db", db_, "--schema", "nothing.json"});
    check_error(result);
    CHECK_THAT(result.err, Contains("nothing.json"));
    CHECK_FALSE(std::filesystem::exists(db_));
  }
  SECTION("an empty file, which must not fall back to the built-in schema") {
    write_bytes(dir_.path() / "empty.json", "");
    const ProcessResult result = run({"init", "--db", db_, "--schema", "empty.json"});
    check_error(result);
    CHECK_THAT(result.err, Contains("empty.json"));
    CHECK_FALSE(std::filesystem::exists(db_));
  }
  SECTION("a file that is not a schema") {
    write_bytes(dir_.path() / "broken.json", "{\"tables\": [");
    const ProcessResult result = run({"init", "--db", db_, "--schema", "broken.json"});
    check_error(result);
    CHECK_THAT(result.err, Contains("broken.json"));
    CHECK_FALSE(std::filesystem::exists(db_));
  }
}

TEST_CASE_METHOD(Cli, "put new prints a UUIDv7 and get returns typed values", "[cli]") {
  init();
  put_village();
  const std::string household =
      ok({"put", "--db", db_, "household", "new", std::string("village_id=") + kVillageId,
          "no_kk=3212141203050017", "head_name=Tarsono", "latitude=-6.4375", "longitude=108.4375",
          "created_by=officer-sri", "created_at=2026-11-28T04:07:26Z"});
  REQUIRE(is_uuid_v7_line(household));
  const std::string household_id = household.substr(0, household.size() - 1);
  const std::string person = put_person("Tarsono", {"household_id=" + household_id, "sex=L"});

  const Json village = get("village", kVillageId);
  CHECK(village["cohort_year"].is_number_integer());
  CHECK(village["cohort_year"] == 2017);
  CHECK(village["name"] == "Juntinyuat");

  const Json home = get("household", household_id);
  CHECK(home["latitude"].is_number_float());
  CHECK(home["latitude"] == -6.4375);
  CHECK(home["no_kk"] == "3212141203050017");  // digits, but a TEXT column

  const Json row = get("person", person);
  CHECK(row["id"] == person);
  CHECK(row["full_name"] == "Tarsono");
  CHECK(row["household_id"] == household_id);
  CHECK(row["deceased"].is_number_integer());  // the column's default
  CHECK(row["deceased"] == 0);
  CHECK(row["phone"].is_null());
}

TEST_CASE_METHOD(Cli, "put on an existing row updates only the named columns", "[cli]") {
  init();
  put_village();
  const std::string id = put_person("Siti Aminah", {"sex=P", "phone=+6281312345678"});
  const Json before = get("person", id);

  CHECK(ok({"put", "--db", db_, "person", id, "phone=+886912345678", "skills=memasak"}) ==
        id + "\n");
  Json after = get("person", id);
  CHECK(after["phone"] == "+886912345678");
  CHECK(after["skills"] == "memasak");
  for (const char* kept : {"full_name", "sex", "created_at", "village_id", "deceased"}) {
    CHECK(after[kept] == before[kept]);
  }

  SECTION("COL:=null sets NULL and COL= the empty text") {
    ok({"put", "--db", db_, "person", id, "phone:=null", "skills="});
    after = get("person", id);
    CHECK(after["phone"].is_null());
    CHECK(after["skills"] == "");
    CHECK(after["full_name"] == "Siti Aminah");
  }
  SECTION("an ID other than new inserts that row when it is missing") {
    const std::string chosen = "0190f1c2-7a00-7000-8000-0000000000aa";
    ok({"put", "--db", db_, "person", chosen, std::string("village_id=") + kVillageId,
        "full_name=Rohmah", "created_by=officer-sri", "created_at=2026-11-28T04:07:26Z"});
    CHECK(get("person", chosen)["full_name"] == "Rohmah");
  }
}

TEST_CASE_METHOD(Cli, "delete removes a row, then get and delete of it fail", "[cli]") {
  init();
  put_village();
  const std::string id = put_person("Warsini");

  CHECK(ok({"delete", "--db", db_, "person", id}).empty());
  const ProcessResult missing = run({"get", "--db", db_, "person", id});
  check_error(missing);
  CHECK_THAT(missing.err, Contains("person") && Contains(id));
  check_error(run({"delete", "--db", db_, "person", id}));
}

TEST_CASE_METHOD(Cli, "dump is one line of canonical JSON with live rows only", "[cli]") {
  init();
  put_village();
  const std::string kept = put_person("Darsih");
  const std::string deleted = put_person("Casmita");
  ok({"delete", "--db", db_, "person", deleted});

  const std::string out = dump();
  REQUIRE(std::count(out.begin(), out.end(), '\n') == 1);
  REQUIRE(out.back() == '\n');
  const std::string line = out.substr(0, out.size() - 1);
  const Json json = Json::parse(line);
  // nlohmann::json keeps keys sorted and prints no spaces: a canonical line
  // re-serializes to itself.
  CHECK(json.dump() == line);
  CHECK(json["village"][kVillageId]["cohort_year"] == 2017);
  CHECK(json["person"].contains(kept));
  CHECK_FALSE(json["person"].contains(deleted));
  CHECK(dump() == out);
}

TEST_CASE_METHOD(Cli, "status and pending show the changes waiting to be pushed", "[cli]") {
  const std::string server = "https://lumbung.example.id/v1?village=\"juntinyuat\"";
  ok({"init", "--db", db_, "--server", server, "--token", "secret-token"});
  const std::string out = ok({"status", "--db", db_});
  REQUIRE(std::count(out.begin(), out.end(), '\n') == 1);
  Json json = Json::parse(out);
  CHECK(json.size() == 7);
  CHECK(json["pending_changes"] == 0);
  CHECK(json["refused_changes"] == 0);
  CHECK(json["last_sync"].is_null());
  CHECK_FALSE(json["device_id"].get<std::string>().empty());
  CHECK(json["schema_version"].get<int>() >= 1);
  CHECK(json["server"] == server);  // quotes survive escaping
  CHECK(json["refused"] == Json::array());
  CHECK(ok({"pending", "--db", db_}) == "0 pending changes\n");
  CHECK(ok({"pending", "--db", db_, "--json"}) == "[]\n");

  put_village();
  ok({"put", "--db", db_, "village", kVillageId, "service_post_address=Balai Desa"});
  json = status();
  const auto pending = json["pending_changes"].get<std::int64_t>();
  CHECK(pending >= 2);

  const Json changes = Json::parse(ok({"pending", "--db", db_, "--json"}));
  REQUIRE(changes.is_array());
  CHECK(static_cast<std::int64_t>(changes.size()) == pending);
  CHECK(changes.front()["kind"] == "insert");
  CHECK(changes.front()["table"] == "village");
  CHECK(changes.front()["id"] == kVillageId);
  CHECK(changes.back()["kind"] == "update");
  CHECK(changes.back()["column"] == "service_post_address");

  const std::string words = ok({"pending", "--db", db_});
  std::vector<std::string> lines;
  for (std::size_t start = 0, end; (end = words.find('\n', start)) != std::string::npos;
       start = end + 1) {
    lines.push_back(words.substr(start, end - start));
  }
  REQUIRE(static_cast<std::int64_t>(lines.size()) == pending + 1);
  const std::string stamp = changes.front()["stamp"].get<std::string>();
  CHECK(lines.front() ==
        std::string("village ") + kVillageId + ": new row (stamped " + stamp + ")");
  CHECK(has_shape(stamp, "9999-99-99T99:99:99.999Z/*"));
  CHECK_THAT(lines[lines.size() - 2], Contains(": service_post_address changed (stamped "));
  CHECK(lines.back() == std::to_string(pending) + " pending changes");
}

TEST_CASE_METHOD(Cli, "usage errors exit 2 and write nothing", "[cli]") {
  init();
  put_village();
  const std::string before = dump();
  const std::string village = std::string("village_id=") + kVillageId;
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate", "--db", db_},
      {"get", "village", kVillageId},
      {"dump", "--db"},
      {"dump", "--db", db_, "--db", db_},
      {"dump", "--db", db_, "--verbose"},
      {"dump", "--db", db_, "extra"},
      {"status", "--db", db_, "--json"},
      {"pending", "--db", db_, "--json=yes"},
      {"get", "--db", db_, "village"},
      {"get", "--db", db_, "village", kVillageId, "extra"},
      {"put", "--db", db_, "person", "new"},
      {"put", "--db", db_, "person", "new", village, "full_name"},
      {"put", "--db", db_, "person", "new", village, "=Darsih"},
      {"put", "--db", db_, "person", "new", village, ":=null"},
      {"put", "--db", db_, "person", "new", village, "phone:=0812"},
      {"put", "--db", db_, "village", kVillageId, "name=A", "name=B"},
      {"sync", "--db", db_, "--wait", "soon"},
      {"sync", "--db", db_, "--wait", "-1"},
      {"conflicts", "--db", db_, "extra"},
  };
  for (const auto& args : cases) {
    std::string shown;
    for (const auto& arg : args) shown += " " + arg;
    INFO("lumbung" << shown);
    const ProcessResult result = run(args);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.err, StartsWith("lumbung: ") && Contains(" --help'"));
    CHECK(result.out.empty());
  }
  CHECK(dump() == before);
}

TEST_CASE_METHOD(Cli, "a value of the wrong type is refused, naming table and column", "[cli]") {
  init();
  put_village();
  const std::string id = put_person("Kastini");
  const std::string before = dump();

  const ProcessResult update = run({"put", "--db", db_, "person", id, "deceased=x"});
  check_error(update);
  CHECK_THAT(update.err, Contains("person") && Contains("deceased"));

  const ProcessResult insert =
      run({"put", "--db", db_, "person", "new", std::string("village_id=") + kVillageId,
           "full_name=Kasmirah", "created_by=officer-sri", "created_at=2026-11-28T04:07:26Z",
           "deceased=x"});
  check_error(insert);
  CHECK_THAT(insert.err, Contains("person") && Contains("deceased"));

  const ProcessResult year = run({"put", "--db", db_, "village", kVillageId, "cohort_year=2017a"});
  check_error(year);
  CHECK_THAT(year.err, Contains("village") && Contains("cohort_year"));

  // A CHECK violation after a good cell: the cells go in together or not at all.
  check_error(run({"put", "--db", db_, "person", id, "full_name=Kastini Binti Warno", "sex=X"}));

  CHECK(dump() == before);
}

TEST_CASE_METHOD(Cli, "an unknown table or column is refused", "[cli]") {
  init();
  put_village();
  const std::string id = put_person("Sukinah");
  const std::string before = dump();

  const ProcessResult table = run({"put", "--db", db_, "migrant", "new", "name=Sukinah"});
  check_error(table);
  CHECK_THAT(table.err, Contains("migrant"));
  const ProcessResult column = run({"put", "--db", db_, "person", id, "nik2=3212"});
  check_error(column);
  CHECK_THAT(column.err, Contains("person") && Contains("nik2"));
  check_error(run({"get", "--db", db_, "migrant", id}));
  check_error(run({"delete", "--db", db_, "migrant", id}));
  CHECK(dump() == before);
}

TEST_CASE_METHOD(Cli, "a file that is not a replica is refused and left unchanged", "[cli]") {
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 7919 + 13) % 251));
  write_bytes(db_, garbage);

  const std::vector<std::vector<std::string>> commands = {
      {"dump", "--db", db_},
      {"status", "--db", db_},
      {"pending", "--db", db_},
      {"get", "--db", db_, "village", kVillageId},
      {"delete", "--db", db_, "village", kVillageId},
      {"put", "--db", db_, "village", kVillageId, "name=Juntinyuat"},
      {"sync", "--db", db_, "--server", "http://127.0.0.1:9"},
      {"conflicts", "--db", db_},
  };
  for (const auto& args : commands) {
    INFO("lumbung " << args.front());
    const ProcessResult result = run(args);
    check_error(result);
#ifdef LUMBUNG_HAVE_SQLCIPHER
    // Encrypted, garbage and a wrong key look the same.
    CHECK_THAT(result.err, Contains("NotAReplica") || Contains("Encryption"));
#else
    CHECK_THAT(result.err, Contains("NotAReplica"));
#endif
  }
  CHECK(read_bytes(db_) == garbage);
}

TEST_CASE_METHOD(Cli, "commands on a missing --db fail and create nothing", "[cli]") {
  const std::vector<std::vector<std::string>> commands = {
      {"dump", "--db", db_},
      {"status", "--db", db_},
      {"pending", "--db", db_},
      {"get", "--db", db_, "village", kVillageId},
      {"delete", "--db", db_, "village", kVillageId},
      {"put", "--db", db_, "village", kVillageId, "name=Juntinyuat"},
      {"sync", "--db", db_, "--server", "http://127.0.0.1:9"},
      {"conflicts", "--db", db_},
  };
  for (const auto& args : commands) {
    INFO("lumbung " << args.front());
    const ProcessResult result = run(args);
    check_error(result);
    CHECK_THAT(result.err, Contains(db_) && Contains("does not exist"));
  }
  CHECK(std::filesystem::is_empty(dir_.path()));
}

TEST_CASE_METHOD(Cli, "--help describes every command and exits 0", "[cli]") {
  const std::vector<std::string> names = {"init",      "put",     "delete",   "get",
                                          "dump",      "status",  "pending",  "sync",
                                          "conflicts", "resolve", "set-token"};
  const ProcessResult main_help = run({"--help"});
  CHECK(main_help.exit_code == 0);
  for (const std::string& name : names) {
    INFO(name);
    CHECK_THAT(main_help.out, Contains("  " + name + " "));
    for (const char* flag : {"--help", "-h"}) {
      const ProcessResult help = run({name, flag});
      CHECK(help.exit_code == 0);
      CHECK_THAT(help.out, StartsWith("usage: lumbung " + name + " --db FILE"));
      CHECK(help.err.empty());
    }
  }
  // Help wins over everything else on the line, a missing file included.
  CHECK(run({"put", "--db", db_, "person", "--help"}).exit_code == 0);
  CHECK_FALSE(std::filesystem::exists(db_));
}

TEST_CASE_METHOD(Cli, "lumbung --version prints release, revision, protocol and schema versions",
                 "[cli]") {
  const ProcessResult result = run({"--version"});
  CHECK(result.exit_code == 0);
  CHECK(result.err.empty());
  INFO(result.out);
  std::istringstream lines(result.out);
  std::string release, revision, protocol, format, builtin, more;
  REQUIRE(std::getline(lines, release));
  REQUIRE(std::getline(lines, revision));
  REQUIRE(std::getline(lines, protocol));
  REQUIRE(std::getline(lines, format));
  REQUIRE(std::getline(lines, builtin));
  CHECK_FALSE(std::getline(lines, more));
  // "lumbung MAJOR.MINOR.PATCH"
  CHECK(release.starts_with("lumbung "));
  CHECK(std::count(release.begin(), release.end(), '.') == 2);
  CHECK(release.find_first_not_of("0123456789.", 8) == std::string::npos);
  CHECK(revision.starts_with("revision: "));
  CHECK(revision.size() > 10);
  CHECK(revision.find(' ', 10) == std::string::npos);
  CHECK(protocol == "protocol: 1");
  // The schema the binary builds in is the Desmigratif file's.
  const Json schema = Json::parse(read_bytes(LUMBUNG_DESMIGRATIF_SCHEMA));
  CHECK(format == "schema format: " + schema.at("format").get<std::string>());
  CHECK(builtin == "built-in schema: " + schema.at("name").get<std::string>() + " " +
                       std::to_string(schema.at("version").get<int>()));

  // lumbungd, built from the same sources, says the same but for its name.
  const ProcessResult daemon =
      lumbung::test::run_process({LUMBUNGD, "--version"}, env_, dir_.path().string());
  CHECK(daemon.exit_code == 0);
  CHECK(daemon.out == "lumbungd" + result.out.substr(std::string("lumbung").size()));

  // Alone on the line: anything after it is a usage error.
  const ProcessResult extra = run({"--version", "--db", db_});
  CHECK(extra.exit_code == 2);
  CHECK_THAT(extra.err, StartsWith("lumbung: --version takes no arguments"));
  CHECK(extra.out.empty());
  CHECK_THAT(ok({"--help"}), Contains("'lumbung --version' prints"));
}

// Runs SQL on a replica file as another program (an app, a repair tool) would.
void exec_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
#ifdef LUMBUNG_HAVE_SQLCIPHER
  const std::string key = "cli-test-key";
  sqlite3_key(db, key.data(), static_cast<int>(key.size()));
#endif
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  INFO((error ? error : ""));
  sqlite3_free(error);
  sqlite3_close_v2(db);
  REQUIRE(rc == SQLITE_OK);
}

TEST_CASE_METHOD(Cli, "sync pushes and pulls through a real lumbungd", "[cli][sync]") {
  lumbung::test::DaemonProcess daemon(LUMBUNGD, (dir_.path() / "server").string(),
                                      {"--insecure-no-auth"});
  ok({"init", "--db", db_, "--server", daemon.url()});
  const std::string other = (dir_.path() / "other.db").string();
  ok({"init", "--db", other});  // no server kept in it: given at each sync
  put_village();
  const std::string id = put_person("Siti Aminah");

  const std::string out = ok({"sync", "--db", db_});
  REQUIRE(std::count(out.begin(), out.end(), '\n') == 1);
  const Json pushed = Json::parse(out);
  std::vector<std::string> keys;
  for (const auto& item : pushed.items()) keys.push_back(item.key());
  std::sort(keys.begin(), keys.end());
  CHECK(keys == std::vector<std::string>{"applied", "bytes_received", "bytes_sent", "conflicts",
                                         "pulled", "pushed", "refused", "superseded"});
  CHECK(pushed["pushed"] == 2);
  CHECK(pushed["applied"] == 2);
  CHECK(pushed["refused"] == 0);
  CHECK(pushed["bytes_sent"].get<std::int64_t>() > 0);
  CHECK(pushed["bytes_received"].get<std::int64_t>() > 0);
  CHECK(status()["pending_changes"] == 0);
  CHECK(has_shape(status()["last_sync"].get<std::string>(), "9999-99-99T99:99:99Z"));

  const Json pulled = Json::parse(ok({"sync", "--db", other, "--server", daemon.url()}));
  CHECK(pulled["pushed"] == 0);
  CHECK(pulled["pulled"] == 2);
  CHECK(ok({"dump", "--db", other}) == dump());
  CHECK(ok({"conflicts", "--db", db_}) == "[]\n");

  // The same cell edited on both replicas: the later edit wins, and both
  // replicas list the conflict once they have synced.
  ok({"put", "--db", db_, "person", id, "phone=0811"});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ok({"put", "--db", other, "person", id, "phone=0822"});
  ok({"sync", "--db", other, "--server", daemon.url()});
  const Json lost = Json::parse(ok({"sync", "--db", db_}));
  CHECK(lost["superseded"] == 1);
  CHECK(lost["conflicts"] == 1);
  ok({"sync", "--db", other, "--server", daemon.url()});
  CHECK(get("person", id)["phone"] == "0822");
  CHECK(ok({"dump", "--db", other}) == dump());
  for (const std::string& replica : {db_, other}) {
    const Json conflicts = Json::parse(ok({"conflicts", "--db", replica}));
    REQUIRE(conflicts.size() == 1);
    const Json& conflict = conflicts.front();
    CHECK(conflict.size() == 14);
    CHECK(conflict["id"].get<std::int64_t>() > 0);
    CHECK(conflict["table"] == "person");
    CHECK(conflict["row_id"] == id);
    CHECK(conflict["column"] == "phone");
    CHECK(conflict["policy"] == "last_writer_wins");
    CHECK(conflict["server_value"] == "0822");
    CHECK(conflict["device_value"] == "0811");
    CHECK(conflict["device_id"] == status()["device_id"]);
    CHECK(conflict["server_hlc"].get<std::int64_t>() > conflict["device_hlc"].get<std::int64_t>());
    CHECK(conflict["outcome"] == "server_kept");
    CHECK(conflict["scope"] == kVillageId);
    CHECK(conflict["resolution"].is_null());
  }
}

TEST_CASE_METHOD(Cli, "status lists a change the server refused; others keep flowing",
                 "[cli][sync]") {
  lumbung::test::DaemonProcess daemon(LUMBUNGD, (dir_.path() / "server").string(),
                                      {"--insecure-no-auth"});
  ok({"init", "--db", db_, "--server", daemon.url()});
  put_village();
  const std::string person = put_person("Darsih");
  std::string household =
      ok({"put", "--db", db_, "household", "new", std::string("village_id=") + kVillageId,
          "created_by=officer-sri", "created_at=2026-11-28T04:07:26Z"});
  household.pop_back();
  ok({"sync", "--db", db_});

  // SQLite does not enforce types: plain SQL can put text in a REAL column,
  // which the API would refuse. The server refuses it.
  exec_sql(db_, "UPDATE household SET latitude = 'north' WHERE id = '" + household + "'");
  ok({"put", "--db", db_, "person", person, "phone=0812"});
  const Json summary = Json::parse(ok({"sync", "--db", db_}));
  CHECK(summary["pushed"] == 2);
  CHECK(summary["applied"] == 1);
  CHECK(summary["refused"] == 1);

  const Json json = status();
  CHECK(json["pending_changes"] == 0);
  CHECK(json["refused_changes"] == 1);
  REQUIRE(json["refused"].size() == 1);
  const Json& refused = json["refused"].front();
  CHECK(refused["table"] == "household");
  CHECK(refused["id"] == household);
  CHECK(refused["column"] == "latitude");
  CHECK(refused["reason"] == "type_mismatch");
  CHECK_THAT(refused["message"].get<std::string>(), Contains("latitude"));
  CHECK(has_shape(refused["stamp"].get<std::string>(), "9999-99-99T99:99:99.999Z/*"));
}

// Each line of `lumbungd audit` on DATA_DIR with `filters`, parsed.
std::vector<Json> audit_lines(const std::string& data_dir, std::vector<std::string> filters) {
  std::vector<std::string> args = {LUMBUNGD, "audit", "--data", data_dir};
  args.insert(args.end(), filters.begin(), filters.end());
  const ProcessResult result = lumbung::test::run_process(args, child_env(), data_dir);
  INFO("stderr: " << result.err);
  REQUIRE(result.exit_code == 0);
  std::vector<Json> lines;
  std::istringstream out(result.out);
  for (std::string line; std::getline(out, line);) lines.push_back(Json::parse(line));
  return lines;
}

TEST_CASE_METHOD(Cli, "resolve settles a manual-review conflict; every replica syncs the value",
                 "[cli][sync]") {
  const std::string data_dir = (dir_.path() / "server").string();
  lumbung::test::DaemonProcess daemon(LUMBUNGD, data_dir, {"--insecure-no-auth"});
  ok({"init", "--db", db_, "--server", daemon.url()});
  const std::string other = (dir_.path() / "other.db").string();
  ok({"init", "--db", other, "--server", daemon.url()});
  put_village();
  const std::string id = put_person("Siti Aminah", {"migrant_status=CALON"});
  ok({"sync", "--db", db_});
  ok({"sync", "--db", other});

  // migrant_status is manual_review: the server keeps the first edit to
  // arrive and records the other for review.
  ok({"put", "--db", db_, "person", id, "migrant_status=AKTIF"});
  ok({"put", "--db", other, "person", id, "migrant_status=PURNA"});
  ok({"sync", "--db", db_});
  CHECK(Json::parse(ok({"sync", "--db", other}))["conflicts"] == 1);
  ok({"sync", "--db", db_});
  const Json pending = Json::parse(ok({"conflicts", "--db", db_}));
  REQUIRE(pending.size() == 1);
  CHECK(pending[0]["outcome"] == "pending_review");
  const std::string conflict_id = std::to_string(pending[0]["id"].get<std::int64_t>());

  CHECK(run({"resolve", "--db", db_, conflict_id}).exit_code == 2);
  CHECK(run({"resolve", "--db", db_, conflict_id, "--keep", "both"}).exit_code == 2);
  CHECK(run({"resolve", "--db", db_, conflict_id, "--keep", "server", "--value", "AKTIF"})
            .exit_code == 2);
  CHECK(run({"resolve", "--db", db_, "x1", "--keep", "server"}).exit_code == 2);
  const ProcessResult refused = run({"resolve", "--db", db_, conflict_id, "--value", "BOGUS"});
  check_error(refused);
  CHECK_THAT(refused.err, Contains("CHECK failed"));

  const std::string out = ok({"resolve", "--db", db_, conflict_id, "--value", "NON_PROSEDURAL"});
  REQUIRE(std::count(out.begin(), out.end(), '\n') == 1);
  const Json resolved = Json::parse(out);
  CHECK(resolved["id"] == pending[0]["id"]);
  CHECK(resolved["outcome"] == "resolved_value");
  CHECK(resolved["server_value"] == "AKTIF");
  CHECK(resolved["device_value"] == "PURNA");
  CHECK(resolved["resolution"]["value"] == "NON_PROSEDURAL");
  CHECK(resolved["resolution"]["by"] == "");
  CHECK(resolved["resolution"]["device"] == status()["device_id"]);
  CHECK(resolved["resolution"]["time_ms"].get<std::int64_t>() > 0);
  const ProcessResult twice = run({"resolve", "--db", db_, conflict_id, "--keep", "device"});
  check_error(twice);
  CHECK_THAT(twice.err, Contains("not pending review"));

  // The value reaches every replica, the resolver's too, with its next sync.
  ok({"sync", "--db", other});
  ok({"sync", "--db", db_});
  CHECK(get("person", id)["migrant_status"] == "NON_PROSEDURAL");
  CHECK(ok({"dump", "--db", other}) == dump());
  const Json listed = Json::parse(ok({"conflicts", "--db", db_}));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0] == resolved);

  // The audit log: the row's history, oldest first, ending with the resolution.
  const std::vector<Json> row = audit_lines(data_dir, {"--row", "person/" + id});
  REQUIRE(row.size() >= 3);
  for (const Json& line : row) {
    CHECK(line["table"] == "person");
    CHECK(line["row"] == id);
    CHECK(line["scope"] == kVillageId);
    CHECK(line["officer"] == "");
  }
  const Json& last = row.back();
  CHECK(last["outcome"] == "resolved_value");
  CHECK(last["column"] == "migrant_status");
  CHECK(last["old"] == "AKTIF");
  CHECK(last["new"] == "NON_PROSEDURAL");
  CHECK(last["conflict_id"] == pending[0]["id"]);
  CHECK(last["device"] == status()["device_id"]);
  CHECK(last["seq"].get<std::int64_t>() > 0);
  CHECK(std::any_of(row.begin(), row.end(), [](const Json& line) {
    return line["outcome"] == "superseded" && line["new"] == "PURNA";
  }));
  const std::vector<Json> village = audit_lines(data_dir, {"--village", kVillageId});
  CHECK(village.size() > row.size());  // the village row and the person's history
  CHECK(audit_lines(data_dir, {}).size() == village.size());
  CHECK(audit_lines(data_dir, {"--village", "no-such-village"}).empty());
  CHECK(audit_lines(data_dir, {"--village", kVillageId, "--row", "person/" + id}) == row);
  const ProcessResult malformed = lumbung::test::run_process(
      {LUMBUNGD, "audit", "--data", data_dir, "--row", "person"}, child_env(), data_dir);
  CHECK(malformed.exit_code == 2);
}

TEST_CASE_METHOD(Cli, "a village ungranted leaves the replica, which set-token keeps syncing",
                 "[cli][sync][auth]") {
  const std::string data = (dir_.path() / "server").string();
  const auto token = [&](const std::string& villages) {
    const ProcessResult issued = lumbung::test::run_process(
        {LUMBUNGD, "token", "--data", data, "--officer", "sri", "--villages", villages}, {},
        std::filesystem::current_path().string());
    REQUIRE(issued.exit_code == 0);
    return issued.out.substr(0, issued.out.find('\n'));
  };
  const std::string both = token(std::string(kVillageId) + ",v2");
  lumbung::test::DaemonProcess daemon(LUMBUNGD, data);
  ok({"init", "--db", db_, "--server", daemon.url(), "--token", both});
  put_village();
  put_person("Siti Aminah");
  ok({"put", "--db", db_, "household", "h-v2", "village_id=v2", "head_name=Casmadi",
      "created_by=officer-sri", "created_at=2026-11-28T04:07:26Z"});
  CHECK(Json::parse(ok({"sync", "--db", db_}))["applied"] == 3);

  const ProcessResult ungranted = lumbung::test::run_process(
      {LUMBUNGD, "ungrant", "--data", data, "--officer", "sri", "--villages", kVillageId}, {},
      std::filesystem::current_path().string());
  REQUIRE(ungranted.exit_code == 0);
  ok({"set-token", "--db", db_, token("v2")});
  ok({"sync", "--db", db_});
  const Json state = Json::parse(dump());
  CHECK(state["person"].empty());  // village 1 left the replica
  CHECK(state["village"].empty());
  CHECK(state["household"].contains("h-v2"));

  ok({"set-token", "--db", db_, "not-a-token"});
  const ProcessResult refused = run({"sync", "--db", db_});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Contains("TokenMalformed"));
}

TEST_CASE_METHOD(Cli, "sync fails with a clear message when there is no server", "[cli][sync]") {
  init();
  const ProcessResult result = run({"sync", "--db", db_});
  check_error(result);
  CHECK_THAT(result.err, Contains("--server"));
}

#ifdef LUMBUNG_HAVE_SQLCIPHER
TEST_CASE_METHOD(Cli, "an encrypted replica opens only with its key from LUMBUNG_KEY", "[cli]") {
  init();
  put_village();
  const std::string plain = dump();
  std::erase_if(env_, [](const std::string& e) { return e.starts_with("LUMBUNG_KEY="); });
  check_error(run({"dump", "--db", db_}));
  env_.emplace_back("LUMBUNG_KEY=wrong-key");
  const ProcessResult wrong = run({"dump", "--db", db_});
  check_error(wrong);
  CHECK_THAT(wrong.err, Contains("Encryption"));
  env_.back() = "LUMBUNG_KEY=cli-test-key";
  CHECK(dump() == plain);
}
#else
TEST_CASE_METHOD(Cli, "LUMBUNG_KEY without SQLCipher is refused, never ignored", "[cli]") {
  env_.emplace_back("LUMBUNG_KEY=cli-test-key");
  const ProcessResult result = run({"init", "--db", db_});
  check_error(result);
  CHECK_THAT(result.err, Contains("Encryption"));
  CHECK_FALSE(std::filesystem::exists(db_));
}
#endif

}  // namespace
