import CLumbung
import Foundation

/// An open replica: the device's local copy of the synced tables, over the C
/// API's lumbung_db.
///
/// Threads: a `Replica` may be used from any thread or task at once (the C
/// db serializes its calls). Reads and writes are short local SQLite calls
/// and stay synchronous; what waits on the network (`sync`, `resolveConflict`)
/// is `async` and never blocks the caller's thread or Swift's cooperative pool.
///
/// Lifetime: `close()` cancels the syncs in progress, unregisters the
/// listeners and closes the file; later calls throw `.invalidArgument`.
/// `deinit` frees the handle (closing first if needed), once.
public final class Replica: @unchecked Sendable {
  private let db: OpaquePointer  // freed once, by deinit
  private let lock = NSLock()
  private var closing = false  // guarded by lock: no sync starts once close() began
  private var syncs: [Int: SyncTask] = [:]  // guarded by lock, by a number of their own
  private var syncsStarted = 0  // guarded by lock
  private var listeners: [ListenerRegistration] = []  // guarded by lock

  /// Opens or creates the replica `configuration` describes.
  public init(configuration: ReplicaConfiguration) throws {
    let loaded = lumbung_api_version()
    guard loaded == LUMBUNG_API_VERSION else {
      throw LumbungError(
        code: .`internal`, retry: .permanent,
        message: "liblumbung has API version \(loaded), this binding needs \(LUMBUNG_API_VERSION)")
    }
    db = try configuration.withCConfig { config in
      try fetched { lumbung_db_open(config, $0) }
    }
  }

  /// Opens or creates the replica at `path` with the built-in schema.
  public convenience init(path: String) throws {
    try self.init(configuration: ReplicaConfiguration(path: path))
  }

  /// The library's version, e.g. "0.1.0".
  public static var version: String { String(cString: lumbung_version()) }

  /// Whether this build of liblumbung can open encrypted replicas (SQLCipher).
  public static var encryptionAvailable: Bool { lumbung_encryption_available() }

  // ----------------------------------------------------------------- writes
  // Each is one transaction, captured for the next sync.

  /// Inserts a row; it must hold "id".
  public func insert(_ table: String, _ row: Row) throws {
    try table.withCString { table in
      try withCRow(row) { row in try checked { lumbung_db_insert(db, table, row, $0) } }
    }
  }

  /// Inserts a row under a new UUIDv7 and returns its id.
  public func insertNew(_ table: String, _ row: Row) throws -> String {
    let id = try table.withCString { table in
      try withCRow(row) { row in try fetched { lumbung_db_insert_new(db, table, row, $0) } }
    }
    defer { lumbung_string_free(id) }
    return String(cString: id)
  }

  /// Updates the given cells of an existing row.
  public func update(_ table: String, id: String, _ cells: Row) throws {
    try table.withCString { table in
      try id.withCString { id in
        try withCRow(cells) { cells in try checked { lumbung_db_update(db, table, id, cells, $0) } }
      }
    }
  }

  /// Inserts the row when `id` is new, otherwise updates the given cells.
  public func put(_ table: String, id: String, _ cells: Row) throws {
    try table.withCString { table in
      try id.withCString { id in
        try withCRow(cells) { cells in try checked { lumbung_db_put(db, table, id, cells, $0) } }
      }
    }
  }

  public func delete(_ table: String, id: String) throws {
    try table.withCString { table in
      try id.withCString { id in try checked { lumbung_db_delete(db, table, id, $0) } }
    }
  }

  // ------------------------------------------------------------------ reads

  /// The row; throws `.notFound` when there is no such row (or table), as
  /// the C API reports it.
  public func get(_ table: String, id: String) throws -> Row {
    let row = try table.withCString { table in
      try id.withCString { id in try fetched { lumbung_db_get(db, table, id, $0) } }
    }
    defer { lumbung_row_free(row) }
    return makeRow(borrowing: row)
  }

  /// Runs a read-only SQL query with `parameters` bound to ?1, ?2, ...
  public func query(_ sql: String, _ parameters: [Value] = []) throws -> [Row] {
    let values = parameters.map { $0.makeCValue() }
    defer { values.forEach { lumbung_value_free($0) } }
    let rows = try sql.withCString { sql in
      try values.withUnsafeBufferPointer { params in
        try fetched { lumbung_db_query(db, sql, params.baseAddress, params.count, $0) }
      }
    }
    defer { lumbung_rows_free(rows) }
    return (0..<lumbung_rows_count(rows)).map { makeRow(borrowing: lumbung_rows_at(rows, $0)) }
  }

  public func status() throws -> Status {
    let status = try fetched { lumbung_db_get_status(db, $0) }
    defer { lumbung_db_status_free(status) }
    return Status(borrowing: status)
  }

  /// Replaces the bearer token kept in the replica file, used by the next sync.
  public func setToken(_ token: String) throws {
    try token.withCString { token in try checked { lumbung_db_set_token(db, token, $0) } }
  }

  // ------------------------------------------------ pending and refused

  /// The captured changes not yet acknowledged, oldest first.
  public func pending() throws -> [Change] {
    let list = try fetched { lumbung_db_pending(db, $0) }
    defer { lumbung_pending_list_free(list) }
    return (0..<lumbung_pending_list_count(list)).map { index -> Change in
      let kind: Change.Kind
      switch lumbung_pending_list_kind(list, index) {
      case LUMBUNG_CHANGE_INSERT: kind = .insert
      case LUMBUNG_CHANGE_DELETE: kind = .delete
      default: kind = .update
      }
      return Change(table: String(cString: lumbung_pending_list_table(list, index)),
                    rowId: String(cString: lumbung_pending_list_row_id(list, index)),
                    column: String(cString: lumbung_pending_list_column(list, index)),
                    kind: kind, reason: nil, message: nil)
    }
  }

  /// Changes the server refused, set aside until retried.
  public func refused() throws -> [Change] {
    let list = try fetched { lumbung_db_refused(db, $0) }
    defer { lumbung_refused_list_free(list) }
    return (0..<lumbung_refused_list_count(list)).map { index in
      Change(table: String(cString: lumbung_refused_list_table(list, index)),
             rowId: String(cString: lumbung_refused_list_row_id(list, index)),
             column: String(cString: lumbung_refused_list_column(list, index)),
             kind: nil,
             reason: String(cString: lumbung_refused_list_reason(list, index)),
             message: String(cString: lumbung_refused_list_message(list, index)))
    }
  }

  /// Queues the refused changes again, with their current values, for the next sync.
  public func retryRefused() throws {
    try checked { lumbung_db_retry_refused(db, $0) }
  }

  // -------------------------------------------------------------- conflicts

  /// Conflicts that touch this replica's data, oldest first.
  public func conflicts() throws -> [Conflict] {
    let list = try fetched { lumbung_db_conflicts(db, $0) }
    defer { lumbung_conflict_list_free(list) }
    return (0..<lumbung_conflict_list_count(list)).map {
      Conflict(borrowing: lumbung_conflict_list_at(list, $0))
    }
  }

  /// Settles the pending_review conflict `id` on the server, with the
  /// transport, token and retries of `options` as a sync uses them. Throws
  /// `.notFound` for an unknown id, `.forbidden` for a token that may not
  /// resolve, `.invalidArgument` for a conflict already resolved. The
  /// exchange runs on a thread of its own; it cannot be cancelled.
  public func resolveConflict(_ id: UInt64, _ resolution: Resolution,
                              options: SyncOptions = SyncOptions()) async throws -> Conflict {
    try await runOffCaller { [self] () throws -> Conflict in
      let resolved = try options.withCConfig { config in
        try resolve(id, resolution, config)
      }
      defer { lumbung_conflict_free(resolved) }
      return Conflict(borrowing: resolved)
    }
  }

  private func resolve(_ id: UInt64, _ resolution: Resolution,
                       _ config: OpaquePointer) throws -> OpaquePointer {
    switch resolution {
    case .keepServer:
      return try fetched {
        lumbung_db_resolve_conflict(db, id, LUMBUNG_RESOLVE_KEEP_SERVER, nil, config, $0)
      }
    case .keepDevice:
      return try fetched {
        lumbung_db_resolve_conflict(db, id, LUMBUNG_RESOLVE_KEEP_DEVICE, nil, config, $0)
      }
    case .value(let value):
      return try value.withCValue { value in
        try fetched {
          lumbung_db_resolve_conflict(db, id, LUMBUNG_RESOLVE_VALUE, value, config, $0)
        }
      }
    }
  }

  // ------------------------------------------------------------------- sync

  /// Pushes the pending changes, then pulls until caught up. Runs as a C
  /// background sync (its own thread and connection), so the caller's actor,
  /// the main one included, is free meanwhile. Cancelling the calling Task
  /// cancels the sync, which then throws `.cancelled`; so does `close()`.
  /// Interrupted, the next sync resumes with nothing lost.
  public func sync(options: SyncOptions = SyncOptions()) async throws -> SyncSummary {
    let task = try startSync(options: options)
    return try await withTaskCancellationHandler {
      try await task.summary
    } onCancel: {
      task.cancel()
    }
  }

  /// Starts a sync in the background and returns at once.
  public func startSync(options: SyncOptions = SyncOptions()) throws -> SyncTask {
    try options.withCConfig { config -> SyncTask in
      lock.lock()
      defer { lock.unlock() }
      if closing { throw Self.closedError() }
      let handle = try fetched { lumbung_db_sync_start(db, config, $0) }
      syncsStarted += 1
      let key = syncsStarted
      // The end handler waits for this lock, so it finds the task registered.
      let task = SyncTask(handle: handle) { [weak self] in
        guard let self else { return }
        self.lock.lock()
        self.syncs[key] = nil
        self.lock.unlock()
      }
      syncs[key] = task
      return task
    }
  }

  // -------------------------------------------------------------- listeners

  /// Registers closures that every sync of this replica calls, blocking or
  /// background, until the registration is cancelled or the replica closes.
  ///
  /// They run on the syncing thread, one of liblumbung's own: they must
  /// return quickly and not block (hand the news to the main actor with
  /// `Task { @MainActor in ... }`), and must not call this replica, nor
  /// cancel their own registration.
  public func addListener(
    progress: (@Sendable (SyncProgress) -> Void)? = nil,
    changedRows: (@Sendable (_ table: String, _ ids: [String]) -> Void)? = nil,
    conflict: (@Sendable (Conflict) -> Void)? = nil
  ) -> ListenerRegistration {
    addListener(ListenerBox(progress: progress, changedRows: changedRows, conflict: conflict),
                onCancel: nil)
  }

  /// The news of every sync of this replica as an AsyncStream, for
  /// `for await event in replica.events()`. The stream ends when the replica
  /// closes; ending its iteration (or dropping it) unregisters it. Events are
  /// buffered per `bufferingPolicy`, so the syncing thread never waits for
  /// the consumer.
  public func events(
    bufferingPolicy: AsyncStream<SyncEvent>.Continuation.BufferingPolicy = .unbounded
  ) -> AsyncStream<SyncEvent> {
    AsyncStream(SyncEvent.self, bufferingPolicy: bufferingPolicy) { continuation in
      let box = ListenerBox(progress: { continuation.yield(.progress($0)) },
                            changedRows: { continuation.yield(.changedRows(table: $0, ids: $1)) },
                            conflict: { continuation.yield(.conflict($0)) })
      let registration = addListener(box, onCancel: { continuation.finish() })
      continuation.onTermination = { _ in registration.cancel() }
    }
  }

  private func addListener(_ box: ListenerBox,
                           onCancel: (@Sendable () -> Void)?) -> ListenerRegistration {
    var handles: [OpaquePointer] = []
    if box.progress != nil {
      handles.append(
        lumbung_db_on_progress(db, progressCallback, box.retainedForC(), releaseListenerBox))
    }
    if box.changedRows != nil {
      handles.append(
        lumbung_db_on_changed_rows(db, changedRowsCallback, box.retainedForC(), releaseListenerBox))
    }
    if box.conflict != nil {
      handles.append(
        lumbung_db_on_conflict(db, conflictCallback, box.retainedForC(), releaseListenerBox))
    }
    let registration = ListenerRegistration(handles: handles, onCancel: onCancel)
    lock.lock()
    let closed = closing
    if !closed { listeners.append(registration) }
    lock.unlock()
    // A listener added while closing would never be called: end it now.
    if closed { registration.cancel() }
    return registration
  }

  // ---------------------------------------------------------------- closing

  /// Cancels the syncs in progress (they throw `.cancelled`), unregisters the
  /// listeners (ending their streams) and closes the file. Any thread but a
  /// listener's; closing twice is harmless. The handle itself is freed by deinit.
  public func close() {
    lock.lock()
    closing = true
    let running = Array(syncs.values)
    let registered = listeners
    listeners = []
    lock.unlock()
    for task in running { task.cancel() }
    for registration in registered { registration.cancel() }
    lumbung_db_close(db)
  }

  deinit {
    close()
    lumbung_db_free(db)
  }

  private static func closedError() -> LumbungError {
    LumbungError.invalidArgument("the replica is closed")
  }
}

/// Runs a blocking C call on a thread of its own and awaits its result, so
/// that neither the caller's actor nor Swift's cooperative pool blocks on it.
private func runOffCaller<T: Sendable>(
  _ work: @escaping @Sendable () throws -> T
) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    Thread { continuation.resume(with: Result { try work() }) }.start()
  }
}
