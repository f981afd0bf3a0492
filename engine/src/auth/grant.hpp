// Grant: what an authenticated caller may do, as the daemon sees it after
// checking the request's bearer token (auth/token.hpp). Roles and village
// scopes are described in docs/security.md.
//
// Thread-safety: a value.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace lumbung::auth {

enum class Role : int {
  kOfficer = 1,     // reads and writes the granted villages
  kSupervisor = 2,  // as an officer, and resolves conflicts in the granted villages
  kAdmin = 3,       // everything, every village
};

// "officer", "supervisor", "admin".
std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view name);

struct Grant {
  std::string token_id;  // empty when the daemon runs with --insecure-no-auth
  std::string officer;
  Role role = Role::kOfficer;
  std::set<std::string, std::less<>> villages;  // ignored for admin: every village

  // Every village, every right: an admin token, or --insecure-no-auth.
  static Grant everything() {
    Grant grant;
    grant.role = Role::kAdmin;
    return grant;
  }

  bool all_villages() const { return role == Role::kAdmin; }
  bool may_read(std::string_view scope) const {
    return all_villages() || villages.find(scope) != villages.end();
  }
  // Same as reading for every role: a supervisor writes only where granted.
  bool may_write(std::string_view scope) const { return may_read(scope); }
  bool may_resolve(std::string_view scope) const {
    return role != Role::kOfficer && may_read(scope);
  }
};

}  // namespace lumbung::auth
