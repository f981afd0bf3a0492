// Grants kept on the server (docs/security.md, "Roles and grants"), with real
// lumbungd processes: `lumbungd grant`, `ungrant` and `revoke` change what
// the phones of a running daemon may read and write from their next request
// on, tokens stay small whatever the grant, and districts and provinces are
// read from the village records' own region columns.
#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "integration/village_row.hpp"
#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "support/daemon_process.hpp"
#include "support/lumbungd_command.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

constexpr const char* kIndramayu = "Indramayu";
constexpr const char* kCirebon = "Cirebon";
constexpr const char* kJawaBarat = "Jawa Barat";
constexpr const char* kJawaTengah = "Jawa Tengah";

// The n-th village's id: a UUID, as the ministry's village ids are.
std::string village_id(int n) {
  char id[37];
  std::snprintf(id, sizeof id, "0193f2a4-7c1e-7d2b-9a61-%012d", n);
  return id;
}

Row household(const std::string& id, const std::string& village) {
  return {{"id", id},
          {"village_id", village},
          {"head_name", "Tarsono"},
          {"created_by", "test"},
          {"created_at", "2026-12-07T08:00:00Z"}};
}

// A lumbungd with authentication, its admin's phone, and phones of officers.
class Ministry {
 public:
  Ministry() : daemon_(LUMBUNGD, data_) {
    lumbungd_output({"grant", "--data", data_, "--officer", "pusat", "--role", "admin"});
    admin_ = phone("pusat");
  }

  const std::string& data() const { return data_; }
  Replica& admin() { return *admin_; }

  // A token of `officer` from `lumbungd token`.
  std::string token(const std::string& officer) {
    const std::string out = lumbungd_output({"token", "--data", data_, "--officer", officer});
    return out.substr(0, out.find('\n'));
  }
  // A new phone of `officer`, with a new token.
  std::unique_ptr<Replica> phone(const std::string& officer) {
    ReplicaOptions options = options_for(dir_.file(officer + "-" + std::to_string(++phones_)));
    options.device_id = "phone-" + std::to_string(phones_);
    options.server_url = daemon_.url();
    options.token = token(officer);
    return open_replica(options);
  }
  void lumbungd(std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"--data", data_});
    lumbungd_output(args);
  }

  // One sync; its summary, or the error that ended it.
  Result<SyncSummary> try_sync(Replica& phone) {
    Result<std::shared_ptr<Transport>> transport = make_http_transport(daemon_.url());
    REQUIRE(transport.is_ok());
    SyncOptions options;
    options.transport = std::move(transport).value();
    return phone.sync(options);
  }
  SyncSummary sync(Replica& phone) {
    Result<SyncSummary> summary = try_sync(phone);
    INFO("sync of " << phone.device_id() << ": " << summary.status().to_string());
    REQUIRE(summary.is_ok());
    return *summary;
  }

 private:
  TempDir dir_;
  std::string data_ = dir_.file("data");
  DaemonProcess daemon_;
  std::unique_ptr<Replica> admin_;
  int phones_ = 0;
};

}  // namespace

TEST_CASE("a supervisor of 2,000 villages syncs them all with a token under 512 bytes",
          "[integration][auth]") {
  Ministry ministry;
  std::string all;
  std::set<std::string> villages;
  for (int n = 1; n <= 2000; ++n) {
    const std::string id = village_id(n);
    REQUIRE(ministry.admin().insert("village", village_row(id, kIndramayu, kJawaBarat)).is_ok());
    villages.insert(id);
    all += (all.empty() ? "" : ",") + id;
  }
  ministry.sync(ministry.admin());
  ministry.lumbungd({"grant", "--officer", "rina", "--role", "supervisor", "--villages", all});
  const std::string token = ministry.token("rina");
  CHECK(token.size() < 512);

  std::unique_ptr<Replica> rina = ministry.phone("rina");
  const SyncSummary pulled = ministry.sync(*rina);
  CHECK(pulled.pulled == 2000);
  CHECK(ids_on(*rina, "village") == villages);
  CHECK(rina->dump_json().value() == ministry.admin().dump_json().value());
}

TEST_CASE("a district grant follows the villages' records, and an ungrant purges at the next sync",
          "[integration][auth]") {
  Ministry ministry;
  Replica& admin = ministry.admin();
  REQUIRE(admin.insert("village", village_row(village_id(1), kIndramayu, kJawaBarat)).is_ok());
  REQUIRE(admin.insert("village", village_row(village_id(2), kCirebon, kJawaBarat)).is_ok());
  REQUIRE(admin.insert("village", village_row(village_id(3), "Brebes", kJawaTengah)).is_ok());
  REQUIRE(admin.insert("household", household("h1", village_id(1))).is_ok());
  REQUIRE(admin.insert("household", household("h2", village_id(2))).is_ok());
  ministry.sync(admin);

  ministry.lumbungd({"grant", "--officer", "dinas", "--district", kIndramayu});
  ministry.lumbungd({"grant", "--officer", "provinsi", "--province", kJawaBarat});
  std::unique_ptr<Replica> dinas = ministry.phone("dinas");
  std::unique_ptr<Replica> provinsi = ministry.phone("provinsi");
  ministry.sync(*dinas);
  ministry.sync(*provinsi);
  CHECK(ids_on(*dinas, "village") == std::set<std::string>{village_id(1)});
  CHECK(ids_on(*dinas, "household") == std::set<std::string>{"h1"});
  CHECK(ids_on(*provinsi, "village") == std::set<std::string>{village_id(1), village_id(2)});

  SECTION("a village added to the district later is covered at the next sync") {
    REQUIRE(admin.insert("village", village_row(village_id(4), kIndramayu, kJawaBarat)).is_ok());
    REQUIRE(admin.insert("household", household("h4", village_id(4))).is_ok());
    ministry.sync(admin);
    ministry.sync(*dinas);
    CHECK(ids_on(*dinas, "village") == std::set<std::string>{village_id(1), village_id(4)});
    CHECK(ids_on(*dinas, "household") == std::set<std::string>{"h1", "h4"});
    // The officer works in it at once.
    REQUIRE(dinas->insert("household", household("h5", village_id(4))).is_ok());
    CHECK(ministry.sync(*dinas).applied == 1);
  }
  SECTION("a village the admin moves to another district leaves the grant") {
    REQUIRE(admin.update("village", village_id(1), {{"kabupaten", kCirebon}}).is_ok());
    ministry.sync(admin);
    ministry.sync(*dinas);
    CHECK(ids_on(*dinas, "village").empty());
    CHECK(ids_on(*dinas, "household").empty());
  }
  SECTION("ungrant purges the district's villages from the phone at its next sync") {
    ministry.lumbungd({"ungrant", "--officer", "dinas", "--district", kIndramayu});
    ministry.sync(*dinas);
    CHECK(ids_on(*dinas, "village").empty());
    CHECK(ids_on(*dinas, "household").empty());
    // A village granted by name comes back alone.
    ministry.lumbungd({"grant", "--officer", "dinas", "--villages", village_id(2)});
    ministry.sync(*dinas);
    CHECK(ids_on(*dinas, "village") == std::set<std::string>{village_id(2)});
  }
}

TEST_CASE("only an admin's phone changes the region columns grants read", "[integration][auth]") {
  Ministry ministry;
  REQUIRE(ministry.admin()
              .insert("village", village_row(village_id(1), kIndramayu, kJawaBarat))
              .is_ok());
  ministry.sync(ministry.admin());
  ministry.lumbungd({"grant", "--officer", "sri", "--villages", village_id(1)});
  std::unique_ptr<Replica> sri = ministry.phone("sri");
  ministry.sync(*sri);

  REQUIRE(sri->update("village", village_id(1), {{"kabupaten", kCirebon}}).is_ok());
  REQUIRE(sri->update("village", village_id(1), {{"service_post_address", "Balai Desa"}}).is_ok());
  const SyncSummary moved = ministry.sync(*sri);
  CHECK(moved.refused == 1);
  CHECK(moved.applied == 1);
  std::vector<RefusedChange> refused = sri->refused_changes().value();
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].column == "kabupaten");
  CHECK(refused[0].reason == "read_only");
  CHECK_THAT(refused[0].message, Catch::Contains("only an admin"));

  REQUIRE(sri->remove("village", village_id(1)).is_ok());
  CHECK(ministry.sync(*sri).refused == 1);
  ministry.sync(ministry.admin());
  const std::optional<Row> kept = ministry.admin().get("village", village_id(1)).value();
  REQUIRE(kept);
  CHECK(kept->at("kabupaten").as_text() == kIndramayu);
  CHECK(kept->at("service_post_address").as_text() == "Balai Desa");
}

TEST_CASE("revoking an officer or a device refuses its tokens on a running daemon at once",
          "[integration][auth]") {
  Ministry ministry;
  REQUIRE(ministry.admin()
              .insert("village", village_row(village_id(1), kIndramayu, kJawaBarat))
              .is_ok());
  ministry.sync(ministry.admin());
  ministry.lumbungd({"grant", "--officer", "ani", "--district", kIndramayu});
  std::unique_ptr<Replica> old_phone = ministry.phone("ani");
  ministry.sync(*old_phone);

  SECTION("a new phone gets going with a new token; the old phone's pending writes still land") {
    REQUIRE(old_phone->insert("household", household("h-old", village_id(1))).is_ok());
    std::unique_ptr<Replica> new_phone = ministry.phone("ani");
    REQUIRE(new_phone->insert("household", household("h-new", village_id(1))).is_ok());
    CHECK(ministry.sync(*new_phone).applied == 1);
    CHECK(ministry.sync(*old_phone).applied == 1);
    ministry.sync(*new_phone);
    CHECK(ids_on(*new_phone, "household") == std::set<std::string>{"h-new", "h-old"});
  }
  SECTION("revoke --officer") {
    std::unique_ptr<Replica> second_phone = ministry.phone("ani");
    ministry.sync(*second_phone);
    ministry.lumbungd({"revoke", "--officer", "ani"});
    for (Replica* phone : {old_phone.get(), second_phone.get()}) {
      Result<SyncSummary> refused = ministry.try_sync(*phone);
      CHECK(refused.status().code() == ErrorCode::kTokenRevoked);
    }
    // A token issued after the revocation works.
    std::unique_ptr<Replica> third_phone = ministry.phone("ani");
    ministry.sync(*third_phone);
    CHECK(ids_on(*third_phone, "village") == std::set<std::string>{village_id(1)});
  }
  SECTION("revoke --device") {
    std::unique_ptr<Replica> second_phone = ministry.phone("ani");
    ministry.sync(*second_phone);
    ministry.lumbungd({"revoke", "--device", old_phone->device_id()});
    CHECK(ministry.try_sync(*old_phone).status().code() == ErrorCode::kTokenRevoked);
    ministry.sync(*second_phone);
  }
}

}  // namespace lumbung::test
