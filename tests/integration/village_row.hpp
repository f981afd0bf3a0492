// A row of the Desmigratif schema's `village` table, the region rows that
// district and province grants follow, for tests that register villages.
#pragma once

#include <cstdint>
#include <string>

#include "lumbung/value.hpp"

namespace lumbung::test {

// Village `id` (its own scope), in `district` (kabupaten) of `province`.
inline Row village_row(const std::string& id, const std::string& district = "Indramayu",
                       const std::string& province = "Jawa Barat") {
  return {{"id", id},
          {"village_id", id},
          {"kode_wilayah", "3212140007"},
          {"name", "Desa " + id.substr(id.size() - 4)},
          {"kecamatan", "Juntinyuat"},
          {"kabupaten", district},
          {"provinsi", province},
          {"cohort_year", std::int64_t{2017}}};
}

}  // namespace lumbung::test
