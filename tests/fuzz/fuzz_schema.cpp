// Fuzzes db::load_schema (core::load_schema, then its defaults judged against
// their CHECKs by SQLite): the input is a schema file's text. A schema that
// loads is promised safe to turn into SQL (core/schema.hpp), so its tables and
// indexes are created in an in-memory SQLite database, which must accept them
// all; its CHECKs judge a row of NULLs (db::CheckJudge); and a migration to it
// from the built-in schema is planned, which must either succeed or refuse.
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/schema.hpp"
#include "db/check_judge.hpp"
#include "fuzz_check.hpp"
#include "replica/schema_sql.hpp"

namespace {

using lumbung::core::Schema;

const Schema& builtin_schema() {
  static const Schema schema =
      *lumbung::core::load_schema(lumbung::core::builtin_schema_text(), "built-in schema");
  return schema;
}

void check_creates(const Schema& schema) {
  sqlite3* raw = nullptr;
  LUMBUNG_FUZZ_CHECK(sqlite3_open(":memory:", &raw) == SQLITE_OK, "sqlite3_open");
  const std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, sqlite3_close);
  const auto run = [&](const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, &error);
    const std::string message = sql + ": " + (error ? error : "");
    sqlite3_free(error);
    LUMBUNG_FUZZ_CHECK(rc == SQLITE_OK, message);
  };
  for (const lumbung::core::Table& table : schema.tables) {
    run(lumbung::replica::create_table_sql(table));
    for (const std::string& index : lumbung::replica::create_index_sql(table)) run(index);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  lumbung::Result<Schema> schema = lumbung::db::load_schema(text, "fuzz");
  if (!schema.is_ok()) {
    LUMBUNG_FUZZ_CHECK(!schema.status().message().empty(), "an error without a message");
    return 0;
  }
  for (const lumbung::core::Table& table : schema->tables) {
    LUMBUNG_FUZZ_CHECK(schema->find_table(table.name) == &table, table.name);
    LUMBUNG_FUZZ_CHECK(!table.columns.empty() && table.columns[0].name == "id", table.name);
    LUMBUNG_FUZZ_CHECK(table.find_column(table.scope_column) != nullptr, table.name);
  }
  check_creates(*schema);
  lumbung::Result<std::unique_ptr<lumbung::db::CheckJudge>> judge =
      lumbung::db::CheckJudge::open(*schema);
  LUMBUNG_FUZZ_CHECK(judge.is_ok(), judge.status().to_string());
  for (const lumbung::core::Table& table : schema->tables) {
    const lumbung::Status judged = (*judge)->check(table, {});
    LUMBUNG_FUZZ_CHECK(judged.is_ok() || judged.code() == lumbung::ErrorCode::kConstraint,
                       judged.to_string());
  }
  (void)lumbung::replica::plan_migration(builtin_schema(), *schema);
  return 0;
}
