// POST /v1/resolve: a reviewer settles a pending_review conflict by keeping
// one of its recorded values or entering a new one (docs/protocol.md,
// "Resolve"). The value is written as a new version of the cell and the
// conflict record gets a new seq, so that every device of the scope pulls both.
#include <algorithm>
#include <string>

#include "core/merge.hpp"
#include "protocol/wire.hpp"
#include "server/cell_write.hpp"
#include "server/conflict_wire.hpp"
#include "server/server_impl.hpp"

namespace lumbung::server {
namespace {

// The value a resolution writes, and the outcome it gives the conflict.
struct Choice {
  Value value;
  core::ConflictOutcome outcome = core::ConflictOutcome::kNone;
};

std::string conflict_name(std::uint64_t id) { return "conflict " + std::to_string(id); }

// The checks of a resolve request that come before any state is read.
Status check_resolve(const v1::ResolveRequest& resolve) {
  if (resolve.conflict_id() == 0) {
    return Status(ErrorCode::kInvalidArgument, "a resolve request needs a conflict id");
  }
  const bool keeps_a_side =
      resolve.resolution_case() == v1::ResolveRequest::kKeep &&
      (resolve.keep() == v1::KEEP_SERVER || resolve.keep() == v1::KEEP_DEVICE);
  if (!keeps_a_side && resolve.resolution_case() != v1::ResolveRequest::kValue) {
    return Status(ErrorCode::kInvalidArgument,
                  conflict_name(resolve.conflict_id()) +
                      ": the request keeps neither the server's nor the device's value and "
                      "gives no new value");
  }
  return Status::ok();
}

Choice choose(const v1::ResolveRequest& resolve, const Conflict& conflict) {
  if (resolve.resolution_case() == v1::ResolveRequest::kValue) {
    return {protocol::from_wire(resolve.value()), core::ConflictOutcome::kResolvedValue};
  }
  if (resolve.keep() == v1::KEEP_DEVICE) {
    return {conflict.device_value, core::ConflictOutcome::kResolvedDevice};
  }
  return {conflict.server_value, core::ConflictOutcome::kResolvedServer};
}

// Conflict `id`, when it exists, `grant` may resolve it and it waits for review.
Result<Conflict> resolvable_conflict(ReadTransaction& txn, const auth::Grant& grant,
                                     std::uint64_t id) {
  const std::string name = conflict_name(id);
  // A role that resolves nothing is told so whatever the id; a conflict
  // beyond the grant reads as one that does not exist, so that its id tells
  // nothing about other villages.
  if (grant.role == auth::Role::kOfficer) {
    return Status(ErrorCode::kForbidden, name + ": officer '" + grant.officer +
                                             "' (role officer) may not resolve conflicts");
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::optional<Conflict> found, txn.conflict(id));
  if (!found || !grant.may_resolve(found->scope)) {
    return Status(ErrorCode::kNotFound, "no " + name);
  }
  Conflict& conflict = *found;
  if (conflict.outcome != core::ConflictOutcome::kPendingReview) {
    const std::string by = conflict.resolved_ms == 0
                               ? std::string()
                               : ", by officer '" + conflict.resolved_by + "' from device '" +
                                     conflict.resolved_device + "'";
    return Status(ErrorCode::kInvalidArgument,
                  name + " is not pending review (its outcome is '" +
                      std::string(core::conflict_outcome_name(conflict.outcome)) + "'" + by + ")");
  }
  LUMBUNG_ASSIGN_OR_RETURN(const std::optional<StoredRow> row,
                           txn.row(conflict.table, conflict.row_id));
  if (!row || row->tombstone) {
    return Status(ErrorCode::kInvalidArgument,
                  name + ": table '" + conflict.table + "': row '" + conflict.row_id +
                      "' was deleted since (deletes win); there is no cell to resolve");
  }
  return std::move(conflict);
}

}  // namespace

void SyncServer::Impl::handle_resolve(const HttpRequest& request, const Responder& respond,
                                      const std::shared_ptr<RequestRecord>& record) {
  v1::ResolveRequest resolve;
  Result<auth::Grant> grant = admit(request, &resolve, *record);
  Status status = grant.is_ok() ? check_resolve(resolve) : grant.status();
  if (!status.is_ok()) return respond(protocol::error_response(status));

  const std::string& device_id = resolve.header().device_id();
  v1::ResolveResponse response;
  CommittedChanges changes;
  status = store->write([&](WriteTransaction& txn) -> Status {
    txn.set_officer(grant->officer);
    LUMBUNG_RETURN_IF_ERROR(follow_stored_hlc(txn));
    LUMBUNG_ASSIGN_OR_RETURN(Conflict conflict,
                             resolvable_conflict(txn, *grant, resolve.conflict_id()));
    const core::Table* table = schema.find_table(conflict.table);
    const core::Column* column = table ? table->find_column(conflict.column) : nullptr;
    if (column == nullptr) {
      return Status(ErrorCode::kInternal, "store: " + conflict_name(conflict.id) +
                                              " names a cell the schema lacks: '" + conflict.table +
                                              "." + conflict.column + "'");
    }
    if (table->is_region_column(column->name) && !grant->may_write_regions()) {
      return Status(ErrorCode::kForbidden,
                    conflict_name(conflict.id) + ": officer '" + grant->officer + "' (role " +
                        std::string(auth::role_name(grant->role)) + ") may not resolve column '" +
                        column->name +
                        "': it says which districts' and provinces' grants cover a village");
    }
    LUMBUNG_ASSIGN_OR_RETURN(std::vector<StoredCell> cells,
                             txn.cells(conflict.table, conflict.row_id));
    const Choice choice = choose(resolve, conflict);
    Result<Value> value = check_cell_write(*judge, *table, *column, choice.value, cells);
    if (!value.is_ok()) {
      return Status(value.status().code(),
                    conflict_name(conflict.id) + ": " + value.status().message());
    }
    const auto old_cell = std::find_if(cells.begin(), cells.end(), [&](const StoredCell& cell) {
      return cell.column == column->name;
    });

    const std::int64_t now_ms = clock->now_ms();
    const core::Hlc stamp = hlc.send();
    const std::int64_t seq = txn.next_seq();
    LUMBUNG_RETURN_IF_ERROR(txn.write_cell(conflict.table, conflict.row_id, column->name,
                                           {*value, {{stamp, device_id}, seq}}));
    conflict.outcome = choice.outcome;
    conflict.resolved_value = *value;
    conflict.resolved_by = grant->officer;
    conflict.resolved_device = device_id;
    conflict.resolved_ms = now_ms;
    changes = {txn.next_seq(), {conflict.scope}, ""};
    LUMBUNG_RETURN_IF_ERROR(txn.update_conflict(conflict, changes.seq));
    LUMBUNG_RETURN_IF_ERROR(
        txn.append_audit({.seq = seq,
                          .time_ms = now_ms,
                          .device_id = device_id,
                          .table = conflict.table,
                          .row_id = conflict.row_id,
                          .column = column->name,
                          .old_value = old_cell != cells.end() ? old_cell->cell.value : Value(),
                          .new_value = *value,
                          .outcome = std::string(core::conflict_outcome_name(conflict.outcome)),
                          .conflict_id = conflict.id}));
    LUMBUNG_RETURN_IF_ERROR(txn.set_meta(kHlcMetaKey, std::to_string(hlc.last().packed())));
    to_wire(conflict, response.mutable_conflict());
    response.set_seq(seq);
    response.set_server_hlc(hlc.last().packed());
    return Status::ok();
  });
  if (!status.is_ok()) return respond(protocol::error_response(status));
  for (const std::string& scope : changes.scopes) record->note_village(scope);
  record->applied = 1;
  const v1::Conflict& resolved = response.conflict();
  if (regions.table() != nullptr && resolved.table() == regions.table()->name) {
    status = regions.refresh(*store, {resolved.row_id()});
    if (!status.is_ok()) return respond(protocol::error_response(status));
  }
  respond(protocol::make_response(response));
  wake_long_polls(changes);
}

}  // namespace lumbung::server
