// Pushes against a real SyncServer: the merge rule with every policy of the
// Desmigratif schema, deletes against edits, validation that refuses one
// change without blocking the rest, exactly-once batches and clock skew.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <thread>
#include <vector>

#include "server/server_fixture.hpp"

using namespace lumbung;
using namespace lumbung::test;

namespace {

Row village() {
  return {{"village_id", kVillage},    {"kode_wilayah", "3301010001"}, {"name", "Sukamaju"},
          {"kecamatan", "Kedungreja"}, {"kabupaten", "Cilacap"},       {"provinsi", "Jawa Tengah"},
          {"cohort_year", 2017}};
}

Row person(const char* migrant_status) {
  return {{"village_id", kVillage},
          {"full_name", "Siti Aminah"},
          {"migrant_status", migrant_status},
          {"created_by", "sri"},
          {"created_at", "2026-11-28T04:00:00Z"}};
}

Row document(int verified) {
  return {{"village_id", kVillage}, {"person_id", "p1"},   {"doc_type", "PASPOR"},
          {"verified", verified},   {"created_by", "sri"}, {"created_at", "2026-11-28T04:00:00Z"}};
}

// Device "a" inserts a row; returns the seq the server state has after it,
// which a device that pulled it would use as its base.
std::int64_t seed(TestServer& server, const std::string& table, const std::string& id,
                  const Row& cells, std::uint64_t batch = 1) {
  const v1::PushResponse response =
      server.push(Batch("a", batch).insert(table, id, cells, stamp(-60000)));
  REQUIRE(response.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  return response.outcomes(0).seq();
}

std::optional<Value> current(const v1::ChangeOutcome& outcome, const std::string& column) {
  for (const v1::Cell& cell : outcome.current()) {
    if (cell.column() == column) return protocol::from_wire(cell.value());
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("push: an insert writes every column and the server holds the row", "[server]") {
  TestServer server;
  const v1::PushResponse response =
      server.push(Batch("a", 1).insert("household", "h1", household(), stamp(-1000)));
  CHECK(response.batch() == 1);
  REQUIRE(response.outcomes_size() == 1);
  CHECK(response.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  CHECK(response.outcomes(0).seq() == 1);  // one seq for the whole row
  CHECK(response.conflicts_size() == 0);
  CHECK(response.server_hlc() > stamp(-1000).packed());
  const std::string dump = server.dump();
  CHECK(dump.find(R"("h1":{"created_at":"2026-11-28T04:00:00Z","created_by":"sri",)"
                  R"("dusun":null,"head_name":"Siti Aminah","id":"h1","latitude":null,)") !=
        std::string::npos);
}

TEST_CASE("push: concurrent edits are decided by last-writer-wins and recorded as conflicts",
          "[server]") {
  TestServer server;
  const std::int64_t base = seed(server, "household", "h1", household());
  // "a" edits again on top of its own write: no conflict.
  v1::PushResponse own =
      server.push(Batch("a", 2).update("household", "h1", "phone", "0811", stamp(-5000), 0));
  CHECK(own.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  CHECK(own.conflicts_size() == 0);

  // "b" edited the phone from `base` too, at an earlier time: it loses.
  v1::PushResponse older =
      server.push(Batch("b", 1).update("household", "h1", "phone", "0822", stamp(-6000), base));
  const v1::ChangeOutcome& lost = older.outcomes(0);
  CHECK(lost.outcome() == v1::OUTCOME_SUPERSEDED);
  CHECK(lost.seq() == 0);
  CHECK(current(lost, "phone") == Value("0811"));
  CHECK(current(lost, "head_name") == Value("Siti Aminah"));
  REQUIRE(older.conflicts_size() == 1);
  const v1::Conflict& conflict = older.conflicts(0);
  CHECK(lost.conflict_id() == conflict.id());
  CHECK(conflict.table() == "household");
  CHECK(conflict.row_id() == "h1");
  CHECK(conflict.column() == "phone");
  CHECK(conflict.policy() == "last_writer_wins");
  CHECK(conflict.outcome() == "server_kept");
  CHECK(protocol::from_wire(conflict.server_value()) == Value("0811"));
  CHECK(conflict.server_device() == "a");
  CHECK(conflict.server_hlc() == stamp(-5000).packed());
  CHECK(protocol::from_wire(conflict.device_value()) == Value("0822"));
  CHECK(conflict.device_id() == "b");
  CHECK(conflict.device_hlc() == stamp(-6000).packed());
  CHECK(conflict.scope() == kVillage);

  // "c" edited it later than "a": it wins, and that is a conflict too.
  v1::PushResponse newer =
      server.push(Batch("c", 1).update("household", "h1", "phone", "0833", stamp(-1000), base));
  CHECK(newer.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  CHECK(newer.outcomes(0).seq() > 0);
  REQUIRE(newer.conflicts_size() == 1);
  CHECK(newer.conflicts(0).outcome() == "device_applied");
  CHECK(server.dump().find(R"("phone":"0833")") != std::string::npos);
}

TEST_CASE("push: an edit made on top of the server's version is applied without a conflict",
          "[server]") {
  TestServer server;
  seed(server, "household", "h1", household());
  server.push(Batch("a", 2).update("household", "h1", "phone", "0811", stamp(-5000), 0));
  const std::int64_t seen = cursors_of(server.pull("b"))[kVillage];
  // b's clock is behind, but it had pulled a's phone before editing.
  const v1::PushResponse response =
      server.push(Batch("b", 1).update("household", "h1", "phone", "0822", stamp(-30000), seen));
  CHECK(response.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  CHECK(response.conflicts_size() == 0);
  CHECK(server.dump().find(R"("phone":"0822")") != std::string::npos);
}

TEST_CASE("push: concurrent equal values are not a conflict", "[server]") {
  TestServer server;
  const std::int64_t base = seed(server, "household", "h1", household());
  server.push(Batch("a", 2).update("household", "h1", "phone", "0811", stamp(-5000), 0));
  const v1::PushResponse loses =
      server.push(Batch("b", 1).update("household", "h1", "phone", "0811", stamp(-6000), base));
  CHECK(loses.outcomes(0).outcome() == v1::OUTCOME_SUPERSEDED);
  CHECK(loses.conflicts_size() == 0);
  const v1::PushResponse wins =
      server.push(Batch("c", 1).update("household", "h1", "phone", "0811", stamp(-1000), base));
  CHECK(wins.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  CHECK(wins.conflicts_size() == 0);
}

TEST_CASE("push: server_wins keeps the server's value against a newer device edit", "[server]") {
  TestServer server;
  const std::int64_t base = seed(server, "village", kVillage, village());
  server.push(Batch("a", 2).update("village", kVillage, "name", "Suka Maju", stamp(-5000), 0));
  const v1::PushResponse response = server.push(
      Batch("b", 1).update("village", kVillage, "name", "Sukamakmur", stamp(-1000), base));
  CHECK(response.outcomes(0).outcome() == v1::OUTCOME_SUPERSEDED);
  REQUIRE(response.conflicts_size() == 1);
  CHECK(response.conflicts(0).policy() == "server_wins");
  CHECK(response.conflicts(0).outcome() == "server_kept");
  CHECK(current(response.outcomes(0), "name") == Value("Suka Maju"));
}

TEST_CASE("push: first_writer_wins when 1 keeps a verification, last-writer-wins otherwise",
          "[server]") {
  TestServer server;
  const std::int64_t base = seed(server, "document", "d1", document(0));
  server.push(Batch("a", 2).update("document", "d1", "verified", 1, stamp(-5000), 0));
  // Verified on the server: a concurrent un-verify loses even with a newer stamp.
  v1::PushResponse kept =
      server.push(Batch("b", 1).update("document", "d1", "verified", 0, stamp(-1000), base));
  CHECK(kept.outcomes(0).outcome() == v1::OUTCOME_SUPERSEDED);
  REQUIRE(kept.conflicts_size() == 1);
  CHECK(kept.conflicts(0).policy() == "first_writer_wins");
  CHECK(kept.conflicts(0).outcome() == "server_kept");

  // Not verified on the server: the later of two concurrent edits wins.
  const std::int64_t base2 = seed(server, "document", "d2", document(1), 3);
  server.push(Batch("a", 4).update("document", "d2", "verified", 0, stamp(-5000), 0));
  v1::PushResponse older =
      server.push(Batch("b", 2).update("document", "d2", "verified", 1, stamp(-6000), base2));
  CHECK(older.outcomes(0).outcome() == v1::OUTCOME_SUPERSEDED);
  REQUIRE(older.conflicts_size() == 1);
  CHECK(older.conflicts(0).policy() == "last_writer_wins");
  v1::PushResponse newer =
      server.push(Batch("c", 1).update("document", "d2", "verified", 1, stamp(-1000), base2));
  CHECK(newer.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  REQUIRE(newer.conflicts_size() == 1);
  CHECK(newer.conflicts(0).policy() == "last_writer_wins");
  CHECK(newer.conflicts(0).outcome() == "device_applied");
}

TEST_CASE("push: manual_review keeps the server's value pending review", "[server]") {
  TestServer server;
  const std::int64_t base = seed(server, "person", "p1", person("CALON"));
  server.push(Batch("a", 2).update("person", "p1", "migrant_status", "AKTIF", stamp(-5000), 0));
  const v1::PushResponse response = server.push(
      Batch("b", 1).update("person", "p1", "migrant_status", "PURNA", stamp(-1000), base));
  CHECK(response.outcomes(0).outcome() == v1::OUTCOME_SUPERSEDED);
  REQUIRE(response.conflicts_size() == 1);
  CHECK(response.conflicts(0).policy() == "manual_review");
  CHECK(response.conflicts(0).outcome() == "pending_review");
  CHECK(protocol::from_wire(response.conflicts(0).server_value()) == Value("AKTIF"));
  CHECK(protocol::from_wire(response.conflicts(0).device_value()) == Value("PURNA"));
}

TEST_CASE("push: an edit of a row deleted concurrently is superseded: deletes win", "[server]") {
  TestServer server;
  const std::int64_t base = seed(server, "household", "h1", household());
  const v1::PushResponse deleted =
      server.push(Batch("a", 2).remove("household", "h1", stamp(-5000), base));
  CHECK(deleted.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  CHECK(deleted.conflicts_size() == 0);

  const v1::PushResponse edit =
      server.push(Batch("b", 1).update("household", "h1", "phone", "0822", stamp(-1000), base));
  const v1::ChangeOutcome& outcome = edit.outcomes(0);
  CHECK(outcome.outcome() == v1::OUTCOME_SUPERSEDED);
  CHECK(outcome.row_deleted());
  CHECK(outcome.current_size() == 0);
  REQUIRE(edit.conflicts_size() == 1);
  CHECK(edit.conflicts(0).policy() == "delete_wins");
  CHECK(edit.conflicts(0).outcome() == "server_kept");
  CHECK(edit.conflicts(0).column() == "phone");
  CHECK(edit.conflicts(0).server_device() == "a");

  // An insert of the deleted row is superseded too; a delete of it changes nothing.
  const v1::PushResponse again = server.push(Batch("b", 2)
                                                 .insert("household", "h1", household(), stamp(0))
                                                 .remove("household", "h1", stamp(1), base));
  CHECK(again.outcomes(0).outcome() == v1::OUTCOME_SUPERSEDED);
  CHECK(again.outcomes(0).row_deleted());
  CHECK(again.outcomes(1).outcome() == v1::OUTCOME_SUPERSEDED);
  CHECK(again.outcomes(1).row_deleted());
  CHECK(server.dump().find("\"h1\"") == std::string::npos);
}

TEST_CASE("push: a delete of a row edited concurrently is applied and recorded", "[server]") {
  TestServer server;
  const std::int64_t base = seed(server, "household", "h1", household());
  server.push(Batch("a", 2).update("household", "h1", "phone", "0811", stamp(-5000), 0));
  const v1::PushResponse response =
      server.push(Batch("b", 1).remove("household", "h1", stamp(-10000), base));
  CHECK(response.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  CHECK(response.outcomes(0).seq() > 0);
  REQUIRE(response.conflicts_size() == 1);
  const v1::Conflict& conflict = response.conflicts(0);
  CHECK(conflict.policy() == "delete_wins");
  CHECK(conflict.outcome() == "device_applied");
  CHECK(conflict.column().empty());
  CHECK(conflict.server_device() == "a");
  CHECK(conflict.server_hlc() == stamp(-5000).packed());
  CHECK(server.dump().find("\"h1\"") == std::string::npos);
}

TEST_CASE("push: a delete of a row never inserted is superseded", "[server]") {
  TestServer server;
  const v1::PushResponse response =
      server.push(Batch("a", 1).remove("household", "nope", stamp(0), 0));
  CHECK(response.outcomes(0).outcome() == v1::OUTCOME_SUPERSEDED);
  CHECK(response.outcomes(0).row_deleted());
}

TEST_CASE("push: a change of a row sees what an earlier change of the same batch made of it",
          "[server]") {
  TestServer server;
  // The rows a batch names are read before it merges; each change after the
  // first of its row must see the row as the ones before left it.
  const v1::PushResponse response =
      server.push(Batch("a", 1)
                      .insert("household", "h1", household(), stamp(-4000))
                      .update("household", "h1", "phone", "0811", stamp(-3000), 0)
                      .insert("household", "h2", household(), stamp(-2000))
                      .remove("household", "h2", stamp(-1000), 0)
                      .update("household", "h2", "phone", "0822", stamp(0), 0));
  REQUIRE(response.outcomes_size() == 5);
  for (int i = 0; i < 4; ++i) {
    INFO(i);
    CHECK(response.outcomes(i).outcome() == v1::OUTCOME_APPLIED);
  }
  CHECK(response.outcomes(4).outcome() == v1::OUTCOME_SUPERSEDED);
  CHECK(response.outcomes(4).row_deleted());
  const std::string dump = server.dump();
  CHECK(dump.find(R"("phone":"0811")") != std::string::npos);
  CHECK(dump.find("\"h2\"") == std::string::npos);
}

TEST_CASE("push: an insert of an existing row merges cell by cell", "[server]") {
  TestServer server;
  Row first = household();
  first["phone"] = "0811";
  seed(server, "household", "h1", first);
  Row second = household();
  second["phone"] = "0822";
  second["dusun"] = "Krajan";
  second["head_name"] = "Siti Aminah";  // the same value: no conflict
  // Concurrent (base 0) and newer: each differing cell wins, with a conflict.
  v1::PushResponse newer =
      server.push(Batch("b", 1).insert("household", "h1", second, stamp(-1000)));
  CHECK(newer.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  CHECK(newer.conflicts_size() == 2);  // dusun (was null) and phone
  // Concurrent and older: superseded, with the server's row to show.
  Row third = household();
  third["phone"] = "0833";
  v1::PushResponse older =
      server.push(Batch("c", 1).insert("household", "h1", third, stamp(-90000)));
  CHECK(older.outcomes(0).outcome() == v1::OUTCOME_SUPERSEDED);
  CHECK(current(older.outcomes(0), "phone") == Value("0822"));
  CHECK(current(older.outcomes(0), "dusun") == Value("Krajan"));
  // The same id in another scope is refused: a row's scope never changes.
  v1::PushResponse moved =
      server.push(Batch("d", 1).insert("household", "h1", household(kOtherVillage), stamp(-1000)));
  CHECK(moved.outcomes(0).outcome() == v1::OUTCOME_REFUSED);
  CHECK(moved.outcomes(0).reason() == v1::REFUSAL_REASON_CONSTRAINT);
}

TEST_CASE("push: invalid changes are refused one by one and never block the others", "[server]") {
  TestServer server;
  Row wrong_type = household();
  wrong_type["latitude"] = "north";
  Row missing = household();
  missing.erase("created_by");
  Row bad_check = person("CALON");
  bad_check["sex"] = "X";
  Batch batch("a", 1);
  batch
      .insert("household", "h1", household(), stamp(0))                     // 1
      .insert("household", "h2", wrong_type, stamp(0))                      // 2
      .insert("household", "h3", missing, stamp(0))                         // 3
      .insert("person", "p1", bad_check, stamp(0))                          // 4
      .insert("housholds", "x1", household(), stamp(0))                     // 5
      .update("household", "h1", "nik2", "3301", stamp(1), 0)               // 6
      .update("household", "h1", "head_name", "Sri Wahyuni", stamp(2), 0)   // 7
      .update("household", "h1", "created_by", Value(), stamp(3), 0)        // 8
      .update("household", "h1", "village_id", kOtherVillage, stamp(4), 0)  // 9
      .update("household", "h1", "id", "h9", stamp(5), 0)                   // 10
      .update("household", "h404", "phone", "0811", stamp(6), 0)            // 11
      .update("household", "h1", "latitude", 7, stamp(7), 0);               // 12
  const v1::PushResponse response = server.push(batch);
  REQUIRE(response.outcomes_size() == 12);
  const auto refused = [&](std::uint32_t id, v1::RefusalReason reason, const std::string& text) {
    const v1::ChangeOutcome& o = outcome(response, id);
    INFO("change " << id << ": " << o.message());
    CHECK(o.outcome() == v1::OUTCOME_REFUSED);
    CHECK(o.reason() == reason);
    CHECK(o.message().find(text) != std::string::npos);
    CHECK(o.seq() == 0);
  };
  CHECK(outcome(response, 1).outcome() == v1::OUTCOME_APPLIED);
  refused(2, v1::REFUSAL_REASON_TYPE_MISMATCH,
          "table 'household': column 'latitude': expected real");
  refused(3, v1::REFUSAL_REASON_CONSTRAINT, "column 'created_by' is NOT NULL");
  refused(4, v1::REFUSAL_REASON_CONSTRAINT, "CHECK failed: sex IN ('L','P')");
  refused(5, v1::REFUSAL_REASON_UNKNOWN_TABLE, "unknown table 'housholds'");
  refused(6, v1::REFUSAL_REASON_UNKNOWN_COLUMN, "table 'household': unknown column 'nik2'");
  CHECK(outcome(response, 7).outcome() == v1::OUTCOME_APPLIED);
  refused(8, v1::REFUSAL_REASON_CONSTRAINT, "column 'created_by' is NOT NULL");
  refused(9, v1::REFUSAL_REASON_CONSTRAINT, "column 'village_id' cannot change");
  refused(10, v1::REFUSAL_REASON_CONSTRAINT, "the id of a row cannot change");
  refused(11, v1::REFUSAL_REASON_NO_SUCH_ROW, "no row 'h404'");
  // An integer into a REAL column is coerced, as SQLite would.
  CHECK(outcome(response, 12).outcome() == v1::OUTCOME_APPLIED);

  const std::string dump = server.dump();
  CHECK(dump.find("\"h1\"") != std::string::npos);
  CHECK(dump.find(R"("head_name":"Sri Wahyuni")") != std::string::npos);
  CHECK(dump.find(R"("latitude":7.0)") != std::string::npos);
  for (const char* absent : {"\"h2\"", "\"h3\"", "\"p1\"", "\"x1\"", "\"h9\"", "\"h404\""}) {
    CHECK(dump.find(absent) == std::string::npos);
  }
}

TEST_CASE("push: malformed changes are refused with a reason", "[server]") {
  TestServer server;
  Batch batch("a", 1);
  batch.insert("household", "h1", household(), stamp(0));
  v1::PushRequest& request = batch.request();
  v1::Change* no_table = request.add_changes();
  no_table->set_id(2);
  no_table->set_table(7);
  no_table->set_row_id("h1");
  no_table->set_op(v1::CHANGE_OP_DELETE);
  v1::Change* two_cells = request.add_changes();
  *two_cells = request.changes(0);
  two_cells->set_id(3);
  two_cells->set_op(v1::CHANGE_OP_UPDATE);
  v1::Change* no_op = request.add_changes();
  *no_op = request.changes(0);
  no_op->set_id(4);
  no_op->set_op(v1::CHANGE_OP_UNSPECIFIED);
  const v1::PushResponse response = server.push(batch);
  CHECK(outcome(response, 1).outcome() == v1::OUTCOME_APPLIED);
  for (std::uint32_t id : {2u, 3u, 4u}) {
    CHECK(outcome(response, id).outcome() == v1::OUTCOME_REFUSED);
    CHECK(outcome(response, id).reason() == v1::REFUSAL_REASON_MALFORMED);
  }
}

TEST_CASE("push: a retried batch gets the same answer and applies nothing, also after a restart",
          "[server]") {
  TestServer server;
  Batch first("a", 1);
  first.insert("household", "h1", household(), stamp(-2000))
      .update("household", "h1", "phone", "0811", stamp(-1000), 0);
  const HttpResponse answer = server.call(protocol::make_request("/v1/push", first.request()));
  REQUIRE(answer.status == 200);
  const std::string dump = server.dump();
  const auto cursors = cursors_of(server.pull("b"));

  const HttpResponse retry = server.call(protocol::make_request("/v1/push", first.request()));
  CHECK(retry.status == 200);
  CHECK(retry.body == answer.body);
  CHECK(server.dump() == dump);
  CHECK(cursors_of(server.pull("b")) == cursors);

  Batch second("a", 2);
  second.update("household", "h1", "phone", "0822", stamp(-500), 0);
  const HttpResponse second_answer =
      server.call(protocol::make_request("/v1/push", second.request()));
  REQUIRE(second_answer.status == 200);
  const std::string second_dump = server.dump();
  const auto second_cursors = cursors_of(server.pull("b"));

  server.restart();
  const HttpResponse after_restart =
      server.call(protocol::make_request("/v1/push", second.request()));
  CHECK(after_restart.status == 200);
  CHECK(after_restart.body == second_answer.body);
  CHECK(server.dump() == second_dump);
  CHECK(cursors_of(server.pull("b")) == second_cursors);
}

TEST_CASE("push: a reused batch number with other changes is refused, not answered as a retry",
          "[server]") {
  TestServer server;
  server.push(Batch("a", 1).insert("household", "h1", household(), stamp(0)));
  const std::string dump = server.dump();
  // What a device restored from a backup sends: its old number, new changes.
  const HttpResponse reused = server.call(protocol::make_request(
      "/v1/push", Batch("a", 1).insert("household", "h2", household(), stamp(1)).request()));
  CHECK(reused.status == 409);
  CHECK(error_of(reused).name() == "StaleBatch");
  CHECK(server.dump() == dump);
}

TEST_CASE("push: a batch older than the last applied one is refused as stale", "[server]") {
  TestServer server;
  server.push(Batch("a", 3).insert("household", "h1", household(), stamp(0)));
  const HttpResponse stale = server.call(protocol::make_request(
      "/v1/push", Batch("a", 2).insert("household", "h2", household(), stamp(1)).request()));
  CHECK(stale.status == 409);
  CHECK(error_of(stale).name() == "StaleBatch");
  CHECK(error_of(stale).message() == "device 'a': batch 2 is older than its last applied batch 3");
  CHECK(server.dump().find("\"h2\"") == std::string::npos);
  // Another device's numbering is its own; numbers may skip.
  CHECK(server.push(Batch("b", 1).insert("household", "h3", household(), stamp(2)))
            .outcomes(0)
            .outcome() == v1::OUTCOME_APPLIED);
  CHECK(server.push(Batch("a", 7).insert("household", "h4", household(), stamp(3)))
            .outcomes(0)
            .outcome() == v1::OUTCOME_APPLIED);
}

TEST_CASE("push: a stamp too far ahead of server time is re-stamped and flagged", "[server]") {
  TestServer server;
  const std::int64_t five_minutes = 300 * 1000;
  const v1::PushResponse response =
      server.push(Batch("a", 1)
                      .insert("household", "h1", household(), stamp(five_minutes + 1000))
                      .insert("household", "h2", household(), stamp(five_minutes - 1000)));
  CHECK(response.outcomes(0).restamped());
  CHECK(!response.outcomes(1).restamped());
  // The server's clock followed the stamp within the bound, not the other.
  CHECK(core::Hlc(response.server_hlc()).physical_ms() == kNowMs + five_minutes - 1000);

  // h1's cells carry a server stamp now, so an edit made a minute from now,
  // concurrently, wins; against the device's future stamp it would have lost.
  const v1::PushResponse edit =
      server.push(Batch("b", 1).update("household", "h1", "phone", "0822", stamp(60000), 0));
  CHECK(edit.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
  REQUIRE(edit.conflicts_size() == 1);
  CHECK(edit.conflicts(0).server_hlc() < stamp(five_minutes).packed());
}

TEST_CASE("push: the server's HLC never goes back, across restarts and clock jumps", "[server]") {
  TestServer server;
  const v1::PushResponse response =
      server.push(Batch("a", 1).insert("household", "h1", household(), stamp(120000)));
  const std::int64_t before = response.server_hlc();
  CHECK(before > stamp(120000).packed());
  server.restart();
  server.clock->advance(-3600 * 1000);
  CHECK(server.pull("b").server_hlc() >= before);
  const v1::PushResponse later =
      server.push(Batch("b", 1).insert("household", "h2", household(), stamp(-7200 * 1000)));
  CHECK(later.server_hlc() > before);
}

TEST_CASE("push: every decision goes to the append-only audit log", "[server]") {
  TestServer server;
  const std::int64_t base = seed(server, "household", "h1", household());
  server.push(Batch("a", 2).update("household", "h1", "phone", "0811", stamp(-5000), 0));
  server.push(Batch("b", 1)
                  .update("household", "h1", "phone", "0822", stamp(-6000), base)
                  .update("household", "h404", "phone", "0833", stamp(-6000), base));
  server.server.reset();  // the store's connections close

  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((server.data_dir() + "/lumbung.db").c_str(), &db, SQLITE_OPEN_READWRITE,
                          nullptr) == SQLITE_OK);
  std::vector<std::string> lines;
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(
              db,
              "SELECT device_id || ' ' || row_id || ' ' || col || ' ' || "
              "quote(old_value) || ' ' || quote(new_value) || ' ' || outcome || "
              "' ' || (seq IS NOT NULL) FROM _lumbung_audit_log WHERE col IN ('phone', '') "
              "ORDER BY id",
              -1, &stmt, nullptr) == SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    lines.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  // The insert is one entry, the whole row (every column, defaults too) in
  // its new value; updates one entry a cell.
  REQUIRE(!lines.empty());
  CHECK(lines.front().starts_with("a h1  NULL '{"));
  CHECK(lines.front().ends_with("}' applied 1"));
  CHECK(lines.front().find(R"("head_name":"Siti Aminah")") != std::string::npos);
  CHECK(lines.front().find(R"("phone":null)") != std::string::npos);
  lines.erase(lines.begin());
  CHECK(lines == std::vector<std::string>{"a h1 phone NULL '0811' applied 1",
                                          "b h1 phone '0811' '0822' superseded 0",
                                          "b h404  NULL NULL refused 0"});
  char* error = nullptr;
  CHECK(sqlite3_exec(db, "DELETE FROM _lumbung_audit_log", nullptr, nullptr, &error) ==
        SQLITE_CONSTRAINT);
  CHECK(std::string(error ? error : "") == "the audit log is append-only");
  sqlite3_free(error);
  sqlite3_close_v2(db);
}

TEST_CASE("push: an acknowledged push survives kill -9 of the server", "[server]") {
  TestServer server;
  server.server.reset();
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The daemon: acknowledge one push, then wait to be killed.
    server::ServerOptions options;
    options.data_dir = server.data_dir();
    options.clock = server.clock;
    options.insecure_no_auth = true;
    auto daemon = server::SyncServer::open(options);
    if (!daemon.is_ok()) ::_exit(1);
    const Batch batch = Batch("a", 1).insert("household", "h1", household(), stamp(0));
    (*daemon)->handle(protocol::make_request("/v1/push", batch.request()),
                      [&](HttpResponse response) {
                        const char ack = response.status == 200 ? 'y' : 'n';
                        if (::write(pipe_fds[1], &ack, 1) != 1) ::_exit(1);
                      });
    for (;;) ::pause();
  }
  ::close(pipe_fds[1]);
  char ack = 0;
  REQUIRE(::read(pipe_fds[0], &ack, 1) == 1);
  ::close(pipe_fds[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFSIGNALED(status));
  REQUIRE(ack == 'y');
  server.open();
  CHECK(server.dump().find("\"h1\"") != std::string::npos);
}

TEST_CASE("push: pushes from many threads at once are each committed and answered once",
          "[server]") {
  TestServer server;
  constexpr int kDevices = 8;
  constexpr int kBatches = 5;
  std::vector<std::vector<v1::PushResponse>> answers(kDevices);
  std::vector<std::thread> devices;
  for (int d = 0; d < kDevices; ++d) {
    devices.emplace_back([&server, &answers, d] {
      const std::string device = "d" + std::to_string(d);
      for (int b = 1; b <= kBatches; ++b) {
        const Batch batch =
            Batch(device, static_cast<std::uint64_t>(b))
                .insert("household", device + "-" + std::to_string(b), household(), stamp(b));
        // No Catch2 assertion off the main thread: the answers are checked after.
        const std::optional<HttpResponse> response =
            wait_answer(*server.server, protocol::make_request("/v1/push", batch.request()));
        v1::PushResponse decoded;
        if (response && response->status == 200 &&
            protocol::decode_body(response->headers, response->body, 1u << 20, &decoded).is_ok()) {
          answers[static_cast<std::size_t>(d)].push_back(decoded);
        }
      }
    });
  }
  for (std::thread& device : devices) device.join();
  std::set<std::int64_t> seqs;
  for (const std::vector<v1::PushResponse>& device : answers) {
    REQUIRE(device.size() == kBatches);
    for (const v1::PushResponse& response : device) {
      REQUIRE(response.outcomes_size() == 1);
      CHECK(response.outcomes(0).outcome() == v1::OUTCOME_APPLIED);
      seqs.insert(response.outcomes(0).seq());
    }
  }
  CHECK(seqs.size() == kDevices * kBatches);  // no seq given twice
  CHECK(server.pull("c").rows_size() == kDevices * kBatches);
}
