// The store conformance suite: what every Store (server/store.hpp) must do,
// run through the interface alone against each store there is: the embedded
// SQLite store, and the PostgreSQL store on a fresh database of the run's
// throwaway cluster (support/pg_cluster.hpp) per test case. Rows
// and their cell versions, tombstones, checksums, the change log a pull
// reads, conflicts, the audit log, devices, group commits, and a schema
// adopted anew.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/checksum.hpp"
#include "core/schema.hpp"
#include "pg/connection.hpp"
#include "server/pg_store.hpp"
#include "server/sqlite_store.hpp"
#include "server/store_formats.hpp"
#include "support/pg_cluster.hpp"
#include "support/temp_dir.hpp"

namespace lumbung::test {
namespace {

using server::ChangeItem;
using server::ReadTransaction;
using server::StoredCell;
using server::WriteTransaction;

constexpr const char* kVillageA = "village-a";
constexpr const char* kVillageB = "village-b";

std::string schema_json(int version, const std::string& extra_columns = "",
                        const std::string& extra_tables = "") {
  return R"({"format": "lumbung-schema/1", "name": "conformance", "version": )" +
         std::to_string(version) + R"(, "tables": [
    {"name": "household", "scope": "village_id", "columns": [
      {"name": "id", "type": "text", "primary_key": true},
      {"name": "village_id", "type": "text", "not_null": true},
      {"name": "head_name", "type": "text"},
      {"name": "members", "type": "integer"},
      {"name": "income", "type": "real"},
      {"name": "photo", "type": "blob"})" +
         extra_columns + R"(],
     "indexes": [{"name": "household_head", "columns": ["head_name"]}]},
    {"name": "person", "scope": "village_id", "columns": [
      {"name": "id", "type": "text", "primary_key": true},
      {"name": "village_id", "type": "text", "not_null": true},
      {"name": "household_id", "type": "text"},
      {"name": "full_name", "type": "text"}]})" +
         extra_tables + "]}";
}

core::Schema schema_of(const std::string& json) {
  Result<core::Schema> schema = core::load_schema(json, "conformance.json");
  INFO(schema.status().to_string());
  REQUIRE(schema.is_ok());
  return std::move(*schema);
}

// The kinds of store the suite runs against.
std::vector<std::string> store_kinds() {
  if (LUMBUNG_HAVE_PG_SERVER) return {"sqlite", "postgresql"};
  return {"sqlite"};
}

// A database of its own on the run's cluster: its URL.
std::string fresh_database() {
  static int count = 0;
  return shared_pg_cluster().create_database("conformance_" + std::to_string(getpid()) + "_" +
                                             std::to_string(++count));
}

// Opens the store of `kind` in `dir` (SQLite) or at `url` (PostgreSQL).
std::unique_ptr<server::Store> open_store(const std::string& kind, const TempDir& dir,
                                          const std::string& url) {
  if (kind == "postgresql") {
    Result<std::unique_ptr<server::PgStore>> opened = server::PgStore::open(url);
    INFO(opened.status().to_string());
    REQUIRE(opened.is_ok());
    return std::move(*opened);
  }
  Result<std::unique_ptr<server::SqliteStore>> opened = server::SqliteStore::open(dir.file("s"));
  INFO(opened.status().to_string());
  REQUIRE(opened.is_ok());
  return std::move(*opened);
}

// A connection of the test's own to the store's database.
std::unique_ptr<pg::Connection> connect(const std::string& url) {
  Result<std::unique_ptr<pg::Connection>> conn = pg::Connection::open(url);
  INFO(conn.status().to_string());
  REQUIRE(conn.is_ok());
  return std::move(*conn);
}

// A fresh store of `kind`, with the suite's schema adopted.
struct StoreUnderTest {
  explicit StoreUnderTest(const std::string& kind)
      : kind(kind), url(kind == "postgresql" ? fresh_database() : "") {
    reopen();
    REQUIRE(store->adopt_schema(schema_of(schema_json(1))).is_ok());
  }
  void reopen() {
    store.reset();
    store = open_store(kind, dir, url);
  }
  void write(const server::WriteBody& body) {
    const Status written = store->write(body);
    INFO(written.to_string());
    REQUIRE(written.is_ok());
  }
  void read(const std::function<Status(ReadTransaction&)>& body) {
    const Status read = store->read(body);
    INFO(read.to_string());
    REQUIRE(read.is_ok());
  }

  std::string kind;
  std::string url;  // of the PostgreSQL store's database
  TempDir dir;
  std::unique_ptr<server::Store> store;
};

core::ServerVersion version(std::int64_t hlc, const std::string& device, std::int64_t seq) {
  return {.stamp = {core::Hlc(hlc), device}, .seq = seq};
}

// Inserts household `id` in `village` at a new seq, written by `device`;
// returns the seq.
std::int64_t insert_household(WriteTransaction& txn, const std::string& id,
                              const std::string& village, const std::string& head,
                              const std::string& device = "phone-1") {
  const std::int64_t seq = txn.next_seq();
  const core::ServerVersion v = version(1000 + seq, device, seq);
  const Status inserted = txn.insert_row("household", id, village, seq,
                                         {{"id", {Value(id), v}},
                                          {"village_id", {Value(village), v}},
                                          {"head_name", {Value(head), v}},
                                          {"members", {Value(std::int64_t{4}), v}},
                                          {"income", {Value(2.5), v}},
                                          {"photo", {Value(Blob{0x00, 0xff, 0x10}), v}}});
  INFO(inserted.to_string());
  REQUIRE(inserted.is_ok());
  return seq;
}

std::map<std::string, StoredCell> cells_by_column(ReadTransaction& txn, const std::string& table,
                                                  const std::string& id) {
  Result<std::vector<StoredCell>> cells = txn.cells(table, id);
  REQUIRE(cells.is_ok());
  std::map<std::string, StoredCell> by_column;
  for (StoredCell& cell : *cells) by_column.emplace(cell.column, std::move(cell));
  return by_column;
}

// The checksum and live rows of every scope, counted from the rows.
std::map<std::string, std::pair<std::uint64_t, std::int64_t>> counted(ReadTransaction& txn) {
  std::map<std::string, std::pair<std::uint64_t, std::int64_t>> sums;
  const Status scanned = txn.scan_rows(std::nullopt, std::nullopt, [&](const server::LiveRow& row) {
    auto& [checksum, rows] = sums[std::string(row.scope)];
    for (std::size_t i = 0; i < row.columns.size(); ++i) {
      checksum += core::cell_hash(row.table, row.row_id, row.columns[i], row.values[i]);
    }
    ++rows;
  });
  REQUIRE(scanned.is_ok());
  return sums;
}

void check_scopes_add_up(ReadTransaction& txn) {
  const auto sums = counted(txn);
  Result<std::vector<server::ScopeState>> scopes = txn.scopes();
  REQUIRE(scopes.is_ok());
  for (const server::ScopeState& scope : *scopes) {
    const auto it = sums.find(scope.scope);
    const std::pair<std::uint64_t, std::int64_t> expected =
        it == sums.end() ? std::pair<std::uint64_t, std::int64_t>{0, 0} : it->second;
    CHECK(scope.checksum == expected.first);
    CHECK(scope.live_rows == expected.second);
  }
}

struct Seen {
  ChangeItem::Kind kind;
  std::int64_t seq;
  std::string row_id;
  std::string column;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> changes(ReadTransaction& txn, const server::ScopeCursors& cursors,
                          const server::OwnWrites& own = {}) {
  std::vector<Seen> seen;
  const Status scanned = txn.scan_changes(cursors, own, [&](const ChangeItem& item) {
    seen.push_back({item.kind, item.seq, item.row_id, item.column});
    return true;
  });
  REQUIRE(scanned.is_ok());
  return seen;
}

}  // namespace

TEST_CASE("store conformance: a row keeps its values, types and cell versions", "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  std::int64_t seq = 0;
  s.write([&](WriteTransaction& txn) {
    seq = insert_household(txn, "h1", kVillageA, "Siti");
    return Status::ok();
  });
  s.reopen();  // committed durably
  s.read([&](ReadTransaction& txn) {
    CHECK(*txn.last_seq() == seq);
    const std::optional<server::StoredRow> row = *txn.row("household", "h1");
    REQUIRE(row);
    CHECK(row->scope == kVillageA);
    CHECK(row->created_seq == seq);
    CHECK(!row->tombstone);
    CHECK(!txn.row("household", "h2")->has_value());
    const auto cells = cells_by_column(txn, "household", "h1");
    REQUIRE(cells.size() == 6);
    CHECK(cells.at("head_name").cell.value == Value("Siti"));
    CHECK(cells.at("members").cell.value == Value(std::int64_t{4}));
    CHECK(cells.at("income").cell.value == Value(2.5));
    CHECK(cells.at("photo").cell.value == Value(Blob{0x00, 0xff, 0x10}));
    for (const auto& [column, cell] : cells) {
      CHECK(cell.cell.version.seq == seq);
      CHECK(cell.cell.version.stamp.device_id == "phone-1");
      CHECK(cell.cell.version.stamp.hlc.packed() == 1000 + seq);
    }
    check_scopes_add_up(txn);
    return Status::ok();
  });
}

TEST_CASE("store conformance: a written cell gets its own version, value and checksum",
          "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  std::int64_t inserted = 0;
  std::int64_t written = 0;
  std::int64_t nulled = 0;
  s.write([&](WriteTransaction& txn) {
    inserted = insert_household(txn, "h1", kVillageA, "Siti");
    return Status::ok();
  });
  s.write([&](WriteTransaction& txn) {
    written = txn.next_seq();
    LUMBUNG_RETURN_IF_ERROR(txn.write_cell(
        "household", "h1", "head_name", {Value("Siti Aminah"), version(5000, "phone-2", written)}));
    // NULL is a value like any other.
    nulled = txn.next_seq();
    return txn.write_cell("household", "h1", "photo", {Value(), version(5001, "phone-2", nulled)});
  });
  s.read([&](ReadTransaction& txn) {
    const auto cells = cells_by_column(txn, "household", "h1");
    CHECK(cells.at("head_name").cell.value == Value("Siti Aminah"));
    CHECK(cells.at("head_name").cell.version.stamp.device_id == "phone-2");
    CHECK(cells.at("head_name").cell.version.seq == written);
    CHECK(cells.at("photo").cell.value.is_null());
    CHECK(cells.at("photo").cell.version.stamp.hlc.packed() == 5001);
    CHECK(cells.at("members").cell.version.seq == inserted);  // untouched
    check_scopes_add_up(txn);
    // A reader past the insert sees the two cells, not the row.
    const std::vector<Seen> seen = changes(txn, {{kVillageA, inserted}});
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].kind == ChangeItem::Kind::kCell);
    CHECK(seen[0].seq == written);
    return Status::ok();
  });
  // Written again: the older version's change leaves the log.
  std::int64_t again = 0;
  s.write([&](WriteTransaction& txn) {
    again = txn.next_seq();
    return txn.write_cell("household", "h1", "head_name",
                          {Value("Siti A."), version(6000, "phone-3", again)});
  });
  s.read([&](ReadTransaction& txn) {
    const std::vector<Seen> seen = changes(txn, {{kVillageA, inserted}});
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == Seen{ChangeItem::Kind::kCell, nulled, "h1", "photo"});
    CHECK(seen[1] == Seen{ChangeItem::Kind::kCell, again, "h1", "head_name"});
    check_scopes_add_up(txn);
    return Status::ok();
  });
}

TEST_CASE("store conformance: a deleted row leaves its table for a tombstone", "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  std::int64_t inserted = 0;
  std::int64_t deleted = 0;
  s.write([&](WriteTransaction& txn) {
    inserted = insert_household(txn, "h1", kVillageA, "Siti");
    insert_household(txn, "h2", kVillageA, "Budi");
    return Status::ok();
  });
  s.write([&](WriteTransaction& txn) {
    deleted = txn.next_seq();
    return txn.delete_row("household", "h1", version(7000, "phone-2", deleted));
  });
  s.read([&](ReadTransaction& txn) {
    const std::optional<server::StoredRow> row = *txn.row("household", "h1");
    REQUIRE(row);
    REQUIRE(row->tombstone);
    CHECK(row->tombstone->seq == deleted);
    CHECK(row->tombstone->stamp.device_id == "phone-2");
    CHECK(row->created_seq == inserted);
    CHECK(row->scope == kVillageA);
    CHECK(txn.cells("household", "h1")->empty());
    std::vector<std::string> live;
    REQUIRE(txn.scan_rows("household", std::nullopt,
                          [&](const server::LiveRow& r) { live.emplace_back(r.row_id); })
                .is_ok());
    CHECK(live == std::vector<std::string>{"h2"});
    check_scopes_add_up(txn);
    CHECK(txn.scopes()->front().live_rows == 1);
    // From 0: h2 as a row, h1's tombstone; h1's insert is gone from the log.
    const std::vector<Seen> seen = changes(txn, {{kVillageA, 0}});
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].kind == ChangeItem::Kind::kRow);
    CHECK(seen[0].row_id == "h2");
    CHECK(seen[1] == Seen{ChangeItem::Kind::kTombstone, deleted, "h1", ""});
    return Status::ok();
  });
}

TEST_CASE("store conformance: rows of many ids read together are those row() reads one by one",
          "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  // More ids than one statement reads: live rows of two villages, deleted
  // rows, and ids the store never had, in no order.
  const std::size_t count = ReadTransaction::kRowsPerRead * 2 + 7;
  std::vector<std::string> ids;
  s.write([&](WriteTransaction& txn) {
    for (std::size_t i = 0; i < count; ++i) {
      const std::string id = "h" + std::to_string(i);
      ids.push_back(id);
      if (i % 3 != 2) insert_household(txn, id, i % 2 == 0 ? kVillageA : kVillageB, "Siti");
    }
    for (std::size_t i = 0; i < count; i += 4) {
      if (i % 3 == 2) continue;
      LUMBUNG_RETURN_IF_ERROR(
          txn.delete_row("household", ids[i], version(9000, "phone-2", txn.next_seq())));
    }
    return Status::ok();
  });
  std::reverse(ids.begin(), ids.end());
  s.read([&](ReadTransaction& txn) {
    Result<std::map<std::string, server::StoredRow, std::less<>>> found =
        txn.rows("household", ids);
    INFO(found.status().to_string());
    REQUIRE(found.is_ok());
    std::size_t live = 0;
    std::size_t deleted = 0;
    for (const std::string& id : ids) {
      const std::optional<server::StoredRow> one = *txn.row("household", id);
      const auto it = found->find(id);
      INFO(id);
      REQUIRE(one.has_value() == (it != found->end()));
      if (!one) continue;
      CHECK(it->second.scope == one->scope);
      CHECK(it->second.created_seq == one->created_seq);
      REQUIRE(it->second.tombstone.has_value() == one->tombstone.has_value());
      if (one->tombstone) {
        CHECK(it->second.tombstone->seq == one->tombstone->seq);
        CHECK(it->second.tombstone->stamp.hlc.packed() == 9000);
        CHECK(it->second.tombstone->stamp.device_id == "phone-2");
        ++deleted;
      } else {
        ++live;
      }
    }
    CHECK(found->size() == live + deleted);
    CHECK(deleted == (count + 3) / 4 - (count + 3) / 12);  // every fourth, but those never there
    CHECK(live + deleted == count - count / 3);
    // None asked: none read.
    CHECK(txn.rows("household", {})->empty());
    return Status::ok();
  });
}

TEST_CASE("store conformance: the change log is read per scope, in seq order, from each cursor",
          "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  std::int64_t a1 = 0;
  std::int64_t b1 = 0;
  std::int64_t edit = 0;
  std::int64_t conflict_seq = 0;
  s.write([&](WriteTransaction& txn) {
    a1 = insert_household(txn, "a1", kVillageA, "Siti");
    b1 = insert_household(txn, "b1", kVillageB, "Budi");
    return Status::ok();
  });
  s.write([&](WriteTransaction& txn) {
    edit = txn.next_seq();
    LUMBUNG_RETURN_IF_ERROR(txn.write_cell("household", "b1", "members",
                                           {Value(std::int64_t{5}), version(9, "p", edit)}));
    conflict_seq = txn.next_seq();
    return txn
        .add_conflict({.table = "household",
                       .row_id = "b1",
                       .column = "members",
                       .policy = core::ConflictPolicy::kLastWriterWins,
                       .server_value = Value(std::int64_t{4}),
                       .server_device = "phone-1",
                       .server_hlc = 1002,
                       .device_value = Value(std::int64_t{5}),
                       .device_id = "p",
                       .device_hlc = 9,
                       .outcome = core::ConflictOutcome::kDeviceApplied,
                       .scope = kVillageB},
                      conflict_seq)
        .status();
  });
  s.read([&](ReadTransaction& txn) {
    const std::vector<Seen> both = changes(txn, {{kVillageA, 0}, {kVillageB, b1}});
    REQUIRE(both.size() == 3);
    CHECK(both[0] == Seen{ChangeItem::Kind::kRow, a1, "a1", ""});
    CHECK(both[1] == Seen{ChangeItem::Kind::kCell, edit, "b1", "members"});
    CHECK(both[2] == Seen{ChangeItem::Kind::kConflict, conflict_seq, "b1", ""});
    // A row new to the reader carries its current cells, the later edit's too.
    std::vector<StoredCell> carried;
    REQUIRE(txn.scan_changes({{kVillageB, 0}}, {},
                             [&](const ChangeItem& item) {
                               carried = item.cells;
                               return false;  // the first item only
                             })
                .is_ok());
    bool saw_edit = false;
    for (const StoredCell& cell : carried) {
      if (cell.column == "members") saw_edit = cell.cell.value == Value(std::int64_t{5});
    }
    CHECK(saw_edit);
    CHECK(changes(txn, {{kVillageA, a1}}).empty());
    CHECK(changes(txn, {{"no such village", 0}}).empty());
    return Status::ok();
  });
}

// a1 by phone-1 and a2 by phone-2 in village A, b1 by phone-1 in village B;
// then phone-2 writes a cell of a1, phone-1 one of a2. Returns their seqs:
// a1, a2, b1, the edit of a1, the edit of a2.
std::vector<std::int64_t> write_two_devices(StoreUnderTest& s) {
  std::vector<std::int64_t> seqs;
  s.write([&](WriteTransaction& txn) {
    seqs.push_back(insert_household(txn, "a1", kVillageA, "Siti", "phone-1"));
    seqs.push_back(insert_household(txn, "a2", kVillageA, "Ani", "phone-2"));
    seqs.push_back(insert_household(txn, "b1", kVillageB, "Budi", "phone-1"));
    seqs.push_back(txn.next_seq());
    LUMBUNG_RETURN_IF_ERROR(txn.write_cell(
        "household", "a1", "members", {Value(std::int64_t{5}), version(2000, "phone-2", seqs[3])}));
    seqs.push_back(txn.next_seq());
    return txn.write_cell("household", "a2", "head_name",
                          {Value("Ani S."), version(2001, "phone-1", seqs[4])});
  });
  return seqs;
}

TEST_CASE("store conformance: a scan reads past a device's own writes in the scopes it names",
          "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  const std::vector<std::int64_t> seq = write_two_devices(s);
  const server::OwnWrites own{.device_id = "phone-1", .scopes = {kVillageA}};
  s.read([&](ReadTransaction& txn) {
    // Rows new to the reader: a1 (phone-1's) comes at phone-2's edit, whole;
    // a2 (phone-2's) at its insert; b1 as always, village B not being named.
    CHECK(changes(txn, {{kVillageA, 0}, {kVillageB, 0}}, own) ==
          std::vector<Seen>{{ChangeItem::Kind::kRow, seq[1], "a2", ""},
                            {ChangeItem::Kind::kRow, seq[2], "b1", ""},
                            {ChangeItem::Kind::kRow, seq[3], "a1", ""}});
    std::size_t a1_cells = 0;
    REQUIRE(txn.scan_changes({{kVillageA, 0}}, own,
                             [&](const ChangeItem& item) {
                               if (item.row_id == "a1") a1_cells = item.cells.size();
                               return true;
                             })
                .is_ok());
    CHECK(a1_cells == 6);
    // Rows the reader has: phone-2's edit alone.
    CHECK(changes(txn, {{kVillageA, seq[1]}}, own) ==
          std::vector<Seen>{{ChangeItem::Kind::kCell, seq[3], "a1", "members"}});
    // Another device reads everything.
    CHECK(changes(txn, {{kVillageA, seq[1]}}, {.device_id = "phone-3", .scopes = {kVillageA}}) ==
          std::vector<Seen>{{ChangeItem::Kind::kCell, seq[3], "a1", "members"},
                            {ChangeItem::Kind::kCell, seq[4], "a2", "head_name"}});
    return Status::ok();
  });
}

TEST_CASE("store conformance: a store of format 8 is upgraded, its log entries read as before",
          "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  const std::vector<std::int64_t> seq = write_two_devices(s);
  s.store.reset();
  // Format 8: the log's entries without their writers.
  if (s.kind == "postgresql") {
    const std::unique_ptr<pg::Connection> conn = connect(s.url);
    REQUIRE(conn->exec("ALTER TABLE _lumbung_changes DROP COLUMN device; "
                       "UPDATE _lumbung_meta SET value = '8' WHERE key = 'store_format'")
                .is_ok());
  } else {
    downgrade_to_8(s.dir.file("s"));
  }
  s.reopen();
  s.read([&](ReadTransaction& txn) {
    // Whose they are is not known: none is left out.
    const server::OwnWrites own{.device_id = "phone-1", .scopes = {kVillageA}};
    CHECK(changes(txn, {{kVillageA, seq[1]}}, own) ==
          std::vector<Seen>{{ChangeItem::Kind::kCell, seq[3], "a1", "members"},
                            {ChangeItem::Kind::kCell, seq[4], "a2", "head_name"}});
    return Status::ok();
  });
  // New entries say whose they are.
  std::int64_t edit = 0;
  s.write([&](WriteTransaction& txn) {
    edit = txn.next_seq();
    return txn.write_cell("household", "b1", "members",
                          {Value(std::int64_t{6}), version(3000, "phone-1", edit)});
  });
  s.read([&](ReadTransaction& txn) {
    CHECK(changes(txn, {{kVillageB, seq[2]}}, {.device_id = "phone-1", .scopes = {kVillageB}})
              .empty());
    CHECK(changes(txn, {{kVillageB, seq[2]}}) ==
          std::vector<Seen>{{ChangeItem::Kind::kCell, edit, "b1", "members"}});
    return Status::ok();
  });
}

TEST_CASE("store conformance: audit entries keep their row's scope and read back by filter",
          "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  s.write([&](WriteTransaction& txn) {
    const std::int64_t seq = insert_household(txn, "h1", kVillageA, "Siti");
    txn.set_officer("sri");
    LUMBUNG_RETURN_IF_ERROR(txn.append_audit({.seq = seq,
                                              .time_ms = 100,
                                              .device_id = "phone-1",
                                              .table = "household",
                                              .row_id = "h1",
                                              .column = "",
                                              .old_value = Value(),
                                              .new_value = Value("{}"),
                                              .outcome = "applied"}));
    // A refusal of a row the server lacks has no scope.
    return txn.append_audit({.seq = 0,
                             .time_ms = 200,
                             .device_id = "phone-1",
                             .table = "household",
                             .row_id = "h9",
                             .column = "members",
                             .old_value = Value(),
                             .new_value = Value(std::int64_t{1}),
                             .outcome = "refused",
                             .detail = "no such row"});
  });
  s.read([&](ReadTransaction& txn) {
    std::vector<server::AuditEntry> all;
    REQUIRE(txn.scan_audit({}, [&](const server::AuditEntry& e) { all.push_back(e); }).is_ok());
    REQUIRE(all.size() == 2);
    CHECK(all[0].scope == kVillageA);
    CHECK(all[0].officer == "sri");
    CHECK(all[1].scope.empty());
    CHECK(all[1].detail == "no such row");
    CHECK(all[0].id < all[1].id);
    std::vector<server::AuditEntry> village;
    REQUIRE(txn.scan_audit({.scope = std::string(kVillageA)},
                           [&](const server::AuditEntry& e) { village.push_back(e); })
                .is_ok());
    REQUIRE(village.size() == 1);
    CHECK(village[0].row_id == "h1");
    std::vector<server::AuditEntry> early;
    REQUIRE(
        txn.scan_audit({.before_ms = 150}, [&](const server::AuditEntry& e) { early.push_back(e); })
            .is_ok());
    CHECK(early.size() == 1);
    return Status::ok();
  });
}

TEST_CASE("store conformance: a device's batch, answer and refusals", "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  s.write([&](WriteTransaction& txn) {
    LUMBUNG_RETURN_IF_ERROR(txn.set_device_batch("phone-1", {7, 0xfedcba9876543210u}, "answer"));
    return txn.record_push({.device_id = "phone-1", .officer = "sri", .time_ms = 100},
                           {{"household", "h9"}}, {});
  });
  s.read([&](ReadTransaction& txn) {
    const std::optional<server::DeviceBatch> batch = *txn.device_batch("phone-1");
    REQUIRE(batch);
    CHECK(batch->batch == 7);
    CHECK(batch->request_digest == 0xfedcba9876543210u);  // all 64 bits
    CHECK(*txn.device_answer("phone-1") == "answer");
    CHECK(*txn.last_batch("phone-1") == 7);
    CHECK(*txn.last_batch("phone-2") == 0);
    std::vector<server::DeviceRecord> devices;
    REQUIRE(txn.scan_devices([&](const server::DeviceRecord& d) { devices.push_back(d); }).is_ok());
    REQUIRE(devices.size() == 1);
    CHECK(devices[0].refused_pending == 1);
    CHECK(devices[0].last_push_ms == 100);
    return Status::ok();
  });
}

TEST_CASE("store conformance: a schema adopted anew adds tables, columns and their cells",
          "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  s.write([&](WriteTransaction& txn) {
    insert_household(txn, "h1", kVillageA, "Siti");
    return Status::ok();
  });
  const core::Schema v2 =
      schema_of(schema_json(2, R"(, {"name": "savings", "type": "integer", "default": 0})",
                            R"(, {"name": "coop_member", "scope": "village_id", "columns": [
            {"name": "id", "type": "text", "primary_key": true},
            {"name": "village_id", "type": "text", "not_null": true}]})"));
  REQUIRE(s.store->adopt_schema(v2).is_ok());
  s.reopen();  // the store knows its tables from itself
  s.read([&](ReadTransaction& txn) {
    const auto cells = cells_by_column(txn, "household", "h1");
    REQUIRE(cells.count("savings") == 1);
    CHECK(cells.at("savings").cell.value == Value(std::int64_t{0}));
    check_scopes_add_up(txn);
    return Status::ok();
  });
  s.write([&](WriteTransaction& txn) {
    const std::int64_t seq = txn.next_seq();
    const core::ServerVersion v = version(1, "p", seq);
    return txn.insert_row("coop_member", "c1", kVillageA, seq,
                          {{"id", {Value("c1"), v}}, {"village_id", {Value(kVillageA), v}}});
  });
  // A column whose type changed is refused, and nothing changes.
  const core::Schema changed =
      schema_of(schema_json(3, R"(, {"name": "savings", "type": "text"})"));
  const Status refused = s.store->adopt_schema(changed);
  CHECK(refused.code() == ErrorCode::kSchemaIncompatible);
  CHECK(refused.message() ==
        "table 'household': column 'savings' is INTEGER in the store, TEXT in the schema");
}

TEST_CASE("store conformance: a log longer than a read's chunk is read whole, and in part",
          "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  // More rows, cell writes and tombstones than the PostgreSQL store reads at
  // once (512), interleaved by seq.
  constexpr int kRows = 1200;
  std::vector<std::int64_t> inserted;
  s.write([&](WriteTransaction& txn) {
    for (int i = 0; i < kRows; ++i) {
      inserted.push_back(insert_household(txn, "h" + std::to_string(10000 + i), kVillageA, "x"));
    }
    return Status::ok();
  });
  const std::int64_t cursor = inserted.back();
  std::vector<Seen> expected;
  s.write([&](WriteTransaction& txn) {
    for (int i = 0; i < kRows; i += 2) {
      const std::string id = "h" + std::to_string(10000 + i);
      const std::int64_t seq = txn.next_seq();
      if (i % 6 == 0) {
        LUMBUNG_RETURN_IF_ERROR(txn.delete_row("household", id, version(9000 + seq, "p", seq)));
        expected.push_back({ChangeItem::Kind::kTombstone, seq, id, ""});
      } else {
        LUMBUNG_RETURN_IF_ERROR(txn.write_cell("household", id, "head_name",
                                               {Value("y"), version(9000 + seq, "p", seq)}));
        expected.push_back({ChangeItem::Kind::kCell, seq, id, "head_name"});
      }
    }
    return Status::ok();
  });
  s.read([&](ReadTransaction& txn) {
    CHECK(changes(txn, {{kVillageA, cursor}}) == expected);
    // From 0: every live row once, as a row, at its insert's seq.
    const std::vector<Seen> all = changes(txn, {{kVillageA, 0}});
    std::vector<Seen> rows;
    for (int i = 0; i < kRows; ++i) {
      if (i % 6 != 0) {
        rows.push_back({ChangeItem::Kind::kRow, inserted[static_cast<std::size_t>(i)],
                        "h" + std::to_string(10000 + i), ""});
      }
    }
    std::vector<Seen> live(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(rows.size()));
    CHECK(live == rows);
    CHECK(all.size() == rows.size() + kRows / 6);  // then the tombstones
    // A reader that stops early stops.
    int visited = 0;
    REQUIRE(txn.scan_changes({{kVillageA, cursor}}, {},
                             [&](const ChangeItem&) { return ++visited < 3; })
                .is_ok());
    CHECK(visited == 3);
    std::int64_t scanned = 0;
    REQUIRE(txn.scan_rows("household", std::string(kVillageA),
                          [&](const server::LiveRow&) { ++scanned; })
                .is_ok());
    CHECK(scanned == kRows - kRows / 6);
    check_scopes_add_up(txn);
    return Status::ok();
  });
}

TEST_CASE("store conformance: audit entries and devices past a read's chunk are read whole",
          "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  // More than either store reads at once (512), with values of every type.
  constexpr int kEntries = 1100;
  constexpr int kDevices = 530;
  s.write([&](WriteTransaction& txn) {
    for (int i = 0; i < kEntries; ++i) {
      const Value values[] = {Value(std::int64_t{-i}), Value(0.5 * i),
                              Value("t" + std::to_string(i)),
                              Value(Blob{0, static_cast<std::uint8_t>(i % 256)}), Value()};
      LUMBUNG_RETURN_IF_ERROR(txn.append_audit({.seq = 0,
                                                .time_ms = i,
                                                .device_id = "phone-1",
                                                .table = "household",
                                                .row_id = "h" + std::to_string(i),
                                                .column = "members",
                                                .old_value = values[i % 5],
                                                .new_value = values[(i + 1) % 5],
                                                .outcome = "refused",
                                                .detail = "no such row"}));
    }
    for (int i = 0; i < kDevices; ++i) {
      LUMBUNG_RETURN_IF_ERROR(txn.record_push(
          {.device_id = "d" + std::to_string(10000 + i), .officer = "sri", .time_ms = 100 + i}, {},
          {}));
    }
    return Status::ok();
  });
  s.read([&](ReadTransaction& txn) {
    int seen = 0;
    REQUIRE(txn.scan_audit({},
                           [&](const server::AuditEntry& e) {
                             const Value values[] = {
                                 Value(std::int64_t{-seen}), Value(0.5 * seen),
                                 Value("t" + std::to_string(seen)),
                                 Value(Blob{0, static_cast<std::uint8_t>(seen % 256)}), Value()};
                             CHECK(e.time_ms == seen);
                             CHECK(e.old_value == values[seen % 5]);
                             CHECK(e.new_value == values[(seen + 1) % 5]);
                             ++seen;
                           })
                .is_ok());
    CHECK(seen == kEntries);
    int early = 0;
    REQUIRE(
        txn.scan_audit({.before_ms = 700}, [&](const server::AuditEntry&) { ++early; }).is_ok());
    CHECK(early == 700);
    std::vector<std::string> devices;
    REQUIRE(txn.scan_devices([&](const server::DeviceRecord& d) { devices.push_back(d.device_id); })
                .is_ok());
    REQUIRE(devices.size() == static_cast<std::size_t>(kDevices));
    for (int i = 0; i < kDevices; ++i) {
      CHECK(devices[static_cast<std::size_t>(i)] == "d" + std::to_string(10000 + i));
    }
    return Status::ok();
  });
}

TEST_CASE("store conformance: a write reads back the log entries it wrote itself",
          "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  s.write([&](WriteTransaction& txn) {
    const std::int64_t a1 = insert_household(txn, "a1", kVillageA, "Siti");
    const std::int64_t a2 = insert_household(txn, "a2", kVillageA, "Ani");
    // Two edits of one cell: the second's entry replaces the first's.
    std::int64_t edit = 0;
    for (std::int64_t members = 3; members <= 4; ++members) {
      edit = txn.next_seq();
      LUMBUNG_RETURN_IF_ERROR(txn.write_cell("household", "a2", "members",
                                             {Value(members), version(9 + members, "p", edit)}));
    }
    const std::vector<Seen> all = changes(txn, {{kVillageA, 0}});
    REQUIRE(all.size() >= 2);
    CHECK(all[0] == Seen{ChangeItem::Kind::kRow, a1, "a1", ""});
    CHECK(all[1] == Seen{ChangeItem::Kind::kRow, a2, "a2", ""});
    const std::vector<Seen> edits = changes(txn, {{kVillageA, a2}});
    CHECK(edits == std::vector<Seen>{{ChangeItem::Kind::kCell, edit, "a2", "members"}});
    for (std::int64_t t = 1; t <= 3; ++t) {
      LUMBUNG_RETURN_IF_ERROR(txn.append_audit({.seq = 0,
                                                .time_ms = t,
                                                .device_id = "phone-1",
                                                .table = "household",
                                                .row_id = "a1",
                                                .column = "",
                                                .old_value = Value(),
                                                .new_value = Value(),
                                                .outcome = "refused"}));
    }
    std::vector<std::int64_t> times;
    LUMBUNG_RETURN_IF_ERROR(
        txn.scan_audit({}, [&](const server::AuditEntry& e) { times.push_back(e.time_ms); }));
    CHECK(times == std::vector<std::int64_t>{1, 2, 3});
    return Status::ok();
  });
}

TEST_CASE("store conformance: archived audit entries leave the log, and only they",
          "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  s.write([&](WriteTransaction& txn) {
    for (std::int64_t t = 1; t <= 4; ++t) {
      LUMBUNG_RETURN_IF_ERROR(txn.append_audit({.seq = 0,
                                                .time_ms = t * 100,
                                                .device_id = "phone-1",
                                                .table = "household",
                                                .row_id = "h" + std::to_string(t),
                                                .column = "members",
                                                .old_value = Value(2.5),
                                                .new_value = Value(Blob{0x01}),
                                                .outcome = "refused"}));
    }
    return Status::ok();
  });
  std::vector<std::int64_t> ids;
  s.read([&](ReadTransaction& txn) {
    return txn.scan_audit({}, [&](const server::AuditEntry& e) {
      ids.push_back(e.id);
      CHECK(e.old_value == Value(2.5));
      CHECK(e.new_value == Value(Blob{0x01}));
    });
  });
  REQUIRE(ids.size() == 4);
  std::int64_t removed = 0;
  s.write([&](WriteTransaction& txn) {
    LUMBUNG_ASSIGN_OR_RETURN(removed, txn.remove_archived_audit(250, ids[0], ids[2]));
    return Status::ok();
  });
  CHECK(removed == 2);  // the third is not older than 250
  s.read([&](ReadTransaction& txn) {
    std::vector<std::string> left;
    REQUIRE(
        txn.scan_audit({}, [&](const server::AuditEntry& e) { left.push_back(e.row_id); }).is_ok());
    CHECK(left == std::vector<std::string>{"h3", "h4"});
    return Status::ok();
  });
}

TEST_CASE("store conformance: a body of a write group that fails is rolled back alone",
          "[server][store]") {
  StoreUnderTest s(GENERATE(from_range(store_kinds())));
  INFO(s.kind);
  s.store->note_sighting({.device_id = "phone-9", .officer = "sri", .time_ms = 50});
  std::int64_t first = 0;
  std::int64_t third = 0;
  const std::vector<Status> statuses = s.store->write_group({
      [&](WriteTransaction& txn) {
        first = insert_household(txn, "h1", kVillageA, "Siti");
        return Status::ok();
      },
      // Fails in the database (the row exists), after a write of its own.
      [&](WriteTransaction& txn) {
        insert_household(txn, "h2", kVillageA, "Budi");
        const std::int64_t seq = txn.next_seq();
        const core::ServerVersion v = version(1, "p", seq);
        return txn.insert_row("household", "h1", kVillageA, seq,
                              {{"id", {Value("h1"), v}}, {"village_id", {Value(kVillageA), v}}});
      },
      // Fails in the body.
      [&](WriteTransaction& txn) {
        insert_household(txn, "h4", kVillageB, "Ani");
        return Status(ErrorCode::kInvalidArgument, "refused by the body");
      },
      [&](WriteTransaction& txn) {
        third = insert_household(txn, "h3", kVillageA, "Tono");
        return Status::ok();
      },
  });
  REQUIRE(statuses.size() == 4);
  CHECK(statuses[0].is_ok());
  CHECK(!statuses[1].is_ok());
  CHECK(statuses[2].code() == ErrorCode::kInvalidArgument);
  CHECK(statuses[3].is_ok());
  CHECK(third == first + 1);  // the failed bodies' seqs were never given
  s.reopen();
  s.read([&](ReadTransaction& txn) {
    CHECK(*txn.last_seq() == third);
    CHECK(txn.row("household", "h1")->has_value());
    CHECK(!txn.row("household", "h2")->has_value());
    CHECK(txn.row("household", "h3")->has_value());
    CHECK(!txn.row("household", "h4")->has_value());
    CHECK(changes(txn, {{kVillageA, 0}}) ==
          std::vector<Seen>{{ChangeItem::Kind::kRow, first, "h1", ""},
                            {ChangeItem::Kind::kRow, third, "h3", ""}});
    CHECK(txn.scopes()->size() == 1);  // village B's row was rolled back
    check_scopes_add_up(txn);
    // The sighting noted before went with the group's commit.
    std::vector<std::string> devices;
    REQUIRE(txn.scan_devices([&](const server::DeviceRecord& d) {
                 devices.push_back(d.device_id + "/" + d.officer);
               })
                .is_ok());
    CHECK(devices == std::vector<std::string>{"phone-9/sri"});
    return Status::ok();
  });
}

// PostgreSQL only.

TEST_CASE("postgresql store: the audit log refuses a hand-written UPDATE, DELETE or TRUNCATE",
          "[server][store][postgresql]") {
  StoreUnderTest s("postgresql");
  s.write([&](WriteTransaction& txn) {
    return txn.append_audit({.seq = 0,
                             .time_ms = 100,
                             .device_id = "phone-1",
                             .table = "household",
                             .row_id = "h1",
                             .column = "",
                             .old_value = Value(),
                             .new_value = Value(),
                             .outcome = "refused"});
  });
  const std::unique_ptr<pg::Connection> conn = connect(s.url);
  for (const char* sql :
       {"DELETE FROM _lumbung_audit_log", "UPDATE _lumbung_audit_log SET tbl = 'x'",
        "TRUNCATE _lumbung_audit_log"}) {
    INFO(sql);
    const Status refused = conn->exec(sql);
    CHECK(!refused.is_ok());
    CHECK(refused.message().find("the audit log is append-only") != std::string::npos);
  }
  // A guard row for another entry does not let it through either.
  const Status guarded = conn->exec(
      "BEGIN; INSERT INTO _lumbung_audit_archiving VALUES (1000, 0, 0); "
      "DELETE FROM _lumbung_audit_log; COMMIT");
  CHECK(!guarded.is_ok());
  (void)conn->exec("ROLLBACK");
  Result<pg::Rows> count = conn->query("SELECT count(*) FROM _lumbung_audit_log");
  REQUIRE(count.is_ok());
  REQUIRE(count->step());
  CHECK(count->integer(0) == 1);
}

TEST_CASE("postgresql store: a second store on the same database sees the first one's commits",
          "[server][store][postgresql]") {
  StoreUnderTest s("postgresql");
  Result<std::unique_ptr<server::PgStore>> second = server::PgStore::open(s.url);
  REQUIRE(second.is_ok());
  std::int64_t seq = 0;
  s.write([&](WriteTransaction& txn) {
    seq = insert_household(txn, "h1", kVillageA, "Siti");
    return Status::ok();
  });
  REQUIRE((*second)
              ->read([&](ReadTransaction& txn) {
                CHECK(*txn.last_seq() == seq);
                CHECK(cells_by_column(txn, "household", "h1").at("head_name").cell.value ==
                      Value("Siti"));
                CHECK(changes(txn, {{kVillageA, 0}}).size() == 1);
                return Status::ok();
              })
              .is_ok());
  // Its writes take seqs after the first's.
  std::int64_t next = 0;
  REQUIRE((*second)
              ->write([&](WriteTransaction& txn) {
                next = insert_household(txn, "h2", kVillageA, "Budi");
                return Status::ok();
              })
              .is_ok());
  CHECK(next == seq + 1);
  s.read([&](ReadTransaction& txn) {
    CHECK(*txn.last_seq() == next);
    check_scopes_add_up(txn);
    return Status::ok();
  });
}

TEST_CASE("postgresql store: the merged tables are plain typed tables for any SQL tool",
          "[server][store][postgresql]") {
  StoreUnderTest s("postgresql");
  s.write([&](WriteTransaction& txn) {
    insert_household(txn, "h1", kVillageA, "Siti");
    return Status::ok();
  });
  const std::unique_ptr<pg::Connection> conn = connect(s.url);
  Result<pg::Rows> rows = conn->query(
      "SELECT head_name, members, income, photo, pg_typeof(members)::text, "
      "pg_typeof(income)::text FROM household WHERE village_id = $1",
      {Value(kVillageA)});
  INFO(rows.status().to_string());
  REQUIRE(rows.is_ok());
  REQUIRE(rows->step());
  CHECK(rows->value(0) == Value("Siti"));
  CHECK(rows->value(1) == Value(std::int64_t{4}));
  CHECK(rows->value(2) == Value(2.5));
  CHECK(rows->value(3) == Value(Blob{0x00, 0xff, 0x10}));
  CHECK(rows->text(4) == "bigint");
  CHECK(rows->text(5) == "double precision");
}

TEST_CASE("postgresql store: a database holding another store format is refused",
          "[server][store][postgresql]") {
  StoreUnderTest s("postgresql");
  s.store.reset();
  const std::unique_ptr<pg::Connection> conn = connect(s.url);
  REQUIRE(conn->exec("UPDATE _lumbung_meta SET value = '99' WHERE key = 'store_format'").is_ok());
  Result<std::unique_ptr<server::PgStore>> opened = server::PgStore::open(s.url);
  CHECK(opened.status().code() == ErrorCode::kCorrupt);
  CHECK(opened.status().message() ==
        "the database is not a lumbungd store of format 8 to 9 (it has 99)");
}

TEST_CASE("postgresql store: a restart of PostgreSQL loses no committed write and needs no reopen",
          "[server][store][postgresql]") {
  PgCluster cluster;  // of its own: it restarts
  const std::string url = cluster.create_database("restarted");
  Result<std::unique_ptr<server::PgStore>> opened = server::PgStore::open(url);
  REQUIRE(opened.is_ok());
  server::PgStore& store = **opened;
  REQUIRE(store.adopt_schema(schema_of(schema_json(1))).is_ok());
  std::int64_t seq = 0;
  REQUIRE(store
              .write([&](WriteTransaction& txn) {
                seq = insert_household(txn, "h1", kVillageA, "Siti");
                return Status::ok();
              })
              .is_ok());
  REQUIRE(store.read([](ReadTransaction& txn) { return txn.last_seq().status(); }).is_ok());
  cluster.restart();  // the store's connections, idle, are closed by the server
  const Status read = store.read([&](ReadTransaction& txn) {
    CHECK(*txn.last_seq() == seq);
    CHECK(txn.row("household", "h1")->has_value());
    return Status::ok();
  });
  INFO(read.to_string());
  CHECK(read.is_ok());
  std::int64_t next = 0;
  const Status written = store.write([&](WriteTransaction& txn) {
    next = insert_household(txn, "h2", kVillageA, "Budi");
    return Status::ok();
  });
  INFO(written.to_string());
  CHECK(written.is_ok());
  CHECK(next == seq + 1);
}

}  // namespace lumbung::test
