// Opening replicas, reading and writing through the API, and bad input: every
// refused write leaves the file as it was.
#include <catch2/catch.hpp>

#include "support/test_support.hpp"

using namespace lumbung;
using lumbung::test::PlainConnection;
using lumbung::test::TempDir;

namespace {

Row person(const std::string& id) {
  return {{"id", id},
          {"village_id", "v1"},
          {"full_name", "Siti Aminah"},
          {"created_by", "sri"},
          {"created_at", "2026-11-28T04:00:00Z"}};
}

struct Fixture {
  TempDir dir;
  std::string path = dir.file("replica.db");
  std::unique_ptr<Replica> replica = lumbung::test::open_replica(lumbung::test::options_for(path));

  // The observable state: every table and the outbox.
  std::string state() {
    std::string dump = replica->dump_json().value();
    for (const auto& c : replica->pending_changes().value()) {
      dump += "|" + c.table + "/" + c.row_id + "/" + c.column + "@" + std::to_string(c.hlc);
    }
    return dump;
  }
};

}  // namespace

TEST_CASE("a new replica has a device id that survives reopening, and WAL", "[replica]") {
  TempDir dir;
  const std::string path = dir.file("r.db");
  std::string device;
  {
    auto replica = lumbung::test::open_replica(lumbung::test::options_for(path));
    device = replica->device_id();
    CHECK(device.size() == 36);
    CHECK(replica->tables().size() == 9);
    CHECK(std::filesystem::exists(path + "-wal"));  // write-ahead logging is on
  }
  auto replica = lumbung::test::open_replica(lumbung::test::options_for(path));
  CHECK(replica->device_id() == device);
  auto status = replica->status();
  REQUIRE(status.is_ok());
  CHECK(status->device_id == device);
  CHECK(status->schema_version == 1);
  CHECK(status->pending_changes == 0);
  CHECK(!status->last_sync);
}

TEST_CASE("rows are read back with their declared types", "[replica]") {
  Fixture f;
  Row row = person("p1");
  row["latitude"] = Value(-7);  // wrong table on purpose: person has no latitude
  CHECK(f.replica->insert("person", row).code() == ErrorCode::kNotFound);

  REQUIRE(f.replica
              ->insert("household", {{"id", "h1"},
                                     {"village_id", "v1"},
                                     {"latitude", -7},
                                     {"created_by", "sri"},
                                     {"created_at", "t"}})
              .is_ok());
  auto household = f.replica->get("household", "h1");
  REQUIRE(household.is_ok());
  CHECK((**household)["latitude"].type() == ValueType::kReal);  // an integer into a REAL column
  REQUIRE(f.replica->insert("person", person("p1")).is_ok());
  auto p = f.replica->get("person", "p1");
  CHECK((**p)["deceased"] == Value(0));  // the schema's default
  CHECK((**p)["phone"].is_null());
}

TEST_CASE("put inserts a new row and updates only the named cells of an existing one",
          "[replica]") {
  Fixture f;
  REQUIRE(f.replica->put("person", "p1", person("p1")).is_ok());
  REQUIRE(f.replica->put("person", "p1", {{"phone", "0812"}}).is_ok());
  auto p = f.replica->get("person", "p1");
  CHECK((**p)["full_name"] == Value("Siti Aminah"));
  CHECK((**p)["phone"] == Value("0812"));
}

TEST_CASE("insert_new makes a UUIDv7 id", "[replica]") {
  Fixture f;
  Row row = person("ignored");
  row.erase("id");
  auto id = f.replica->insert_new("person", row);
  REQUIRE(id.is_ok());
  CHECK(id->size() == 36);
  CHECK((*id)[14] == '7');
  CHECK(f.replica->get("person", *id)->has_value());
}

TEST_CASE("bad input gets a clear error and writes nothing", "[replica]") {
  Fixture f;
  REQUIRE(f.replica->insert("person", person("p1")).is_ok());
  const std::string before = f.state();

  Status s = f.replica->insert("persons", person("p2"));
  CHECK(s.code() == ErrorCode::kNotFound);
  CHECK(s.message() == "unknown table 'persons'");

  Row row = person("p2");
  row["nik2"] = "1";
  s = f.replica->insert("person", row);
  CHECK(s.code() == ErrorCode::kNotFound);
  CHECK(s.message() == "table 'person': unknown column 'nik2'");

  row = person("p2");
  row["deceased"] = "yes";
  s = f.replica->insert("person", row);
  CHECK(s.code() == ErrorCode::kTypeMismatch);
  CHECK_THAT(s.message(), Catch::Contains("person") && Catch::Contains("deceased"));

  row = person("p2");
  row.erase("full_name");
  s = f.replica->insert("person", row);
  CHECK(s.code() == ErrorCode::kConstraint);
  CHECK_THAT(s.message(), Catch::Contains("full_name"));

  row = person("p2");
  row["sex"] = "X";
  s = f.replica->insert("person", row);
  CHECK(s.code() == ErrorCode::kConstraint);
  CHECK_THAT(s.message(), Catch::Contains("sex"));

  s = f.replica->insert("person", person("p1"));
  CHECK(s.code() == ErrorCode::kConstraint);
  CHECK_THAT(s.message(), Catch::Contains("already exists"));

  // SQLite refuses these updates; the API still names the column.
  s = f.replica->update("person", "p1", {{"full_name", Value()}});
  CHECK(s.code() == ErrorCode::kConstraint);
  CHECK_THAT(s.message(), Catch::Contains("'full_name' is NOT NULL"));
  s = f.replica->update("person", "p1", {{"sex", "X"}});
  CHECK(s.code() == ErrorCode::kConstraint);
  CHECK_THAT(s.message(), Catch::Contains("column 'sex': CHECK failed"));
  CHECK(f.replica->update("person", "nobody", {{"phone", "1"}}).code() == ErrorCode::kNotFound);
  CHECK(f.replica->remove("person", "nobody").code() == ErrorCode::kNotFound);
  CHECK(f.replica->query("DELETE FROM person").status().code() == ErrorCode::kInvalidArgument);

  CHECK(f.state() == before);
}

TEST_CASE("plain SQL that breaks a CHECK is refused by SQLite itself, and not captured",
          "[replica]") {
  Fixture f;
  REQUIRE(f.replica->insert("person", person("p1")).is_ok());
  const std::string before = f.state();
  PlainConnection app(f.path);
  CHECK(app.exec("UPDATE person SET sex = 'X' WHERE id = 'p1'").find("CHECK") != std::string::npos);
  CHECK(f.state() == before);
}

TEST_CASE("a file that is not a replica is refused and left untouched", "[replica]") {
  TempDir dir;
  SECTION("garbage bytes") {
    const std::string path = dir.file("notes.txt");
    { std::ofstream(path) << "these are not the records you are looking for\n"; }
    const std::string before = lumbung::test::read_file(path);
    auto replica = Replica::open(lumbung::test::options_for(path));
    REQUIRE(!replica.is_ok());
    CHECK((replica.status().code() == ErrorCode::kNotAReplica ||
           replica.status().code() == ErrorCode::kEncryption));
    CHECK_THAT(replica.status().message(), Catch::Contains("notes.txt"));
    CHECK(lumbung::test::read_file(path) == before);
  }
  SECTION("another application's SQLite database") {
    const std::string path = dir.file("other.db");
    {
      auto created = lumbung::test::open_replica(lumbung::test::options_for(dir.file("x.db")));
      PlainConnection other(dir.file("x.db"));
      REQUIRE(other.exec("DROP TABLE _lumbung_meta") == "");
    }
    std::filesystem::copy_file(dir.file("x.db"), path);
    const std::string before = lumbung::test::read_file(path);
    auto replica = Replica::open(lumbung::test::options_for(path));
    REQUIRE(!replica.is_ok());
    CHECK(replica.status().code() == ErrorCode::kNotAReplica);
    CHECK_THAT(replica.status().message(), Catch::Contains("not a Lumbung replica"));
    CHECK(lumbung::test::read_file(path) == before);
  }
}

TEST_CASE("dump_json is canonical: sorted keys, one line, live rows only", "[replica]") {
  Fixture f;
  REQUIRE(f.replica->insert("person", person("p2")).is_ok());
  REQUIRE(f.replica->insert("person", person("p1")).is_ok());
  REQUIRE(f.replica->remove("person", "p2").is_ok());
  std::string dump = f.replica->dump_json().value();
  CHECK(dump.find('\n') == std::string::npos);
  CHECK(dump.find("\"p2\"") == std::string::npos);
  CHECK(dump.find("\"person\":{\"p1\":{\"birth_date\":null,") != std::string::npos);
  CHECK(dump.rfind("{\"activity\":{},", 0) == 0);
}

TEST_CASE("query binds parameters and returns typed rows", "[replica]") {
  Fixture f;
  REQUIRE(f.replica->insert("person", person("p1")).is_ok());
  auto rows = f.replica->query("SELECT id, deceased FROM person WHERE full_name = ?1",
                               {Value("Siti Aminah")});
  REQUIRE(rows.is_ok());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0]["deceased"] == Value(0));
}

#ifdef LUMBUNG_HAVE_SQLCIPHER
TEST_CASE("an encrypted replica cannot be read without its key", "[replica]") {
  TempDir dir;
  const std::string path = dir.file("secret.db");
  {
    auto replica = lumbung::test::open_replica(lumbung::test::options_for(path));
    REQUIRE(replica->insert("person", person("p1")).is_ok());
  }
  const std::string bytes = lumbung::test::read_file(path);
  CHECK(bytes.find("SQLite format 3") == std::string::npos);
  CHECK(bytes.find("Siti Aminah") == std::string::npos);

  ReplicaOptions no_key = lumbung::test::options_for(path);
  no_key.key.clear();
  auto replica = Replica::open(no_key);
  REQUIRE(!replica.is_ok());
  CHECK(replica.status().code() == ErrorCode::kNotAReplica);

  ReplicaOptions wrong_key = lumbung::test::options_for(path);
  wrong_key.key = "wrong";
  replica = Replica::open(wrong_key);
  REQUIRE(!replica.is_ok());
  CHECK(replica.status().code() == ErrorCode::kEncryption);
  CHECK(lumbung::test::read_file(path) == bytes);

  auto reopened = lumbung::test::open_replica(lumbung::test::options_for(path));
  CHECK(reopened->get("person", "p1").value()->at("full_name") == Value("Siti Aminah"));
}
#else
TEST_CASE("a key without an encrypting build is refused", "[replica]") {
  TempDir dir;
  ReplicaOptions options = lumbung::test::options_for(dir.file("r.db"));
  options.key = "secret";
  auto replica = Replica::open(options);
  REQUIRE(!replica.is_ok());
  CHECK(replica.status().code() == ErrorCode::kEncryption);
}
#endif
