#include "core/schema.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "db/check_judge.hpp"

namespace {

using lumbung::Blob;
using lumbung::ErrorCode;
using lumbung::Result;
using lumbung::Row;
using lumbung::Value;
using namespace lumbung::core;

// A small valid schema; each test breaks one thing in it.
const std::string kMini = R"J({
  "format": "lumbung-schema/1", "name": "mini", "version": 1,
  "tables": [
    {"name": "village", "scope": "village_id", "policy": "server_wins",
     "columns": [
       {"name": "id", "type": "text", "primary_key": true},
       {"name": "village_id", "type": "text", "not_null": true}],
     "checks": ["village_id = id"]},
    {"name": "person", "scope": "village_id", "comment": "people",
     "columns": [
       {"name": "id", "type": "text", "primary_key": true},
       {"name": "village_id", "type": "text", "not_null": true, "references": "village"},
       {"name": "sex", "type": "text", "check": "sex IN ('L','P')", "personal": true},
       {"name": "score", "type": "real"},
       {"name": "photo", "type": "blob"},
       {"name": "deceased", "type": "integer", "not_null": true, "default": 0, "check": "deceased IN (0,1)"}],
     "indexes": [{"name": "person_village", "columns": ["village_id"]}]}]})J";

// kMini with the one occurrence of `from` replaced by `to`.
std::string mini_with(const std::string& from, const std::string& to) {
  const std::size_t at = kMini.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(kMini.find(from, at + 1) == std::string::npos);
  std::string text = kMini;
  return text.replace(at, from.size(), to);
}

// A schema loads as engines load it: its defaults judged against their
// CHECKs by SQLite (db::load_schema).
std::string load_error(const std::string& text) {
  auto result = lumbung::db::load_schema(text, "t.json");
  REQUIRE_FALSE(result.is_ok());
  REQUIRE(result.status().code() == ErrorCode::kSchemaInvalid);
  return result.status().message();
}

std::string error_with(const std::string& from, const std::string& to) {
  return load_error(mini_with(from, to));
}

Schema load_ok(const std::string& text) {
  auto result = lumbung::db::load_schema(text, "t.json");
  INFO(result.status().message());
  REQUIRE(result.is_ok());
  return std::move(result).value();
}

const Schema& desmigratif() {
  static const Schema schema = [] {
    auto result = load_schema_file(LUMBUNG_DESMIGRATIF_SCHEMA);
    INFO(result.status().message());
    REQUIRE(result.is_ok());
    return std::move(result).value();
  }();
  return schema;
}

const Table& table(const char* name) {
  const Table* t = desmigratif().find_table(name);
  REQUIRE(t != nullptr);
  return *t;
}

const Column& column(const char* table_name, const char* column_name) {
  const Column* c = table(table_name).find_column(column_name);
  REQUIRE(c != nullptr);
  return *c;
}

}  // namespace

TEST_CASE("the Desmigratif example loads with its nine tables", "[schema]") {
  const Schema& s = desmigratif();
  CHECK(s.name == "desmigratif");
  CHECK(s.version == 1);
  std::vector<std::string> names;
  for (const Table& t : s.tables) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"village", "household", "person", "document", "placement",
                                          "activity", "participation", "coop_member",
                                          "case_report"});
  std::size_t indexes = 0;
  for (const Table& t : s.tables) {
    INFO(t.name);
    CHECK(t.scope_column == "village_id");
    CHECK(t.columns[0].name == "id");
    CHECK(t.columns[0].primary_key);
    CHECK(t.columns[0].not_null);
    indexes += t.indexes.size();
  }
  CHECK(indexes == 10);
  CHECK(table("person").indexes[2] == Index{"person_nik", {"nik"}});
  CHECK(table("participation").indexes[0] == Index{"participation_act", {"activity_id"}});
}

TEST_CASE("the built-in schema is the example file's bytes", "[schema]") {
  std::ifstream in(LUMBUNG_DESMIGRATIF_SCHEMA, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  CHECK(builtin_schema_text() == bytes.str());
  CHECK(load_schema(builtin_schema_text(), "builtin").is_ok());
}

TEST_CASE("the Desmigratif merge policies", "[schema]") {
  const MergePolicy lww{};
  const MergePolicy review{MergeKind::kManualReview, std::nullopt};
  CHECK(table("village").policy.kind == MergeKind::kServerWins);
  CHECK(table("village").policy_for("cohort_year").kind == MergeKind::kServerWins);
  CHECK(table("person").policy == lww);
  CHECK(table("person").policy_for("full_name") == lww);
  CHECK(table("person").policy_for("migrant_status") == review);
  CHECK(table("placement").policy_for("status") == review);
  CHECK(table("case_report").policy_for("status") == review);
  CHECK(table("coop_member").policy_for("loan_balance") == review);
  CHECK(table("coop_member").policy_for("share_capital") == lww);
  const MergePolicy verified = table("document").policy_for("verified");
  CHECK(verified.kind == MergeKind::kFirstWriterWins);
  REQUIRE(verified.only_when_current.has_value());
  CHECK(*verified.only_when_current == Value(std::int64_t{1}));
  CHECK(merge_kind_name(MergeKind::kFirstWriterWins) == "first_writer_wins");
}

TEST_CASE("the Desmigratif columns: types, constraints, references, personal data", "[schema]") {
  CHECK(column("person", "nik").sensitivity == Sensitivity::kPersonal);
  CHECK(column("person", "full_name").sensitivity == Sensitivity::kPersonal);
  CHECK(column("person", "school_status").sensitivity == Sensitivity::kSpecific);
  CHECK(column("person", "skills").sensitivity == Sensitivity::kNone);
  CHECK(column("household", "remittance_use").sensitivity == Sensitivity::kSpecific);
  CHECK(column("coop_member", "loan_balance").sensitivity == Sensitivity::kSpecific);
  CHECK(column("case_report", "description").sensitivity == Sensitivity::kSpecific);
  CHECK(column("village", "name").sensitivity == Sensitivity::kNone);

  CHECK(column("household", "latitude").type == ColumnType::kReal);
  CHECK(column("person", "deceased").type == ColumnType::kInteger);
  CHECK(column("person", "deceased").not_null);
  CHECK(column("person", "deceased").default_value == Value(std::int64_t{0}));
  CHECK(column("participation", "role").default_value == Value("PESERTA"));
  CHECK(column("person", "sex").check->sql() == R"(("sex" IN ('L', 'P')))");
  CHECK(column("person", "sex").check->source() == "sex IN ('L','P')");
  CHECK(column("village", "cohort_year").check->sql() ==
        R"(("cohort_year" BETWEEN 2016 AND 2100))");
  REQUIRE(table("village").checks.size() == 1);
  CHECK(table("village").checks[0].sql() == R"(("village_id" = "id"))");
  CHECK(column("person", "household_id").references == ForeignKey{"household", "id"});
  CHECK(column("person", "caregiver_person_id").references == ForeignKey{"person", "id"});
  CHECK(column("case_report", "placement_id").references == ForeignKey{"placement", "id"});
  CHECK_FALSE(column("village", "village_id").references.has_value());
  CHECK(sql_type_name(ColumnType::kInteger) == "INTEGER");
}

TEST_CASE("the small schema loads", "[schema]") {
  const Schema s = load_ok(kMini);
  const Table& person = s.tables[1];
  CHECK(person.find_column("nope") == nullptr);
  CHECK(s.find_table("nope") == nullptr);
  CHECK(person.columns[2].sensitivity == Sensitivity::kPersonal);
  CHECK(load_ok(mini_with(R"("references": "village")",
                          R"("references": {"table": "village", "column": "id"})"))
            .tables[1]
            .columns[1]
            .references == ForeignKey{"village", "id"});
  CHECK(load_ok(mini_with(R"("type": "blob")", R"("type": "blob", "default": "00FF")"))
            .tables[1]
            .find_column("photo")
            ->default_value == Value(Blob{0x00, 0xff}));
  CHECK(load_ok(mini_with(R"("type": "real")", R"("type": "real", "default": 2)"))
            .tables[1]
            .find_column("score")
            ->default_value == Value(2.0));
}

TEST_CASE("schema JSON errors name the file and the position", "[schema]") {
  CHECK(
      load_error("{\n  \"format\": \"lumbung-schema/1\",\n  \"name\" \"x\"}") ==
      "t.json: JSON parse error at line 3, column 12: syntax error while parsing object separator "
      "- unexpected string literal; expected ':'");
  CHECK(load_error("").find("t.json: JSON parse error at line 1, column 1") == 0);
  CHECK(load_error("[]") == "t.json: the schema must be a JSON object");
  CHECK(error_with(R"("type": "real")", R"("type": "real", "type": "text")") ==
        "t.json: key 'type' appears twice in one object");
}

TEST_CASE("schema top-level errors", "[schema]") {
  CHECK(error_with(R"("format": "lumbung-schema/1", )", "") == "t.json: missing 'format'");
  CHECK(error_with("lumbung-schema/1", "lumbung-schema/2") ==
        "t.json: format 'lumbung-schema/2' is not supported (expected 'lumbung-schema/1')");
  CHECK(error_with(R"("version": 1)", R"("version": 0)") ==
        "t.json: 'version' must be a positive integer");
  CHECK(error_with(R"("version": 1)", R"("version": -3)") ==
        "t.json: 'version' must be a positive integer");
  CHECK(error_with(R"("version": 1)", R"("version": 1.5)") ==
        "t.json: 'version' must be a positive integer");
  CHECK(error_with(R"("version": 1)", R"("version": "1")") ==
        "t.json: 'version' must be a positive integer");
  CHECK(error_with(R"("version": 1)", R"("version": 4294967296)") ==
        "t.json: 'version' must be a positive integer");
  CHECK(error_with(R"("version": 1,)", "") == "t.json: missing 'version'");
  CHECK(error_with(R"("name": "mini")", R"("name": "Mini")") ==
        "t.json: invalid schema name 'Mini' (use a-z, 0-9 and _, starting with a letter, at most "
        "63 characters)");
  CHECK(error_with(R"("version": 1,)", R"("version": 1, "tabels": [],)") ==
        "t.json: unknown key 'tabels' (did you mean 'tables'?)");
  CHECK(error_with(R"("version": 1,)", R"("version": 1, "comment": 7,)") ==
        "t.json: 'comment' must be a string");
  CHECK(load_error(R"({"format": "lumbung-schema/1", "name": "x", "version": 1, "tables": []})") ==
        "t.json: 'tables' must not be empty");
}

TEST_CASE("schema table errors", "[schema]") {
  CHECK(error_with(R"({"name": "village", )", "{") == "t.json: table #1: missing 'name'");
  CHECK(error_with(R"("name": "person")", R"("name": "village")") ==
        "t.json: table 'village': declared twice");
  CHECK(error_with(R"("name": "person")", R"("name": "sqlite_stat1")") ==
        "t.json: table 'sqlite_stat1': names starting with 'sqlite_' are reserved by SQLite");
  CHECK(error_with(R"("comment": "people")", R"("coment": "people")") ==
        "t.json: table 'person': unknown key 'coment' (did you mean 'comment'?)");
  CHECK(error_with(R"("scope": "village_id", "comment")", R"("comment")") ==
        "t.json: table 'person': missing 'scope'");
  CHECK(error_with(R"("scope": "village_id", "comment")", R"("scope": "village", "comment")") ==
        "t.json: table 'person': scope column 'village' does not exist");
  CHECK(error_with(R"("scope": "village_id", "comment")", R"("scope": "sex", "comment")") ==
        "t.json: table 'person': scope column 'sex' must be text and not_null");
  CHECK(error_with(R"("scope": "village_id", "comment")", R"("scope": "deceased", "comment")") ==
        "t.json: table 'person': scope column 'deceased' must be text and not_null");
  CHECK(error_with(R"("not_null": true, "references": "village"})",
                   R"("not_null": true, "references": "village", "default": "v1"})") ==
        "t.json: table 'person': scope column 'village_id' must not have a default: every row "
        "names its scope");
  CHECK(error_with(R"("policy": "server_wins")", R"("policy": "server_win")") ==
        "t.json: table 'village': policy: unknown policy 'server_win' (expected last_writer_wins, "
        "server_wins, first_writer_wins or manual_review)");
  CHECK(
      error_with(R"("policy": "server_wins")", R"("policy": {"kind": "server_wins", "when": 1})") ==
      "t.json: table 'village': policy: 'when' is only allowed on a column's policy");
  CHECK(error_with(R"("checks": ["village_id = id"])", R"("checks": ["village_id = idd"])") ==
        "t.json: table 'village': CHECK #1: at offset 13: unknown column 'idd'");
  CHECK(error_with(R"("checks": ["village_id = id"])", R"("checks": "village_id = id")") ==
        "t.json: table 'village': 'checks' must be an array");
  CHECK(error_with(R"("checks": ["village_id = id"])", R"("checks": [1])") ==
        "t.json: table 'village': CHECK #1: must be a string");
  CHECK(load_ok(mini_with(R"("checks": ["village_id = id"])", R"("checks": [])"))
            .tables[0]
            .checks.empty());
}

TEST_CASE("the region columns grants read", "[schema]") {
  const Table* regions = desmigratif().region_table();
  REQUIRE(regions == &table("village"));
  CHECK(regions->district_column == "kabupaten");
  CHECK(regions->province_column == "provinsi");
  CHECK(regions->is_region_column("kabupaten"));
  CHECK_FALSE(regions->is_region_column("name"));
  CHECK_FALSE(table("person").has_regions());
  CHECK(load_ok(kMini).region_table() == nullptr);

  const std::string checks = R"("checks": ["village_id = id"])";
  const auto with_regions = [&](const std::string& regions) {
    return error_with(checks, checks + R"(, "regions": )" + regions);
  };
  CHECK(with_regions(R"({"district": "kabupaten"})") ==
        "t.json: table 'village': regions: district column 'kabupaten' does not exist");
  CHECK(with_regions(R"({"province": "village_id"})") ==
        "t.json: table 'village': regions: province column 'village_id' must not be the id or "
        "the scope: a region is a column of its own");
  CHECK(
      with_regions(R"({})") ==
      "t.json: table 'village': regions: 'regions' must name a 'district' or a 'province' column");
  CHECK(with_regions(R"({"distrct": "x"})") ==
        "t.json: table 'village': regions: unknown key 'distrct' (did you mean 'district'?)");
  CHECK(with_regions(R"(["kabupaten"])") ==
        "t.json: table 'village': regions: 'regions' must be a JSON object");
  CHECK(error_with(R"("comment": "people")",
                   R"("comment": "people", "regions": {"district": "score"})") ==
        "t.json: table 'person': regions: district column 'score' must be text");
  const Schema one = load_ok(mini_with(R"("comment": "people")",
                                       R"("comment": "people", "regions": {"province": "sex"})"));
  CHECK(one.region_table() == &one.tables[1]);
  CHECK(one.tables[1].district_column.empty());
  std::string two =
      mini_with(R"("comment": "people")", R"("comment": "people", "regions": {"province": "sex"})");
  const std::string village_scope = R"({"name": "village_id", "type": "text", "not_null": true}])";
  two.replace(two.find(village_scope), village_scope.size(),
              R"({"name": "village_id", "type": "text", "not_null": true},
                 {"name": "kab", "type": "text"}])");
  two.replace(two.find(checks), checks.size(), checks + R"(, "regions": {"district": "kab"})");
  CHECK(load_error(two) ==
        "t.json: table 'person': 'regions' is declared by table 'village' already: grants read "
        "one table's regions");
}

TEST_CASE("schema column errors", "[schema]") {
  CHECK(error_with(R"("not_null": true, "default": 0)", R"("not_nul": true, "default": 0)") ==
        "t.json: table 'person': column 'deceased': unknown key 'not_nul' (did you mean "
        "'not_null'?)");
  CHECK(error_with(R"("name": "score")", R"("name": "sex")") ==
        "t.json: table 'person': column 'sex': declared twice");
  CHECK(error_with(R"({"name": "score", )", "{") ==
        "t.json: table 'person': column #4: missing 'name'");
  CHECK(error_with(R"("type": "real")", R"("type": "varchar")") ==
        "t.json: table 'person': column 'score': type 'varchar' is not one of integer, real, "
        "text, blob");
  CHECK(error_with(R"({"name": "score", "type": "real"})", R"({"name": "score"})") ==
        "t.json: table 'person': column 'score': missing 'type'");
  CHECK(error_with(R"("personal": true)", R"("personal": "yes")") ==
        "t.json: table 'person': column 'sex': 'personal' must be true or false");
  CHECK(error_with(R"("name": "score")", R"("name": "rowid")") ==
        "t.json: table 'person': column 'rowid': 'rowid' is reserved by SQLite for the row id");
  CHECK(error_with(R"(, "personal": true)", R"(, "policy": "manual")") ==
        "t.json: table 'person': column 'sex': policy: unknown policy 'manual' (expected "
        "last_writer_wins, server_wins, first_writer_wins or manual_review)");
  CHECK(
      error_with(
          R"J("check": "deceased IN (0,1)")J",
          R"J("check": "deceased IN (0,1)", "policy": {"kind": "first_writer_wins", "when": "1"})J") ==
      "t.json: table 'person': column 'deceased': policy: when: expected integer, got text '1'");
  CHECK(error_with(R"J("check": "deceased IN (0,1)")J",
                   R"J("check": "deceased IN (0,1)", "policy": {"when": 1})J") ==
        "t.json: table 'person': column 'deceased': policy: missing 'kind'");
  CHECK(
      error_with(
          R"J("check": "deceased IN (0,1)")J",
          R"J("check": "deceased IN (0,1)", "policy": {"kind": "first_writer_wins", "wen": 1})J") ==
      "t.json: table 'person': column 'deceased': policy: unknown key 'wen' (did you mean "
      "'when'?)");
}

TEST_CASE("schema primary key errors", "[schema]") {
  const std::string id = R"({"name": "id", "type": "text", "primary_key": true},
       {"name": "village_id", "type": "text", "not_null": true, "references")";
  const std::string first =
      R"(t.json: table 'person': the first column must be {"name": "id", "type": "text", )"
      R"("primary_key": true})";
  CHECK(
      error_with(id, R"({"name": "village_id", "type": "text", "not_null": true, "references")") ==
      first);
  CHECK(error_with(id, R"({"name": "id", "type": "integer", "primary_key": true},
       {"name": "village_id", "type": "text", "not_null": true, "references")") == first);
  CHECK(error_with(id, R"({"name": "id", "type": "text"},
       {"name": "village_id", "type": "text", "not_null": true, "references")") == first);
  CHECK(error_with(id, R"({"name": "id", "type": "text", "primary_key": true, "default": "x"},
       {"name": "village_id", "type": "text", "not_null": true, "references")") ==
        "t.json: table 'person': column 'id': 'default' is not allowed on the primary key");
  CHECK(error_with(R"("type": "real")", R"("type": "real", "primary_key": true)") ==
        "t.json: table 'person': column 'score': only the first column, 'id', can be the primary "
        "key");
}

TEST_CASE("schema reference errors", "[schema]") {
  CHECK(error_with(R"("references": "village")", R"("references": "villages")") ==
        "t.json: table 'person': column 'village_id': references unknown table 'villages'");
  CHECK(error_with(R"("references": "village")",
                   R"("references": {"table": "village", "column": "ident"})") ==
        "t.json: table 'person': column 'village_id': references unknown column 'ident' of table "
        "'village'");
  CHECK(error_with(R"("references": "village")",
                   R"("references": {"table": "village", "column": "village_id"})") ==
        "t.json: table 'person': column 'village_id': references 'village'.'village_id': only a "
        "table's 'id' can be referenced");
  CHECK(error_with(R"("references": "village")", R"("references": {"tabel": "village"})") ==
        "t.json: table 'person': column 'village_id': references: unknown key 'tabel' (did you "
        "mean 'table'?)");
  CHECK(error_with(R"("references": "village")", R"("references": 1)") ==
        "t.json: table 'person': column 'village_id': 'references' must be a table name or "
        R"({"table": ..., "column": ...})");
  CHECK(error_with(R"("type": "real")", R"("type": "real", "references": "person")") ==
        "t.json: table 'person': column 'score': must be text to reference 'person'.'id'");
}

TEST_CASE("schema default errors", "[schema]") {
  CHECK(error_with(R"("default": 0)", R"("default": "x")") ==
        "t.json: table 'person': column 'deceased': default: expected integer, got text 'x'");
  CHECK(error_with(R"("default": 0)", R"("default": 2)") ==
        "t.json: table 'person': column 'deceased': default integer 2 fails its CHECK: deceased "
        "IN (0,1)");
  CHECK(error_with(R"("default": 0)", R"("default": true)") ==
        "t.json: table 'person': column 'deceased': default: true and false are not values: "
        "write 1 or 0");
  CHECK(error_with(R"("default": 0)", R"("default": 0.5)") ==
        "t.json: table 'person': column 'deceased': default: expected integer, got real 0.5");
  CHECK(error_with(R"("default": 0)", R"("default": 18446744073709551615)") ==
        "t.json: table 'person': column 'deceased': default: integer out of range");
  CHECK(error_with(R"("default": 0)", R"("default": [0])") ==
        "t.json: table 'person': column 'deceased': default: must be a number or a string");
  CHECK(error_with(R"("type": "blob")", R"("type": "blob", "default": "0g")") ==
        "t.json: table 'person': column 'photo': default: not hex (a blob is an even number of "
        "digits 0-9, a-f): '0g'");
  CHECK(error_with(R"("type": "real")", R"("type": "real", "default": 1e400)") ==
        "t.json: JSON number overflow parsing '1e400'");
  CHECK(load_ok(mini_with(R"("default": 0)", R"("default": 1.0)"))
            .tables[1]
            .find_column("deceased")
            ->default_value == Value(std::int64_t{1}));
  CHECK_FALSE(load_ok(mini_with(R"("default": 0)", R"("default": null)"))
                  .tables[1]
                  .find_column("deceased")
                  ->default_value.has_value());
}

TEST_CASE("schema CHECK errors name table and column", "[schema]") {
  CHECK(error_with("sex IN ('L','P')", "sexx IN ('L','P')") ==
        "t.json: table 'person': column 'sex': CHECK: at offset 0: unknown column 'sexx'");
  CHECK(error_with("sex IN ('L','P')", "1); DROP TABLE person; --") ==
        "t.json: table 'person': column 'sex': CHECK: at offset 2: unexpected character ';'");
  CHECK(error_with("sex IN ('L','P')", "sex IN ('L','P')) OR (1") ==
        "t.json: table 'person': column 'sex': CHECK: at offset 16: unexpected ')'");
  CHECK(error_with(R"("type": "blob")", R"("type": "blob", "check": "photo GLOB '*'")") ==
        "t.json: table 'person': column 'photo': CHECK: at offset 6: GLOB cannot match a blob "
        "(SQLite versions differ)");
  CHECK(error_with(R"J("check": "sex IN ('L','P')")J", R"("check": 1)") ==
        "t.json: table 'person': column 'sex': CHECK: must be a string");
}

TEST_CASE("schema index errors", "[schema]") {
  CHECK(error_with(R"("columns": ["village_id"])", R"("columns": ["village"])") ==
        "t.json: table 'person': index 'person_village': unknown column 'village'");
  CHECK(error_with(R"("columns": ["village_id"])", R"("columns": [])") ==
        "t.json: table 'person': index 'person_village': 'columns' must not be empty");
  CHECK(error_with(R"("name": "person_village")", R"("name": "village")") ==
        "t.json: table 'person': index 'village': name already used by table 'village'");
  CHECK(error_with(R"("name": "person_village")", R"("name": "sqlite_autoindex_person_1")") ==
        "t.json: table 'person': index 'sqlite_autoindex_person_1': names starting with 'sqlite_' "
        "are reserved by SQLite");
  CHECK(
      error_with(
          R"("checks": ["village_id = id"])",
          R"("checks": ["village_id = id"], "indexes": [{"name": "person_village", "columns": ["id"]}])") ==
      "t.json: table 'person': index 'person_village': name already used by an index of table "
      "'village'");
  CHECK(
      error_with(R"("columns": ["village_id"])", R"("columns": ["village_id"], "unique": true)") ==
      "t.json: table 'person': index 'person_village': unknown key 'unique'");
}

TEST_CASE("schema names cannot smuggle SQL", "[schema]") {
  const std::string rule = " (use a-z, 0-9 and _, starting with a letter, at most 63 characters)";
  CHECK(error_with(R"("name": "person")", R"("name": "x\"; DROP TABLE y; --")") ==
        "t.json: table #2: invalid table name 'x\"; DROP TABLE y; --'" + rule);
  CHECK(error_with(R"("name": "score")", R"("name": "score\" TEXT); DROP TABLE person; --")") ==
        "t.json: table 'person': column #4: invalid column name 'score\" TEXT); DROP TABLE "
        "person; --'" +
            rule);
  CHECK(error_with(R"("name": "person_village")", R"("name": "i ON person(id); DROP TABLE x")") ==
        "t.json: table 'person': index #1: invalid index name 'i ON person(id); DROP TABLE x'" +
            rule);
  CHECK(error_with(R"("name": "person")", R"("name": "line\nbreak")") ==
        "t.json: table #2: invalid table name 'line\\x0abreak'" + rule);
  CHECK(error_with(R"("name": "person")", R"("name": "Person")") ==
        "t.json: table #2: invalid table name 'Person'" + rule);
  CHECK(error_with(R"("name": "person")", R"("name": "_lumbung_outbox")") ==
        "t.json: table #2: invalid table name '_lumbung_outbox'" + rule);
}

TEST_CASE("identifiers", "[schema]") {
  CHECK(is_valid_identifier("person"));
  CHECK(is_valid_identifier("a"));
  CHECK(is_valid_identifier("coop_member2"));
  CHECK(is_valid_identifier(std::string(63, 'a')));
  CHECK_FALSE(is_valid_identifier(std::string(64, 'a')));
  CHECK_FALSE(is_valid_identifier(""));
  CHECK_FALSE(is_valid_identifier("_lumbung_meta"));
  CHECK_FALSE(is_valid_identifier("_x"));
  CHECK_FALSE(is_valid_identifier("9lives"));
  CHECK_FALSE(is_valid_identifier("Person"));
  CHECK_FALSE(is_valid_identifier("a-b"));
  CHECK_FALSE(is_valid_identifier("a b"));
  CHECK_FALSE(is_valid_identifier("x\"; DROP TABLE y; --"));
  CHECK_FALSE(is_valid_identifier(std::string("a\0b", 3)));
  CHECK(quote_identifier("person") == "\"person\"");
}

TEST_CASE("load_schema_file reports a missing file", "[schema]") {
  auto result = load_schema_file("/nonexistent/schema.json");
  REQUIRE_FALSE(result.is_ok());
  CHECK(result.status().code() == ErrorCode::kNotFound);
  CHECK(result.status().message() == "cannot open schema file '/nonexistent/schema.json'");
}

TEST_CASE("coerce_value converts only without loss", "[schema]") {
  const Table& t = table("person");
  const Column& deceased = column("person", "deceased");
  const Column& latitude = column("household", "latitude");
  const Column& name = column("person", "full_name");
  const Table& household = table("household");

  CHECK(coerce_value(t, deceased, Value(1)).value() == Value(std::int64_t{1}));
  CHECK(coerce_value(t, deceased, Value(2.0)).value() == Value(std::int64_t{2}));
  CHECK(coerce_value(t, deceased, Value()).value().is_null());
  CHECK(coerce_value(household, latitude, Value(3)).value() == Value(3.0));
  CHECK(coerce_value(household, latitude, Value(-7.25)).value() == Value(-7.25));
  CHECK(coerce_value(t, name, Value("Siti")).value() == Value("Siti"));

  const auto error = [](const Result<Value>& r) {
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == ErrorCode::kTypeMismatch);
    return r.status().message();
  };
  CHECK(error(coerce_value(t, deceased, Value("x"))) ==
        "table 'person': column 'deceased': expected integer, got text 'x'");
  CHECK(error(coerce_value(t, deceased, Value(2.5))) ==
        "table 'person': column 'deceased': expected integer, got real 2.5");
  CHECK(error(coerce_value(t, deceased, Value(1e19))) ==
        "table 'person': column 'deceased': expected integer, got real 1e+19");
  CHECK(error(coerce_value(t, name, Value(5))) ==
        "table 'person': column 'full_name': expected text, got integer 5");
  CHECK(error(coerce_value(t, name, Value(Blob{1, 2}))) ==
        "table 'person': column 'full_name': expected text, got blob of 2 bytes");
  CHECK(error(coerce_value(household, latitude, Value(std::int64_t{(1LL << 53) + 1}))) ==
        "table 'household': column 'latitude': expected real, got integer 9007199254740993");
  CHECK(error(coerce_value(household, latitude, Value(std::nan("")))) ==
        "table 'household': column 'latitude': expected a finite number, got real nan");
  CHECK(error(coerce_value(t, deceased, Value(std::string(100, 'a'))))
            .find("got text '" + std::string(40, 'a') + "...'") != std::string::npos);
}

TEST_CASE("parse_value_text reads what a person types", "[schema]") {
  const Table& t = table("person");
  const Column& deceased = column("person", "deceased");
  const Column& name = column("person", "full_name");
  const Table& household = table("household");
  const Column& latitude = column("household", "latitude");
  Table blobs;
  blobs.name = "files";
  Column data;
  data.name = "data";
  data.type = ColumnType::kBlob;

  CHECK(parse_value_text(t, deceased, "42").value() == Value(std::int64_t{42}));
  CHECK(parse_value_text(t, deceased, "+42").value() == Value(std::int64_t{42}));
  CHECK(parse_value_text(t, deceased, "-9223372036854775808").value() ==
        Value(std::numeric_limits<std::int64_t>::min()));
  CHECK(parse_value_text(household, latitude, "-7.25").value() == Value(-7.25));
  CHECK(parse_value_text(household, latitude, "1e3").value() == Value(1000.0));
  CHECK(parse_value_text(household, latitude, "5").value() == Value(5.0));
  CHECK(parse_value_text(t, name, " Siti ").value() == Value(" Siti "));
  CHECK(parse_value_text(t, name, "").value() == Value(""));
  CHECK(parse_value_text(blobs, data, "00fF10").value() == Value(Blob{0x00, 0xff, 0x10}));
  CHECK(parse_value_text(blobs, data, "").value() == Value(Blob{}));

  const auto error = [](const Result<Value>& r) {
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == ErrorCode::kTypeMismatch);
    return r.status().message();
  };
  CHECK(error(parse_value_text(t, deceased, "x")) ==
        "table 'person': column 'deceased': not an integer: 'x'");
  CHECK(error(parse_value_text(t, deceased, " 42")) ==
        "table 'person': column 'deceased': not an integer: ' 42'");
  CHECK(error(parse_value_text(t, deceased, "42abc")) ==
        "table 'person': column 'deceased': not an integer: '42abc'");
  CHECK(error(parse_value_text(t, deceased, "1.0")) ==
        "table 'person': column 'deceased': not an integer: '1.0'");
  CHECK(error(parse_value_text(t, deceased, "")) ==
        "table 'person': column 'deceased': not an integer: ''");
  CHECK(error(parse_value_text(t, deceased, "+-1")) ==
        "table 'person': column 'deceased': not an integer: '+-1'");
  CHECK(error(parse_value_text(t, deceased, "99999999999999999999")) ==
        "table 'person': column 'deceased': integer out of range: '99999999999999999999'");
  CHECK(error(parse_value_text(household, latitude, "inf")) ==
        "table 'household': column 'latitude': not a real number: 'inf'");
  CHECK(error(parse_value_text(household, latitude, "nan")) ==
        "table 'household': column 'latitude': not a real number: 'nan'");
  CHECK(error(parse_value_text(household, latitude, "0x10")) ==
        "table 'household': column 'latitude': not a real number: '0x10'");
  CHECK(error(parse_value_text(household, latitude, "1e999")) ==
        "table 'household': column 'latitude': real number out of range: '1e999'");
  CHECK(error(parse_value_text(household, latitude, "1.5.")) ==
        "table 'household': column 'latitude': not a real number: '1.5.'");
  CHECK(error(parse_value_text(blobs, data, "0f0")) ==
        "table 'files': column 'data': not hex (a blob is an even number of digits 0-9, a-f): "
        "'0f0'");
  CHECK(error(parse_value_text(blobs, data, "zz")) ==
        "table 'files': column 'data': not hex (a blob is an even number of digits 0-9, a-f): "
        "'zz'");
}

// What a device's table and the daemon make of a row of the Desmigratif
// schema: its cells checked, its CHECKs judged by SQLite. A row of known
// columns is judged alike as a value per column, the daemon's merge's form.
lumbung::Status validate_row(const Table& table, const Row& row) {
  static auto judge = lumbung::db::CheckJudge::open(desmigratif());
  REQUIRE(judge.is_ok());
  const lumbung::Status status = (*judge)->validate_row(table, row);
  std::vector<Value> values;
  for (const auto& column : table.columns) {
    const auto it = row.find(column.name);
    values.push_back(it == row.end() ? Value() : it->second);
  }
  const bool known = std::all_of(row.begin(), row.end(), [&](const auto& cell) {
    return table.find_column(cell.first) != nullptr;
  });
  if (known) {
    const lumbung::Status by_values = (*judge)->validate_row(table, values);
    CHECK(by_values.code() == status.code());
    CHECK(by_values.message() == status.message());
  }
  return status;
}

TEST_CASE("validate_row checks columns, types, NOT NULL and CHECKs", "[schema]") {
  const Table& person = table("person");
  Row row = {{"id", Value("p1")},
             {"village_id", Value("v1")},
             {"full_name", Value("Siti")},
             {"sex", Value("P")},
             {"deceased", Value(0)},
             {"created_by", Value("officer")},
             {"created_at", Value("2024-05-01T08:00:00Z")}};
  CHECK(validate_row(person, row).is_ok());

  const auto error = [&](Row changed, ErrorCode code) {
    const lumbung::Status status = validate_row(person, changed);
    REQUIRE_FALSE(status.is_ok());
    CHECK(status.code() == code);
    return status.message();
  };
  Row r = row;
  r.erase("full_name");
  CHECK(error(r, ErrorCode::kConstraint) == "table 'person': column 'full_name' is NOT NULL");
  r = row;
  r["id"] = Value();
  CHECK(error(r, ErrorCode::kConstraint) == "table 'person': column 'id' is NOT NULL");
  r = row;
  r["sex"] = Value("X");
  CHECK(error(r, ErrorCode::kConstraint) ==
        "table 'person': column 'sex': CHECK failed: sex IN ('L','P')");
  r = row;
  r["sex"] = Value();  // NULL passes a CHECK
  CHECK(validate_row(person, r).is_ok());
  r = row;
  r["deceased"] = Value("x");
  CHECK(error(r, ErrorCode::kTypeMismatch) ==
        "table 'person': column 'deceased': expected integer, got text 'x'");
  r = row;
  r["deceased"] = Value(2);
  CHECK(error(r, ErrorCode::kConstraint) ==
        "table 'person': column 'deceased': CHECK failed: deceased IN (0,1)");
  r = row;
  r["nik2"] = Value("3201");
  CHECK(error(r, ErrorCode::kNotFound) == "table 'person': unknown column 'nik2'");

  const Table& village = table("village");
  Row v = {{"id", Value("v1")},
           {"village_id", Value("v2")},
           {"kode_wilayah", Value("3201010001")},
           {"name", Value("Sukamaju")},
           {"kecamatan", Value("Ciawi")},
           {"kabupaten", Value("Bogor")},
           {"provinsi", Value("Jawa Barat")},
           {"cohort_year", Value(2019)}};
  const lumbung::Status status = validate_row(village, v);
  CHECK(status.code() == ErrorCode::kConstraint);
  CHECK(status.message() == "table 'village': CHECK failed: village_id = id");
  v["village_id"] = Value("v1");
  CHECK(validate_row(village, v).is_ok());
  v["cohort_year"] = Value(2015);
  CHECK(validate_row(village, v).message() ==
        "table 'village': column 'cohort_year': CHECK failed: cohort_year BETWEEN 2016 AND 2100");
}
