#include "server/regions.hpp"

#include <map>
#include <utility>

namespace lumbung::server {
namespace {

// What a region column's value says: its text, or nothing.
std::string region_text(const Value& value) {
  return value.type() == ValueType::kText ? value.as_text() : std::string();
}

void set_region_cell(const core::Table& table, const std::string& column, const Value& value,
                     auth::Region* region) {
  if (column == table.district_column) region->district = region_text(value);
  if (column == table.province_column) region->province = region_text(value);
}

}  // namespace

Status Regions::load(Store& store) {
  if (table_ == nullptr) return Status::ok();
  std::map<std::string, auth::Region, std::less<>> read;
  LUMBUNG_RETURN_IF_ERROR(store.read([&](ReadTransaction& txn) {
    return txn.scan_rows(table_->name, std::nullopt, [&](const LiveRow& row) {
      for (std::size_t i = 0; i < row.columns.size(); ++i) {
        if (table_->is_region_column(row.columns[i])) {
          set_region_cell(*table_, row.columns[i], row.values[i], &read[std::string(row.scope)]);
        }
      }
    });
  }));
  auto map = std::make_shared<auth::RegionMap>();
  for (const auto& [village, region] : read) map->set(village, region);
  std::lock_guard lock(mu_);
  map_ = std::move(map);
  return Status::ok();
}

Status Regions::refresh(Store& store, const std::vector<std::string>& row_ids) {
  if (table_ == nullptr || row_ids.empty()) return Status::ok();
  // One refresh at a time, so that none publishes a map older than another's.
  std::lock_guard lock(mu_);
  auto map = map_ ? std::make_shared<auth::RegionMap>(*map_) : std::make_shared<auth::RegionMap>();
  LUMBUNG_RETURN_IF_ERROR(store.read([&](ReadTransaction& txn) -> Status {
    for (const std::string& row_id : row_ids) {
      LUMBUNG_ASSIGN_OR_RETURN(std::optional<StoredRow> row, txn.row(table_->name, row_id));
      if (!row) continue;
      if (row->tombstone) {
        map->set(row->scope, std::nullopt);
        continue;
      }
      LUMBUNG_ASSIGN_OR_RETURN(std::vector<StoredCell> cells, txn.cells(table_->name, row_id));
      auth::Region region;
      for (const StoredCell& cell : cells) {
        if (table_->is_region_column(cell.column)) {
          set_region_cell(*table_, cell.column, cell.cell.value, &region);
        }
      }
      map->set(row->scope, region);
    }
    return Status::ok();
  }));
  map_ = std::move(map);
  return Status::ok();
}

std::shared_ptr<const auth::RegionMap> Regions::current() const {
  std::lock_guard lock(mu_);
  return map_;
}

}  // namespace lumbung::server
