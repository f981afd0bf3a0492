// The server's side of going back in time (docs/protocol.md): epochs in
// answers, pushes from another epoch, re-offers and their stamps, and the
// stamps pull pages carry.
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/server_fixture.hpp"

namespace lumbung::test {
namespace {

// The stamp of value `i` of `row`, as the page carries it.
core::Stamp value_stamp(const v1::PullPage& page, const v1::RowState& row, int i) {
  const int at = row.hlcs_size() == 1 ? 0 : i;
  return {core::Hlc(row.hlcs(at)), page.authors(static_cast<int>(row.authors(at)))};
}

const v1::RowState& row_of(const v1::PullPage& page, const std::string& id) {
  for (const v1::RowState& row : page.rows()) {
    if (row.row_id() == id) return row;
  }
  FAIL("no row " << id);
  return page.rows(0);
}

// The index of `column` among the values of `row`.
int value_index(const v1::PullPage& page, const v1::RowState& row, const std::string& column) {
  const v1::TableColumns& names = page.tables(static_cast<int>(row.table()));
  for (int i = 0; i < row.values_size(); ++i) {
    const int index = row.columns_size() == 0 ? i : static_cast<int>(row.columns(i));
    if (names.columns(index) == column) return i;
  }
  FAIL("no column " << column);
  return -1;
}

// Makes the last change of `batch` a re-offer of `author`'s write.
void reoffer(Batch& batch, const std::string& author) {
  v1::PushRequest& request = batch.request();
  request.mutable_changes(request.changes_size() - 1)->set_author(author);
}

}  // namespace

TEST_CASE("answers carry the server's epoch, and a push from another epoch merges nothing",
          "[server][rewind]") {
  TestServer server;
  const v1::PushResponse first =
      server.push(Batch("sri", 1).insert("household", "h1", household(), stamp(0)));
  REQUIRE(!first.epoch().empty());
  const v1::PullPage page = server.pull("ani");
  CHECK(page.epoch() == first.epoch());
  CHECK(page.last_seq() > 0);
  CHECK(page.device_batch() == 0);
  CHECK(server.pull("sri").device_batch() == 1);

  const std::string before = server.dump();
  Batch stale("sri", 2);
  stale.update("household", "h1", "notes", Value("lost history"), stamp(1), 999);
  stale.request().mutable_header()->set_epoch("0190f1c2-0000-7000-8000-000000000000");
  const v1::PushResponse refused = server.push(stale);
  CHECK(refused.epoch() == first.epoch());
  CHECK(refused.batch() == 2);
  CHECK(refused.outcomes_size() == 0);
  CHECK(server.dump() == before);
  CHECK(server.pull("sri").device_batch() == 1);  // batch 2 was not recorded

  Batch known("sri", 2);
  known.update("household", "h1", "notes", Value("same history"), stamp(1), page.last_seq());
  known.request().mutable_header()->set_epoch(first.epoch());
  CHECK(outcome(server.push(known), 1).outcome() == v1::OUTCOME_APPLIED);

  // The epoch stays across restarts: a daemon's restart is not a restore.
  server.restart();
  CHECK(server.pull("ani").epoch() == first.epoch());
}

TEST_CASE("pull pages carry each value's stamp: one for a row that shares it, else one each",
          "[server][rewind]") {
  TestServer server;
  server.push(Batch("sri", 1).insert("household", "h1", household(), stamp(0)));
  server.push(Batch("ani", 1).update("household", "h1", "notes", Value("ani's"), stamp(5), 0));
  server.push(Batch("sri", 2).insert("household", "h2", household(), stamp(7)));
  server.push(Batch("sri", 3).remove("household", "h2", stamp(9), 0));

  const v1::PullPage page = server.pull("budi");
  const v1::RowState& h1 = row_of(page, "h1");
  REQUIRE(h1.hlcs_size() == h1.values_size());
  CHECK(value_stamp(page, h1, value_index(page, h1, "notes")) == core::Stamp{stamp(5), "ani"});
  CHECK(value_stamp(page, h1, value_index(page, h1, "head_name")) == core::Stamp{stamp(0), "sri"});
  const v1::RowState& h2 = row_of(page, "h2");
  REQUIRE(h2.deleted());
  CHECK(value_stamp(page, h2, 0) == core::Stamp{stamp(9), "sri"});

  server.push(Batch("sri", 4).insert("household", "h3", household(), stamp(11)));
  const v1::PullPage later = server.pull("budi", cursors_of(page));
  const v1::RowState& h3 = row_of(later, "h3");
  CHECK(h3.hlcs_size() == 1);  // every value shares the insert's stamp
  CHECK(value_stamp(later, h3, 0) == core::Stamp{stamp(11), "sri"});
}

TEST_CASE("a re-offer keeps its author's stamp, and is made on what its device saw alone",
          "[server][rewind]") {
  TestServer server;
  server.push(Batch("sri", 1).insert("household", "h1", household(), stamp(0)));
  const std::int64_t seen = server.pull("budi").last_seq();
  // sri writes on; budi re-offers an older write of sri's, made on the row
  // budi saw: sri's newer write is concurrent with it, not its base.
  server.push(Batch("sri", 2).update("household", "h1", "notes", Value("newer"), stamp(20), seen));
  Batch older("budi", 1);
  older.update("household", "h1", "notes", Value("older"), stamp(10), seen);
  reoffer(older, "sri");
  const v1::PushResponse answer = server.push(older);
  CHECK(outcome(answer, 1).outcome() == v1::OUTCOME_SUPERSEDED);
  REQUIRE(answer.conflicts_size() == 1);
  CHECK(answer.conflicts(0).device_id() == "sri");
  CHECK(answer.conflicts(0).device_hlc() == stamp(10).packed());
  CHECK(answer.conflicts(0).server_device() == "sri");

  // The very version the server holds is superseded, silently.
  Batch same("budi", 2);
  same.update("household", "h1", "notes", Value("newer"), stamp(20), 0);
  reoffer(same, "sri");
  const v1::PushResponse again = server.push(same);
  CHECK(outcome(again, 1).outcome() == v1::OUTCOME_SUPERSEDED);
  CHECK(outcome(again, 1).seq() == 0);
  CHECK(again.conflicts_size() == 0);

  // A newer version on what budi saw is applied under its author's stamp.
  const std::int64_t now_seen = server.pull("budi").last_seq();
  Batch newer("budi", 3);
  newer.update("household", "h1", "notes", Value("newest"), stamp(30), now_seen);
  reoffer(newer, "ani");
  CHECK(outcome(server.push(newer), 1).outcome() == v1::OUTCOME_APPLIED);
  const v1::PullPage page = server.pull("rina");
  const v1::RowState& h1 = row_of(page, "h1");
  CHECK(value_stamp(page, h1, value_index(page, h1, "notes")) == core::Stamp{stamp(30), "ani"});
}

TEST_CASE("a re-offered insert gives each cell its own stamp", "[server][rewind]") {
  TestServer server;
  Batch batch("budi", 1);
  batch.insert("household", "h1", household(), stamp(0));
  reoffer(batch, "sri");
  v1::Change* change = batch.request().mutable_changes(0);
  const v1::TableColumns& names = batch.request().tables(0);
  for (int i = 0; i < change->values_size(); ++i) {
    const bool head = names.columns(static_cast<int>(change->columns(i))) == "head_name";
    change->add_cell_hlcs(stamp(head ? 8 : 0).packed());
    change->add_cell_authors(head ? "ani" : "sri");
  }
  CHECK(outcome(server.push(batch), 1).outcome() == v1::OUTCOME_APPLIED);
  const v1::PullPage page = server.pull("rina");
  const v1::RowState& h1 = row_of(page, "h1");
  CHECK(value_stamp(page, h1, value_index(page, h1, "head_name")) == core::Stamp{stamp(8), "ani"});
  CHECK(value_stamp(page, h1, value_index(page, h1, "id")) == core::Stamp{stamp(0), "sri"});
  // A column the insert did not carry takes the change's stamp.
  CHECK(value_stamp(page, h1, value_index(page, h1, "dusun")) == core::Stamp{stamp(0), "sri"});
}

TEST_CASE("malformed re-offers are refused one by one", "[server][rewind]") {
  TestServer server;
  Batch batch("budi", 1);
  batch.insert("household", "h1", household(), stamp(0));  // cell stamps without an author
  batch.request().mutable_changes(0)->add_cell_hlcs(stamp(0).packed());
  batch.insert("household", "h2", household(), stamp(0));  // a stamp for one value of many
  reoffer(batch, "sri");
  batch.request().mutable_changes(1)->add_cell_hlcs(stamp(0).packed());
  batch.request().mutable_changes(1)->add_cell_authors("sri");
  batch.update("household", "h1", "notes", Value("x"), stamp(0), 0);  // an author too long
  reoffer(batch, std::string(129, 'a'));
  batch.insert("household", "h3", household(), stamp(0));  // a sound one
  reoffer(batch, "sri");
  const v1::PushResponse answer = server.push(batch);
  for (std::uint32_t id : {1u, 2u, 3u}) {
    INFO("change " << id);
    CHECK(outcome(answer, id).outcome() == v1::OUTCOME_REFUSED);
    CHECK(outcome(answer, id).reason() == v1::REFUSAL_REASON_MALFORMED);
  }
  CHECK(outcome(answer, 4).outcome() == v1::OUTCOME_APPLIED);
}

TEST_CASE("a re-offer's stamp too far ahead re-stamps every cell of it", "[server][rewind]") {
  TestServer server;
  Batch batch("budi", 1);
  batch.insert("household", "h1", household(), stamp(0));
  reoffer(batch, "sri");
  v1::Change* change = batch.request().mutable_changes(0);
  for (int i = 0; i < change->values_size(); ++i) {
    change->add_cell_hlcs(stamp(i == 0 ? 3'600'000 : 0).packed());  // one an hour ahead
    change->add_cell_authors("sri");
  }
  const v1::ChangeOutcome applied = outcome(server.push(batch), 1);
  CHECK(applied.restamped());
  const v1::PullPage page = server.pull("rina");
  const v1::RowState& h1 = row_of(page, "h1");
  CHECK(h1.hlcs_size() == 1);
  CHECK(value_stamp(page, h1, 0) == core::Stamp{core::Hlc(applied.hlc()), "sri"});
}

}  // namespace lumbung::test
