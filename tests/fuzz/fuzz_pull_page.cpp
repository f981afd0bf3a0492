// Fuzzes the device applying a pull page: the input is a serialized
// v1::PullPage, applied with replica::Puller::apply_page (the code
// Replica::sync runs for each page) to ani's replica file from FuzzWorld,
// which holds synced rows, a pending conflict and unsynced local edits.
//
// Each input runs inside an outer transaction that is rolled back afterwards,
// so that every input meets the same file. Checks: a page that is refused
// changes nothing (every table of the file reads as before).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/schema.hpp"
#include "db/database.hpp"
#include "fuzz_check.hpp"
#include "fuzz_world.hpp"
#include "replica/pull.hpp"

namespace {

using lumbung::Status;
using lumbung::fuzz::require;

// Every row of every table of the file, as text.
std::string contents(lumbung::db::Database& db) {
  std::string text;
  auto tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  require(tables.status(), "list tables");
  while (*tables->step()) {
    const std::string table = tables->column_text(0);
    auto rows = db.prepare("SELECT * FROM \"" + table + "\"");
    require(rows.status(), table);
    // Sorted: some tables have no rowid to order by.
    std::vector<std::string> lines;
    while (*rows->step()) {
      std::string line;
      for (int i = 0; i < rows->column_count(); ++i) line += rows->column(i).to_string() + "|";
      lines.push_back(std::move(line));
    }
    std::sort(lines.begin(), lines.end());
    text += table + "\n";
    for (const std::string& line : lines) text += line + "\n";
  }
  return text;
}

struct Device {
  Device() {
    lumbung::Replica& ani = world.device(lumbung::fuzz::FuzzWorld::kAni);
    require(ani.update("person", "p3", {{"skills", "menjahit, memasak"}}), "ani's edit");
    require(ani.insert("household", {{"id", "h2"},
                                     {"village_id", lumbung::fuzz::kVillageA},
                                     {"head_name", "Karto"},
                                     {"created_by", "ani"},
                                     {"created_at", "2026-11-28T09:00:00Z"}}),
            "ani's insert");
    world.close_device(lumbung::fuzz::FuzzWorld::kAni);
    auto opened = lumbung::db::Database::open(world.path("ani"), /*create=*/false);
    require(opened.status(), "open ani's replica");
    db = std::move(opened).value();
    // As on the replica's own connection: pulled rows are not captured.
    if (sqlite3_db_config(db->handle(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, nullptr) != SQLITE_OK) {
      require(db->last_error("turn triggers off"), "triggers off");
    }
    require(db->exec("PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY"), "pragmas");
    auto loaded =
        lumbung::core::load_schema(lumbung::core::builtin_schema_text(), "built-in schema");
    require(loaded.status(), "schema");
    schema = std::move(loaded).value();
    puller = std::make_unique<lumbung::replica::Puller>(*db, schema, world.clock());
    before = contents(*db);
  }

  lumbung::fuzz::FuzzWorld world;
  std::unique_ptr<lumbung::db::Database> db;
  lumbung::core::Schema schema;
  std::unique_ptr<lumbung::replica::Puller> puller;
  std::string before;
};

Device& device() {
  static Device device;  // made on the first input; its directory removed at exit
  return device;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Device& ani = device();
  lumbung::v1::PullPage page;
  if (!page.ParseFromArray(data, static_cast<int>(size))) return 0;
  require(ani.db->begin(), "begin");
  const auto applied = ani.puller->apply_page(page);
  if (!applied.is_ok()) {
    LUMBUNG_FUZZ_CHECK(contents(*ani.db) == ani.before,
                       "a refused page changed the file: " + applied.status().to_string());
  }
  require(ani.db->rollback(), "rollback");
  return 0;
}
