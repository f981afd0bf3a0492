import CLumbung
import Foundation

/// A listener registered on a replica: its closures run for every sync of
/// the replica until `cancel()`, `Replica.close()` or the replica's deinit.
///
/// `cancel()` waits for a call in progress to return, so no closure runs
/// after it; therefore never call it (nor `Replica.close()`) from one of the
/// listener's own closures: it would wait for itself.
public final class ListenerRegistration: @unchecked Sendable {
  private let lock = NSLock()
  private var handles: [OpaquePointer]  // guarded by lock
  private var onCancel: (@Sendable () -> Void)?  // guarded by lock

  init(handles: [OpaquePointer], onCancel: (@Sendable () -> Void)?) {
    self.handles = handles
    self.onCancel = onCancel
  }

  /// Unregisters the closures; harmless when done already.
  public func cancel() {
    lock.lock()
    let taken = handles
    let then = onCancel
    handles = []
    onCancel = nil
    lock.unlock()
    // Freed outside the lock: lumbung_registration_free waits for a running
    // callback, and one that ends an events() stream calls back into cancel().
    for handle in taken { lumbung_registration_free(handle) }
    then?()
  }

  deinit {
    cancel()
  }
}

/// A listener's closures, the userdata of its C registrations: each
/// registration retains it once, and its free_userdata releases it once.
final class ListenerBox: Sendable {
  let progress: (@Sendable (SyncProgress) -> Void)?
  let changedRows: (@Sendable (String, [String]) -> Void)?
  let conflict: (@Sendable (Conflict) -> Void)?

  init(progress: (@Sendable (SyncProgress) -> Void)?,
       changedRows: (@Sendable (String, [String]) -> Void)?,
       conflict: (@Sendable (Conflict) -> Void)?) {
    self.progress = progress
    self.changedRows = changedRows
    self.conflict = conflict
  }

  /// The box for one more C registration, released by `releaseListenerBox`.
  func retainedForC() -> UnsafeMutableRawPointer {
    Unmanaged.passRetained(self).toOpaque()
  }

  static func from(_ userdata: UnsafeMutableRawPointer?) -> ListenerBox? {
    userdata.map { Unmanaged<ListenerBox>.fromOpaque($0).takeUnretainedValue() }
  }
}

let releaseListenerBox: @convention(c) (UnsafeMutableRawPointer?) -> Void = { userdata in
  if let userdata { Unmanaged<ListenerBox>.fromOpaque(userdata).release() }
}

let progressCallback: lumbung_progress_fn = { userdata, phase, changes, sent, received in
  let progress = SyncProgress(phase: SyncPhase(phase), changes: changes, bytesSent: sent,
                              bytesReceived: received)
  ListenerBox.from(userdata)?.progress?(progress)
}

let changedRowsCallback: lumbung_changed_rows_fn = { userdata, table, ids, count in
  guard let box = ListenerBox.from(userdata), let changedRows = box.changedRows else { return }
  changedRows(String(cString: table), (0..<count).map { String(cString: ids[$0]) })
}

let conflictCallback: lumbung_conflict_fn = { userdata, conflict in
  ListenerBox.from(userdata)?.conflict?(Conflict(borrowing: conflict))
}
