// db/database.hpp's Query and db/file_format.hpp: a statement is reset when
// its Query ends; a file moves from its format to the newest step by step.
#include "db/database.hpp"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "db/file_format.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::Value;
using lumbung::db::Database;
using lumbung::db::FileFormat;
using lumbung::db::FormatStep;
using lumbung::db::Query;

std::unique_ptr<Database> memory_db() {
  auto db = Database::open(":memory:", true);
  REQUIRE(db.is_ok());
  return std::move(db).value();
}

// Whether a statement of `db` is between its first step and its reset.
bool any_statement_busy(Database& db) {
  for (sqlite3_stmt* stmt = sqlite3_next_stmt(db.handle(), nullptr); stmt != nullptr;
       stmt = sqlite3_next_stmt(db.handle(), stmt)) {
    if (sqlite3_stmt_busy(stmt)) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("db::Query binds ?1, ?2, ... and is reset when it ends, read or not", "[db]") {
  auto db = memory_db();
  REQUIRE(db->exec("CREATE TABLE t (k INTEGER, v TEXT); INSERT INTO t VALUES (1, 'a'), (1, 'b')")
              .is_ok());
  for (int run = 0; run < 2; ++run) {
    auto query = Query::cached(*db, "SELECT v FROM t WHERE k = ?1 ORDER BY v", {Value(1)});
    REQUIRE(query.is_ok());
    REQUIRE(*query->step());
    CHECK(query->text(0) == "a");
    CHECK(any_statement_busy(*db));
  }  // left with a row unread
  CHECK_FALSE(any_statement_busy(*db));
  {
    auto query = Query::prepared(*db, "SELECT count(*) FROM t WHERE v = ?1", {Value("b")});
    REQUIRE(query.is_ok());
    REQUIRE(*query->step());
    CHECK(query->integer(0) == 1);
    query->restart({Value("c")});
    REQUIRE(*query->step());
    CHECK(query->integer(0) == 0);
  }
  CHECK_FALSE(any_statement_busy(*db));
  CHECK(Query::cached(*db, "SELECT nothing FROM nowhere").status().code() ==
        ErrorCode::kInvalidArgument);
}

TEST_CASE("db::FileFormat takes a file from its format to the newest, step by step", "[db]") {
  static constexpr FormatStep kSteps[] = {
      {3, "ALTER TABLE t ADD COLUMN b; INSERT INTO log VALUES (3)"},
      {4, "ALTER TABLE t ADD COLUMN c; INSERT INTO log VALUES (4)"},
  };
  constexpr FileFormat kFormat{2, kSteps};
  CHECK(kFormat.newest() == 4);
  CHECK_FALSE(kFormat.opens(1));
  CHECK(kFormat.opens(2));
  CHECK(kFormat.opens(4));
  CHECK_FALSE(kFormat.opens(5));
  CHECK(FileFormat{1, {}}.newest() == 1);

  for (int from = 2; from <= 4; ++from) {
    auto db = memory_db();
    REQUIRE(db->exec("CREATE TABLE t (a); CREATE TABLE log (step)").is_ok());
    if (from > 2) REQUIRE(db->exec("ALTER TABLE t ADD COLUMN b").is_ok());
    if (from > 3) REQUIRE(db->exec("ALTER TABLE t ADD COLUMN c").is_ok());
    REQUIRE(lumbung::db::set_user_version(*db, from).is_ok());
    REQUIRE(kFormat.upgrade(*db, from).is_ok());
    REQUIRE(lumbung::db::set_user_version(*db, kFormat.newest()).is_ok());
    CHECK(*lumbung::db::user_version(*db) == 4);
    auto steps = Query::cached(*db, "SELECT count(*) FROM log");
    REQUIRE(steps.is_ok());
    REQUIRE(*steps->step());
    CHECK(steps->integer(0) == 4 - from);  // only the steps past the file's format ran
  }
}
