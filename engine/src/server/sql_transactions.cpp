#include "server/sql_transactions.hpp"

namespace lumbung::server::sql {

Result<std::uint64_t> random_conflict_id() {
  constexpr std::uint64_t kConflictIdBits = 53;
  for (;;) {
    std::uint64_t id = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id) != 1) {
      return Status(ErrorCode::kInternal, "the random number generator failed");
    }
    id &= (std::uint64_t{1} << kConflictIdBits) - 1;
    if (id != 0) return id;
  }
}

std::string joined_villages(const std::vector<std::string>& villages) {
  std::string text;
  for (const std::string& village : villages) {
    if (!text.empty()) text += '\n';
    text += village;
  }
  return text;
}

std::vector<std::string> split_villages(const std::string& text) {
  std::vector<std::string> villages;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    villages.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return villages;
}

Status no_live_row(std::string_view what, std::string_view table, std::string_view row_id) {
  return Status(ErrorCode::kInternal, std::string(what) + ": table '" + std::string(table) +
                                          "' has no live row '" + std::string(row_id) + "'");
}

Value versions_blob(const CellVersions& versions) {
  const std::string bytes = versions.encode();
  return Value(Blob(bytes.begin(), bytes.end()));
}

std::vector<StoredCell> LoadedRow::cells(const RowTable& table) const {
  std::vector<StoredCell> cells;
  cells.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    cells.push_back({table.columns[i], {values[i], versions.of(table.columns[i], row_version)}});
  }
  return cells;
}

}  // namespace lumbung::server::sql
