// The small Desmigratif world the server and pull-page fuzz targets start
// from, and the seed writer (write_seeds.cpp) records its seeds in: a real
// SyncServer (insecure_no_auth) in a temporary directory and two devices on
// one fake clock, connected in memory. Its story: ani creates a village, a
// household and two persons in village A and one person in village B; both
// devices sync; both edit the same manual-review cell (a pending conflict);
// both sync again. A fixed clock and fixed ids make every run alike.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lumbung/replica.hpp"
#include "server/sync_server.hpp"
#include "support/memory_transport.hpp"
#include "support/test_support.hpp"

namespace lumbung::fuzz {

inline constexpr const char* kVillageA = "0190f1c2-7a00-7000-8000-00000000000a";
inline constexpr const char* kVillageB = "0190f1c2-7a00-7000-8000-00000000000b";
// 2026-11-28T08:00:00Z: far from the wall clock, and the same in every run.
inline constexpr std::int64_t kStartMs = 1795852800000;

// Sees every exchange between a device and the server.
using Recorder = std::function<void(const HttpRequest&, const HttpResponse&)>;

// A Transport that hands each exchange to a Recorder on its way back.
class RecordingTransport : public Transport {
 public:
  RecordingTransport(std::shared_ptr<Transport> inner, Recorder record)
      : inner_(std::move(inner)), record_(std::move(record)) {}
  Result<HttpResponse> exchange(const HttpRequest& request) override {
    Result<HttpResponse> response = inner_->exchange(request);
    if (response.is_ok() && record_) record_(request, *response);
    return response;
  }

 private:
  std::shared_ptr<Transport> inner_;
  Recorder record_;
};

inline void require(const Status& status, const std::string& what) {
  if (!status.is_ok()) throw std::runtime_error(what + ": " + status.to_string());
}

class FuzzWorld {
 public:
  static constexpr int kAni = 0;
  static constexpr int kBudi = 1;

  explicit FuzzWorld(Recorder record = nullptr)
      : clock_(std::make_shared<test::FakeClock>(kStartMs)) {
    server::ServerOptions options;
    options.data_dir = dir_.file("server");
    options.clock = clock_;
    options.insecure_no_auth = true;
    Result<std::unique_ptr<server::SyncServer>> opened = server::SyncServer::open(options);
    require(opened.status(), "server");
    server_ = std::move(opened).value();
    transport_ = std::make_shared<RecordingTransport>(
        std::make_shared<test::MemoryTransport>(server_.get()), std::move(record));
    for (const char* name : {"ani", "budi"}) {
      ReplicaOptions device = test::options_for(path(name), clock_);
      device.device_id = name;
      devices_.push_back(test::open_replica(device));
    }
    tell_story();
  }

  server::SyncServer& server() { return *server_; }
  Replica& device(int i) { return *devices_.at(i); }
  test::FakeClock& clock() { return *clock_; }
  std::shared_ptr<test::FakeClock> shared_clock() { return clock_; }
  test::TempDir& dir() { return dir_; }
  std::string path(const std::string& device) const { return dir_.file(device + ".db"); }

  // Closes device i, so that its file can be opened another way.
  void close_device(int i) { devices_.at(i).reset(); }

  // Sync options over the recording transport.
  SyncOptions options() const {
    SyncOptions options;
    options.transport = transport_;
    return options;
  }
  void sync(int i) { require(device(i).sync(options()).status(), "sync"); }

 private:
  void tell_story() {
    Replica& ani = device(kAni);
    const Row who = {{"created_by", "ani"}, {"created_at", "2026-11-28T08:00:00Z"}};
    const auto with = [&](Row row) {
      row.insert(who.begin(), who.end());
      return row;
    };
    require(ani.insert("village", {{"id", kVillageA},
                                   {"village_id", kVillageA},
                                   {"kode_wilayah", "33.01.01.2001"},
                                   {"name", "Sukamaju"},
                                   {"kecamatan", "Cilacap Selatan"},
                                   {"kabupaten", "Cilacap"},
                                   {"provinsi", "Jawa Tengah"},
                                   {"cohort_year", 2026}}),
            "village");
    require(ani.insert("household", with({{"id", "h1"},
                                          {"village_id", kVillageA},
                                          {"head_name", "Sutrisno"},
                                          {"latitude", -7.7},
                                          {"longitude", 109.0}})),
            "household");
    require(ani.insert("person", with({{"id", "p1"},
                                       {"village_id", kVillageA},
                                       {"household_id", "h1"},
                                       {"full_name", "Warsih"},
                                       {"migrant_status", "CALON"}})),
            "person p1");
    require(ani.insert("person", with({{"id", "p2"},
                                       {"village_id", kVillageA},
                                       {"household_id", "h1"},
                                       {"full_name", "Sutrisno"},
                                       {"deceased", 0}})),
            "person p2");
    require(ani.insert("person", with({{"id", "p3"},
                                       {"village_id", kVillageB},
                                       {"full_name", "Darmi"},
                                       {"skills", "menjahit"}})),
            "person p3");
    sync(kAni);
    sync(kBudi);
    require(ani.update("person", "p1", {{"migrant_status", "AKTIF"}}), "ani's edit");
    clock_->advance(1000);
    require(device(kBudi).update("person", "p1", {{"migrant_status", "PURNA"}}), "budi's edit");
    require(ani.remove("person", "p2"), "ani's delete");
    sync(kAni);
    sync(kBudi);
    sync(kAni);
  }

  test::TempDir dir_;
  std::shared_ptr<test::FakeClock> clock_;
  std::unique_ptr<server::SyncServer> server_;
  std::shared_ptr<RecordingTransport> transport_;
  std::vector<std::unique_ptr<Replica>> devices_;
};

}  // namespace lumbung::fuzz
