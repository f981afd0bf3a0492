// The SQLite store's change log, read per scope, and its group commit
// (docs/decisions/0015): what a scan of some scopes from their cursors
// visits, rows that leave a village, stores of the previous format upgraded
// in place, conflicts stored with unknown names, and a group whose one body
// fails.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/checksum.hpp"
#include "server/server_fixture.hpp"
#include "server/sqlite_store.hpp"
#include "server/store_formats.hpp"
#include "support/temp_dir.hpp"

namespace lumbung::test {
namespace {

// One visited change: seq, kind, scope, row id, column.
using Visited = std::tuple<std::int64_t, std::string, std::string, std::string, std::string>;

std::string kind_name(server::ChangeItem::Kind kind) {
  switch (kind) {
    case server::ChangeItem::Kind::kCell:
      return "cell";
    case server::ChangeItem::Kind::kRow:
      return "row";
    case server::ChangeItem::Kind::kTombstone:
      return "tombstone";
    case server::ChangeItem::Kind::kConflict:
      return "conflict";
  }
  return "?";
}

// Every change a scan of `cursors` visits, read from the store in `data_dir`.
std::vector<Visited> scan(const std::string& data_dir, const server::ScopeCursors& cursors) {
  Result<std::unique_ptr<server::SqliteStore>> store = server::SqliteStore::open(data_dir);
  REQUIRE(store.is_ok());
  std::vector<Visited> visited;
  const Status read = (*store)->read([&](server::ReadTransaction& txn) {
    return txn.scan_changes(cursors, {}, [&](const server::ChangeItem& item) {
      visited.emplace_back(item.seq, kind_name(item.kind), item.scope, item.row_id, item.column);
      return true;
    });
  });
  INFO(read.to_string());
  REQUIRE(read.is_ok());
  return visited;
}

// The visited changes that are not of `scope`, and whether seqs only grow.
bool only_of(const std::vector<Visited>& visited, const std::string& scope) {
  for (const Visited& v : visited) {
    if (std::get<2>(v) != scope) return false;
  }
  return true;
}
bool in_seq_order(const std::vector<Visited>& visited) {
  for (std::size_t i = 1; i < visited.size(); ++i) {
    if (std::get<0>(visited[i - 1]) >= std::get<0>(visited[i])) return false;
  }
  return true;
}

// Households in both villages, then edits, a delete and a conflict. Returns
// the seq after the first batch.
std::int64_t two_villages(TestServer& server) {
  const v1::PushResponse first =
      server.push(Batch("a", 1)
                      .insert("household", "a1", household(), stamp(-90))
                      .insert("household", "b1", household(kOtherVillage), stamp(-80))
                      .insert("household", "a2", household(), stamp(-70)));
  const std::int64_t after_first = first.outcomes(2).seq();
  server.push(Batch("a", 2)
                  .update("household", "a1", "phone", "0811", stamp(-60), 0)
                  .update("household", "b1", "phone", "0822", stamp(-50), 0)
                  .remove("household", "a2", stamp(-40), 0));
  // A concurrent edit of b1's phone from a device that had not seen "0822".
  const v1::PushResponse conflicting = server.push(
      Batch("b", 1).update("household", "b1", "phone", "0833", stamp(-55), after_first));
  REQUIRE(conflicting.conflicts_size() == 1);
  return after_first;
}

}  // namespace

TEST_CASE("store: a scan reads each scope from its own cursor, in seq order across scopes",
          "[server]") {
  TestServer server;
  const std::int64_t after_first = two_villages(server);
  const std::string dir = server.data_dir();

  const std::vector<Visited> village = scan(dir, {{kVillage, 0}});
  CHECK(only_of(village, kVillage));
  CHECK(in_seq_order(village));
  // a1 is new to a cursor of 0: one kRow, its later phone included; a2 is gone.
  REQUIRE(village.size() == 2);
  CHECK(std::get<1>(village[0]) == "row");
  CHECK(std::get<3>(village[0]) == "a1");
  CHECK(std::get<1>(village[1]) == "tombstone");
  CHECK(std::get<3>(village[1]) == "a2");

  const std::vector<Visited> other = scan(dir, {{kOtherVillage, after_first}});
  CHECK(only_of(other, kOtherVillage));
  CHECK(in_seq_order(other));
  // b1 was inserted before the cursor: its phone cell as a cell, then the conflict.
  REQUIRE(other.size() == 2);
  CHECK(other[0] == Visited{std::get<0>(other[0]), "cell", kOtherVillage, "b1", "phone"});
  CHECK(std::get<1>(other[1]) == "conflict");

  // Both, from different cursors: the union of the two scans, merged by seq.
  const std::vector<Visited> both = scan(dir, {{kVillage, 0}, {kOtherVillage, after_first}});
  CHECK(in_seq_order(both));
  CHECK(both.size() == village.size() + other.size());
  for (const Visited& v : village) CHECK(std::count(both.begin(), both.end(), v) == 1);
  for (const Visited& v : other) CHECK(std::count(both.begin(), both.end(), v) == 1);

  CHECK(scan(dir, {}).empty());
  CHECK(scan(dir, {{"no such village", 0}}).empty());
  CHECK(scan(dir, {{kVillage, 1000}}).empty());
}

TEST_CASE("store: a row new to the reader comes once, whole, with its current cells", "[server]") {
  TestServer server;
  // Two rows inserted one after the other (each a run of seqs), then an edit
  // of the first, whose cell leaves a gap in its run and comes after the
  // second row's.
  const Row row = household();
  const v1::PushResponse inserted = server.push(Batch("a", 1)
                                                    .insert("household", "h1", row, stamp(-90))
                                                    .insert("household", "h2", row, stamp(-90)));
  server.push(Batch("a", 2).update("household", "h1", "phone", "0811", stamp(-60),
                                   inserted.outcomes(1).seq()));
  Result<std::unique_ptr<server::SqliteStore>> store = server::SqliteStore::open(server.data_dir());
  REQUIRE(store.is_ok());
  std::vector<std::pair<std::string, std::map<std::string, Value>>> rows;  // kRow items
  std::vector<std::int64_t> seqs;
  const Status read = (*store)->read([&](server::ReadTransaction& txn) {
    return txn.scan_changes({{kVillage, 0}}, {}, [&](const server::ChangeItem& item) {
      CHECK(item.kind == server::ChangeItem::Kind::kRow);
      std::map<std::string, Value> cells;
      for (const server::StoredCell& cell : item.cells) cells[cell.column] = cell.cell.value;
      rows.emplace_back(item.row_id, std::move(cells));
      seqs.push_back(item.seq);
      return true;
    });
  });
  REQUIRE(read.is_ok());
  CHECK(std::is_sorted(seqs.begin(), seqs.end()));
  // h1 (its new phone included), then h2; h1's later cell brings no repeat.
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].first == "h1");
  CHECK(rows[1].first == "h2");
  // Every column has a cell (null when the insert left it out).
  CHECK(rows[0].second.size() > row.size());
  CHECK(rows[1].second.size() == rows[0].second.size());
  CHECK(rows[0].second.at("phone") == Value("0811"));
  CHECK(rows[1].second.at("id") == Value("h2"));
  for (const auto& [column, value] : row) CHECK(rows[1].second.at(column) == value);
}

TEST_CASE("store: a household moved to another village leaves one village's log for the other's",
          "[server]") {
  TestServer server;
  const std::int64_t inserted =
      server.push(Batch("a", 1).insert("household", "h1", household(), stamp(-90)))
          .outcomes(0)
          .seq();
  // Its scope column cannot change: the other village's log stays empty.
  const v1::PushResponse moved = server.push(
      Batch("a", 2).update("household", "h1", "village_id", kOtherVillage, stamp(-80), inserted));
  REQUIRE(moved.outcomes(0).outcome() == v1::OUTCOME_REFUSED);
  CHECK(scan(server.data_dir(), {{kOtherVillage, 0}}).empty());
  // Moved the way the refusal says: deleted, and inserted anew over there.
  server.push(Batch("a", 3)
                  .remove("household", "h1", stamp(-70), inserted)
                  .insert("household", "h1-moved", household(kOtherVillage), stamp(-70)));
  const std::vector<Visited> left = scan(server.data_dir(), {{kVillage, inserted}});
  REQUIRE(left.size() == 1);
  CHECK(std::get<1>(left[0]) == "tombstone");
  CHECK(std::get<3>(left[0]) == "h1");
  const std::vector<Visited> entered = scan(server.data_dir(), {{kOtherVillage, inserted}});
  REQUIRE(entered.size() == 1);
  CHECK(std::get<1>(entered[0]) == "row");
  CHECK(std::get<3>(entered[0]) == "h1-moved");
  // A device of the other village gets the whole row.
  const v1::PullPage page = server.pull("c", {{kVillage, inserted}, {kOtherVillage, inserted}});
  REQUIRE(page.rows_size() == 2);
  CHECK(page.rows(0).deleted());
  CHECK(page.rows(1).row_id() == "h1-moved");
  CHECK(page.rows(1).values_size() ==
        page.tables(static_cast<int>(page.rows(1).table())).columns_size());
}

TEST_CASE("store: a store of format 3 is upgraded in place, its log read per scope", "[server]") {
  TestServer server;
  const std::int64_t after_first = two_villages(server);
  const std::string dir = server.data_dir();
  const std::string before = server.dump();
  const server::ScopeCursors cursors = {{kVillage, 0}, {kOtherVillage, after_first}};
  const std::vector<Visited> scanned = scan(dir, cursors);
  const v1::PullPage pulled = server.pull("c");
  server.server.reset();
  downgrade_to_7(dir);
  rewrite_store(dir, kDowngradeTo6);
  rewrite_store(dir, kDowngradeTo5);
  rewrite_store(dir, kDowngradeTo4);
  rewrite_store(dir, kDowngradeTo3);

  server.open();
  CHECK(server.dump() == before);
  CHECK(scan(dir, cursors) == scanned);
  CHECK(server.pull("c").SerializeAsString() == pulled.SerializeAsString());
  // New writes land in their scope's log beside the upgraded ones.
  const std::int64_t later =
      server.push(Batch("a", 3).update("household", "b1", "dusun", "Krajan", stamp(-10), 0))
          .outcomes(0)
          .seq();
  const std::vector<Visited> other = scan(dir, {{kOtherVillage, after_first}});
  REQUIRE(other.size() == 3);
  CHECK(other[2] == Visited{later, "cell", kOtherVillage, "b1", "dusun"});
}

TEST_CASE("store: a conflict stored with a policy or outcome of no known name is corrupt",
          "[server]") {
  TestServer server;
  const std::int64_t after_first = two_villages(server);
  const std::string dir = server.data_dir();
  server.server.reset();
  const std::string column = GENERATE(as<std::string>{}, "policy", "outcome");
  // Conflict ids are random: the test's one becomes 1.
  rewrite_store(dir,
                ("UPDATE _lumbung_conflicts SET id = 1, " + column + " = 'Server_Kept'").c_str());

  Result<std::unique_ptr<server::SqliteStore>> store = server::SqliteStore::open(dir);
  REQUIRE(store.is_ok());
  const std::string expected = "store: conflict 1 has an unknown " + column + " 'Server_Kept'";
  const Status read =
      (*store)->read([](server::ReadTransaction& txn) { return txn.conflict(1).status(); });
  CHECK(read.code() == ErrorCode::kCorrupt);
  CHECK(read.message() == expected);
  const Status scanned = (*store)->read([&](server::ReadTransaction& txn) {
    return txn.scan_changes({{kOtherVillage, after_first}}, {},
                            [](const server::ChangeItem&) { return true; });
  });
  CHECK(scanned.code() == ErrorCode::kCorrupt);
  CHECK(scanned.message() == expected);
}

TEST_CASE("store: a group commits the bodies that succeed, and one that fails changes nothing",
          "[server]") {
  TempDir dir;
  Result<std::unique_ptr<server::SqliteStore>> store = server::SqliteStore::open(dir.file("s"));
  REQUIRE(store.is_ok());
  const core::Schema schema = *core::load_schema(core::builtin_schema_text(), "built-in");
  REQUIRE((*store)->adopt_schema(schema).is_ok());
  // Inserts household `id` of kVillage with its id and village (its other
  // cells NULL).
  const auto insert = [](server::WriteTransaction& txn, const std::string& id) {
    const std::int64_t seq = txn.next_seq();
    const core::ServerVersion version{.stamp = {stamp(0), "d"}, .seq = seq};
    return txn.insert_row(
        "household", id, kVillage, seq,
        {{"id", {Value(id), version}}, {"village_id", {Value(kVillage), version}}});
  };
  // What a household inserted so adds to its village's checksum.
  const auto checksum_of = [&](const std::string& id) {
    std::uint64_t sum = 0;
    for (const core::Column& column : schema.find_table("household")->columns) {
      const Value value = column.name == "id"           ? Value(id)
                          : column.name == "village_id" ? Value(kVillage)
                                                        : Value();
      sum += core::cell_hash("household", id, column.name, value);
    }
    return sum;
  };
  std::int64_t seen_by_third = 0;
  const std::vector<Status> statuses = (*store)->write_group({
      [&](server::WriteTransaction& txn) { return insert(txn, "r1"); },
      [&](server::WriteTransaction& txn) {
        LUMBUNG_RETURN_IF_ERROR(insert(txn, "r2"));
        return Status(ErrorCode::kInvalidArgument, "this body fails");
      },
      [&](server::WriteTransaction& txn) {
        Result<std::int64_t> last = txn.last_seq();
        if (!last.is_ok()) return last.status();
        seen_by_third = *last;
        return insert(txn, "r3");
      },
  });
  REQUIRE(statuses.size() == 3);
  CHECK(statuses[0].is_ok());
  CHECK(statuses[1].code() == ErrorCode::kInvalidArgument);
  CHECK(statuses[2].is_ok());
  CHECK(seen_by_third == 1);  // the first body's seq; the second's was rolled back
  REQUIRE((*store)
              ->read([&](server::ReadTransaction& txn) {
                CHECK(*txn.last_seq() == 2);
                CHECK(txn.row("household", "r1")->has_value());
                CHECK(!txn.row("household", "r2")->has_value());
                CHECK(txn.row("household", "r3")->has_value());
                const std::vector<server::ScopeState> scopes = *txn.scopes();
                REQUIRE(scopes.size() == 1);
                CHECK(scopes[0].live_rows == 2);
                CHECK(scopes[0].checksum == checksum_of("r1") + checksum_of("r3"));
                return Status::ok();
              })
              .is_ok());
}

}  // namespace lumbung::test
