// Audit retention (docs/decisions/0028-audit-retention.md), in process: an
// insert is one entry holding its row, a store of format 6 keeps its
// entries of one cell each readable, and archived entries leave the log only
// through archive_audit, into a file that reads back entry for entry.
#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/audit_archive.hpp"
#include "server/server_fixture.hpp"
#include "server/sqlite_store.hpp"
#include "server/store_formats.hpp"
#include "support/temp_dir.hpp"

namespace lumbung::test {
namespace {

using server::AuditEntry;

std::unique_ptr<server::SqliteStore> open_store(const std::string& dir) {
  Result<std::unique_ptr<server::SqliteStore>> store = server::SqliteStore::open(dir);
  INFO(store.status().to_string());
  REQUIRE(store.is_ok());
  return std::move(store).value();
}

std::vector<AuditEntry> live_log(server::Store& store, const server::AuditQuery& query = {}) {
  std::vector<AuditEntry> entries;
  const Status read = store.read([&](server::ReadTransaction& txn) {
    return txn.scan_audit(query, [&](const AuditEntry& e) { entries.push_back(e); });
  });
  INFO(read.to_string());
  REQUIRE(read.is_ok());
  return entries;
}

std::vector<AuditEntry> archived(const std::string& path, const server::AuditQuery& query = {}) {
  std::vector<AuditEntry> entries;
  const Status read =
      server::read_audit_archive(path, query, [&](const AuditEntry& e) { entries.push_back(e); });
  INFO(read.to_string());
  REQUIRE(read.is_ok());
  return entries;
}

// Every field but the id, which only the log has.
std::string fields(const AuditEntry& e) {
  return std::to_string(e.seq) + "|" + std::to_string(e.time_ms) + "|" + e.officer + "|" +
         e.device_id + "|" + e.table + "|" + e.row_id + "|" + e.column + "|" +
         e.old_value.to_string() + "|" + std::string(type_name(e.old_value.type())) + "|" +
         e.new_value.to_string() + "|" + std::string(type_name(e.new_value.type())) + "|" +
         e.outcome + "|" + e.detail + "|" + std::to_string(e.conflict_id) + "|" + e.scope;
}

std::vector<std::string> fields(const std::vector<AuditEntry>& entries) {
  std::vector<std::string> all;
  for (const AuditEntry& e : entries) all.push_back(fields(e));
  return all;
}

// Runs `sql` on the store's file, with the test's own SQLite; its result code.
int run_sql(const std::string& dir, const char* sql, std::string* error_message) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir + "/lumbung.db").c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  *error_message = error == nullptr ? "" : error;
  sqlite3_free(error);
  sqlite3_close(db);
  return rc;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Households h1..hN, a batch each from device "a", then the server closed.
void push_households(TestServer& server, std::uint64_t count) {
  for (std::uint64_t batch = 1; batch <= count; ++batch) {
    server.push(
        Batch("a", batch).insert("household", "h" + std::to_string(batch), household(), stamp(0)));
  }
  server.server.reset();
}

}  // namespace

TEST_CASE("audit: an insert is one entry whose new value is the whole row", "[server]") {
  TestServer server;
  const v1::PushResponse inserted =
      server.push(Batch("a", 1).insert("household", "h1", household(), stamp(-1000)));
  server.push(Batch("a", 2).update("household", "h1", "phone", "0811", stamp(0), 0));
  server.server.reset();

  const std::vector<AuditEntry> log = live_log(*open_store(server.data_dir()));
  REQUIRE(log.size() == 2);
  const AuditEntry& insert = log[0];
  CHECK(insert.column.empty());
  CHECK(insert.outcome == "applied");
  CHECK(insert.seq == inserted.outcomes(0).seq());
  CHECK(insert.old_value.is_null());
  REQUIRE(insert.new_value.type() == ValueType::kText);
  // Every column, those the device left to their default too.
  const nlohmann::json row = nlohmann::json::parse(insert.new_value.as_text());
  CHECK(row.at("id") == "h1");
  CHECK(row.at("head_name") == "Siti Aminah");
  CHECK(row.at("village_id") == kVillage);
  CHECK(row.at("created_by") == "sri");
  CHECK(row.at("phone").is_null());
  // Canonical JSON (keys sorted, no spaces): what `lumbungd audit` prints
  // as the row's object.
  CHECK(insert.new_value.as_text() == row.dump());
  // An update stays one entry a cell.
  CHECK(log[1].column == "phone");
  CHECK(log[1].new_value == Value("0811"));
}

TEST_CASE("audit: a store of format 6 is upgraded, its entries of one cell each kept readable",
          "[server]") {
  TestServer server;
  server.push(Batch("a", 1).insert("household", "h1", household(), stamp(-1000)));
  server.server.reset();
  const std::string dir = server.data_dir();
  downgrade_to_7(dir);
  rewrite_store(dir, kDowngradeTo6);
  // What lumbungd wrote for an insert before format 7: an entry a cell.
  rewrite_store(dir,
                "INSERT INTO audit_log (seq, time_ms, officer, device_id, tbl, row_id, col, "
                "old_value, new_value, outcome, detail, conflict_id) VALUES "
                "(90, 1000, '', 'old', 'household', 'h1', 'head_name', NULL, 'Tarsono', "
                "'applied', '', 0), "
                "(91, 1000, '', 'old', 'household', 'h1', 'phone', NULL, NULL, 'applied', '', 0)");
  std::string error;
  CHECK(run_sql(dir, "DELETE FROM audit_log WHERE device_id = 'old'", &error) == SQLITE_CONSTRAINT);

  server.open();
  server.clock->advance(1000);
  server.push(Batch("a", 2).insert("household", "h2", household(), stamp(0)));
  server.server.reset();
  {
    const std::unique_ptr<server::SqliteStore> store = open_store(dir);
    const std::vector<AuditEntry> log = live_log(*store);
    REQUIRE(log.size() == 4);
    CHECK(log[1].column == "head_name");
    CHECK(log[1].new_value == Value("Tarsono"));
    CHECK(log[1].scope == kVillage);
    CHECK(log[2].column == "phone");
    CHECK(log[3].row_id == "h2");
    CHECK(log[3].column.empty());
  }
  // The log stays append-only for everything but archive_audit.
  CHECK(run_sql(dir, "DELETE FROM _lumbung_audit_log WHERE device_id = 'old'", &error) ==
        SQLITE_CONSTRAINT);
  CHECK(error == "the audit log is append-only");
  CHECK(run_sql(dir, "UPDATE _lumbung_audit_log SET detail = 'x'", &error) == SQLITE_CONSTRAINT);
  // A guard row committed by hand does not open it either: it must name the
  // entries, and a crash never leaves one (it lives inside the transaction).
  CHECK(run_sql(dir,
                "BEGIN; INSERT INTO _lumbung_audit_archiving VALUES (0, 1, 1000000); "
                "DELETE FROM _lumbung_audit_log WHERE device_id = 'old'; COMMIT",
                &error) == SQLITE_CONSTRAINT);
}

TEST_CASE("audit: archived entries leave the log into a file that reads back entry for entry",
          "[server]") {
  TestServer server;
  // Three pushes a minute apart: inserts, an update, a refusal.
  server.push(Batch("a", 1)
                  .insert("household", "h1", household(), stamp(-1000))
                  .insert("household", "h2", household(kOtherVillage), stamp(-1000)));
  server.clock->advance(60'000);
  server.push(Batch("a", 2)
                  .update("household", "h1", "phone", Value(std::int64_t{811}), stamp(60'000), 0)
                  .update("household", "h404", "phone", "0833", stamp(60'000), 0));
  server.clock->advance(60'000);
  server.push(Batch("b", 1).update("household", "h2", "phone", "0899", stamp(120'000), 0));
  server.server.reset();
  const std::string dir = server.data_dir();
  TempDir out;
  const std::string file = out.file("audit-1.lumbung-audit");

  const std::unique_ptr<server::SqliteStore> store = open_store(dir);
  const std::vector<AuditEntry> before = live_log(*store);
  REQUIRE(before.size() == 5);
  const std::int64_t cut = kNowMs + 120'000;  // the third push's time: kept
  // A batch of one id a transaction: every batch is exercised.
  Result<server::AuditArchiveSummary> summary =
      server::archive_audit(*store, cut, file, /*batch=*/1);
  INFO(summary.status().to_string());
  REQUIRE(summary.is_ok());
  CHECK(summary->entries == 4);
  CHECK(summary->path == file);
  CHECK(summary->first_time_ms == kNowMs);
  CHECK(summary->last_time_ms == kNowMs + 60'000);
  struct stat info {};
  REQUIRE(::stat(file.c_str(), &info) == 0);
  CHECK(static_cast<std::uint64_t>(info.st_size) == summary->bytes);
  CHECK((info.st_mode & 0777) == 0600);

  const std::vector<AuditEntry> older(before.begin(), before.begin() + 4);
  CHECK(fields(archived(file)) == fields(older));
  CHECK(fields(live_log(*store)) == std::vector<std::string>{fields(before[4])});
  // The filters of the live log, the scope kept in the archive.
  CHECK(archived(file, {.scope = kOtherVillage}).size() == 1);
  CHECK(archived(file, {.table = "household", .row_id = "h1"}).size() == 2);
  CHECK(archived(file, {.table = "household", .row_id = "h404"}).size() == 1);
  CHECK(archived(file, {.table = "household", .row_id = "h404"})[0].scope.empty());

  // An archive is never written over, and an empty one is an archive too.
  const Result<server::AuditArchiveSummary> again = server::archive_audit(*store, cut, file);
  CHECK(again.status().code() == ErrorCode::kInvalidArgument);
  const Result<server::AuditArchiveSummary> empty =
      server::archive_audit(*store, cut, out.file("empty"));
  REQUIRE(empty.is_ok());
  CHECK(empty->entries == 0);
  CHECK_FALSE(empty->first_time_ms);
  CHECK(archived(out.file("empty")).empty());
  CHECK(live_log(*store).size() == 1);
  // No temporary file is left beside them.
  CHECK(std::distance(std::filesystem::directory_iterator(out.path()), {}) == 2);
}

// A store whose writes fail after the first `writes_left`: the disk filling
// up, or the process dying, while archived entries leave the log.
class FailingWrites final : public server::Store {
 public:
  FailingWrites(server::Store& store, int writes_left) : store_(store), left_(writes_left) {}
  Status adopt_schema(const core::Schema& schema) override { return store_.adopt_schema(schema); }
  Status write(const server::WriteBody& body) override {
    if (left_-- <= 0) return Status(ErrorCode::kNoSpace, "the disk is full");
    return store_.write(body);
  }
  std::vector<Status> write_group(const std::vector<server::WriteBody>& bodies) override {
    return store_.write_group(bodies);
  }
  Status read(const std::function<Status(server::ReadTransaction&)>& body) override {
    return store_.read(body);
  }
  bool note_sighting(const server::DeviceSighting& sighting) override {
    return store_.note_sighting(sighting);
  }

 private:
  server::Store& store_;
  int left_;
};

TEST_CASE("audit: entries whose removal fails after the archive is written stay in both",
          "[server]") {
  TestServer server;
  push_households(server, 5);
  TempDir out;
  const std::string file = out.file("archive");
  const std::unique_ptr<server::SqliteStore> store = open_store(server.data_dir());
  const std::vector<AuditEntry> before = live_log(*store);
  REQUIRE(before.size() == 5);
  FailingWrites failing(*store, /*writes_left=*/2);  // two batches of two ids, then none
  const Result<server::AuditArchiveSummary> summary =
      server::archive_audit(failing, kNowMs + 1, file, /*batch=*/2);
  CHECK(summary.status().code() == ErrorCode::kNoSpace);
  // Every entry is in the archive; the last one is still in the log too.
  CHECK(fields(archived(file)) == fields(before));
  const std::vector<AuditEntry> kept = live_log(*store);
  CHECK(fields(kept) == std::vector<std::string>{fields(before[4])});
  // Archiving again moves it into a second file.
  const Result<server::AuditArchiveSummary> again =
      server::archive_audit(*store, kNowMs + 1, out.file("again"));
  REQUIRE(again.is_ok());
  CHECK(again->entries == 1);
  CHECK(live_log(*store).empty());
}

TEST_CASE("audit: an archive cut short or damaged is refused before an entry is read", "[server]") {
  TestServer server;
  push_households(server, 50);
  TempDir out;
  const std::string file = out.file("archive");
  const std::unique_ptr<server::SqliteStore> store = open_store(server.data_dir());
  REQUIRE(server::archive_audit(*store, kNowMs + 1, file).is_ok());
  const std::string whole = read_file(file);

  const std::string broken = out.file("broken");
  const auto refused = [&](const std::string& bytes) {
    write_file(broken, bytes);
    std::int64_t visited = 0;
    const Status read =
        server::read_audit_archive(broken, {}, [&](const AuditEntry&) { ++visited; });
    CHECK(visited == 0);
    CHECK(read.code() == ErrorCode::kCorrupt);
    CHECK_THAT(read.message(),
               Catch::Contains("'" + broken + "' is not a whole, intact lumbungd audit archive"));
    return read.message();
  };
  SECTION("cut short") { refused(whole.substr(0, whole.size() / 2)); }
  SECTION("one byte changed") {
    std::string damaged = whole;
    damaged[damaged.size() / 2] = static_cast<char>(damaged[damaged.size() / 2] ^ 0x40);
    refused(damaged);
  }
  SECTION("bytes after it") { refused(whole + "x"); }
  SECTION("an empty file") { refused(""); }
}

}  // namespace lumbung::test
