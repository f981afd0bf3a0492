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

}  // namespace lumbung::auth
