// A full disk and a failing disk, on the device and on the daemon's store
// (the real SyncServer and SqliteStore, in this process, over MemoryTransport):
// each reports kNoSpace or kIo with a message, loses nothing committed, and
// works again once space returns. The disk is FaultVfs (fault_vfs.hpp), with a
// random byte budget per round so that failures land anywhere in a write.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "crash_support.hpp"
#include "fault_vfs.hpp"
#include "server/sync_server.hpp"
#include "support/memory_transport.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

constexpr int kRounds = 12;

struct DiskFault {
  int sqlite_code;
  ErrorCode expected;
  const char* name;
};

DiskFault disk_fault() {
  return GENERATE(DiskFault{SQLITE_FULL, ErrorCode::kNoSpace, "disk full"},
                  DiskFault{SQLITE_IOERR_WRITE, ErrorCode::kIo, "I/O error"});
}

// A device and the daemon's core on one FaultVfs disk.
class FaultWorld {
 public:
  FaultWorld() {
    server_options_.data_dir = server_dir();
    server_options_.insecure_no_auth = true;
    restart_server();
    transport_ = std::make_shared<MemoryTransport>(server_.get());
  }
  ~FaultWorld() { vfs_.heal(); }

  void restart_server() {
    if (transport_) transport_->set_server(nullptr);
    server_.reset();
    Result<std::unique_ptr<server::SyncServer>> opened = server::SyncServer::open(server_options_);
    INFO(opened.status().to_string());
    REQUIRE(opened.is_ok());
    server_ = std::move(opened).value();
    if (transport_) transport_->set_server(server_.get());
  }

  std::unique_ptr<Replica> open_device(const std::string& name) {
    ReplicaOptions options = options_for(device_path(name));
    options.device_id = name;
    return open_replica(options);
  }
  std::string device_path(const std::string& name) const { return dir_.file(name + ".db"); }
  std::string server_dir() const { return dir_.file("server"); }

  // One attempt, so that the disk's error comes back as it is.
  SyncOptions once(int push_batch_changes = 1000) const {
    SyncOptions options;
    options.transport = transport_;
    options.max_attempts = 1;
    options.push_batch_changes = push_batch_changes;
    return options;
  }

  nlohmann::json server_households() {
    return nlohmann::json::parse(server_->dump_json().value()).at("household");
  }
  std::string server_dump() { return server_->dump_json().value(); }

  FaultVfs& vfs() { return vfs_; }

 private:
  FaultVfs vfs_;  // first: every connection below goes through it
  TempDir dir_;
  server::ServerOptions server_options_;
  std::unique_ptr<server::SyncServer> server_;
  std::shared_ptr<MemoryTransport> transport_;
};

// Inserts households id_prefix-N, N from *next on, until one fails; records
// the committed ones and returns the failure. REQUIRES: a fault is armed.
Status write_until_refused(Replica& replica, const std::string& id_prefix, long* next,
                           std::set<std::string>* committed) {
  for (int tries = 0; tries < 100000; ++tries) {
    const std::string id = id_prefix + std::to_string((*next)++);
    Status status = replica.insert("household", crash_household(id, id));
    if (!status.is_ok()) {
      CHECK_FALSE(replica.get("household", id)->has_value());  // wholly absent
      return status;
    }
    committed->insert(id);
  }
  FAIL("the disk never filled");
  return Status::ok();
}

void write_rows(Replica& replica, const std::string& id_prefix, long* next, int rows,
                std::set<std::string>* committed) {
  for (int i = 0; i < rows; ++i) {
    const std::string id = id_prefix + std::to_string((*next)++);
    REQUIRE(replica.insert("household", crash_household(id, id)).is_ok());
    committed->insert(id);
  }
}

void check_all_present(Replica& replica, const std::set<std::string>& committed) {
  for (const std::string& id : committed) {
    INFO("committed row " << id);
    CHECK(replica.get("household", id)->has_value());
  }
}

}  // namespace

TEST_CASE("a full or failing disk on the device: a clear error, nothing lost, recovery",
          "[crash]") {
  const DiskFault fault = disk_fault();
  std::mt19937 rng(crash_seed("device disk fault"));
  FaultWorld world;
  auto device = world.open_device("device");
  std::set<std::string> committed;
  long next = 0;
  write_rows(*device, "d-", &next, 20, &committed);
  REQUIRE(device->sync(world.once()).is_ok());

  int failed_syncs = 0;
  for (int round = 0; round < kRounds; ++round) {
    INFO(fault.name << ", round " << round);
    write_rows(*device, "d-", &next, 5, &committed);  // pending when the disk fails
    world.vfs().fail_writes(world.device_path("device"), fault.sqlite_code,
                            std::uniform_int_distribution<std::int64_t>(0, 48 << 10)(rng));
    const Status refused = write_until_refused(*device, "d-", &next, &committed);
    INFO(refused.to_string());
    CHECK(refused.code() == fault.expected);
    CHECK_FALSE(refused.message().empty());
    // A sync needs the disk too (acknowledgements, pulled rows); its error is the disk's.
    const Result<SyncSummary> synced = device->sync(world.once());
    if (!synced.is_ok()) {
      CHECK(synced.status().code() == fault.expected);
      ++failed_syncs;
    }
    check_all_present(*device, committed);

    world.vfs().heal();
    CHECK(integrity_check(world.device_path("device")) == "ok");
    write_rows(*device, "d-", &next, 1, &committed);  // writes again
    REQUIRE(device->sync(world.once()).is_ok());
    const nlohmann::json server = world.server_households();
    for (const std::string& id : committed) CHECK(server.contains(id));
  }
  device.reset();
  device = world.open_device("device");
  check_all_present(*device, committed);
  CHECK(device->pending_changes()->empty());
  CHECK(device->dump_json().value() == world.server_dump());
  std::fprintf(stderr, "device %s: %d faults injected, %d syncs failed, %zu rows verified\n",
               fault.name, world.vfs().faults(), failed_syncs, committed.size());
}

TEST_CASE("a full or failing disk on the daemon: a clear error, nothing lost, recovery",
          "[crash]") {
  const DiskFault fault = disk_fault();
  std::mt19937 rng(crash_seed("daemon disk fault"));
  FaultWorld world;
  auto writer = world.open_device("writer");
  auto reader = world.open_device("reader");
  std::set<std::string> committed;
  long next = 0;
  write_rows(*writer, "w-", &next, 10, &committed);
  REQUIRE(writer->sync(world.once()).is_ok());

  int failed_syncs = 0;
  for (int round = 0; round < kRounds; ++round) {
    INFO(fault.name << ", round " << round);
    const nlohmann::json acknowledged = world.server_households();
    write_rows(*writer, "w-", &next, 12, &committed);
    world.vfs().fail_writes(world.server_dir(), fault.sqlite_code,
                            std::uniform_int_distribution<std::int64_t>(0, 256 << 10)(rng));
    const Result<SyncSummary> synced = writer->sync(world.once(4));  // several pushes
    if (!synced.is_ok()) {
      INFO(synced.status().to_string());
      CHECK(synced.status().code() == fault.expected);
      CHECK_FALSE(synced.status().message().empty());
      ++failed_syncs;
    }
    // The server kept what it had acknowledged; what it refused is still pending.
    const nlohmann::json kept = world.server_households();
    for (const auto& [id, row] : acknowledged.items()) CHECK(kept.contains(id));
    std::set<std::string> pending;
    for (const PendingChange& change : writer->pending_changes().value()) {
      pending.insert(change.row_id);
    }
    for (const std::string& id : committed) {
      INFO("row " << id);
      CHECK((kept.contains(id) || pending.count(id) == 1));
    }
    // Reading needs no space: the other device still pulls.
    CHECK(reader->sync(world.once()).is_ok());

    world.vfs().heal();
    if (round % 3 == 2) world.restart_server();  // the store on disk is whole
    REQUIRE(writer->sync(world.once(4)).is_ok());
    const nlohmann::json server = world.server_households();
    for (const std::string& id : committed) CHECK(server.contains(id));
  }
  REQUIRE(reader->sync(world.once()).is_ok());
  const std::string server = world.server_dump();
  CHECK(writer->dump_json().value() == server);
  CHECK(reader->dump_json().value() == server);
  CHECK(integrity_check(world.server_dir() + "/lumbung.db") == "ok");
  CHECK(audit_disagreements(server, lumbungd_output({"audit", "--data", world.server_dir()}),
                            "household") == "");
  std::fprintf(stderr, "daemon %s: %d faults injected, %d syncs failed, %zu rows verified\n",
               fault.name, world.vfs().faults(), failed_syncs, committed.size());
}

}  // namespace lumbung::test
