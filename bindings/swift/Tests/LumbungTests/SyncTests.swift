import Foundation
import Lumbung
import XCTest

/// Devices syncing through a real lumbungd: news as closures and as an
/// AsyncStream, conflicts, tokens, an app transport over URLSession, and the
/// cancellation of a Swift Task.
final class SyncTests: XCTestCase {
  private var server: TestServer!

  override func setUpWithError() throws {
    server = try TestServer()
  }

  override func tearDown() {
    server?.stop()
  }

  func testWritesReachTheOtherDeviceWithNews() async throws {
    let ani = try server.device("ani", token: server.token("ani", role: "officer"))
    let budi = try server.device("budi", token: server.token("budi", role: "officer"))
    try ani.insert("household", Rows.household("h1"))
    let pushed = try await ani.sync()
    XCTAssertEqual(pushed.pushed, 1)
    XCTAssertEqual(try ani.status().pending, 0)

    let events = budi.events()
    let pulled = try await budi.sync()
    XCTAssertEqual(pulled.pulled, 1)
    // Every callback ran on the sync's thread before the sync ended, so the
    // stream holds all of this sync's news, up to its DONE.
    var phases: [SyncPhase] = []
    var changed: [String] = []
    for await event in events {
      if case .progress(let progress) = event { phases.append(progress.phase) }
      if case .changedRows(let table, let ids) = event, table == "household" { changed += ids }
      if case .progress(let progress) = event, progress.phase == .done { break }
    }
    XCTAssertTrue(phases.contains(.pull))
    XCTAssertEqual(changed, ["h1"])
    XCTAssertEqual(try budi.get("household", id: "h1")["created_by"], "officer")
    ani.close()
    budi.close()
  }

  func testAConflictIsSeenAndResolved() async throws {
    let ani = try server.device("ani", token: server.token("ani", role: "officer"))
    let budi = try server.device("budi", token: server.token("budi", role: "officer"))
    let rina = try server.device("rina", token: server.token("rina", role: "supervisor"))
    try ani.insert("person", Rows.person("p1", status: "CALON"))
    _ = try await ani.sync()
    _ = try await budi.sync()
    try ani.update("person", id: "p1", ["migrant_status": "AKTIF"])
    try budi.update("person", id: "p1", ["migrant_status": "PURNA"])
    _ = try await ani.sync()

    let seen = Seen()
    let registration = budi.addListener(conflict: { seen.add($0) })
    let withConflict = try await budi.sync()
    XCTAssertGreaterThanOrEqual(withConflict.conflicts, 1)
    registration.cancel()
    XCTAssertEqual(seen.conflicts.map(\.outcome), ["pending_review"])

    _ = try await rina.sync()
    let conflict = try XCTUnwrap(try rina.conflicts().first { $0.policy == "manual_review" })
    XCTAssertEqual(conflict.serverValue, "AKTIF")
    XCTAssertEqual(conflict.deviceValue, "PURNA")
    XCTAssertEqual(conflict.column, "migrant_status")
    do {
      _ = try await ani.resolveConflict(conflict.id, .keepServer)
      XCTFail("an officer resolved")
    } catch let error as LumbungError {
      XCTAssertEqual(error.code, .forbidden)
    }
    let resolved = try await rina.resolveConflict(conflict.id, .value("NON_PROSEDURAL"))
    XCTAssertEqual(resolved.outcome, "resolved_value")
    XCTAssertEqual(resolved.resolvedBy, "rina")
    XCTAssertEqual(resolved.resolvedValue, "NON_PROSEDURAL")

    _ = try await ani.sync()
    _ = try await budi.sync()
    XCTAssertEqual(try ani.get("person", id: "p1")["migrant_status"], "NON_PROSEDURAL")
    XCTAssertEqual(try budi.get("person", id: "p1")["migrant_status"], "NON_PROSEDURAL")
  }

  func testABadTokenFailsWithItsCodeUntilReplaced() async throws {
    let ani = try server.device("ani", token: "not-a-token")
    try ani.insert("household", Rows.household("h1"))
    do {
      _ = try await ani.sync(options: SyncOptions(maxAttempts: 1))
      XCTFail("synced with a bad token")
    } catch let error as LumbungError {
      XCTAssertEqual(error.code, .tokenMalformed)
      XCTAssertEqual(error.retry, .permanent)
    }
    XCTAssertEqual(try ani.status().pending, 1)
    try ani.setToken(server.token("ani", role: "officer"))
    let retried = try await ani.sync()
    XCTAssertEqual(retried.pushed, 1)
    XCTAssertEqual(try ani.status().pending, 0)
  }

  func testURLSessionCarriesTheSync() async throws {
    let ani = try server.device("ani", token: server.token("ani", role: "officer"))
    try ani.insert("household", Rows.household("h1"))
    let counting = Counting(URLSessionTransport(baseURL: try XCTUnwrap(URL(string: server.url))))
    let summary = try await ani.sync(options: SyncOptions(transport: counting))
    XCTAssertEqual(summary.pushed, 1)
    XCTAssertGreaterThanOrEqual(counting.exchanges, 2)  // a push, then a pull
  }

  /// Cancelling the Swift Task cancels the C sync, even while the transport
  /// holds a request; the C API then releases the transport.
  func testCancellingTheTaskCancelsTheSync() async throws {
    let ani = try server.device("ani", token: server.token("ani", role: "officer"))
    try ani.insert("household", Rows.household("h1"))
    let baseURL = try XCTUnwrap(URL(string: server.url))
    weak var released: Gated?
    do {
      let gate = Gated(URLSessionTransport(baseURL: baseURL))
      released = gate
      let sync = Task { [options = SyncOptions(transport: gate)] in
        try await ani.sync(options: options)
      }
      let inExchange = await waitOffPool(for: gate.arrived, seconds: 30)
      XCTAssertTrue(inExchange)
      sync.cancel()
      gate.open.signal()
      try await assertCancelled(sync)
    }

    // Nothing lost: the cut-short push went through, or goes now.
    _ = try await ani.sync()
    XCTAssertEqual(try ani.status().pending, 0)
    // The sync's handle is freed just after its waiter resumes us: allow it a moment.
    var waited = 0
    while released != nil && waited < 100 {
      try await Task.sleep(nanoseconds: 50_000_000)
      waited += 1
    }
    XCTAssertNil(released, "the transport was not released")
  }

  /// Closing the replica from another task cancels its sync.
  func testClosingCancelsTheSync() async throws {
    let ani = try server.device("ani", token: server.token("ani", role: "officer"))
    try ani.insert("household", Rows.household("h1"))
    let gate = Gated(URLSessionTransport(baseURL: try XCTUnwrap(URL(string: server.url))))
    let sync = Task { try await ani.sync(options: SyncOptions(transport: gate)) }
    let inExchange = await waitOffPool(for: gate.arrived, seconds: 30)
    XCTAssertTrue(inExchange)
    ani.close()
    gate.open.signal()
    try await assertCancelled(sync)
    XCTAssertThrowsError(try ani.status()) { error in
      XCTAssertEqual((error as? LumbungError)?.code, .invalidArgument)
    }
  }

  /// The stream of a replica ends when it closes.
  func testEventsEndWhenTheReplicaCloses() async throws {
    let ani = try server.device("ani", token: server.token("ani", role: "officer"))
    let events = ani.events()
    ani.close()
    var count = 0
    for await _ in events { count += 1 }
    XCTAssertEqual(count, 0)
  }

  /// Awaits `sync` and checks that it ended cancelled.
  private func assertCancelled(_ sync: Task<SyncSummary, Error>) async throws {
    do {
      _ = try await sync.value
      XCTFail("the sync was not cancelled")
    } catch let error as LumbungError {
      XCTAssertEqual(error.code, .cancelled)
    }
  }
}

/// Conflicts a listener saw, on the sync's thread.
private final class Seen: @unchecked Sendable {
  private let lock = NSLock()
  private var seen: [Conflict] = []

  func add(_ conflict: Conflict) {
    lock.lock()
    seen.append(conflict)
    lock.unlock()
  }

  var conflicts: [Conflict] {
    lock.lock()
    defer { lock.unlock() }
    return seen
  }
}

/// A transport that counts the exchanges it forwards.
private final class Counting: Transport, @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0
  private let next: any Transport

  init(_ next: any Transport) { self.next = next }

  var exchanges: Int {
    lock.lock()
    defer { lock.unlock() }
    return count
  }

  func exchange(_ request: HTTPRequest) throws -> HTTPResponse {
    lock.lock()
    count += 1
    lock.unlock()
    return try next.exchange(request)
  }
}

/// A transport that holds its first request until the test opens the gate.
private final class Gated: Transport, @unchecked Sendable {
  let arrived = DispatchSemaphore(value: 0)
  let open = DispatchSemaphore(value: 0)
  private let next: any Transport

  init(_ next: any Transport) { self.next = next }

  func exchange(_ request: HTTPRequest) throws -> HTTPResponse {
    arrived.signal()
    guard open.wait(timeout: .now() + 30) == .success else { throw URLError(.timedOut) }
    open.signal()  // later requests pass at once
    return try next.exchange(request)
  }
}
