#include "people.hpp"

#include <cstdio>
#include <random>

namespace lumbung::bench {

std::vector<Row> make_people(int count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  static const char* kNames[] = {"Siti Aminah", "Budi Santoso", "Dewi Lestari", "Agus Salim",
                                 "Sri Wahyuni", "Eko Prasetyo", "Nur Hidayah",  "Joko Susilo"};
  static const char* kRelations[] = {"KEPALA", "ISTRI", "ANAK", "ANAK", "ORANG_TUA"};
  std::vector<Row> rows;
  char buf[64];
  for (int i = 0; i < count; ++i) {
    Row row;
    std::snprintf(buf, sizeof buf, "0193%04x-%04x-7%03x-8%03x-%012llx", (i >> 16) & 0xffff,
                  i & 0xffff, static_cast<int>(rng() & 0xfff), static_cast<int>(rng() & 0xfff),
                  static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
    row["id"] = Value(buf);
    row["village_id"] = Value(kVillage);
    std::snprintf(buf, sizeof buf, "0193b%03x-0000-7000-8000-%012d", i / 4 % 4096, i / 4);
    row["household_id"] = Value(buf);
    std::snprintf(buf, sizeof buf, "3212%012llu",
                  static_cast<unsigned long long>(rng() % 1000000000000ULL));
    row["nik"] = Value(buf);
    row["full_name"] = Value(kNames[rng() % 8]);
    row["sex"] = Value(rng() % 2 ? "L" : "P");
    std::snprintf(buf, sizeof buf, "19%02d-%02d-%02d", static_cast<int>(50 + rng() % 50),
                  static_cast<int>(1 + rng() % 12), static_cast<int>(1 + rng() % 28));
    row["birth_date"] = Value(buf);
    row["birth_place"] = Value("Indramayu");
    row["relation"] = Value(kRelations[i % 5]);
    row["education"] = Value("SMP");
    std::snprintf(buf, sizeof buf, "+62812%08d", static_cast<int>(rng() % 100000000));
    row["phone"] = Value(buf);
    row["created_by"] = Value("officer-sri");
    row["created_at"] = Value("2026-11-28T04:00:00Z");
    rows.push_back(std::move(row));
  }
  return rows;
}

const std::vector<std::string>& people_columns() {
  static const std::vector<std::string> kColumns = {
      "id",          "village_id", "household_id", "nik",   "full_name",  "sex",       "birth_date",
      "birth_place", "relation",   "education",    "phone", "created_by", "created_at"};
  return kColumns;
}

}  // namespace lumbung::bench
