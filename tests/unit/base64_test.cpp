#include "core/base64.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>

namespace {

using lumbung::Blob;
using lumbung::core::base64_decode;
using lumbung::core::base64_encode;
using lumbung::core::base64url_decode;
using lumbung::core::base64url_encode;

Blob bytes_of(std::string_view text) { return Blob(text.begin(), text.end()); }

}  // namespace

TEST_CASE("base64 matches the RFC 4648 test vectors", "[core]") {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    CHECK(base64_encode(bytes_of(plain)) == encoded);
    const auto decoded = base64_decode(encoded);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == bytes_of(plain));
  }
}

TEST_CASE("base64 uses the standard alphabet", "[core]") {
  CHECK(base64_encode(Blob{0xfb, 0xff, 0xbf}) == "+/+/");
  CHECK(base64_decode("+/+/") == Blob{0xfb, 0xff, 0xbf});
  CHECK(base64_encode(Blob{0x00, 0x01, 0x02, 0xff}) == "AAEC/w==");
}

TEST_CASE("base64 round-trips every length and byte value", "[core]") {
  std::mt19937 random(7);
  for (std::size_t length = 0; length < 300; ++length) {
    Blob blob(length);
    for (auto& byte : blob) byte = static_cast<std::uint8_t>(random());
    const std::string text = base64_encode(blob);
    CHECK(text.size() == (length + 2) / 3 * 4);
    CHECK(base64_decode(text) == blob);
  }
  Blob every(256);
  for (int i = 0; i < 256; ++i) every[i] = static_cast<std::uint8_t>(i);
  CHECK(base64_decode(base64_encode(every)) == every);
}

TEST_CASE("base64_decode rejects text that is not canonical padded base64", "[core]") {
  for (std::string_view bad : {
           "Zg",        // unpadded
           "Zg=",       // short
           "Zh==",      // leftover bits set (canonical: Zg==)
           "Zm9=",      // leftover bits set (canonical: Zm8=)
           "Z===",      // too much padding
           "=Zg=",      // padding first
           "Z=g=",      // padding in the middle
           "Zg==Zg==",  // padding before the end
           "Zm9v\n",    // whitespace
           "Zm-v",      // URL-safe alphabet
           "Zm_v",
           "Zm9v Zm9v",
       }) {
    INFO(bad);
    CHECK_FALSE(base64_decode(bad).has_value());
  }
}

TEST_CASE("base64url uses the URL-safe alphabet without padding", "[core]") {
  CHECK(base64url_encode(Blob{0xfb, 0xff, 0xbf}) == "-_-_");
  CHECK(base64url_encode(bytes_of("f")) == "Zg");
  CHECK(base64url_encode(bytes_of("fo")) == "Zm8");
  CHECK(base64url_decode("-_-_") == Blob{0xfb, 0xff, 0xbf});
  CHECK(base64url_decode("Zm8") == bytes_of("fo"));
  CHECK(base64url_decode("") == Blob{});
  std::mt19937 random(11);
  for (std::size_t length = 0; length < 100; ++length) {
    Blob blob(length);
    for (auto& byte : blob) byte = static_cast<std::uint8_t>(random());
    CHECK(base64url_decode(base64url_encode(blob)) == blob);
  }
}

TEST_CASE("base64url_decode rejects text that is not canonical unpadded base64url", "[core]") {
  for (std::string_view bad :
       {"Zg==", "Zm8=", "Z", "Zh", "Zm9", "Zm+v", "Zm/v", "Zm9v\n", "Zm.v"}) {
    INFO(bad);
    CHECK_FALSE(base64url_decode(bad).has_value());
  }
}
