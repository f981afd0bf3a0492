#include "server/cell_versions.hpp"

#include <algorithm>
#include <cstdint>

namespace lumbung::server {
namespace {

constexpr char kFormat = 1;

void put_varint(std::uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void put_text(std::string_view text, std::string* out) {
  put_varint(text.size(), out);
  out->append(text);
}

// Reads from the front of `bytes`; false when they end first.
bool get_varint(std::string_view* bytes, std::uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64 && !bytes->empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(bytes->front());
    bytes->remove_prefix(1);
    *value |= std::uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool get_text(std::string_view* bytes, std::string* text) {
  std::uint64_t size = 0;
  if (!get_varint(bytes, &size) || size > bytes->size()) return false;
  text->assign(bytes->substr(0, size));
  bytes->remove_prefix(size);
  return true;
}

}  // namespace

bool same_version(const core::ServerVersion& a, const core::ServerVersion& b) {
  return a.seq == b.seq && a.stamp.hlc.packed() == b.stamp.hlc.packed() &&
         a.stamp.device_id == b.stamp.device_id;
}

Result<CellVersions> CellVersions::decode(std::string_view bytes) {
  CellVersions versions;
  if (bytes.empty()) return versions;
  if (bytes.front() != kFormat) {
    return Status(ErrorCode::kCorrupt, "store: a row's cell versions have an unknown format");
  }
  bytes.remove_prefix(1);
  while (!bytes.empty()) {
    CellVersion cell;
    std::uint64_t hlc = 0;
    std::uint64_t seq = 0;
    if (!get_text(&bytes, &cell.column) || !get_varint(&bytes, &hlc) || !get_varint(&bytes, &seq) ||
        !get_text(&bytes, &cell.version.stamp.device_id)) {
      return Status(ErrorCode::kCorrupt, "store: a row's cell versions are cut short");
    }
    cell.version.stamp.hlc = core::Hlc(static_cast<std::int64_t>(hlc));
    cell.version.seq = static_cast<std::int64_t>(seq);
    versions.cells_.push_back(std::move(cell));
  }
  return versions;
}

std::string CellVersions::encode() const {
  std::string bytes;
  if (cells_.empty()) return bytes;
  bytes.push_back(kFormat);
  for (const CellVersion& cell : cells_) {
    put_text(cell.column, &bytes);
    put_varint(static_cast<std::uint64_t>(cell.version.stamp.hlc.packed()), &bytes);
    put_varint(static_cast<std::uint64_t>(cell.version.seq), &bytes);
    put_text(cell.version.stamp.device_id, &bytes);
  }
  return bytes;
}

const core::ServerVersion& CellVersions::of(std::string_view column,
                                            const core::ServerVersion& row_version) const {
  for (const CellVersion& cell : cells_) {
    if (cell.column == column) return cell.version;
  }
  return row_version;
}

void CellVersions::set(std::string_view column, const core::ServerVersion& version,
                       const core::ServerVersion& row_version) {
  const auto it = std::find_if(cells_.begin(), cells_.end(),
                               [&](const CellVersion& cell) { return cell.column == column; });
  if (same_version(version, row_version)) {
    if (it != cells_.end()) cells_.erase(it);
  } else if (it != cells_.end()) {
    it->version = version;
  } else {
    cells_.push_back({std::string(column), version});
  }
}

}  // namespace lumbung::server
