// The capture log (decision 0016): the replica's own writes are logged and
// folded into the outbox later, with the same outbox as if the triggers had
// captured each write when it was made, however they interleave with writes
// of other connections; and a write whose capture fails takes its
// transaction with it.
#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "support/test_support.hpp"

using namespace lumbung;
using lumbung::test::PlainConnection;
using lumbung::test::TempDir;

namespace {

// The outbox without its stamps: which cells and rows are pending, how, and
// from which server version.
std::multiset<std::string> pending_without_stamps(Replica& replica) {
  Result<std::vector<PendingChange>> changes = replica.pending_changes();
  REQUIRE(changes.is_ok());
  std::multiset<std::string> entries;
  for (const PendingChange& c : *changes) {
    entries.insert(c.table + "/" + c.row_id + "/" + c.column + " kind " +
                   std::to_string(static_cast<int>(c.kind)) + " base " +
                   std::to_string(c.base_seq));
  }
  return entries;
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

// One replica written only with plain SQL (every write captured by the
// triggers: the reference) and one written by the same operations, each
// through the API or plain SQL at random.
struct Twins {
  TempDir dir;
  std::string mixed_path = dir.file("mixed.db");
  std::string reference_path = dir.file("reference.db");
  std::unique_ptr<Replica> mixed =
      lumbung::test::open_replica(lumbung::test::options_for(mixed_path));
  std::unique_ptr<Replica> reference =
      lumbung::test::open_replica(lumbung::test::options_for(reference_path));
  PlainConnection mixed_sql{mixed_path};
  PlainConnection reference_sql{reference_path};
  std::mt19937 rng;

  explicit Twins(unsigned seed) : rng(seed) {}

  bool coin() { return rng() % 2 == 0; }

  // Runs `sql` on the reference, and on the mixed replica unless `api` did it.
  void apply(const std::string& sql, const std::function<Status()>& api) {
    REQUIRE(reference_sql.exec(sql) == "");
    if (coin()) {
      REQUIRE(api().is_ok());
    } else {
      REQUIRE(mixed_sql.exec(sql) == "");
    }
  }
};

}  // namespace

TEST_CASE("API writes folded later leave the outbox the triggers would have left", "[replica]") {
  for (unsigned seed = 1; seed <= 8; ++seed) {
    INFO("seed " << seed);
    Twins t(seed);
    const std::vector<std::string> ids = {"p1", "p2", "p3", "p4"};
    const std::vector<std::string> villages = {"v1", "v2"};
    const std::vector<std::string> values = {"a", "b", "c"};
    const std::vector<std::string> columns = {"phone", "skills", "full_name"};
    std::set<std::string> live;
    std::int64_t cursor = 0;
    for (int op = 0; op < 300; ++op) {
      const std::string id = ids[t.rng() % ids.size()];
      const std::string value = values[t.rng() % values.size()];
      const std::string village = villages[t.rng() % villages.size()];
      switch (t.rng() % 6) {
        case 0:  // insert, or delete when the row is there
          if (!live.count(id)) {
            t.apply(
                "INSERT INTO person (id, village_id, full_name, created_by, created_at) "
                "VALUES (" +
                    quoted(id) + ", " + quoted(village) + ", " + quoted(value) +
                    ", 'sri', '2026-11-29')",
                [&] {
                  return t.mixed->insert("person", {{"id", id},
                                                    {"village_id", village},
                                                    {"full_name", value},
                                                    {"created_by", "sri"},
                                                    {"created_at", "2026-11-29"}});
                });
            live.insert(id);
          } else {
            t.apply("DELETE FROM person WHERE id = " + quoted(id),
                    [&] { return t.mixed->remove("person", id); });
            live.erase(id);
          }
          break;
        case 1:
        case 2: {  // one cell, often to the value it has
          if (!live.count(id)) break;
          const std::string column = columns[t.rng() % columns.size()];
          t.apply(
              "UPDATE person SET " + column + " = " + quoted(value) + " WHERE id = " + quoted(id),
              [&] {
                return t.mixed->update("person", id, {{column, value}});
              });
          break;
        }
        case 3:  // two cells
          if (!live.count(id)) break;
          t.apply("UPDATE person SET phone = " + quoted(value) +
                      ", skills = 'tani' WHERE id = " + quoted(id),
                  [&] {
                    return t.mixed->update("person", id, {{"phone", value}, {"skills", "tani"}});
                  });
          break;
        case 4:  // a move to another village, with an edit
          if (!live.count(id)) break;
          t.apply(
              "UPDATE person SET village_id = " + quoted(village) + ", phone = " + quoted(value) +
                  " WHERE id = " + quoted(id),
              [&] {
                return t.mixed->update("person", id, {{"village_id", village}, {"phone", value}});
              });
          break;
        case 5:  // what a pull does: fold, then move a scope's cursor
          if (t.coin()) {
            (void)pending_without_stamps(*t.mixed);
            cursor += 10;
            const std::string sql =
                "INSERT OR REPLACE INTO _lumbung_scope (scope, cursor) VALUES (" + quoted(village) +
                ", " + std::to_string(cursor) + ")";
            REQUIRE(t.mixed_sql.exec(sql) == "");
            REQUIRE(t.reference_sql.exec(sql) == "");
          }
          break;
      }
    }
    CHECK(pending_without_stamps(*t.mixed) == pending_without_stamps(*t.reference));
    CHECK(*t.mixed->dump_json() == *t.reference->dump_json());
    // The stamps are in the order of the writes on both.
    CHECK(t.mixed_sql.scalar("SELECT count(*) FROM _lumbung_log") == 0);
    CHECK(t.mixed_sql.scalar("SELECT hlc FROM _lumbung_clock") ==
          t.mixed_sql.scalar("SELECT max(hlc) FROM _lumbung_outbox"));
  }
}

TEST_CASE("a write whose capture fails rolls back the caller's transaction", "[replica]") {
  TempDir dir;
  const std::string path = dir.file("replica.db");
  std::unique_ptr<Replica> replica = lumbung::test::open_replica(lumbung::test::options_for(path));
  REQUIRE(replica
              ->insert("person", {{"id", "p1"},
                                  {"village_id", "v1"},
                                  {"full_name", "Siti"},
                                  {"created_by", "sri"},
                                  {"created_at", "2026-11-29"}})
              .is_ok());
  {
    // A log that refuses every row: the update goes through, its capture not.
    PlainConnection plain(path);
    REQUIRE(plain.exec("DROP TABLE _lumbung_log; CREATE TABLE _lumbung_log (seq INTEGER PRIMARY "
                       "KEY, tbl, row_id, col, op, hlc, scope, CHECK (tbl IS NULL))") == "");
  }
  Status update_status;
  const Status status = replica->transaction([&]() -> Status {
    update_status = replica->update("person", "p1", {{"phone", "0812"}});
    return Status::ok();  // a caller that carries on regardless
  });
  CHECK(!update_status.is_ok());
  CHECK(!status.is_ok());
  CHECK(status.message().find("rolled back") != std::string::npos);
  CHECK(replica->get("person", "p1")->value().at("phone").is_null());
  // Outside a transaction the write and its capture are one anyway.
  CHECK(!replica->update("person", "p1", {{"phone", "0813"}}).is_ok());
  CHECK(replica->get("person", "p1")->value().at("phone").is_null());
}
