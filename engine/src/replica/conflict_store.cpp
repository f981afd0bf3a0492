#include "replica/conflict_store.hpp"

#include "protocol/wire.hpp"

namespace lumbung::replica {

ConflictRecord conflict_from_wire(const v1::Conflict& conflict) {
  ConflictRecord record;
  record.id = conflict.id();
  record.table = conflict.table();
  record.row_id = conflict.row_id();
  record.column = conflict.column();
  record.policy = conflict.policy();
  record.server_value = protocol::from_wire(conflict.server_value());
  record.server_device = conflict.server_device();
  record.server_hlc = conflict.server_hlc();
  record.device_value = protocol::from_wire(conflict.device_value());
  record.device_id = conflict.device_id();
  record.device_hlc = conflict.device_hlc();
  record.outcome = conflict.outcome();
  record.scope = conflict.scope();
  record.resolved_value = protocol::from_wire(conflict.resolved_value());
  record.resolved_by = conflict.resolved_by();
  record.resolved_device = conflict.resolved_device();
  record.resolved_ms = conflict.resolved_ms();
  return record;
}

Result<bool> store_conflict(db::Database& db, const ConflictRecord& conflict) {
  // SQLite integers are signed: ids past INT64_MAX wrap, and come back intact.
  LUMBUNG_RETURN_IF_ERROR(db::run_cached(
      db,
      "INSERT OR IGNORE INTO _lumbung_conflict (id, tbl, row_id, col, policy, server_value, "
      "server_device, server_hlc, device_value, device_id, device_hlc, outcome, scope, "
      "resolved_value, resolved_by, resolved_device, resolved_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
      {Value(static_cast<std::int64_t>(conflict.id)), Value(conflict.table), Value(conflict.row_id),
       Value(conflict.column), Value(conflict.policy), conflict.server_value,
       Value(conflict.server_device), Value(conflict.server_hlc), conflict.device_value,
       Value(conflict.device_id), Value(conflict.device_hlc), Value(conflict.outcome),
       Value(conflict.scope), conflict.resolved_value, Value(conflict.resolved_by),
       Value(conflict.resolved_device), Value(conflict.resolved_ms)}));
  if (sqlite3_changes(db.handle()) > 0) return true;
  return store_resolution(db, conflict);
}

Result<bool> store_resolution(db::Database& db, const ConflictRecord& conflict) {
  if (conflict.resolved_ms == 0) return false;
  // Only a resolution overwrites, and only an unresolved record: a retried
  // push can bring back the pending record after its resolution was pulled.
  LUMBUNG_RETURN_IF_ERROR(db::run_cached(
      db,
      "UPDATE _lumbung_conflict SET outcome = ?2, resolved_value = ?3, resolved_by = ?4, "
      "resolved_device = ?5, resolved_ms = ?6 WHERE id = ?1 AND resolved_ms = 0",
      {Value(static_cast<std::int64_t>(conflict.id)), Value(conflict.outcome),
       conflict.resolved_value, Value(conflict.resolved_by), Value(conflict.resolved_device),
       Value(conflict.resolved_ms)}));
  return sqlite3_changes(db.handle()) > 0;
}

Result<std::vector<ConflictRecord>> load_conflicts(db::Database& db) {
  // Conflict ids are random (the server's): oldest first is by the newer of
  // the two writes that met, when the conflict arose.
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::cached(
          db,
          "SELECT id, tbl, row_id, col, policy, server_value, server_device, server_hlc, "
          "device_value, device_id, device_hlc, outcome, scope, resolved_value, resolved_by, "
          "resolved_device, resolved_ms FROM _lumbung_conflict "
          "ORDER BY max(server_hlc, device_hlc), id"));
  std::vector<ConflictRecord> conflicts;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) return conflicts;
    db::Statement& s = query.statement();
    ConflictRecord record;
    record.id = static_cast<std::uint64_t>(s.column_int(0));
    record.table = s.column_text(1);
    record.row_id = s.column_text(2);
    record.column = s.column_text(3);
    record.policy = s.column_text(4);
    record.server_value = s.column(5);
    record.server_device = s.column_text(6);
    record.server_hlc = s.column_int(7);
    record.device_value = s.column(8);
    record.device_id = s.column_text(9);
    record.device_hlc = s.column_int(10);
    record.outcome = s.column_text(11);
    record.scope = s.column_text(12);
    record.resolved_value = s.column(13);
    record.resolved_by = s.column_text(14);
    record.resolved_device = s.column_text(15);
    record.resolved_ms = s.column_int(16);
    conflicts.push_back(std::move(record));
  }
}

}  // namespace lumbung::replica
