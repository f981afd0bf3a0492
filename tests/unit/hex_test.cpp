// core/hex.hpp: the one hex of the engine (ids, UUIDs, file names, blob text).
#include "core/hex.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace {

using lumbung::core::from_hex;
using lumbung::core::HexCase;
using lumbung::core::is_lower_hex;
using lumbung::core::to_hex;

}  // namespace

TEST_CASE("hex: two digits a byte, high nibble first, lower case unless asked", "[core]") {
  const std::string bytes("\x00\x0f\xa5\xff", 4);
  CHECK(to_hex(bytes) == "000fa5ff");
  CHECK(to_hex(bytes, HexCase::kUpper) == "000FA5FF");
  CHECK(to_hex("") == "");
  std::string out = "x'";
  lumbung::core::append_hex(out, bytes.data(), 2);
  CHECK(out == "x'000f");
}

TEST_CASE("hex: from_hex takes either case and refuses odd lengths and other characters",
          "[core]") {
  using Bytes = std::vector<std::uint8_t>;
  REQUIRE(from_hex("00fFa5"));
  CHECK(*from_hex("00fFa5") == Bytes{0x00, 0xff, 0xa5});
  REQUIRE(from_hex(""));
  CHECK(from_hex("")->empty());
  CHECK_FALSE(from_hex("abc"));
  CHECK_FALSE(from_hex("0g"));
  CHECK_FALSE(from_hex("+1"));
  CHECK(is_lower_hex("00af", 4));
  CHECK_FALSE(is_lower_hex("00AF", 4));
  CHECK_FALSE(is_lower_hex("00af", 2));
}
