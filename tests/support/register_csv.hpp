// A generated household register as a district keeps it in a spreadsheet,
// saved as CSV: the input of the `lumbungd import` tests and benchmark.
#pragma once

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lumbung::test {

// Writes a header and `lines` households of the built-in schema's table
// "household", spread over `villages` in turn; returns the file's size.
// Row ids are "h" and 7 digits.
inline std::uint64_t write_household_register(const std::string& path, std::int64_t lines,
                                              const std::vector<std::string>& villages) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << "id,village_id,head_name,dusun,rt,rw,latitude,longitude,phone,notes,created_by,"
         "created_at\r\n";
  char line[512];
  for (std::int64_t i = 0; i < lines; ++i) {
    const std::string& village = villages[static_cast<std::size_t>(i) % villages.size()];
    const int n = static_cast<int>(i);
    std::snprintf(line, sizeof line,
                  "h%07d,%s,Kepala Keluarga %d,Dusun %d,%03d,%03d,-6.%05d,108.%05d,0812%07d,"
                  "\"catatan, baris %d\",import,2026-12-07T08:00:00Z\r\n",
                  n, village.c_str(), n, n % 7, n % 9, n % 5, n % 100000, n % 100000, n, n);
    out << line;
  }
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
  return static_cast<std::uint64_t>(std::ifstream(path, std::ios::binary | std::ios::ate).tellg());
}

}  // namespace lumbung::test
