import CLumbung
import Foundation

/// A sync running in the background on a thread of liblumbung's own, with
/// its own connection to the file, so the app may keep writing meanwhile:
/// the C API's lumbung_sync. The replica's listeners run on that thread.
public final class SyncTask: @unchecked Sendable {
  private let handle: OpaquePointer  // freed once, by deinit
  private let lock = NSLock()
  private var outcome: Result<SyncSummary, LumbungError>?  // guarded by lock
  private var waiters: [CheckedContinuation<SyncSummary, Error>] = []  // guarded by lock
  private let onEnd: @Sendable () -> Void

  init(handle: OpaquePointer, onEnd: @escaping @Sendable () -> Void) {
    self.handle = handle
    self.onEnd = onEnd
    // One thread waits in lumbung_sync_wait (which blocks, and may not be
    // called from two threads at once) and hands the outcome to every
    // awaiting task; Swift's cooperative threads never block on it.
    let waiter = Thread { [self] in self.waitForEnd() }
    waiter.name = "lumbung-sync-wait"
    waiter.start()
  }

  private func waitForEnd() {
    var summary = lumbung_sync_summary()
    var error = lumbung_error()
    let result: Result<SyncSummary, LumbungError> = lumbung_sync_wait(handle, &summary, &error)
      ? .success(SyncSummary(summary)) : .failure(LumbungError(error))
    lock.lock()
    outcome = result
    let waiting = waiters
    waiters = []
    lock.unlock()
    for waiter in waiting { waiter.resume(with: result.mapError { $0 as Error }) }
    onEnd()
  }

  /// Asks the sync to stop at its next step; it then ends with `.cancelled`
  /// unless it finished first. Any thread; returns at once.
  public func cancel() {
    lumbung_sync_cancel(handle)
  }

  /// Whether the sync has ended. Any thread.
  public var isDone: Bool {
    lumbung_sync_is_done(handle)
  }

  /// What the sync did, once it ends; throws its `LumbungError`. Awaiting
  /// does not cancel the sync when the awaiting task is cancelled: use
  /// `Replica.sync(options:)` for that, or call `cancel()`.
  public var summary: SyncSummary {
    get async throws {
      try await withCheckedThrowingContinuation { continuation in
        lock.lock()
        if let outcome {
          lock.unlock()
          continuation.resume(with: outcome.mapError { $0 as Error })
        } else {
          waiters.append(continuation)
          lock.unlock()
        }
      }
    }
  }

  deinit {
    // The waiting thread holds `self` until the sync has ended, so this
    // never blocks for a running sync.
    lumbung_sync_free(handle)
  }
}
