#include "auth/grant.hpp"

#include <algorithm>

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

bool Grant::may_read(std::string_view scope) const {
  if (all_villages() || villages.contains(scope)) return true;
  if (!regions || (districts.empty() && provinces.empty())) return false;
  const auto found = regions->find(scope);
  return found != regions->end() &&
         (districts.contains(found->second.district) || provinces.contains(found->second.province));
}

std::vector<std::string> Grant::covered_villages() const {
  std::vector<std::string> covered(villages.begin(), villages.end());
  if (regions && !(districts.empty() && provinces.empty())) {
    for (const auto& [village, region] : *regions) {
      if (districts.contains(region.district) || provinces.contains(region.province)) {
        covered.push_back(village);
      }
    }
    std::sort(covered.begin(), covered.end());
    covered.erase(std::unique(covered.begin(), covered.end()), covered.end());
  }
  return covered;
}

}  // namespace lumbung::auth
