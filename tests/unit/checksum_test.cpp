#include "core/checksum.hpp"

#include <catch2/catch.hpp>

namespace {

using lumbung::Value;
using lumbung::core::cell_hash;
using lumbung::core::RowCellHasher;

}  // namespace

// The vectors were computed from docs/protocol.md ("Checksum") by a separate
// script, so that a peer written from the document agrees with the engine.
TEST_CASE("cell_hash follows the byte layout docs/protocol.md gives", "[core]") {
  CHECK(cell_hash("household", "r1", "head_name", Value("Siti Aminah")) == 0xc2df7ecfd7d86a6cULL);
  CHECK(cell_hash("household", "r1", "members", Value(std::int64_t{-4})) == 0x9d242f3d87f3580eULL);
  CHECK(cell_hash("household", "r1", "latitude", Value(-6.25)) == 0x418ba442fa7fd8eeULL);
  CHECK(cell_hash("household", "r1", "notes", Value()) == 0xa24eafe6b98007e3ULL);
}

TEST_CASE("a row's hasher gives each cell the hash cell_hash gives it", "[core]") {
  const RowCellHasher row("household", "r1");
  CHECK(row.cell("head_name", Value("Siti Aminah")) ==
        cell_hash("household", "r1", "head_name", Value("Siti Aminah")));
  CHECK(row.cell("members", Value(std::int64_t{-4})) ==
        cell_hash("household", "r1", "members", Value(std::int64_t{-4})));
  // The prefix is length-delimited: moving a byte from the row id to the
  // table changes the hash.
  CHECK(RowCellHasher("household1", "").cell("notes", Value()) !=
        RowCellHasher("household", "1").cell("notes", Value()));
}
