// `lumbungd backup` and `lumbungd restore` as an operator runs them, against
// real daemons on 127.0.0.1 (docs/lumbungd.md, docs/operations.md): a
// backup taken while devices push restores to a consistent state with a new
// epoch and working credentials; a file cut short, damaged or foreign is
// refused and leaves the data directory byte for byte as it was; one
// `serve` or `restore` per data directory; a backup that cannot be written
// fails while serving goes on; and every file of a data directory is private
// whatever the umask.
#include <openssl/evp.h>
#include <sys/stat.h>
#include <zstd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "auth/token_authority.hpp"
#include "db/database.hpp"
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
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

constexpr const char* kVillage = "desa-a";
// A command that must succeed and print one JSON object on one line.
nlohmann::json run_json(const std::vector<std::string>& args) {
  const ProcessResult result = run_lumbungd(args);
  INFO(nlohmann::json(args).dump() << "\nstderr: " << result.err);
  REQUIRE(result.exit_code == 0);
  REQUIRE(result.out.ends_with("\n"));
  REQUIRE(result.out.find('\n') == result.out.size() - 1);
  return nlohmann::json::parse(result.out);
}

// A command that must fail with status 1 and one "lumbungd: " line naming `problem`.
void check_refused(const ProcessResult& result, const std::string& problem) {
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.err, StartsWith("lumbungd: ") && Contains(problem));
  CHECK(result.err.find('\n') == result.err.size() - 1);
  CHECK(result.out.empty());
}

std::string issue_token(const std::string& data, const std::string& officer,
                        std::string* token_id = nullptr) {
  const ProcessResult result =
      run_lumbungd({"token", "--data", data, "--officer", officer, "--villages", kVillage});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  if (token_id != nullptr) {
    const std::size_t at = result.err.find("token id: ");
    REQUIRE(at != std::string::npos);
    *token_id = result.err.substr(at + 10, 32);
  }
  return result.out.substr(0, result.out.find('\n'));
}

// Everything under `dir`: each path with its mode, and a file's bytes.
std::map<std::string, std::string> tree_of(const std::string& dir) {
  std::map<std::string, std::string> tree;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return tree;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    struct stat info {};
    REQUIRE(::lstat(entry.path().c_str(), &info) == 0);
    std::string& line = tree[fs::relative(entry.path(), dir).string()];
    line = std::to_string(info.st_mode & 07777) + " ";
    if (S_ISREG(info.st_mode)) line += read_file(entry.path().string());
  }
  return tree;
}

// Every path under `dir` whose mode is not 0700 (directories) or 0600 (files).
std::vector<std::string> not_private(const std::string& dir) {
  std::vector<std::string> wide;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    struct stat info {};
    REQUIRE(::lstat(entry.path().c_str(), &info) == 0);
    const unsigned expected = S_ISDIR(info.st_mode) ? 0700 : 0600;
    if ((info.st_mode & 07777) != expected) wide.push_back(entry.path().string());
  }
  return wide;
}

unsigned mode_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The store's epoch, read with SQLite as an operator's script would.
std::string epoch_of(const std::string& data) {
  auto db = db::Database::open(data + "/lumbung.db", false);
  REQUIRE(db.is_ok());
  auto query = (*db)->prepare("SELECT value FROM _lumbung_meta WHERE key = 'epoch'");
  REQUIRE(query.is_ok());
  auto row = query->step();
  REQUIRE(row.is_ok());
  REQUIRE(*row);
  return query->column_text(0);
}

std::string dump_of(const std::string& data) {
  const ProcessResult dump = run_lumbungd({"dump", "--data", data});
  INFO(dump.err);
  REQUIRE(dump.exit_code == 0);
  return dump.out;
}

std::shared_ptr<Transport> transport_to(const DaemonProcess& daemon) {
  Result<std::shared_ptr<Transport>> transport = make_http_transport(daemon.url());
  REQUIRE(transport.is_ok());
  return std::move(transport).value();
}

bool answers_health(const DaemonProcess& daemon) {
  Result<HttpResponse> health = transport_to(daemon)->exchange({"GET", "/healthz", {}, {}});
  return health.is_ok() && health->status == 200 && health->body == "ok";
}

Row household(const std::string& device, int i) {
  return {{"village_id", kVillage},
          {"head_name", device + " household " + std::to_string(i)},
          {"created_by", device},
          {"created_at", "2026-12-06T08:00:00Z"}};
}

std::unique_ptr<Replica> device(const std::string& path, const std::string& device_id,
                                const std::string& url, const std::string& token) {
  ReplicaOptions options = options_for(path);
  options.device_id = device_id;
  options.server_url = url;
  options.token = token;
  return open_replica(options);
}

// Registers households on `replica` and syncs, round after round, until
// `stop`; records the ids in the order they were registered and counts the
// syncs. Returns the first failure, if any (it runs on a thread of its own).
std::string keep_pushing(Replica& replica, const std::string& name, std::atomic<bool>& stop,
                         std::atomic<int>& syncs, std::vector<std::string>& ids) {
  for (int i = 0; !stop; ++i) {
    Result<std::string> id = replica.insert_new("household", household(name, i));
    if (!id.is_ok()) return name + ": insert: " + id.status().to_string();
    ids.push_back(*id);
    if (i % 3 != 2) continue;
    Result<SyncSummary> synced = replica.sync();
    if (!synced.is_ok()) return name + ": sync: " + synced.status().to_string();
    ++syncs;
  }
  return {};
}

// Waits until `syncs` reaches `target`, for at most 30 s.
void wait_for_syncs(const std::atomic<int>& syncs, int target) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (syncs < target && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);  // polls the condition; bounded by the deadline
  }
  REQUIRE(syncs >= target);
}

// One zstd frame of `bytes`, with zstd's checksum.
std::string zstd_of(const std::string& bytes) {
  std::string packed(ZSTD_compressBound(bytes.size()), '\0');
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1);
  const std::size_t size =
      ZSTD_compress2(context, packed.data(), packed.size(), bytes.data(), bytes.size());
  ZSTD_freeCCtx(context);
  REQUIRE_FALSE(ZSTD_isError(size));
  packed.resize(size);
  return packed;
}

std::string big_endian(std::uint64_t value, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>(value >> (8 * i));
  return out;
}

// A backup file as `lumbungd backup` writes one (docs/decisions/0019), built
// by hand so that it can hold what the daemon never writes.
std::string crafted_backup(const std::vector<std::pair<std::string, std::string>>& files,
                           std::uint32_t version = 1) {
  std::string payload = "lumbung-backup\n" + big_endian(version, 4);
  for (const auto& [name, bytes] : files) {
    payload += big_endian(name.size(), 4) + name + big_endian(bytes.size(), 8) + bytes;
  }
  payload += big_endian(0, 4);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  REQUIRE(EVP_Digest(payload.data(), payload.size(), digest, &digest_size, EVP_sha256(), nullptr) ==
          1);
  payload.append(reinterpret_cast<const char*>(digest), digest_size);
  return zstd_of(payload);
}

// A data directory that has served: a store with households from one
// device, keys and credentials. Stopped.
struct ServedDir {
  TempDir dir;
  std::string data = dir.file("data");
  std::string dump;

  ServedDir() {
    DaemonProcess daemon(LUMBUNGD, data);
    std::unique_ptr<Replica> sri =
        device(dir.file("sri.db"), "phone-sri", daemon.url(), issue_token(data, "sri"));
    for (int i = 0; i < 20; ++i) REQUIRE(sri->insert_new("household", household("sri", i)).is_ok());
    REQUIRE(sri->sync().is_ok());
    REQUIRE(daemon.terminate());
    dump = dump_of(data);
  }

  // `lumbungd backup` of the data directory into FILE; returns its JSON.
  nlohmann::json backup(const std::string& file, bool with_snapshots = false) const {
    std::vector<std::string> args = {"backup", "--data", data, "--out", file};
    if (with_snapshots) args.emplace_back("--with-snapshots");
    return run_json(args);
  }
};

TEST_CASE("a backup taken while devices push restores to a consistent state",
          "[integration][backup]") {
  TempDir dir;
  const std::string data = dir.file("data");
  DaemonProcess daemon(LUMBUNGD, data);
  const std::string original_epoch = epoch_of(data);
  std::string revoked_id;
  const std::string revoked = issue_token(data, "ani", &revoked_id);
  REQUIRE(run_lumbungd({"revoke", "--data", data, "--token-id", revoked_id}).exit_code == 0);
  const std::string spare = issue_token(data, "rina");  // used by no device before the backup

  const std::vector<std::string> names = {"sri", "budi"};
  std::map<std::string, std::string> tokens;
  std::map<std::string, std::unique_ptr<Replica>> replicas;
  std::map<std::string, std::vector<std::string>> registered;
  for (const std::string& name : names) {
    tokens[name] = issue_token(data, name);
    replicas[name] = device(dir.file(name + ".db"), "phone-" + name, daemon.url(), tokens[name]);
    registered[name];
  }
  std::atomic<bool> stop = false;
  std::atomic<int> syncs = 0;
  std::vector<std::future<std::string>> pushers;
  for (const std::string& name : names) {
    pushers.push_back(std::async(std::launch::async, [&, name] {
      return keep_pushing(*replicas[name], name, stop, syncs, registered[name]);
    }));
  }
  // Three backups, each while both devices are pushing, each after more syncs.
  std::vector<nlohmann::json> backups;
  for (int i = 0; i < 3; ++i) {
    wait_for_syncs(syncs, 4 * (i + 1));
    backups.push_back(
        run_json({"backup", "--data", data, "--out", dir.file("b" + std::to_string(i) + ".lbk")}));
  }
  stop = true;
  for (std::future<std::string>& pusher : pushers) CHECK(pusher.get().empty());
  for (const std::string& name : names) REQUIRE(replicas[name]->sync().is_ok());
  const nlohmann::json final_dump = nlohmann::json::parse(dump_of(data));
  REQUIRE(answers_health(daemon));

  std::int64_t previous_seq = 0;
  for (std::size_t i = 0; i < backups.size(); ++i) {
    const nlohmann::json& backup = backups[i];
    INFO("backup " << i << ": " << backup.dump());
    const std::string file = dir.file("b" + std::to_string(i) + ".lbk");
    CHECK(backup.size() == 3);
    CHECK(backup.at("path") == file);
    CHECK(backup.at("bytes") == fs::file_size(file));
    CHECK(mode_of(file) == 0600);
    const std::int64_t last_seq = backup.at("last_seq").get<std::int64_t>();
    CHECK(last_seq > previous_seq);  // each was taken after more pushes
    previous_seq = last_seq;

    const std::string restored = dir.file("restored" + std::to_string(i));
    const nlohmann::json answer = run_json({"restore", "--from", file, "--data", restored});
    CHECK(answer.size() == 3);
    CHECK(answer.at("path") == restored);
    CHECK(answer.at("last_seq") == last_seq);
    CHECK(answer.at("epoch") == epoch_of(restored));
    CHECK(answer.at("epoch") != original_epoch);
    CHECK_FALSE(fs::exists(restored + "/restore-staging"));
    {
      auto db = db::Database::open(restored + "/lumbung.db", false);
      REQUIRE(db.is_ok());
      CHECK(db::check_integrity(**db, restored).is_ok());
      // Insert only: every seq up to last_seq is one row of the copy.
      auto seqs = (*db)->prepare("SELECT count(*), max(seq) FROM _lumbung_changes");
      REQUIRE(seqs.is_ok());
      REQUIRE(*seqs->step());
      CHECK(seqs->column_int(0) == last_seq);
      CHECK(seqs->column_int(1) == last_seq);
    }
    // Each device's batches commit in its order: the copy holds the first
    // households each registered, as the server has them now.
    const nlohmann::json dump = nlohmann::json::parse(dump_of(restored));
    const nlohmann::json& households = dump.at("household");
    std::size_t held = 0;
    for (const std::string& name : names) {
      std::size_t prefix = 0;
      while (prefix < registered[name].size() && households.contains(registered[name][prefix])) {
        ++prefix;
      }
      for (std::size_t k = prefix; k < registered[name].size(); ++k) {
        CHECK_FALSE(households.contains(registered[name][k]));
      }
      held += prefix;
    }
    CHECK(held == households.size());
    CHECK(held > 0);
    for (const auto& [id, row] : households.items()) {
      CHECK(final_dump.at("household").at(id) == row);
    }

    // The credentials came along: bindings, revocations and the keys.
    auto authority = auth::TokenAuthority::open(restored, nullptr);
    REQUIRE(authority.is_ok());
    CHECK((*authority)->authenticate("Bearer " + tokens["sri"], "phone-sri").is_ok());
    CHECK((*authority)->authenticate("Bearer " + tokens["sri"], "phone-x").status().code() ==
          ErrorCode::kDeviceMismatch);
    CHECK((*authority)->authenticate("Bearer " + revoked, "phone-ani").status().code() ==
          ErrorCode::kTokenRevoked);
  }

  // The newest restored state serves: a device with a token issued before
  // the backup pulls exactly what it holds.
  const std::string restored = dir.file("restored2");
  DaemonProcess restored_daemon(LUMBUNGD, restored);
  std::unique_ptr<Replica> rina =
      device(dir.file("rina.db"), "phone-rina", restored_daemon.url(), spare);
  REQUIRE(rina->sync().is_ok());
  Result<std::string> rina_dump = rina->dump_json();
  REQUIRE(rina_dump.is_ok());
  CHECK(*rina_dump + "\n" == dump_of(restored));
}

TEST_CASE("restore refuses a file cut short, damaged or foreign and leaves DIR as it was",
          "[integration][backup]") {
  ServedDir served;
  const std::string good_file = served.dir.file("good.lbk");
  served.backup(good_file);
  const std::string good = read_file(good_file);
  REQUIRE(good.size() > 100);
  const std::map<std::string, std::string> before = tree_of(served.data);

  std::string flipped_middle = good;
  flipped_middle[good.size() / 2] ^= 0x10;
  std::string flipped_last = good;
  flipped_last.back() ^= 0x01;
  std::string random_bytes;
  std::mt19937 random(15);
  for (int i = 0; i < 4096; ++i) random_bytes += static_cast<char>(random());
  std::string sqlite_table;  // a SQLite file, but no lumbungd store
  {
    const std::string path = served.dir.file("other.sqlite");
    auto other = db::Database::open(path, true);
    REQUIRE(other.is_ok());
    REQUIRE((*other)->exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)").is_ok());
    other->reset();
    sqlite_table = read_file(path);
  }
  std::string damaged_store = read_file(served.data + "/lumbung.db");
  REQUIRE(damaged_store.size() > 3 * 4096);
  for (std::size_t i = 4096 + 8; i < 2 * 4096; ++i) damaged_store[i] = static_cast<char>(0xa5);

  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"cut in half", good.substr(0, good.size() / 2), "is not a whole, intact lumbungd backup"},
      {"one byte short", good.substr(0, good.size() - 1), "is not a whole, intact"},
      {"a byte flipped inside", flipped_middle, "is not a whole, intact"},
      {"its zstd checksum changed", flipped_last, "is not a whole, intact"},
      {"bytes after it", good + "x", "is not a whole, intact"},
      {"empty", "", "is cut short"},
      {"random bytes", random_bytes, "does not unpack"},
      {"a zstd file of something else", zstd_of("name,village\nSiti Aminah,desa-a\n"),
       "does not begin with \"lumbung-backup\""},
      {"a newer format", crafted_backup({}, 2), "format 2"},
      {"a name leaving DIR", crafted_backup({{"../lumbung.db", "x"}}), "a file named '../"},
      {"a file no data directory holds", crafted_backup({{"etc/passwd", "root"}}),
       "no part of a lumbungd data directory"},
      {"no store", crafted_backup({{"keys/current", "0123456789abcdef\n"}}), "holds no store"},
      {"a store that is not SQLite", crafted_backup({{"lumbung.db", "not a database"}}),
       "lumbung.db"},
      {"a SQLite file that is no lumbungd store", crafted_backup({{"lumbung.db", sqlite_table}}),
       "holds no lumbungd store"},
      {"a damaged store", crafted_backup({{"lumbung.db", damaged_store}}), "lumbung.db"},
  };
  const std::string bad_file = served.dir.file("bad.lbk");
  const std::string missing = served.dir.file("missing");
  for (const auto& [what, bytes, problem] : cases) {
    INFO(what);
    write_file(bad_file, bytes);
    check_refused(run_lumbungd({"restore", "--from", bad_file, "--data", served.data, "--force"}),
                  problem);
    CHECK(tree_of(served.data) == before);
    check_refused(run_lumbungd({"restore", "--from", bad_file, "--data", missing}), problem);
    CHECK_FALSE(fs::exists(missing));
  }
  check_refused(run_lumbungd({"restore", "--from", served.dir.file("nowhere.lbk"), "--data",
                              served.data, "--force"}),
                "does not exist");
  CHECK(tree_of(served.data) == before);
  // The good file still restores.
  run_json({"restore", "--from", good_file, "--data", served.data, "--force"});
  CHECK(dump_of(served.data) == served.dump);
}

TEST_CASE("restore replaces a DIR's state only with --force, and begins a new epoch",
          "[integration][backup]") {
  ServedDir served;
  // Snapshots of the state, which a restore of another history must remove.
  REQUIRE(run_lumbungd({"snapshot", "--data", served.data}).exit_code == 0);
  const std::string plain = served.dir.file("plain.lbk");
  const std::string with_snapshots = served.dir.file("with-snapshots.lbk");
  served.backup(plain);
  served.backup(with_snapshots, true);
  std::map<std::string, std::string> snapshot_files;  // name: bytes
  for (const fs::directory_entry& entry : fs::directory_iterator(served.data + "/snapshots")) {
    if (entry.path().extension() == ".zst") {
      snapshot_files[entry.path().filename()] = read_file(entry.path().string());
    }
  }
  REQUIRE(snapshot_files.size() == 1);
  const std::string epoch_before = epoch_of(served.data);
  write_file(served.data + "/operator-notes.txt", "certificates renewed in May\n");
  const std::map<std::string, std::string> before = tree_of(served.data);

  check_refused(run_lumbungd({"restore", "--from", plain, "--data", served.data}),
                "data directory '" + served.data + "' is not empty");
  CHECK(tree_of(served.data) == before);

  const nlohmann::json restored =
      run_json({"restore", "--from", plain, "--data", served.data, "--force"});
  CHECK(restored.at("epoch") != epoch_before);
  CHECK(epoch_of(served.data) == restored.at("epoch"));
  CHECK(dump_of(served.data) == served.dump);
  CHECK(fs::is_empty(served.data + "/snapshots"));
  CHECK(read_file(served.data + "/operator-notes.txt") == "certificates renewed in May\n");
  CHECK_FALSE(fs::exists(served.data + "/restore-staging"));

  // With --with-snapshots the newest snapshot comes back byte for byte.
  const std::string elsewhere = served.dir.file("elsewhere");
  run_json({"restore", "--from", with_snapshots, "--data", elsewhere});
  for (const auto& [name, bytes] : snapshot_files) {
    CHECK(read_file(elsewhere + "/snapshots/" + name) == bytes);
  }
  CHECK(dump_of(elsewhere) == served.dump);
}

// A restore killed after its commit mark, with the store moved in and the
// rest still staged, as move_in leaves it (docs/decisions/0019).
TEST_CASE("a restore cut short after its commit is finished by the next serve",
          "[integration][backup]") {
  ServedDir served;
  const std::string file = served.dir.file("b.lbk");
  served.backup(file);
  const std::string staged = served.dir.file("staged");
  const std::string epoch = run_json({"restore", "--from", file, "--data", staged}).at("epoch");
  const std::string staging = served.data + "/restore-staging";
  fs::create_directories(staging + "/new");
  fs::create_directories(staging + "/old");
  for (const std::string part : {"lumbung.db", "credentials.sqlite", "keys", "snapshots"}) {
    fs::rename(staged + "/" + part, staging + "/new/" + part);
  }
  write_file(staging + "/committed", "");
  fs::rename(served.data + "/lumbung.db", staging + "/old/lumbung.db");
  fs::rename(staging + "/new/lumbung.db", served.data + "/lumbung.db");
  const std::map<std::string, std::string> keys = tree_of(staging + "/new/keys");

  DaemonProcess daemon(LUMBUNGD, served.data);
  CHECK(answers_health(daemon));
  CHECK_FALSE(fs::exists(staging));
  CHECK(epoch_of(served.data) == epoch);
  CHECK(tree_of(served.data + "/keys") == keys);
  CHECK(dump_of(served.data) == served.dump);
}

TEST_CASE("a restore cut short before its commit leaves the old state, cleaned by the next serve",
          "[integration][backup]") {
  ServedDir served;
  const std::string epoch = epoch_of(served.data);
  const std::string staging = served.data + "/restore-staging";
  fs::create_directories(staging + "/new/keys");
  write_file(staging + "/new/lumbung.db", "half written");

  DaemonProcess daemon(LUMBUNGD, served.data);
  CHECK(answers_health(daemon));
  CHECK_FALSE(fs::exists(staging));
  CHECK(epoch_of(served.data) == epoch);
  CHECK(dump_of(served.data) == served.dump);
}

TEST_CASE("one serve or restore at a time uses a data directory", "[integration][backup]") {
  ServedDir served;
  const std::string backup_file = served.dir.file("b.lbk");
  served.backup(backup_file);
  {
    DaemonProcess first(LUMBUNGD, served.data);
    const std::string in_use = "data directory '" + served.data +
                               "' is in use by another lumbungd (pid " +
                               std::to_string(first.pid()) + ")";
    check_refused(run_lumbungd({"serve", "--data", served.data, "--listen", "127.0.0.1:0"}),
                  in_use);
    const std::string epoch = epoch_of(served.data);
    check_refused(
        run_lumbungd({"restore", "--from", backup_file, "--data", served.data, "--force"}), in_use);
    CHECK(epoch_of(served.data) == epoch);
    // The commands that read or add to DIR still run beside it.
    CHECK(dump_of(served.data) == served.dump);
    issue_token(served.data, "ani");
    CHECK(answers_health(first));
    REQUIRE(first.terminate());
  }
  DaemonProcess second(LUMBUNGD, served.data);  // the lock died with the first
  CHECK(answers_health(second));
}

TEST_CASE("a backup that cannot be written fails clearly while serving goes on",
          "[integration][backup]") {
  TempDir dir;
  const std::string data = dir.file("data");
  DaemonProcess daemon(LUMBUNGD, data);
  std::unique_ptr<Replica> sri =
      device(dir.file("sri.db"), "phone-sri", daemon.url(), issue_token(data, "sri"));
  REQUIRE(sri->insert_new("household", household("sri", 0)).is_ok());
  REQUIRE(sri->sync().is_ok());
  write_file(dir.file("a-file"), "not a directory\n");
  fs::create_directory(dir.file("a-dir"));
  // Root may write anywhere a mode forbids: these fail for root too.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {dir.file("missing/b.lbk"), "No such file or directory"},
      {dir.file("a-file/b.lbk"), "Not a directory"},
      {dir.file("a-dir"), "not a file name"}};
  const std::map<std::string, std::string> before = tree_of(dir.path().string() + "/a-dir");
  for (const auto& [out, problem] : cases) {
    INFO(out);
    const ProcessResult result = run_lumbungd({"backup", "--data", data, "--out", out});
    check_refused(result, "cannot write the backup to '" + out + "'");
    CHECK_THAT(result.err, Contains(problem));
    CHECK(answers_health(daemon));
  }
  CHECK(tree_of(dir.path().string() + "/a-dir") == before);
  CHECK(read_file(dir.file("a-file")) == "not a directory\n");
  for (const fs::directory_entry& entry : fs::directory_iterator(dir.path())) {
    CHECK_THAT(entry.path().filename().string(), !Contains(".tmp-"));
  }
  check_refused(run_lumbungd({"backup", "--data", dir.file("nowhere"), "--out", dir.file("x")}),
                "holds no store");
  // Serving went on: a push and a pull still travel.
  REQUIRE(sri->insert_new("household", household("sri", 1)).is_ok());
  Result<SyncSummary> synced = sri->sync();
  REQUIRE(synced.is_ok());
  CHECK(synced->pushed == 1);
  CHECK(nlohmann::json::parse(dump_of(data)).at("household").size() == 2);
}

TEST_CASE("a data directory and everything in it are private whatever the umask",
          "[integration][backup]") {
  const mode_t mask = GENERATE(mode_t{022}, mode_t{0});
  INFO("umask " << mask);
  const Umask umask(mask);  // the daemon and its commands inherit it
  {
    ServedDir served;  // serve, token, a device's push
    REQUIRE(run_lumbungd({"snapshot", "--data", served.data}).exit_code == 0);
    const std::string file = served.dir.file("b.lbk");
    served.backup(file, true);
    CHECK(mode_of(served.data) == 0700);
    CHECK(not_private(served.data).empty());
    CHECK(mode_of(file) == 0600);
    const std::string restored = served.dir.file("restored");
    run_json({"restore", "--from", file, "--data", restored});
    CHECK(mode_of(restored) == 0700);
    CHECK(not_private(restored).empty());
    // An older version's data directory is narrowed when serve opens it.
    REQUIRE(::chmod(restored.c_str(), 0755) == 0);
    REQUIRE(::chmod((restored + "/lumbung.db").c_str(), 0644) == 0);
    DaemonProcess daemon(LUMBUNGD, restored);
    CHECK(mode_of(restored) == 0700);
    CHECK(not_private(restored).empty());
  }
}

}  // namespace
}  // namespace lumbung::test
