// Regions: the daemon's view of which district and province each village
// lies in (auth::RegionMap), read from the rows of the schema's region table
// (core::Schema::region_table, docs/schema-format.md "Regions"). Grants by
// district or province are read against it on every request.
//
// It is loaded when the daemon opens its store and refreshed, row by row,
// after each commit that may have written a row of the region table, before
// that commit is answered: a request that follows sees the new regions.
// Changes made while no daemon serves the store (a restore) are read at the
// next start.
//
// Thread-safety: safe to share; current() hands out an immutable map that a
// refresh replaces.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "auth/grant.hpp"
#include "core/schema.hpp"
#include "lumbung/status.hpp"
#include "server/store.hpp"

namespace lumbung::server {

class Regions {
 public:
  // `schema` must outlive this object; it may declare no region table.
  explicit Regions(const core::Schema& schema) : table_(schema.region_table()) {}

  // Reads the region of every live row of the region table.
  Status load(Store& store);
  // Reads the rows `row_ids` of the region table again: their regions now,
  // or none for a row deleted.
  Status refresh(Store& store, const std::vector<std::string>& row_ids);
  // The regions as of the last load or refresh; null without a region table.
  std::shared_ptr<const auth::RegionMap> current() const;

  // The region table, or null.
  const core::Table* table() const { return table_; }

 private:
  const core::Table* const table_;
  mutable std::mutex mu_;
  std::shared_ptr<const auth::RegionMap> map_;  // guarded by mu_
};

}  // namespace lumbung::server
