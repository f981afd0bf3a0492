// Going back in time with real lumbungd processes and files (docs/protocol.md,
// "Going back in time"; docs/operations.md): a server restored with
// `lumbungd restore` from a backup older than what the officers' phones hold,
// a server that lost its store but kept its keys and credentials, and a phone
// whose replica file was replaced by an old copy. Devices are Replicas syncing
// over HTTP on 127.0.0.1; each ends holding what the server holds, and the
// server what the officers once saw acknowledged. tests/replica/rewind_test.cpp
// has the same stories in process.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/subprocess.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kVillageA = "desa-a";
constexpr const char* kVillageB = "desa-b";
// Rounds of every device's sync after which the devices must be settled.
constexpr int kMaxSettleRounds = 6;

// The server's state as `lumbungd dump` prints it: every village, or one.
std::string dump_of(const std::string& data, const std::optional<std::string>& village = {}) {
  std::vector<std::string> args = {"dump", "--data", data};
  if (village) args.insert(args.end(), {"--village", *village});
  return lumbungd_output(args);
}

Row household(const std::string& id, const std::string& village, const std::string& officer,
              const std::string& head_name) {
  return {{"id", id},
          {"village_id", village},
          {"head_name", head_name},
          {"created_by", officer},
          {"created_at", "2026-12-06T08:00:00Z"}};
}

Row person(const std::string& id, const std::string& village, const std::string& household_id,
           const std::string& officer, const std::string& name) {
  return {{"id", id},          {"village_id", village}, {"household_id", household_id},
          {"full_name", name}, {"created_by", officer}, {"created_at", "2026-12-06T09:00:00Z"}};
}

// One officer's phone: a replica holding the officer's token.
struct Officer {
  std::string name;
  std::vector<std::string> villages;
  std::string path;
  std::unique_ptr<Replica> replica;

  Replica& operator*() { return *replica; }
  Replica* operator->() { return replica.get(); }

  // What the server holds of the villages this officer may read, as the
  // phone's dump_json() prints it.
  std::string expected_dump(const std::string& data) const {
    if (villages.size() == 1) return dump_of(data, villages.front());
    return dump_of(data);  // the officer of both villages reads all there is
  }
};

// A ministry's lumbungd with authentication, started and stopped on one data
// directory, and its officers' phones.
class Ministry {
 public:
  Ministry() { start(); }

  const std::string& data() const { return data_; }
  const TempDir& dir() const { return dir_; }

  // Starts serve on `data` (the same directory by default).
  void start(const std::string& data = "") {
    if (!data.empty()) data_ = data;
    daemon_.emplace(LUMBUNGD, data_);
  }
  // Stops serve with SIGTERM; it must exit 0.
  void stop() {
    const std::optional<ProcessResult> stopped = daemon_->terminate();
    daemon_.reset();
    REQUIRE(stopped);
    INFO(stopped->err);
    REQUIRE(stopped->exit_code == 0);
  }

  // A phone "phone-NAME" for an officer of `villages`, with a token from
  // `lumbungd token` (and its EXTRA arguments).
  Officer& add_officer(const std::string& name, const std::vector<std::string>& villages,
                       const std::vector<std::string>& extra = {}) {
    std::string joined;
    for (const std::string& village : villages) joined += (joined.empty() ? "" : ",") + village;
    std::vector<std::string> args = {"token", "--data",     data_, "--officer",
                                     name,    "--villages", joined};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string out = lumbungd_output(args);
    ReplicaOptions options = options_for(dir_.file(name + ".db"));
    options.device_id = "phone-" + name;
    options.server_url = daemon_->url();
    options.token = out.substr(0, out.find('\n'));
    officers_.push_back(
        std::make_unique<Officer>(Officer{name, villages, options.path, open_replica(options)}));
    return *officers_.back();
  }
  std::vector<Officer*> officers() {
    std::vector<Officer*> all;
    for (auto& officer : officers_) all.push_back(officer.get());
    return all;
  }

  // One sync of `officer` with the running serve; it must succeed (its
  // pushes are acknowledged).
  SyncSummary sync(Officer& officer) {
    Result<std::shared_ptr<Transport>> transport = make_http_transport(daemon_->url());
    REQUIRE(transport.is_ok());
    SyncOptions options;
    options.transport = std::move(transport).value();
    Result<SyncSummary> summary = officer->sync(options);
    INFO("sync of " << officer.name << ": " << summary.status().to_string());
    REQUIRE(summary.is_ok());
    return *summary;
  }

  // Every officer syncs, round after round, until a round in which no sync
  // pushed or pulled anything: each holds all the others pushed, and the
  // scopes' checksums agree (a mismatch would re-seed and pull).
  void settle() {
    for (int round = 0; round < kMaxSettleRounds; ++round) {
      bool quiet = true;
      for (auto& officer : officers_) {
        const SyncSummary summary = sync(*officer);
        quiet = quiet && summary.pushed == 0 && summary.pulled == 0;
      }
      if (quiet) return;
    }
    FAIL("the devices did not settle in " << kMaxSettleRounds << " rounds");
  }

  // Every phone holds exactly what the server holds of its villages, and
  // has nothing left to push.
  void check_converged() {
    for (auto& officer : officers_) {
      INFO("officer " << officer->name);
      CHECK((*officer)->pending_changes()->empty());
      CHECK((*officer)->dump_json().value() + "\n" == officer->expected_dump(data_));
    }
  }

 private:
  TempDir dir_;
  std::string data_ = dir_.file("data");
  std::optional<DaemonProcess> daemon_;
  std::vector<std::unique_ptr<Officer>> officers_;
};

// Three officers of two villages: sri in desa-a, budi in desa-b, ani in
// both. Each registers households, acknowledged and seen by the others.
struct TwoVillages {
  Ministry ministry;
  Officer& sri = ministry.add_officer("sri", {kVillageA});
  Officer& ani = ministry.add_officer("ani", {kVillageA, kVillageB});
  Officer& budi = ministry.add_officer("budi", {kVillageB});

  TwoVillages() {
    for (int i = 1; i <= 4; ++i) {
      const std::string id = "a" + std::to_string(i);
      REQUIRE(sri->insert("household", household(id, kVillageA, "sri", "Kepala " + id)).is_ok());
    }
    REQUIRE(ani->insert("household", household("a5", kVillageA, "ani", "Wagiyem")).is_ok());
    REQUIRE(ani->insert("person", person("p1", kVillageA, "a5", "ani", "Wagiyem")).is_ok());
    REQUIRE(ani->insert("household", household("b1", kVillageB, "ani", "Sumarni")).is_ok());
    for (const char* id : {"b2", "b3"}) {
      REQUIRE(budi->insert("household", household(id, kVillageB, "budi", "Tarmi")).is_ok());
    }
    ministry.settle();
  }

  // What the officers do after the backup: new rows, edits of their own and
  // the others' rows, a cell two of them edit, deletes; all acknowledged and
  // seen by every phone.
  void work_on() {
    REQUIRE(sri->insert("household", household("a6", kVillageA, "sri", "Karsih")).is_ok());
    REQUIRE(sri->update("household", "a1", {{"head_name", "Siti Aminah"}}).is_ok());
    REQUIRE(sri->update("household", "a5", {{"dusun", "Krajan"}}).is_ok());
    REQUIRE(sri->remove("household", "a2").is_ok());
    REQUIRE(ani->update("household", "b2", {{"notes", "pindah RT 3"}}).is_ok());
    REQUIRE(ani->update("household", "a1", {{"phone", "0812-0001"}}).is_ok());
    REQUIRE(ani->insert("household", household("b4", kVillageB, "ani", "Sulastri")).is_ok());
    REQUIRE(ani->insert("person", person("p2", kVillageA, "a5", "ani", "Darmi")).is_ok());
    REQUIRE(ani->update("person", "p1", {{"phone", "0813-0002"}}).is_ok());
    REQUIRE(budi->remove("household", "b3").is_ok());
    REQUIRE(budi->update("household", "b1", {{"rt", "004"}}).is_ok());
    REQUIRE(budi->insert("household", household("b5", kVillageB, "budi", "Painah")).is_ok());
    ministry.settle();
    // sri and ani both edit a4's notes; ani's edit, the later, wins.
    REQUIRE(sri->update("household", "a4", {{"notes", "sri: rumah kosong"}}).is_ok());
    REQUIRE(ani->update("household", "a4", {{"notes", "ani: dihuni lagi"}}).is_ok());
    ministry.settle();
    ministry.check_converged();
  }
};

}  // namespace

TEST_CASE(
    "a restored older backup loses no acknowledged row or cell, whatever order the devices "
    "sync in",
    "[integration][rewind]") {
  const std::vector<int> order =
      GENERATE(std::vector<int>{0, 1, 2}, std::vector<int>{0, 2, 1}, std::vector<int>{1, 0, 2},
               std::vector<int>{1, 2, 0}, std::vector<int>{2, 0, 1}, std::vector<int>{2, 1, 0});
  INFO("sync order " << nlohmann::json(order).dump());
  TwoVillages villages;
  Ministry& ministry = villages.ministry;
  const std::string backup = ministry.dir().file("nightly.lbk");
  lumbungd_output({"backup", "--data", ministry.data(), "--out", backup});  // while serve runs
  villages.work_on();
  const std::string acknowledged = dump_of(ministry.data());
  REQUIRE(nlohmann::json::parse(acknowledged).at("household").contains("a6"));

  ministry.stop();
  lumbungd_output({"restore", "--from", backup, "--data", ministry.data(), "--force"});
  const std::string restored = dump_of(ministry.data());
  REQUIRE(restored != acknowledged);
  REQUIRE(nlohmann::json::parse(restored).at("household").contains("a2"));  // deleted since
  ministry.start();

  const std::vector<Officer*> officers = ministry.officers();
  for (const int device : order) ministry.sync(*officers[device]);
  ministry.settle();
  CHECK(dump_of(ministry.data()) == acknowledged);
  ministry.check_converged();
  // The checksums agree: nothing is left to pull or push.
  for (Officer* officer : officers) {
    const SyncSummary again = ministry.sync(*officer);
    CHECK(again.pulled == 0);
    CHECK(again.pushed == 0);
  }
}

TEST_CASE("a server that lost its data dir but kept its signing keys is re-seeded by the phones",
          "[integration][rewind]") {
  TwoVillages villages;
  Ministry& ministry = villages.ministry;
  villages.work_on();
  const std::string acknowledged = dump_of(ministry.data());
  const std::string village_a = dump_of(ministry.data(), kVillageA);
  const std::string village_b = dump_of(ministry.data(), kVillageB);
  ministry.stop();

  // The disk that held lumbung.db is gone; the keys and the credentials
  // (token bindings, revocations) were kept elsewhere.
  const std::string fresh = ministry.dir().file("new-disk");
  fs::create_directory(fresh);
  fs::permissions(fresh, fs::perms::owner_all);
  fs::copy(ministry.data() + "/keys", fresh + "/keys", fs::copy_options::recursive);
  fs::copy_file(ministry.data() + "/credentials.sqlite", fresh + "/credentials.sqlite");
  ministry.start(fresh);
  REQUIRE(nlohmann::json::parse(dump_of(fresh)).at("household").empty());

  // budi's phone, the only one holding desa-b alone, syncs first.
  ministry.sync(villages.budi);
  CHECK(dump_of(fresh, kVillageB) == village_b);
  ministry.settle();
  CHECK(dump_of(fresh) == acknowledged);
  CHECK(dump_of(fresh, kVillageA) == village_a);
  CHECK(dump_of(fresh, kVillageB) == village_b);
  ministry.check_converged();
}

TEST_CASE("a phone replica restored from an old copy keeps syncing with nothing lost",
          "[integration][rewind]") {
  // sri's token is bound to the phone's first device id: at its first use,
  // or named when it was issued.
  const bool issued_for_device = GENERATE(false, true);
  INFO((issued_for_device ? "token issued with --device" : "token bound at first use"));
  Ministry ministry;
  Officer& sri =
      ministry.add_officer("sri", {kVillageA},
                           issued_for_device ? std::vector<std::string>{"--device", "phone-sri"}
                                             : std::vector<std::string>{});
  Officer& ani = ministry.add_officer("ani", {kVillageA});
  REQUIRE(sri->insert("household", household("a1", kVillageA, "sri", "Sumiyati")).is_ok());
  REQUIRE(sri->insert("household", household("a2", kVillageA, "sri", "Rukmini")).is_ok());
  REQUIRE(ani->insert("household", household("a3", kVillageA, "ani", "Painem")).is_ok());
  ministry.settle();

  // A copy of the closed replica file, as Android Auto Backup keeps one.
  const std::string copy = ministry.dir().file("sri-auto-backup.db");
  sri.replica.reset();
  fs::copy_file(sri.path, copy);
  sri.replica = open_replica(options_for(sri.path));

  // The phone's life after the copy: acknowledged, then lost with the phone.
  REQUIRE(sri->insert("household", household("a4", kVillageA, "sri", "Warsini")).is_ok());
  REQUIRE(sri->update("household", "a1", {{"notes", "before the loss"}}).is_ok());
  REQUIRE(sri->remove("household", "a2").is_ok());
  REQUIRE(ministry.sync(sri).pushed > 0);
  REQUIRE(ani->update("household", "a3", {{"dusun", "Krajan"}}).is_ok());
  ministry.settle();
  const nlohmann::json before_loss = nlohmann::json::parse(dump_of(ministry.data()));

  // The new phone gets the old copy, and sri goes on writing.
  sri.replica.reset();
  for (const char* suffix : {"-wal", "-shm"}) fs::remove(sri.path + suffix);
  fs::copy_file(copy, sri.path, fs::copy_options::overwrite_existing);
  sri.replica = open_replica(options_for(sri.path));
  REQUIRE(sri->device_id() == "phone-sri");
  REQUIRE(sri->insert("household", household("a5", kVillageA, "sri", "Sukinah")).is_ok());
  REQUIRE(sri->update("household", "a1", {{"head_name", "Sumiyati Darmo"}}).is_ok());
  const SyncSummary first = ministry.sync(sri);  // with the token bound to phone-sri
  CHECK(first.pushed == 2);
  CHECK(sri->device_id() != "phone-sri");

  ministry.settle();
  const nlohmann::json after = nlohmann::json::parse(dump_of(ministry.data()));
  const nlohmann::json& households = after.at("household");
  // Nothing from before the copy, from the lost life or from after it is lost.
  for (const auto& [id, row] : before_loss.at("household").items()) {
    INFO("household " << id);
    REQUIRE(households.contains(id));
    for (const auto& [column, value] : row.items()) {
      if (id == "a1" && column == "head_name") continue;  // written again since
      CHECK(households.at(id).at(column) == value);
    }
  }
  CHECK_FALSE(households.contains("a2"));  // the delete made in the lost life held
  CHECK(households.at("a1").at("notes") == "before the loss");
  CHECK(households.at("a1").at("head_name") == "Sumiyati Darmo");
  CHECK(households.at("a5").at("head_name") == "Sukinah");
  ministry.check_converged();

  // The token moved to the new device id: it keeps working for it.
  const std::string new_id = sri->device_id();
  REQUIRE(sri->update("household", "a4", {{"rt", "002"}}).is_ok());
  CHECK(ministry.sync(sri).pushed == 1);
  CHECK(sri->device_id() == new_id);
  ministry.settle();
  ministry.check_converged();
}

// docs/security.md: a token "bound to (or issued for)" the device a request's
// replaces_device names moves to the new id, at every re-identification: a
// token issued with --device once allowed one hop only (its claims name the
// first device), refusing a replica restored from an old copy a second time.
TEST_CASE("a token issued for a device follows its replica through a second re-identification",
          "[integration][rewind]") {
  Ministry ministry;
  Officer& sri = ministry.add_officer("sri", {kVillageA}, {"--device", "phone-sri"});
  const auto copy_of_replica = [&](const std::string& name) {
    const std::string copy = ministry.dir().file(name);
    sri.replica.reset();
    fs::copy_file(sri.path, copy);
    sri.replica = open_replica(options_for(sri.path));
    return copy;
  };
  const auto restore_replica = [&](const std::string& copy) {
    sri.replica.reset();
    for (const char* suffix : {"-wal", "-shm"}) fs::remove(sri.path + suffix);
    fs::copy_file(copy, sri.path, fs::copy_options::overwrite_existing);
    sri.replica = open_replica(options_for(sri.path));
  };
  REQUIRE(sri->insert("household", household("a1", kVillageA, "sri", "Sumiyati")).is_ok());
  ministry.sync(sri);
  const std::string first_copy = copy_of_replica("first-copy.db");
  REQUIRE(sri->insert("household", household("a2", kVillageA, "sri", "Rukmini")).is_ok());
  ministry.sync(sri);

  // The second phone gets the first copy and re-identifies: the token moves.
  restore_replica(first_copy);
  REQUIRE(sri->insert("household", household("a3", kVillageA, "sri", "Painem")).is_ok());
  ministry.sync(sri);
  const std::string second_id = sri->device_id();
  REQUIRE(second_id != "phone-sri");
  const std::string second_copy = copy_of_replica("second-copy.db");
  REQUIRE(sri->insert("household", household("a4", kVillageA, "sri", "Warsini")).is_ok());
  ministry.sync(sri);

  // The third phone gets the second phone's copy: replaces_device names the
  // second id, to which the token is bound now.
  restore_replica(second_copy);
  REQUIRE(sri->insert("household", household("a5", kVillageA, "sri", "Sukinah")).is_ok());
  ministry.sync(sri);
  CHECK(sri->device_id() != second_id);
  CHECK(nlohmann::json::parse(dump_of(ministry.data())).at("household").size() == 5);
}

}  // namespace lumbung::test
