#include "auth/grant.hpp"

namespace lumbung::auth {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kOfficer:
      return "officer";
    case Role::kSupervisor:
      return "supervisor";
    case Role::kAdmin:
      return "admin";
  }
  return "officer";
}

std::optional<Role> parse_role(std::string_view name) {
  for (Role role : {Role::kOfficer, Role::kSupervisor, Role::kAdmin}) {
    if (role_name(role) == name) return role;
  }
  return std::nullopt;
}

namespace {

const Names* find_names(const std::map<std::string, Names, std::less<>>& index,
                        std::string_view key) {
  const auto found = index.find(key);
  return found == index.end() ? nullptr : &found->second;
}

void index_village(std::map<std::string, Names, std::less<>>& index, const std::string& key,
                   const std::string& village, bool add) {
  if (key.empty()) return;
  if (add) {
    index[key].insert(village);
    return;
  }
  const auto found = index.find(key);
  if (found == index.end()) return;
  found->second.erase(village);
  if (found->second.empty()) index.erase(found);
}

}  // namespace

void RegionMap::set(const std::string& village, const std::optional<Region>& region) {
  if (const auto old = regions_.find(village); old != regions_.end()) {
    index_village(district_villages_, old->second.district, village, false);
    index_village(province_villages_, old->second.province, village, false);
    regions_.erase(old);
  }
  if (!region) return;
  index_village(district_villages_, region->district, village, true);
  index_village(province_villages_, region->province, village, true);
  regions_.emplace(village, *region);
}

const Region* RegionMap::region_of(std::string_view village) const {
  const auto found = regions_.find(village);
  return found == regions_.end() ? nullptr : &found->second;
}

const Names* RegionMap::villages_of_district(std::string_view district) const {
  return find_names(district_villages_, district);
}

const Names* RegionMap::villages_of_province(std::string_view province) const {
  return find_names(province_villages_, province);
}

bool Grant::may_read(std::string_view scope) const {
  if (all_villages() || villages.contains(scope)) return true;
  if (!regions || (districts.empty() && provinces.empty())) return false;
  const Region* region = regions->region_of(scope);
  return region != nullptr &&
         (districts.contains(region->district) || provinces.contains(region->province));
}

std::vector<std::string> Grant::covered_villages() const {
  Names covered = villages;
  if (regions) {
    const auto add = [&](const Names* found) {
      if (found != nullptr) covered.insert(found->begin(), found->end());
    };
    for (const std::string& district : districts) add(regions->villages_of_district(district));
    for (const std::string& province : provinces) add(regions->villages_of_province(province));
  }
  return std::vector<std::string>(covered.begin(), covered.end());
}

}  // namespace lumbung::auth
