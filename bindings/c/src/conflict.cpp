// Conflicts: the records, the list of a replica's, and their resolution.
#include "db.hpp"

using namespace lumbung;
using namespace lumbung::c_api;

namespace {

ConflictResolution resolution_of(lumbung_resolution_e kind, const lumbung_value* value) {
  ConflictResolution resolution;
  resolution.kind = static_cast<ConflictResolution::Kind>(kind);
  if (value != nullptr) resolution.value = *cpp(value);
  return resolution;
}

Status check_resolution(lumbung_resolution_e kind, const lumbung_value* value) {
  if (kind < LUMBUNG_RESOLVE_KEEP_SERVER || kind > LUMBUNG_RESOLVE_VALUE) {
    return Status(ErrorCode::kInvalidArgument, "unknown resolution " + std::to_string(kind));
  }
  if (kind == LUMBUNG_RESOLVE_VALUE && value == nullptr) {
    return Status(ErrorCode::kInvalidArgument, "LUMBUNG_RESOLVE_VALUE needs a value");
  }
  return Status::ok();
}

}  // namespace

extern "C" {

uint64_t lumbung_conflict_id(const lumbung_conflict* conflict) noexcept {
  return cpp(conflict)->id;
}
const char* lumbung_conflict_table(const lumbung_conflict* conflict) noexcept {
  return cpp(conflict)->table.c_str();
}
const char* lumbung_conflict_row_id(const lumbung_conflict* conflict) noexcept {
  return cpp(conflict)->row_id.c_str();
}
const char* lumbung_conflict_column(const lumbung_conflict* conflict) noexcept {
  return cpp(conflict)->column.c_str();
}
const char* lumbung_conflict_policy(const lumbung_conflict* conflict) noexcept {
  return cpp(conflict)->policy.c_str();
}
const char* lumbung_conflict_outcome(const lumbung_conflict* conflict) noexcept {
  return cpp(conflict)->outcome.c_str();
}
const lumbung_value* lumbung_conflict_server_value(const lumbung_conflict* conflict) noexcept {
  return to_c(&cpp(conflict)->server_value);
}
const lumbung_value* lumbung_conflict_device_value(const lumbung_conflict* conflict) noexcept {
  return to_c(&cpp(conflict)->device_value);
}
const lumbung_value* lumbung_conflict_resolved_value(const lumbung_conflict* conflict) noexcept {
  return to_c(&cpp(conflict)->resolved_value);
}
const char* lumbung_conflict_server_device(const lumbung_conflict* conflict) noexcept {
  return cpp(conflict)->server_device.c_str();
}
const char* lumbung_conflict_device_id(const lumbung_conflict* conflict) noexcept {
  return cpp(conflict)->device_id.c_str();
}
const char* lumbung_conflict_resolved_by(const lumbung_conflict* conflict) noexcept {
  return cpp(conflict)->resolved_by.c_str();
}
void lumbung_conflict_free(lumbung_conflict* conflict) noexcept { delete cpp(conflict); }

lumbung_conflict_list* lumbung_db_conflicts(lumbung_db* db, lumbung_error* out_error) noexcept {
  return guard_db(db, out_error,
                  [&](Replica& r) { return to_handle<lumbung_conflict_list>(r.conflicts()); });
}
void lumbung_conflict_list_free(lumbung_conflict_list* list) noexcept { delete cpp(list); }
size_t lumbung_conflict_list_count(const lumbung_conflict_list* list) noexcept {
  return cpp(list)->size();
}
const lumbung_conflict* lumbung_conflict_list_at(const lumbung_conflict_list* list,
                                                 size_t index) noexcept {
  return to_c(&(*cpp(list))[index]);
}

lumbung_conflict* lumbung_db_resolve_conflict(lumbung_db* db, uint64_t conflict_id,
                                              lumbung_resolution_e resolution,
                                              const lumbung_value* value,
                                              const lumbung_sync_config* config,
                                              lumbung_error* out_error) noexcept {
  return guard_db(db, out_error, [&](Replica& r) -> Result<lumbung_conflict*> {
    LUMBUNG_RETURN_IF_ERROR(check_resolution(resolution, value));
    Result<SyncOptions> options = sync_options_for(r, config);
    if (!options.is_ok()) return options.status();
    return to_handle<lumbung_conflict>(
        r.resolve_conflict(conflict_id, resolution_of(resolution, value), *options));
  });
}

}  // extern "C"
