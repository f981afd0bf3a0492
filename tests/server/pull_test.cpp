// Pulls against a real SyncServer: pages and cursors, checksums, conflicts,
// long polls, and pulls running while pushes commit.
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <tuple>

#include "core/canonical_json.hpp"
#include "core/checksum.hpp"
#include "server/server_fixture.hpp"

using namespace lumbung;
using namespace lumbung::test;

namespace {

using Cursors = std::map<std::string, std::int64_t>;

// What a device builds from the pages it applies.
class DeviceModel {
 public:
  explicit DeviceModel(const core::Schema& schema) {
    for (const core::Table& table : schema.tables) tables_[table.name];
  }

  void apply(const v1::PullPage& page) {
    for (const v1::RowState& row : page.rows()) {
      const v1::TableColumns& names = page.tables(static_cast<int>(row.table()));
      auto& rows = tables_[names.table()];
      if (row.deleted()) {
        rows.erase(row.row_id());
        continue;
      }
      for (int i = 0; i < row.values_size(); ++i) {
        const int column = row.columns_size() == 0 ? i : static_cast<int>(row.columns(i));
        rows[row.row_id()][names.columns(column)] = protocol::from_wire(row.values(i));
      }
    }
    cursors_ = cursors_of(page);
  }

  std::string dump() const { return core::canonical_json(tables_); }
  const Cursors& cursors() const { return cursors_; }

 private:
  core::TableRows tables_;
  Cursors cursors_;
};

// Pulls pages of `budget` bytes until caught up, checking each page's shape;
// returns the pages.
std::vector<v1::PullPage> pull_all(TestServer& server, const std::string& device,
                                   DeviceModel& model, std::uint32_t budget) {
  std::vector<v1::PullPage> pages;
  for (;;) {
    v1::PullPage page = server.pull(device, model.cursors(), budget);
    INFO("page " << pages.size());
    CHECK((page.ByteSizeLong() <= budget || page.rows_size() + page.conflicts_size() == 1));
    for (int i = 1; i < page.rows_size(); ++i) CHECK(page.rows(i - 1).seq() <= page.rows(i).seq());
    for (const auto& [scope, seq] : model.cursors()) CHECK(cursors_of(page)[scope] >= seq);
    CHECK(page.checksums_size() == (page.more() ? 0 : page.cursors_size()));
    model.apply(page);
    pages.push_back(page);
    if (!page.more()) return pages;
    REQUIRE(pages.size() < 1000);
  }
}

Row household_in(const std::string& village, int n) {
  Row row = household(village);
  row["head_name"] = "Kepala " + std::to_string(n);
  row["latitude"] = -7.5 + n / 100.0;
  return row;
}

// Two villages' households from two devices: inserts, later edits of early
// rows, deletes. Returns the seq after the first batch.
std::int64_t fill(TestServer& server) {
  Batch first("a", 1);
  for (int i = 0; i < 20; ++i) {
    first.insert("household", "h" + std::to_string(i),
                 household_in(i < 12 ? kVillage : kOtherVillage, i), stamp(-100000 + i));
  }
  const std::int64_t after_first = server.push(first).outcomes(19).seq();
  Batch second("a", 2);
  for (int i = 0; i < 6; ++i) {
    second.update("household", "h" + std::to_string(i), "phone", "08" + std::to_string(i),
                  stamp(-50000 + i), 0);
  }
  second.remove("household", "h6", stamp(-40000), 0).remove("household", "h15", stamp(-40000), 0);
  server.push(second);
  Batch third("b", 1);
  for (int i = 20; i < 25; ++i) {
    third.insert("household", "h" + std::to_string(i), household_in(kVillage, i),
                 stamp(-30000 + i));
  }
  third.update("household", "h1", "dusun", "Krajan", stamp(-20000), after_first);
  server.push(third);
  return after_first;
}

// Every cell and tombstone a page carries: (table, row, column or "-deleted").
using Delivered = std::multiset<std::tuple<std::string, std::string, std::string>>;

void collect(const v1::PullPage& page, Delivered& out) {
  for (const v1::RowState& row : page.rows()) {
    const v1::TableColumns& names = page.tables(static_cast<int>(row.table()));
    if (row.deleted()) out.emplace(names.table(), row.row_id(), "-deleted");
    for (int i = 0; i < row.values_size(); ++i) {
      const int column = row.columns_size() == 0 ? i : static_cast<int>(row.columns(i));
      out.emplace(names.table(), row.row_id(), names.columns(column));
    }
  }
}

// The checksum of each scope, recomputed from the server's dump.
std::map<std::string, std::pair<std::uint64_t, std::int64_t>> checksums_from(
    const std::string& dump) {
  std::map<std::string, std::pair<std::uint64_t, std::int64_t>> sums;
  const nlohmann::json tables = nlohmann::json::parse(dump);
  for (const auto& [table, rows] : tables.items()) {
    for (const auto& [id, row] : rows.items()) {
      auto& [sum, count] = sums[row.at("village_id").get<std::string>()];
      ++count;
      for (const auto& [column, json] : row.items()) {
        Value value;
        if (json.is_number_float())
          value = Value(json.get<double>());
        else if (json.is_number())
          value = Value(json.get<std::int64_t>());
        else if (json.is_string())
          value = Value(json.get<std::string>());
        sum += core::cell_hash(table, id, column, value);
      }
    }
  }
  return sums;
}

}  // namespace

TEST_CASE("pull: small pages bring every change, in seq order, and end at the server's state",
          "[server]") {
  TestServer server;
  fill(server);
  const std::string dump = server.dump();
  for (std::uint32_t budget : {1u, 300u, 700u, 2000u}) {
    DYNAMIC_SECTION("budget " << budget) {
      DeviceModel model(server.server->schema());
      const std::vector<v1::PullPage> pages = pull_all(server, "c", model, budget);
      CHECK(pages.size() > (budget < 2000 ? 5u : 1u));
      CHECK(model.dump() == dump);
      const std::int64_t last_seq = cursors_of(pages.back())[kVillage];
      CHECK(cursors_of(pages.back())[kOtherVillage] == last_seq);
      CHECK(model.cursors().size() == 2);
    }
  }
}

TEST_CASE("pull: from a cursor, small pages deliver each change exactly once", "[server]") {
  TestServer server;
  const std::int64_t after_first = fill(server);
  const Cursors start = {{kVillage, after_first}, {kOtherVillage, after_first}};
  Delivered whole;
  const v1::PullPage one = server.pull("c", start);
  CHECK(!one.more());
  collect(one, whole);
  CHECK(whole.size() == 6 + 2 + 5 * 14 + 1);  // phones, deletes, new rows, dusun

  DeviceModel model(server.server->schema());
  for (const v1::ScopeCursor& cursor : one.cursors()) CHECK(cursor.seq() > after_first);
  Delivered paged;
  v1::PullPage page;
  Cursors cursors = start;
  do {
    page = server.pull("c", cursors, 200);
    collect(page, paged);
    for (const auto& [scope, seq] : cursors) CHECK(cursors_of(page)[scope] >= seq);
    cursors = cursors_of(page);
  } while (page.more());
  CHECK(paged == whole);
  CHECK(std::set<Delivered::value_type>(paged.begin(), paged.end()).size() == paged.size());
  CHECK(cursors == cursors_of(one));
}

TEST_CASE("pull: the last page's checksums equal the sum over the server's dump", "[server]") {
  TestServer server;
  fill(server);
  DeviceModel model(server.server->schema());
  const v1::PullPage last = pull_all(server, "c", model, 1u << 20).back();
  const auto expected = checksums_from(server.dump());
  REQUIRE(last.checksums_size() == 2);
  for (const v1::ScopeChecksum& checksum : last.checksums()) {
    INFO(checksum.scope());
    CHECK(checksum.checksum() == expected.at(checksum.scope()).first);
    CHECK(checksum.rows() == expected.at(checksum.scope()).second);
  }
  CHECK(expected.at(kVillage).second == 16);  // 12 + 5 - 1
  CHECK(expected.at(kOtherVillage).second == 7);
}

TEST_CASE("pull: conflicts reach the other devices once, not the one that caused them",
          "[server]") {
  TestServer server;
  const std::int64_t base =
      server.push(Batch("a", 1).insert("household", "h1", household(), stamp(-60000)))
          .outcomes(0)
          .seq();
  server.push(Batch("a", 2).update("household", "h1", "phone", "0811", stamp(-5000), 0));
  const v1::PushResponse pushed =
      server.push(Batch("b", 1).update("household", "h1", "phone", "0822", stamp(-6000), base));
  REQUIRE(pushed.conflicts_size() == 1);

  DeviceModel c(server.server->schema());
  std::vector<v1::Conflict> received;
  for (const v1::PullPage& page : pull_all(server, "c", c, 1)) {
    received.insert(received.end(), page.conflicts().begin(), page.conflicts().end());
  }
  REQUIRE(received.size() == 1);
  CHECK(received[0].id() == pushed.conflicts(0).id());
  CHECK(received[0].SerializeAsString() == pushed.conflicts(0).SerializeAsString());
  CHECK(server.pull("c", c.cursors()).conflicts_size() == 0);  // delivered once

  DeviceModel b(server.server->schema());
  for (const v1::PullPage& page : pull_all(server, "b", b, 1u << 20))
    CHECK(page.conflicts_size() == 0);
}

TEST_CASE("pull: a long poll is answered by a push committed on another thread", "[server]") {
  TestServer server;
  server.push(Batch("a", 1).insert("household", "h1", household(), stamp(0)));
  v1::PullRequest request = TestServer::pull_request("b", cursors_of(server.pull("b")));
  request.set_wait_seconds(30);
  std::promise<HttpResponse> answer;
  std::future<HttpResponse> answered = answer.get_future();
  server.server->handle(protocol::make_request("/v1/pull", request),
                        [&](HttpResponse response) { answer.set_value(std::move(response)); });
  CHECK(answered.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);

  const HttpResponse pushed = answer_of(
      *server.server,
      protocol::make_request(
          "/v1/push", Batch("a", 2).insert("household", "h2", household(), stamp(1)).request()));
  CHECK(pushed.status == 200);
  // The commit thread answers the poll right after the push.
  REQUIRE(answered.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  const HttpResponse response = answered.get();
  REQUIRE(response.status == 200);
  const v1::PullPage page = decode<v1::PullPage>(response);
  REQUIRE(page.rows_size() == 1);
  CHECK(page.rows(0).row_id() == "h2");
  CHECK(page.server_hlc() > stamp(1).packed());
}

TEST_CASE("pull: a long poll with nothing new is answered by tick() once its time is up",
          "[server]") {
  TestServer server;
  server.push(Batch("a", 1).insert("household", "h1", household(), stamp(0)));
  const Cursors cursors = cursors_of(server.pull("b"));
  v1::PullRequest request = TestServer::pull_request("b", cursors);
  request.set_wait_seconds(3600);  // more than the server's 60 s ceiling
  std::optional<HttpResponse> answer;
  server.server->handle(protocol::make_request("/v1/pull", request),
                        [&](HttpResponse response) { answer = std::move(response); });
  CHECK(!answer);
  server.server->tick();
  CHECK(!answer);
  server.clock->advance(59999);
  server.server->tick();
  CHECK(!answer);
  server.clock->advance(1);
  server.server->tick();
  REQUIRE(answer);
  REQUIRE(answer->status == 200);
  const v1::PullPage page = decode<v1::PullPage>(*answer);
  CHECK(page.rows_size() == 0);
  CHECK(!page.more());
  CHECK(cursors_of(page) == cursors);
  CHECK(page.checksums_size() == 1);
}

TEST_CASE("pull: a long poll with something new is answered at once", "[server]") {
  TestServer server;
  server.push(Batch("a", 1).insert("household", "h1", household(), stamp(0)));
  v1::PullRequest request = TestServer::pull_request("b");
  request.set_wait_seconds(30);
  const v1::PullPage page =
      decode<v1::PullPage>(server.call(protocol::make_request("/v1/pull", request)));
  CHECK(page.rows_size() == 1);
}

TEST_CASE("pull: stop() answers the waiting long polls and refuses new requests", "[server]") {
  TestServer server;
  v1::PullRequest request = TestServer::pull_request("b");
  request.set_wait_seconds(30);
  std::optional<HttpResponse> answer;
  server.server->handle(protocol::make_request("/v1/pull", request),
                        [&](HttpResponse response) { answer = std::move(response); });
  CHECK(!answer);
  server.server->stop();
  REQUIRE(answer);
  CHECK(answer->status == 200);
  const HttpResponse refused = server.call(protocol::make_request("/v1/pull", request));
  CHECK(refused.status == 503);
  CHECK(error_of(refused).name() == "Unavailable");
}

TEST_CASE("pull: pages read while pushes commit never skip a change", "[server]") {
  TestServer server;
  constexpr int kBatches = 40;
  std::atomic<bool> pushing{true};
  std::vector<int> statuses;
  std::thread pusher([&] {
    for (int b = 1; b <= kBatches; ++b) {
      Batch batch("a", static_cast<std::uint64_t>(b));
      batch.insert("household", "h" + std::to_string(b), household_in(kVillage, b), stamp(b))
          .update("household", "h1", "phone", "08" + std::to_string(b), stamp(b), 0);
      if (b % 5 == 0) batch.remove("household", "h" + std::to_string(b - 1), stamp(b), 0);
      const std::optional<HttpResponse> answer =
          wait_answer(*server.server, protocol::make_request("/v1/push", batch.request()));
      statuses.push_back(answer ? answer->status : 0);
    }
    pushing = false;
  });
  DeviceModel model(server.server->schema());
  while (pushing) pull_all(server, "c", model, 500);
  pusher.join();
  CHECK(statuses == std::vector<int>(kBatches, 200));
  const v1::PullPage last = pull_all(server, "c", model, 500).back();
  CHECK(model.dump() == server.dump());
  REQUIRE(last.checksums_size() == 1);
  CHECK(last.checksums(0).checksum() == checksums_from(server.dump()).at(kVillage).first);
}

TEST_CASE(
    "pull: a scope whose cursor is ahead gets the later cells of its rows, even right after their "
    "insert",
    "[server]") {
  TestServer server;
  Batch first("a", 1);
  first.insert("household", "other", household_in(kOtherVillage, 1), stamp(-100000));
  first.insert("household", "mine", household_in(kVillage, 2), stamp(-99000));
  server.push(first);
  const std::int64_t after_first = cursors_of(server.pull("c", {}))[kVillage];
  // The edit's seq follows the row's insert with nothing between them.
  Batch second("a", 2);
  second.update("household", "mine", "phone", "0812", stamp(-50000), 0);
  server.push(second);
  for (std::uint32_t budget : {1u, 100000u}) {
    DYNAMIC_SECTION("budget " << budget) {
      // The device had its village up to the insert; the other village is new to it.
      Cursors cursors = {{kVillage, after_first}, {kOtherVillage, 0}};
      Delivered delivered;
      v1::PullPage page;
      do {
        page = server.pull("c", cursors, budget);
        collect(page, delivered);
        cursors = cursors_of(page);
      } while (page.more());
      CHECK(delivered.count({"household", "mine", "phone"}) == 1);
      CHECK(delivered.count({"household", "mine", "head_name"}) == 0);
      CHECK(delivered.count({"household", "other", "head_name"}) == 1);
    }
  }
}
