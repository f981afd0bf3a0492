// An app's use of the installed C++ API (lumbung::replica): the same as
// consumer.c, through lumbung/replica.hpp and the static libraries.
#include <iostream>
#include <lumbung/replica.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " REPLICA_PATH\n";
    return 2;
  }
  constexpr const char* kVillage = "0190f1c2-7a00-7000-8000-000000000001";
  lumbung::ReplicaOptions options;
  options.path = argv[1];
  lumbung::Result<std::unique_ptr<lumbung::Replica>> replica = lumbung::Replica::open(options);
  if (!replica.is_ok()) {
    std::cerr << "open: " << replica.status().to_string() << '\n';
    return 1;
  }
  const lumbung::Row row = {
      {"id", kVillage},           {"village_id", kVillage},    {"kode_wilayah", "3212140007"},
      {"name", "Juntinyuat"},     {"kecamatan", "Juntinyuat"}, {"kabupaten", "Indramayu"},
      {"provinsi", "Jawa Barat"}, {"cohort_year", 2017}};
  if (const lumbung::Status inserted = (*replica)->insert("village", row); !inserted.is_ok()) {
    std::cerr << "insert: " << inserted.to_string() << '\n';
    return 1;
  }
  lumbung::Result<std::optional<lumbung::Row>> read = (*replica)->get("village", kVillage);
  if (!read.is_ok() || !read->has_value()) {
    std::cerr << "get: " << (read.is_ok() ? "no row" : read.status().to_string()) << '\n';
    return 1;
  }
  std::cout << "lumbung C++: village " << (*read)->at("name").as_text() << '\n';
  return 0;
}
