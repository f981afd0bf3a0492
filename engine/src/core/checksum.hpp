// The checksum of a scope's state that a pull page carries and the device
// verifies: the sum, modulo 2^64, of cell_hash() over every cell of every live
// row in the scope. A sum is independent of order and can be kept up to date
// on the server by adding a cell's new hash and subtracting its old one.
#pragma once

#include <cstdint>
#include <string_view>

#include "lumbung/value.hpp"

namespace lumbung::core {

// A 64-bit hash of one cell: FNV-1a over the length-prefixed table, row id and
// column and the typed value (integers and reals as 8 little-endian bytes),
// then the splitmix64 finalizer so that sums of similar cells do not cancel.
// docs/protocol.md gives the exact byte layout.
std::uint64_t cell_hash(std::string_view table, std::string_view row_id, std::string_view column,
                        const Value& value);

// cell_hash() for the cells of one row: the hash of the (table, row id) prefix
// is computed once, which is most of the work when a whole scope is summed.
class RowCellHasher {
 public:
  RowCellHasher(std::string_view table, std::string_view row_id);
  std::uint64_t cell(std::string_view column, const Value& value) const;

 private:
  std::uint64_t prefix_state_;
};

// A 64-bit digest of bytes (FNV-1a, then splitmix64) that tells a retried
// request from a different one under the same number. Not cryptographic.
std::uint64_t bytes_digest(std::string_view bytes);

}  // namespace lumbung::core
