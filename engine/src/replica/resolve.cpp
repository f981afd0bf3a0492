// Replica::resolve_conflict: a reviewer's decision about a pending_review
// conflict, sent to the server (docs/protocol.md, "Resolve") and kept with the
// conflict on the device.
#include "lumbung/replica.hpp"
#include "protocol/wire.hpp"
#include "replica/conflict_store.hpp"
#include "replica/exchange.hpp"
#include "replica/hlc_store.hpp"
#include "replica/identity.hpp"
#include "replica/replica_impl.hpp"
#include "replica/server_state.hpp"

namespace lumbung {
namespace {

v1::ResolveRequest resolve_request(const v1::RequestHeader& header, std::uint64_t conflict_id,
                                   const ConflictResolution& resolution) {
  v1::ResolveRequest request;
  *request.mutable_header() = header;
  request.set_conflict_id(conflict_id);
  switch (resolution.kind) {
    case ConflictResolution::Kind::kKeepServer:
      request.set_keep(v1::KEEP_SERVER);
      break;
    case ConflictResolution::Kind::kKeepDevice:
      request.set_keep(v1::KEEP_DEVICE);
      break;
    case ConflictResolution::Kind::kValue:
      protocol::to_wire(resolution.value, request.mutable_value());
      break;
  }
  return request;
}

}  // namespace

Result<ConflictRecord> Replica::resolve_conflict(std::uint64_t conflict_id,
                                                 const ConflictResolution& resolution,
                                                 const SyncOptions& options) {
  if (impl_->db->transaction_depth() > 0) {
    return Status(ErrorCode::kInvalidArgument, "resolve_conflict cannot run inside a transaction");
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::shared_ptr<Transport> transport, impl_->transport_for(options));
  LUMBUNG_ASSIGN_OR_RETURN(std::string token, impl_->token_for(options));
  replica::Exchanger exchanger(*transport, options, std::move(token));
  LUMBUNG_ASSIGN_OR_RETURN(v1::RequestHeader header,
                           replica::request_header(*impl_->db, impl_->schema));
  v1::ResolveResponse response;
  LUMBUNG_RETURN_IF_ERROR(exchanger.exchange(
      protocol::make_request("/v1/resolve", resolve_request(header, conflict_id, resolution)),
      &response));
  ConflictRecord resolved = replica::conflict_from_wire(response.conflict());
  LUMBUNG_RETURN_IF_ERROR(
      replica::in_applying_transaction(*impl_->db, impl_->schema, [&]() -> Status {
        // This device may not hold the record yet (it resolves from a list it got
        // elsewhere): store it whole, or its resolution over the pending one.
        LUMBUNG_RETURN_IF_ERROR(replica::store_conflict(*impl_->db, resolved).status());
        // The server stamped the resolved value as this device's write, with
        // the HLC it answers with; pulls leave it out (docs/protocol.md,
        // "Pull"): it is written here.
        if (const core::Table* table = impl_->schema.find_table(resolved.table)) {
          replica::ServerRow row(*table, resolved.row_id);
          if (row.add_cell(resolved.column, resolved.resolved_value,
                           {core::Hlc(response.server_hlc()), header.device_id()})) {
            LUMBUNG_RETURN_IF_ERROR(replica::ServerStateWriter(*impl_->db).write(row).status());
          }
        }
        return replica::receive_clock(*impl_->db, *impl_->clock, response.server_hlc());
      }));
  return resolved;
}

}  // namespace lumbung
