#include "server/conflict_wire.hpp"

#include "protocol/wire.hpp"

namespace lumbung::server {

void to_wire(const Conflict& conflict, v1::Conflict* out) {
  out->set_id(conflict.id);
  out->set_table(conflict.table);
  out->set_row_id(conflict.row_id);
  out->set_column(conflict.column);
  out->set_policy(std::string(core::conflict_policy_name(conflict.policy)));
  protocol::to_wire(conflict.server_value, out->mutable_server_value());
  out->set_server_device(conflict.server_device);
  out->set_server_hlc(conflict.server_hlc);
  protocol::to_wire(conflict.device_value, out->mutable_device_value());
  out->set_device_id(conflict.device_id);
  out->set_device_hlc(conflict.device_hlc);
  out->set_outcome(std::string(core::conflict_outcome_name(conflict.outcome)));
  out->set_scope(conflict.scope);
  protocol::to_wire(conflict.resolved_value, out->mutable_resolved_value());
  out->set_resolved_by(conflict.resolved_by);
  out->set_resolved_device(conflict.resolved_device);
  out->set_resolved_ms(conflict.resolved_ms);
}

}  // namespace lumbung::server
