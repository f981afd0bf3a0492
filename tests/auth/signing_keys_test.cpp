// The signing keys on disk (auth/signing_keys.hpp): private files, rotation
// and retirement, seen by a second instance as by a running daemon.
#include "auth/signing_keys.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "support/temp_dir.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::auth::SigningKeys;

std::unique_ptr<SigningKeys> open_keys(const std::string& dir) {
  auto keys = SigningKeys::open(dir);
  if (!keys.is_ok()) FAIL(keys.status().to_string());
  return std::move(keys).value();
}

unsigned mode_of(const std::filesystem::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

std::string current_of(SigningKeys& keys) {
  auto key_id = keys.current_key_id();
  REQUIRE(key_id.is_ok());
  return *key_id;
}

}  // namespace

TEST_CASE("the key directory is 0700 and every file in it 0600", "[auth]") {
  lumbung::test::TempDir dir;
  const std::filesystem::path keys_dir = dir.path() / "keys";
  auto keys = open_keys(keys_dir.string());
  REQUIRE(keys->rotate().is_ok());
  CHECK(mode_of(keys_dir) == 0700);
  int pem_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(keys_dir)) {
    INFO(entry.path());
    CHECK(mode_of(entry.path()) == 0600);
    pem_files += entry.path().extension() == ".pem";
  }
  CHECK(pem_files == 2);
  CHECK(std::filesystem::exists(keys_dir / (current_of(*keys) + ".pem")));
}

TEST_CASE("keys readable by group or others are refused", "[auth]") {
  lumbung::test::TempDir dir;
  const std::filesystem::path keys_dir = dir.path() / "keys";
  const std::string key_id = current_of(*open_keys(keys_dir.string()));

  SECTION("a key file") {
    std::filesystem::permissions(keys_dir / (key_id + ".pem"), std::filesystem::perms::group_read,
                                 std::filesystem::perm_options::add);
    auto keys = open_keys(keys_dir.string());
    const auto signature = keys->sign(key_id, "message");
    REQUIRE_FALSE(signature.is_ok());
    CHECK(signature.status().code() == ErrorCode::kInvalidArgument);
    CHECK_THAT(signature.status().message(), Catch::Contains("0640"));
  }
  SECTION("the directory") {
    std::filesystem::permissions(keys_dir, std::filesystem::perms::others_exec,
                                 std::filesystem::perm_options::add);
    const auto keys = SigningKeys::open(keys_dir.string());
    REQUIRE_FALSE(keys.is_ok());
    CHECK(keys.status().code() == ErrorCode::kInvalidArgument);
    CHECK_THAT(keys.status().message(), Catch::Contains("0701"));
  }
}

TEST_CASE("a signature verifies under its key only", "[auth]") {
  lumbung::test::TempDir dir;
  auto keys = open_keys(dir.file("keys"));
  const std::string key_id = current_of(*keys);
  const auto signature = keys->sign(key_id, "message");
  REQUIRE(signature.is_ok());
  CHECK(signature->size() == 64);
  CHECK(keys->verify(key_id, "message", *signature).is_ok());
  CHECK(keys->verify(key_id, "massage", *signature).code() == ErrorCode::kTokenForged);
  CHECK(keys->verify("ffffffffffffffff", "message", *signature).code() == ErrorCode::kTokenForged);
  CHECK(keys->verify("../keys/current", "message", *signature).code() == ErrorCode::kTokenForged);

  lumbung::test::TempDir other_dir;
  auto other = open_keys(other_dir.file("keys"));
  CHECK(current_of(*other) != key_id);
  CHECK(other->verify(key_id, "message", *signature).code() == ErrorCode::kTokenForged);
}

TEST_CASE("rotation and retirement show in another instance at once", "[auth]") {
  lumbung::test::TempDir dir;
  auto daemon = open_keys(dir.file("keys"));
  auto cli = open_keys(dir.file("keys"));
  const std::string first = current_of(*daemon);
  CHECK(current_of(*cli) == first);
  const auto old_signature = daemon->sign(first, "old");
  REQUIRE(old_signature.is_ok());
  REQUIRE(daemon->verify(first, "old", *old_signature).is_ok());  // cached from here on

  const auto second = cli->rotate();
  REQUIRE(second.is_ok());
  CHECK(*second != first);
  CHECK(current_of(*daemon) == *second);
  const auto new_signature = cli->sign(*second, "new");
  REQUIRE(new_signature.is_ok());
  CHECK(daemon->verify(*second, "new", *new_signature).is_ok());
  CHECK(daemon->verify(first, "old", *old_signature).is_ok());

  CHECK(cli->retire(*second).code() == ErrorCode::kInvalidArgument);  // current
  CHECK(cli->retire("0000000000000000").code() == ErrorCode::kNotFound);
  CHECK(cli->retire("not-a-key-id").code() == ErrorCode::kInvalidArgument);
  REQUIRE(cli->retire(first).is_ok());
  CHECK(daemon->verify(first, "old", *old_signature).code() == ErrorCode::kTokenForged);
  CHECK(daemon->verify(*second, "new", *new_signature).is_ok());
  CHECK(cli->retire(first).code() == ErrorCode::kNotFound);
}
