// Whole files through zstd (snapshot/zstd_file.hpp): what a snapshot goes
// through on the daemon and on the device.
#include "snapshot/zstd_file.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <random>

#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Several MiB, some of it compressible: more than one buffer each way.
std::string sample() {
  std::mt19937_64 random(7);
  std::string bytes;
  while (bytes.size() < (3u << 20)) {
    bytes += "person,Siti Aminah,Indramayu,SMP," + std::to_string(random() % 1000) + "\n";
    bytes += static_cast<char>(random());
  }
  return bytes;
}

TEST_CASE("a file packed and unpacked is the same file", "[snapshot]") {
  TempDir dir;
  const std::string original = sample();
  write(dir.file("in"), original);
  REQUIRE(snapshot::compress_file(dir.file("in"), dir.file("packed"), 3).is_ok());
  CHECK(read_file(dir.file("packed")).size() < original.size() / 2);
  REQUIRE(snapshot::decompress_file(dir.file("packed"), dir.file("out"), original.size()).is_ok());
  CHECK(read_file(dir.file("out")) == original);
}

TEST_CASE("a packed file cut short, extended, damaged or too large does not unpack", "[snapshot]") {
  TempDir dir;
  const std::string original = sample();
  write(dir.file("in"), original);
  REQUIRE(snapshot::compress_file(dir.file("in"), dir.file("packed"), 3).is_ok());
  std::string packed = read_file(dir.file("packed"));
  std::uint64_t limit = original.size();
  SECTION("cut short") { packed.resize(packed.size() - 100); }
  SECTION("bytes after the frame") { packed += "more"; }
  SECTION("its last bytes, the checksum, changed") { packed.back() ^= 1; }
  SECTION("unpacking to more than the limit") { limit = original.size() - 1; }
  write(dir.file("packed"), packed);
  const Status status = snapshot::decompress_file(dir.file("packed"), dir.file("out"), limit);
  CHECK(status.code() == ErrorCode::kCorrupt);
}

TEST_CASE("a missing file is NotFound", "[snapshot]") {
  TempDir dir;
  CHECK(snapshot::compress_file(dir.file("none"), dir.file("packed"), 3).code() ==
        ErrorCode::kNotFound);
  CHECK(snapshot::decompress_file(dir.file("none"), dir.file("out"), 1).code() ==
        ErrorCode::kNotFound);
}

}  // namespace
}  // namespace lumbung::test
