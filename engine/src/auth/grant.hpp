// Grant: what an authenticated caller may do, as the daemon sees it after
// checking the request's bearer token (auth/token.hpp) and reading the
// officer's grant from the credential store (auth/credential_store.hpp).
// Roles and grants are described in docs/security.md.
//
// A grant names villages one by one, by district or by province, or all of
// them. Which district and province a village lies in is not the grant's to
// say: the village records' own region columns say it (the schema's
// "regions", docs/schema-format.md), and the daemon hands the grant its
// current RegionMap, so that a village added to a district later is covered
// from the next request on.
//
// Thread-safety: a value; the RegionMap it points to is immutable.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lumbung::auth {

enum class Role : int {
  kOfficer = 1,     // reads and writes the granted villages
  kSupervisor = 2,  // as an officer, and resolves conflicts in the granted villages
  kAdmin = 3,       // everything, every village, and the region columns grants read
};

// "officer", "supervisor", "admin".
std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view name);

using Names = std::set<std::string, std::less<>>;

// Where a village lies, as its record's region columns say.
struct Region {
  std::string district;
  std::string province;
};

// Where each village lies, and which villages each district and province
// holds; a village without a region record is in none.
class RegionMap {
 public:
  // Sets the region of `village` (an empty district or province: none), or
  // with nullopt forgets the village.
  void set(const std::string& village, const std::optional<Region>& region);

  const Region* region_of(std::string_view village) const;
  // The villages of a district or a province; null when it has none.
  const Names* villages_of_district(std::string_view district) const;
  const Names* villages_of_province(std::string_view province) const;
  std::size_t size() const { return regions_.size(); }

 private:
  std::map<std::string, Region, std::less<>> regions_;
  std::map<std::string, Names, std::less<>> district_villages_;
  std::map<std::string, Names, std::less<>> province_villages_;
};

struct Grant {
  std::string token_id;  // empty when the daemon runs with --insecure-no-auth
  std::string officer;
  Role role = Role::kOfficer;
  bool every_village = false;  // granted --all; implied by role admin
  Names villages;
  Names districts;
  Names provinces;
  // What districts and provinces are read against; null: no village has a
  // region (only villages named one by one are covered).
  std::shared_ptr<const RegionMap> regions;

  // Every village, every right: an admin token, or --insecure-no-auth.
  static Grant everything() {
    Grant grant;
    grant.role = Role::kAdmin;
    return grant;
  }

  bool all_villages() const { return role == Role::kAdmin || every_village; }
  bool may_read(std::string_view scope) const;
  // Same as reading for every role: a supervisor writes only where granted.
  bool may_write(std::string_view scope) const { return may_read(scope); }
  bool may_resolve(std::string_view scope) const {
    return role != Role::kOfficer && may_read(scope);
  }
  // Only an admin writes the region columns: no one else can move a village
  // into or out of a district or province grant.
  bool may_write_regions() const { return role == Role::kAdmin; }
  // The villages covered now, named or by region, in order, without
  // duplicates; its cost follows their number. REQUIRES: !all_villages().
  std::vector<std::string> covered_villages() const;
};

}  // namespace lumbung::auth
