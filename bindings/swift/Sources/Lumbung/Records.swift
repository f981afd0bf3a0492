import CLumbung

/// The replica's state.
public struct Status: Sendable, Hashable {
  /// Changes captured and not yet acknowledged by the server.
  public let pending: Int64
  /// Changes the server refused, set aside.
  public let refused: Int64
  /// ISO-8601 UTC of the last successful sync; nil before the first.
  public let lastSync: String?
  public let deviceId: String
  public let serverURL: String
  public let schemaVersion: Int

  init(borrowing status: OpaquePointer) {
    pending = lumbung_db_status_pending(status)
    refused = lumbung_db_status_refused(status)
    lastSync = lumbung_db_status_last_sync(status).map { String(cString: $0) }
    deviceId = String(cString: lumbung_db_status_device_id(status))
    serverURL = String(cString: lumbung_db_status_server_url(status))
    schemaVersion = Int(lumbung_db_status_schema_version(status))
  }
}

/// A captured change waiting for the server, or one it refused.
public struct Change: Sendable, Hashable {
  public enum Kind: Sendable, Hashable {
    case insert, update, delete
  }

  public let table: String
  public let rowId: String
  /// The changed cell; "" for an insert or a delete.
  public let column: String
  /// What a pending change does; nil for a refused one.
  public let kind: Kind?
  /// Why the server refused it (stable: unknown_table, unknown_column,
  /// type_mismatch, constraint, out_of_scope, ...); nil for a pending one.
  public let reason: String?
  public let message: String?
}

/// A concurrent edit the server detected, with both sides and the outcome.
public struct Conflict: Sendable, Hashable, Identifiable {
  public let id: UInt64
  public let table: String
  public let rowId: String
  /// "" when a delete met an edit of the row.
  public let column: String
  /// last_writer_wins, server_wins, first_writer_wins, manual_review, delete_wins.
  public let policy: String
  /// server_kept, device_applied, pending_review; once resolved:
  /// resolved_server, resolved_device, resolved_value.
  public let outcome: String
  public let serverValue: Value
  public let deviceValue: Value
  /// The value a resolution wrote; .null until then.
  public let resolvedValue: Value
  public let serverDevice: String
  public let deviceId: String
  /// The reviewer's officer id; "" until resolved or without authentication.
  public let resolvedBy: String

  /// A copy of a conflict borrowed from a list, a callback or a resolution.
  init(borrowing conflict: OpaquePointer) {
    id = lumbung_conflict_id(conflict)
    table = String(cString: lumbung_conflict_table(conflict))
    rowId = String(cString: lumbung_conflict_row_id(conflict))
    column = String(cString: lumbung_conflict_column(conflict))
    policy = String(cString: lumbung_conflict_policy(conflict))
    outcome = String(cString: lumbung_conflict_outcome(conflict))
    serverValue = Value(borrowing: lumbung_conflict_server_value(conflict))
    deviceValue = Value(borrowing: lumbung_conflict_device_value(conflict))
    resolvedValue = Value(borrowing: lumbung_conflict_resolved_value(conflict))
    serverDevice = String(cString: lumbung_conflict_server_device(conflict))
    deviceId = String(cString: lumbung_conflict_device_id(conflict))
    resolvedBy = String(cString: lumbung_conflict_resolved_by(conflict))
  }
}

/// How to settle a conflict under manual review.
public enum Resolution: Sendable, Hashable {
  /// The conflict's server value.
  case keepServer
  /// The conflict's device value.
  case keepDevice
  /// A new value for the cell.
  case value(Value)
}

/// What a finished sync did.
public struct SyncSummary: Sendable, Hashable {
  /// Changes sent and acknowledged.
  public let pushed: Int64
  /// Of those, merged into the server state.
  public let applied: Int64
  /// Of those, outvoted by the merge rule.
  public let superseded: Int64
  /// Of those, refused and set aside.
  public let refused: Int64
  /// Rows received.
  public let pulled: Int64
  /// Conflicts received.
  public let conflicts: Int64
  /// HTTP bodies as sent (compressed).
  public let bytesSent: Int64
  public let bytesReceived: Int64

  init(_ summary: lumbung_sync_summary) {
    pushed = summary.pushed
    applied = summary.applied
    superseded = summary.superseded
    refused = summary.refused
    pulled = summary.pulled
    conflicts = summary.conflicts
    bytesSent = summary.bytes_sent
    bytesReceived = summary.bytes_received
  }
}

/// Where a sync is.
public enum SyncPhase: Sendable, Hashable {
  case push, pull, done

  init(_ phase: lumbung_sync_phase_e) {
    switch phase {
    case LUMBUNG_SYNC_PUSH: self = .push
    case LUMBUNG_SYNC_PULL: self = .pull
    default: self = .done
    }
  }
}

/// A sync's progress: changes pushed (push) or pulled (pull) so far, and bytes.
public struct SyncProgress: Sendable, Hashable {
  public let phase: SyncPhase
  public let changes: Int64
  public let bytesSent: Int64
  public let bytesReceived: Int64
}

/// What a sync reports while it runs, as `Replica.events()` delivers it.
public enum SyncEvent: Sendable, Hashable {
  case progress(SyncProgress)
  /// Rows of `table` that a pulled page wrote or deleted: refresh their views.
  case changedRows(table: String, ids: [String])
  case conflict(Conflict)
}
