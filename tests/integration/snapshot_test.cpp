// Snapshots against a real lumbungd (docs/protocol.md, "Snapshot"): `lumbungd
// snapshot` builds them while `serve` runs, a fresh replica downloads and
// adopts them instead of pulling every row, resumes a download cut short, and
// pulls instead when a snapshot is damaged or when it is not fresh. Whatever
// path a device takes, it ends byte-equal to `lumbungd dump`.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "protocol/wire.hpp"
#include "snapshot/zstd_file.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kVillageA = "desa-a";
constexpr const char* kVillageB = "desa-b";
constexpr int kPeopleA = 200;
constexpr int kPeopleB = 150;
constexpr int kPeople = kPeopleA + kPeopleB;
// Small chunks, so that a download takes several requests.
constexpr std::uint32_t kSmallChunk = 1024;

std::string lower_hex(const std::string& bytes) {
  std::string hex;
  char pair[3];
  for (const unsigned char byte : bytes) {
    std::snprintf(pair, sizeof pair, "%02x", byte);
    hex += pair;
  }
  return hex;
}

// One chunk request of /v1/snapshot as the device sent it.
struct ChunkRequest {
  std::string scope;
  std::int64_t seq = 0;
  std::uint64_t offset = 0;
  std::uint32_t max_bytes = 0;
  bool failed = false;  // failed here, before reaching the daemon
};

// HTTP to the daemon, recording the snapshot requests and how many rows the
// pulled pages bring (adopted rows come in no page). Fails the `fail_chunk`th
// chunk request (1-based; 0: none) with kNetwork, as a dropped connection
// would. Called inside sync(), so it records rather than asserts.
class RecordingTransport : public Transport {
 public:
  explicit RecordingTransport(const std::string& url, int fail_chunk = 0)
      : fail_chunk_(fail_chunk) {
    Result<std::shared_ptr<Transport>> http = make_http_transport(url);
    if (!http.is_ok()) throw std::runtime_error(http.status().to_string());
    inner_ = std::move(http).value();
  }

  Result<HttpResponse> exchange(const HttpRequest& request) override {
    if (request.target == "/v1/snapshot") {
      v1::SnapshotRequest decoded;
      if (!protocol::decode_body(request.headers, request.body, protocol::kMaxRequestBytes,
                                 &decoded)
               .is_ok()) {
        ++undecodable;
      } else if (decoded.scope().empty()) {
        ++listings;
      } else {
        chunks.push_back(
            {decoded.scope(), decoded.seq(), decoded.offset(), decoded.max_bytes(), false});
        if (static_cast<int>(chunks.size()) == fail_chunk_) {
          chunks.back().failed = true;
          return Status(ErrorCode::kNetwork, "connection reset by the test");
        }
      }
    }
    Result<HttpResponse> answer = inner_->exchange(request);
    if (request.target == "/v1/pull" && answer.is_ok() && answer->status == 200) {
      v1::PullPage page;
      if (protocol::decode_body(answer->headers, answer->body,
                                HttpTransportOptions().max_response_bytes, &page)
              .is_ok()) {
        paged_rows += page.rows_size();
      } else {
        ++undecodable;
      }
    }
    return answer;
  }

  // The offsets of the chunk requests of `scope` that reached the daemon.
  std::vector<std::uint64_t> offsets_sent(const std::string& scope) const {
    std::vector<std::uint64_t> offsets;
    for (const ChunkRequest& chunk : chunks) {
      if (chunk.scope == scope && !chunk.failed) offsets.push_back(chunk.offset);
    }
    return offsets;
  }

  int listings = 0;
  int undecodable = 0;
  std::int64_t paged_rows = 0;
  std::vector<ChunkRequest> chunks;

 private:
  std::shared_ptr<Transport> inner_;
  int fail_chunk_;
};

Row person(const std::string& village, int i) {
  const std::string n = std::to_string(i);
  return {{"village_id", village},
          {"full_name", "Warga " + village + " nomor " + n},
          {"nik", "3302" + std::string(12 - n.size(), '0') + n},
          {"sex", i % 2 == 0 ? "L" : "P"},
          {"birth_date", "19" + std::to_string(60 + i % 40) + "-0" + std::to_string(1 + i % 9) +
                             "-1" + std::to_string(i % 10)},
          {"created_by", "sri"},
          {"created_at", "2026-11-28T08:00:00Z"}};
}

// A daemon without tokens, and the devices that sync with it.
struct SnapshotWorld {
  TempDir dir;
  std::string data = dir.file("data");
  DaemonProcess daemon{LUMBUNGD, data, {"--insecure-no-auth"}};
  std::map<std::string, std::vector<std::string>> people;  // ids by village

  // A device whose file is NAME.db. Without a key: an encrypted replica
  // never starts from snapshots.
  std::unique_ptr<Replica> device(const std::string& name) {
    ReplicaOptions options;
    options.path = file_of(name);
    options.device_id = name + "-phone";
    options.server_url = daemon.url();
    return open_replica(options);
  }
  std::string file_of(const std::string& name) const { return dir.file(name + ".db"); }

  // `sri` registers every person of both villages in one transaction and syncs.
  void register_people(Replica& sri) {
    const Status registered = sri.transaction([&]() -> Status {
      for (const auto& [village, count] :
           {std::pair{kVillageA, kPeopleA}, std::pair{kVillageB, kPeopleB}}) {
        for (int i = 0; i < count; ++i) {
          Result<std::string> id = sri.insert_new("person", person(village, i));
          if (!id.is_ok()) return id.status();
          people[village].push_back(*id);
        }
      }
      return Status::ok();
    });
    REQUIRE(registered.is_ok());
    const SyncSummary pushed = sync(sri);
    REQUIRE(pushed.pushed == kPeople);
  }

  // `lumbungd snapshot`'s lines, by village.
  std::map<std::string, nlohmann::json> build_snapshots() {
    const ProcessResult built = run_lumbungd({"snapshot", "--data", data});
    INFO(built.err);
    REQUIRE(built.exit_code == 0);
    std::map<std::string, nlohmann::json> lines;
    std::size_t start = 0;
    for (std::size_t end; (end = built.out.find('\n', start)) != std::string::npos;
         start = end + 1) {
      const nlohmann::json line = nlohmann::json::parse(built.out.substr(start, end - start));
      lines[line.at("village").get<std::string>()] = line;
    }
    CHECK(start == built.out.size());  // every line ends with '\n'
    return lines;
  }

  // `sri` registers everyone, then the daemon builds both villages' snapshots.
  std::map<std::string, nlohmann::json> populate() {
    std::unique_ptr<Replica> sri = device("sri");
    register_people(*sri);
    std::map<std::string, nlohmann::json> built = build_snapshots();
    REQUIRE(built.size() == 2);
    return built;
  }

  // The file `lumbungd snapshot` says it wrote for `line`'s village.
  std::string snapshot_path(const nlohmann::json& line) const {
    return data + "/snapshots/" + lower_hex(line.at("village").get<std::string>()) + "-" +
           std::to_string(line.at("seq").get<std::int64_t>()) + "-" +
           std::to_string(line.at("rows").get<std::int64_t>()) + ".s2.zst";
  }

  std::string server_dump() {
    const ProcessResult dump = run_lumbungd({"dump", "--data", data});
    INFO(dump.err);
    REQUIRE(dump.exit_code == 0);
    return dump.out;
  }

  // A sync whose requests go through `recorder`.
  static SyncSummary sync_through(Replica& replica, RecordingTransport& recorder,
                                  SyncOptions options = {}) {
    options.transport = std::shared_ptr<Transport>(&recorder, [](Transport*) {});
    return sync(replica, options);
  }

  static SyncSummary sync(Replica& replica, const SyncOptions& options = {}) {
    Result<SyncSummary> synced = replica.sync(options);
    INFO(synced.status().to_string());
    REQUIRE(synced.is_ok());
    return *synced;
  }
};

std::string dump_of(Replica& replica) {
  Result<std::string> dump = replica.dump_json();
  REQUIRE(dump.is_ok());
  return *dump + "\n";
}

// The download and unpack files a bootstrap works in beside the replica.
bool work_files_exist(const std::string& path) {
  return fs::exists(path + "-snapshot.zst") || fs::exists(path + "-snapshot.db");
}

std::int64_t people_of(Replica& replica) {
  Result<std::vector<Row>> count = replica.query("SELECT count(*) AS n FROM person");
  REQUIRE(count.is_ok());
  return count->front().at("n").as_integer();
}

TEST_CASE("a fresh device adopts the villages' snapshots, then pulls from their seq",
          "[integration][snapshot]") {
  SnapshotWorld world;
  std::unique_ptr<Replica> sri = world.device("sri");
  world.register_people(*sri);

  // A conflict, so that the snapshots carry its record too: ani's later write
  // of the same cell wins over sri's.
  std::unique_ptr<Replica> ani = world.device("ani");
  REQUIRE(SnapshotWorld::sync(*ani).pulled == kPeople);  // no snapshot yet: pages
  const std::string contested = world.people[kVillageA].front();
  REQUIRE(sri->update("person", contested, {{"full_name", "Siti Aminah"}}).is_ok());
  REQUIRE(ani->update("person", contested, {{"full_name", "Siti Aminah Binti Kasim"}}).is_ok());
  SnapshotWorld::sync(*sri);
  REQUIRE(SnapshotWorld::sync(*ani).conflicts == 1);
  const std::vector<ConflictRecord> recorded = ani->conflicts().value();
  REQUIRE(recorded.size() == 1);

  const std::map<std::string, nlohmann::json> built = world.build_snapshots();
  REQUIRE(built.size() == 2);
  for (const auto& [village, rows] :
       {std::pair{kVillageA, kPeopleA}, std::pair{kVillageB, kPeopleB}}) {
    INFO(village);
    const nlohmann::json& line = built.at(village);
    CHECK(line.at("rebuilt") == true);
    CHECK(line.at("rows") == rows);
    CHECK(line.at("seq").get<std::int64_t>() > 0);
    REQUIRE(fs::exists(world.snapshot_path(line)));
    CHECK(line.at("bytes") == fs::file_size(world.snapshot_path(line)));
  }
  // Nothing changed since: the same snapshots, not built again.
  const std::map<std::string, nlohmann::json> again = world.build_snapshots();
  REQUIRE(again.size() == 2);
  for (const auto& [village, line] : built) {
    INFO(village);
    nlohmann::json kept = line;
    kept["rebuilt"] = false;
    CHECK(again.at(village) == kept);
  }

  std::unique_ptr<Replica> budi = world.device("budi");
  RecordingTransport recorder(world.daemon.url());
  std::set<std::string> changed;  // the app hears of every adopted row
  SyncOptions watched;
  watched.on_changed_rows = [&](const std::vector<ChangedRows>& tables) {
    for (const ChangedRows& rows : tables) {
      for (const std::string& id : rows.ids) changed.insert(rows.table + "/" + id);
    }
  };
  const SyncSummary first = SnapshotWorld::sync_through(*budi, recorder, watched);
  CHECK(changed.size() == static_cast<std::size_t>(kPeople));
  CHECK(recorder.listings == 1);
  CHECK(recorder.undecodable == 0);
  CHECK(recorder.offsets_sent(kVillageA) == std::vector<std::uint64_t>{0});  // one chunk each
  CHECK(recorder.offsets_sent(kVillageB) == std::vector<std::uint64_t>{0});
  CHECK(first.pulled == kPeople);
  CHECK(recorder.paged_rows == 0);  // all adopted; the pull after them brings nothing
  CHECK(first.conflicts == 1);
  CHECK(dump_of(*budi) == world.server_dump());
  CHECK_FALSE(work_files_exist(world.file_of("budi")));
  const std::vector<ConflictRecord> adopted = budi->conflicts().value();
  REQUIRE(adopted.size() == 1);
  CHECK(adopted[0].id == recorded[0].id);
  CHECK(adopted[0].row_id == contested);
  CHECK(adopted[0].column == "full_name");
  CHECK(adopted[0].outcome == recorded[0].outcome);
  CHECK(adopted[0].server_value == recorded[0].server_value);
  CHECK(adopted[0].device_value == recorded[0].device_value);

  // The cursor stands at the snapshot's seq: only the edit comes next.
  const std::string edited = world.people[kVillageB].back();
  REQUIRE(sri->update("person", edited, {{"phone", "+62812555"}}).is_ok());
  SnapshotWorld::sync(*sri);
  const SyncSummary second = SnapshotWorld::sync(*budi);
  CHECK(second.pulled == 1);
  CHECK(budi->get("person", edited).value()->at("phone") == Value("+62812555"));
  CHECK(dump_of(*budi) == world.server_dump());
  CHECK(dump_of(*sri) == dump_of(*budi));
}

TEST_CASE("a device with a pending change pulls instead of adopting snapshots",
          "[integration][snapshot]") {
  SnapshotWorld world;
  world.populate();

  // Never synced, but not fresh: adopting a snapshot would overwrite its row.
  std::unique_ptr<Replica> dewi = world.device("dewi");
  REQUIRE(dewi->insert_new("person", person(kVillageA, 9999)).is_ok());
  RecordingTransport recorder(world.daemon.url());
  const SyncSummary synced = SnapshotWorld::sync_through(*dewi, recorder);
  CHECK(synced.pushed == 1);
  CHECK(recorder.chunks.empty());
  CHECK(recorder.undecodable == 0);
  CHECK(recorder.paged_rows >= kPeople);
  CHECK(people_of(*dewi) == kPeople + 1);
  CHECK(dump_of(*dewi) == world.server_dump());
  CHECK_FALSE(work_files_exist(world.file_of("dewi")));
}

TEST_CASE("a snapshot download cut short resumes from the bytes on disk",
          "[integration][snapshot]") {
  SnapshotWorld world;
  const std::map<std::string, nlohmann::json> built = world.populate();
  const std::uint64_t bytes_a = built.at(kVillageA).at("bytes").get<std::uint64_t>();
  REQUIRE(bytes_a > 2 * kSmallChunk);  // the cut leaves chunks to resume
  const std::string server_file = read_file(world.snapshot_path(built.at(kVillageA)));
  REQUIRE(server_file.size() == bytes_a);

  std::unique_ptr<Replica> budi = world.device("budi");
  const std::string packed = world.file_of("budi") + "-snapshot.zst";
  SyncOptions options;
  options.page_budget_bytes = kSmallChunk;
  options.max_attempts = 1;  // the cut reaches the sync instead of a retry

  // The listing orders villages by id: the cut falls in desa-a's second chunk.
  RecordingTransport cut(world.daemon.url(), 2);
  options.transport = std::shared_ptr<Transport>(&cut, [](Transport*) {});
  Result<SyncSummary> failed = budi->sync(options);
  CHECK(failed.status().code() == ErrorCode::kNetwork);
  REQUIRE(cut.chunks.size() == 2);
  CHECK(cut.chunks[1].scope == kVillageA);
  CHECK(cut.chunks[1].offset == kSmallChunk);
  CHECK(cut.chunks[1].max_bytes == kSmallChunk);
  REQUIRE(fs::exists(packed));
  CHECK(read_file(packed) == server_file.substr(0, kSmallChunk));
  CHECK_FALSE(fs::exists(world.file_of("budi") + "-snapshot.db"));
  CHECK(people_of(*budi) == 0);

  RecordingTransport clean(world.daemon.url());
  const SyncSummary resumed = SnapshotWorld::sync_through(*budi, clean, options);
  CHECK(resumed.pulled == kPeople);
  CHECK(clean.paged_rows == 0);  // both adopted
  CHECK(clean.undecodable == 0);
  // Every chunk of desa-a reached the daemon once, across both syncs.
  std::vector<std::uint64_t> offsets = cut.offsets_sent(kVillageA);
  const std::vector<std::uint64_t> rest = clean.offsets_sent(kVillageA);
  REQUIRE_FALSE(rest.empty());
  CHECK(rest.front() == kSmallChunk);
  offsets.insert(offsets.end(), rest.begin(), rest.end());
  std::vector<std::uint64_t> expected;
  for (std::uint64_t offset = 0; offset < bytes_a; offset += kSmallChunk) {
    expected.push_back(offset);
  }
  CHECK(offsets == expected);
  CHECK(clean.offsets_sent(kVillageB).size() ==
        (built.at(kVillageB).at("bytes").get<std::uint64_t>() + kSmallChunk - 1) / kSmallChunk);
  CHECK(dump_of(*budi) == world.server_dump());
  CHECK_FALSE(work_files_exist(world.file_of("budi")));
}

TEST_CASE("a download cut short is dropped once the replica holds a row of its own",
          "[integration][snapshot]") {
  SnapshotWorld world;
  world.populate();
  std::unique_ptr<Replica> budi = world.device("budi");
  SyncOptions options;
  options.page_budget_bytes = kSmallChunk;
  options.max_attempts = 1;
  RecordingTransport cut(world.daemon.url(), 2);
  options.transport = std::shared_ptr<Transport>(&cut, [](Transport*) {});
  REQUIRE(budi->sync(options).status().code() == ErrorCode::kNetwork);
  REQUIRE(fs::exists(world.file_of("budi") + "-snapshot.zst"));

  // Budi registers someone before the link comes back: no longer fresh.
  REQUIRE(budi->insert_new("person", person(kVillageA, 9999)).is_ok());
  RecordingTransport clean(world.daemon.url());
  const SyncSummary synced = SnapshotWorld::sync_through(*budi, clean);
  CHECK(clean.chunks.empty());
  CHECK(synced.pulled == kPeople);
  CHECK_FALSE(work_files_exist(world.file_of("budi")));
  CHECK(dump_of(*budi) == world.server_dump());
}

TEST_CASE("a damaged snapshot is dropped and its village pulled instead",
          "[integration][snapshot]") {
  SnapshotWorld world;
  const std::map<std::string, nlohmann::json> built = world.populate();

  // Flips bytes in the middle of desa-a's file, keeping its size, so the
  // listing still offers it as it was.
  const std::string damaged = world.snapshot_path(built.at(kVillageA));
  std::string bytes = read_file(damaged);
  REQUIRE(bytes.size() > 64);
  for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 16; ++i) bytes[i] ^= '\xff';
  {
    std::FILE* out = std::fopen(damaged.c_str(), "r+b");
    REQUIRE(out != nullptr);
    CHECK(std::fwrite(bytes.data(), 1, bytes.size(), out) == bytes.size());
    CHECK(std::fclose(out) == 0);
  }
  REQUIRE(fs::file_size(damaged) == built.at(kVillageA).at("bytes").get<std::uint64_t>());

  std::unique_ptr<Replica> budi = world.device("budi");
  RecordingTransport recorder(world.daemon.url());
  const SyncSummary synced = SnapshotWorld::sync_through(*budi, recorder);
  CHECK_FALSE(recorder.offsets_sent(kVillageA).empty());  // downloaded, then refused
  CHECK_FALSE(recorder.offsets_sent(kVillageB).empty());
  CHECK(synced.pulled == kPeople);
  CHECK(recorder.paged_rows == kPeopleA);  // desa-b adopted, desa-a pulled in pages
  CHECK(recorder.undecodable == 0);
  CHECK(people_of(*budi) == kPeople);
  CHECK(dump_of(*budi) == world.server_dump());
  CHECK_FALSE(work_files_exist(world.file_of("budi")));
}

// Rewrites the snapshot at `path` as a server gone wrong might: unpacked,
// changed by `sql`, packed again whole (its zstd checksum matches).
void tamper(const std::string& path, const std::string& sql) {
  const std::string unpacked = path + ".sqlite";
  REQUIRE(snapshot::decompress_file(path, unpacked, 1u << 30).is_ok());
  {
    Result<std::unique_ptr<db::Database>> db = db::Database::open(unpacked, false);
    REQUIRE(db.is_ok());
    REQUIRE((*db)->exec(sql).is_ok());
  }
  REQUIRE(snapshot::compress_file(unpacked, path, 3).is_ok());
  fs::remove(unpacked);
}

TEST_CASE("a snapshot holding more or other than a village's tables is refused",
          "[integration][snapshot]") {
  SnapshotWorld world;
  const std::map<std::string, nlohmann::json> built = world.populate();
  const std::string path = world.snapshot_path(built.at(kVillageA));
  SECTION("a trigger, which would run on the device") {
    tamper(path, "CREATE TRIGGER wipe AFTER INSERT ON person BEGIN DELETE FROM person; END");
  }
  SECTION("an index the device does not have") {
    tamper(path, "CREATE INDEX person_phone ON person (phone)");
  }
  SECTION("a row of another village") {
    tamper(path, "UPDATE person SET village_id = 'desa-c' WHERE rowid = 1");
  }
  SECTION("another village's stamp") {
    tamper(path, "UPDATE _lumbung_snapshot SET scope = 'desa-b'");
  }
  SECTION("a table made otherwise than the device makes it") {
    tamper(path, "ALTER TABLE person ADD COLUMN extra TEXT");
  }

  std::unique_ptr<Replica> budi = world.device("budi");
  RecordingTransport recorder(world.daemon.url());
  const SyncSummary synced = SnapshotWorld::sync_through(*budi, recorder);
  CHECK_FALSE(recorder.offsets_sent(kVillageA).empty());  // downloaded, then refused
  CHECK(recorder.paged_rows == kPeopleA);                 // desa-a pulled, desa-b adopted
  CHECK(synced.pulled == kPeople);
  CHECK(dump_of(*budi) == world.server_dump());
  Result<std::vector<Row>> triggers =
      budi->query("SELECT name FROM sqlite_master WHERE name IN ('wipe', 'person_phone')");
  REQUIRE(triggers.is_ok());
  CHECK(triggers->empty());
  CHECK_FALSE(work_files_exist(world.file_of("budi")));
}

TEST_CASE("the app's own index and trigger on a synced table stay through an adoption",
          "[integration][snapshot]") {
  SnapshotWorld world;
  world.populate();
  std::unique_ptr<Replica> budi = world.device("budi");
  {
    // The app's own connection, as an app adds a lookup and keeps a count.
    Result<std::unique_ptr<db::Database>> app = db::Database::open(world.file_of("budi"), false);
    REQUIRE(app.is_ok());
    REQUIRE((*app)
                ->exec("CREATE INDEX app_person_name ON person (full_name);"
                       "CREATE TABLE app_count (n INTEGER NOT NULL);"
                       "INSERT INTO app_count VALUES (0);"
                       "CREATE TRIGGER app_person_count AFTER INSERT ON person "
                       "BEGIN UPDATE app_count SET n = n + 1; END")
                .is_ok());
  }
  RecordingTransport recorder(world.daemon.url());
  const SyncSummary synced = SnapshotWorld::sync_through(*budi, recorder);
  CHECK(synced.pulled == kPeople);
  CHECK(recorder.paged_rows == 0);  // adopted, not pulled
  CHECK(dump_of(*budi) == world.server_dump());
  const std::vector<Row> named =
      budi->query(
              "SELECT count(*) AS n FROM person INDEXED BY app_person_name "
              "WHERE full_name > ''")
          .value();
  CHECK(named.front().at("n") == Value(kPeople));
  // As for pulled rows, no trigger fired on the replica's connection
  // (decision 0016); the app's is still there for its own writes.
  CHECK(budi->query("SELECT n FROM app_count").value().front().at("n") == Value(0));
  {
    Result<std::unique_ptr<db::Database>> app = db::Database::open(world.file_of("budi"), false);
    REQUIRE(app.is_ok());
    REQUIRE((*app)
                ->exec("DELETE FROM person WHERE rowid = (SELECT min(rowid) FROM person);"
                       "INSERT INTO person (id, village_id, full_name, created_by, created_at) "
                       "VALUES ('app-row', 'desa-a', 'Dewi', 'budi', '2026-11-29')")
                .is_ok());
  }
  CHECK(budi->query("SELECT n FROM app_count").value().front().at("n") == Value(1));
  CHECK(budi->pending_changes()->size() == 2);  // the capture triggers are back too
}

}  // namespace
}  // namespace lumbung::test
