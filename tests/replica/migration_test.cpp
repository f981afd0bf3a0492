// Schema migration: a newer schema version adds tables, nullable columns and
// indexes to an existing replica; anything else is refused and the file is
// left untouched.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/schema.hpp"
#include "support/test_support.hpp"

using namespace lumbung;
using lumbung::test::TempDir;
using nlohmann::json;

namespace {

json builtin() { return json::parse(core::builtin_schema_text()); }

json& table(json& schema, const std::string& name) {
  for (json& t : schema["tables"]) {
    if (t["name"] == name) return t;
  }
  throw std::runtime_error("no table " + name);
}

json& column(json& schema, const std::string& t, const std::string& name) {
  for (json& c : table(schema, t)["columns"]) {
    if (c["name"] == name) return c;
  }
  throw std::runtime_error("no column " + name);
}

struct Fixture {
  TempDir dir;
  std::string path = dir.file("replica.db");

  Fixture() {
    auto replica = lumbung::test::open_replica(lumbung::test::options_for(path));
    REQUIRE(replica
                ->insert("person", {{"id", "p1"},
                                    {"village_id", "v1"},
                                    {"full_name", "Siti"},
                                    {"created_by", "sri"},
                                    {"created_at", "t"}})
                .is_ok());
  }

  Result<std::unique_ptr<Replica>> open_with(const json& schema) {
    ReplicaOptions options = lumbung::test::options_for(path);
    options.schema_text = schema.dump(2);
    options.schema_source = "v2.json";
    return Replica::open(options);
  }
};

}  // namespace

TEST_CASE("a newer version adds a table, a nullable column and an index", "[replica]") {
  Fixture f;
  json v2 = builtin();
  v2["version"] = 2;
  table(v2, "person")["columns"].push_back({{"name", "nickname"}, {"type", "text"}});
  table(v2, "person")["indexes"].push_back({{"name", "person_phone"}, {"columns", {"phone"}}});
  json grant = table(v2, "coop_member");
  grant["name"] = "grant_aid";
  grant["indexes"] = json::array();
  v2["tables"].push_back(grant);

  auto replica = f.open_with(v2);
  REQUIRE(replica.is_ok());
  CHECK((*replica)->status()->schema_version == 2);
  CHECK((*replica)->tables().size() == 10);
  CHECK((*(*replica)->get("person", "p1"))->at("full_name") == Value("Siti"));
  // The new column is captured like any other.
  REQUIRE((*replica)->update("person", "p1", {{"nickname", "Ti"}}).is_ok());
  bool captured = false;
  for (const auto& c : (*replica)->pending_changes().value()) captured |= c.column == "nickname";
  CHECK(captured);
  auto indexes = (*replica)->query("SELECT name FROM sqlite_master WHERE name = 'person_phone'");
  CHECK(indexes->size() == 1);
  // Reopening without a schema keeps version 2.
  replica->reset();
  auto reopened = lumbung::test::open_replica(lumbung::test::options_for(f.path));
  CHECK(reopened->status()->schema_version == 2);
  CHECK(reopened
            ->insert("grant_aid", {{"id", "g1"},
                                   {"village_id", "v1"},
                                   {"person_id", "p1"},
                                   {"joined_on", "2026-01-01"},
                                   {"created_by", "s"},
                                   {"created_at", "t"}})
            .is_ok());
}

TEST_CASE("a non-additive change is refused and leaves the file untouched", "[replica]") {
  Fixture f;
  json v2 = builtin();
  v2["version"] = 2;
  std::string expected;
  SECTION("a column changes type") {
    column(v2, "person", "phone")["type"] = "integer";
    expected = "column 'phone' changed its type";
  }
  SECTION("a column is removed") {
    auto& columns = table(v2, "person")["columns"];
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i]["name"] == "skills") columns.erase(i);
    }
    expected = "column 'skills' was removed";
  }
  SECTION("a table is removed") {
    auto& tables = v2["tables"];
    for (size_t i = 0; i < tables.size(); ++i) {
      if (tables[i]["name"] == "case_report") tables.erase(i);
    }
    expected = "table 'case_report' was removed";
  }
  SECTION("a new NOT NULL column without a default") {
    table(v2, "person")["columns"].push_back(
        {{"name", "religion"}, {"type", "text"}, {"not_null", true}});
    expected = "NOT NULL without a default";
  }
  SECTION("an addition without raising the version") {
    v2["version"] = 1;
    table(v2, "person")["columns"].push_back({{"name", "nickname"}, {"type", "text"}});
    expected = "without raising its version";
  }
  SECTION("an older version than the file's") {
    v2["version"] = 0;
    expected = "newer than version";
  }
  const std::string before = lumbung::test::read_file(f.path);
  auto replica = f.open_with(v2);
  REQUIRE(!replica.is_ok());
  // An older version may fail to load at all (version 0 is invalid); both are refusals.
  CHECK((replica.status().code() == ErrorCode::kSchemaIncompatible ||
         replica.status().code() == ErrorCode::kSchemaInvalid));
  if (replica.status().code() == ErrorCode::kSchemaIncompatible) {
    CHECK_THAT(replica.status().message(), Catch::Contains(expected));
  }
  CHECK(lumbung::test::read_file(f.path) == before);
  auto reopened = lumbung::test::open_replica(lumbung::test::options_for(f.path));
  CHECK(reopened->status()->schema_version == 1);
}

TEST_CASE("an invalid schema file is refused with its name in the message", "[replica]") {
  TempDir dir;
  ReplicaOptions options = lumbung::test::options_for(dir.file("r.db"));
  json bad = builtin();
  table(bad, "person")["name"] = "person\"; DROP TABLE village; --";
  options.schema_text = bad.dump();
  options.schema_source = "evil.json";
  auto replica = Replica::open(options);
  REQUIRE(!replica.is_ok());
  CHECK(replica.status().code() == ErrorCode::kSchemaInvalid);
  CHECK_THAT(replica.status().message(), Catch::StartsWith("evil.json"));
}
