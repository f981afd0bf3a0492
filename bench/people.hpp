// Realistic `person` rows of one village, as officers register them: the
// workload the sync benchmarks share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lumbung/value.hpp"

namespace lumbung::bench {

// The village every generated row belongs to.
inline constexpr const char* kVillage = "0193a000-0000-7000-8000-000000000001";

// `count` rows with time-ordered ids, four people per household; the same
// `seed` gives the same rows.
std::vector<Row> make_people(int count, std::uint64_t seed);

// The columns make_people fills, in schema order.
const std::vector<std::string>& people_columns();

}  // namespace lumbung::bench
