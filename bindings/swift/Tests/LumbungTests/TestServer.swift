import Foundation
import Lumbung
import XCTest

/// A real `lumbungd serve` on 127.0.0.1 with an ephemeral port, in a scratch
/// directory that also holds the tests' replicas, as the C and Java tests
/// run it. The binary's path comes from the environment variable LUMBUNGD
/// (docs/bindings/ios.md shows the `swift test` line).
final class TestServer {
  static let village = "0190f1c2-7a00-7000-8000-00000000000a"
  private static let listening = "lumbungd listening on "

  let dir: URL
  let url: String
  private let binary: String
  private let process = Process()

  init() throws {
    guard let binary = ProcessInfo.processInfo.environment["LUMBUNGD"] else {
      throw XCTSkip("set LUMBUNGD to the path of lumbungd to run the sync tests")
    }
    self.binary = binary
    dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("lumbung-swift-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["serve", "--data", dir.appendingPathComponent("server").path,
                         "--listen", "127.0.0.1:0"]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    // The daemon prints its URL once it listens; wait for it 10 s at most.
    guard let line = Self.firstLine(of: output.fileHandleForReading, seconds: 10),
          line.hasPrefix(Self.listening) else {
      process.terminate()
      throw LumbungError(code: .network, retry: .permanent, message: "lumbungd did not start")
    }
    url = String(line.dropFirst(Self.listening.count)).trimmingCharacters(in: .whitespaces)
  }

  private static func firstLine(of handle: FileHandle, seconds: Double) -> String? {
    final class Line: @unchecked Sendable { var text: String? }
    let line = Line()
    let done = DispatchSemaphore(value: 0)
    Thread {
      var bytes = Data()
      while true {
        let byte = handle.readData(ofLength: 1)
        if byte.isEmpty || byte.first == UInt8(ascii: "\n") { break }
        bytes.append(byte)
      }
      line.text = String(decoding: bytes, as: UTF8.self)
      done.signal()
    }.start()
    guard done.wait(timeout: .now() + seconds) == .success else { return nil }
    return line.text
  }

  /// A token from `lumbungd token`.
  func token(_ officer: String, role: String) throws -> String {
    let issue = Process()
    issue.executableURL = URL(fileURLWithPath: binary)
    issue.arguments = ["token", "--data", dir.appendingPathComponent("server").path,
                       "--officer", officer, "--villages", Self.village, "--role", role]
    let output = Pipe()
    issue.standardOutput = output
    try issue.run()
    let token = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    issue.waitUntilExit()
    guard issue.terminationStatus == 0 else {
      throw LumbungError(code: .`internal`, retry: .permanent, message: "lumbungd token failed")
    }
    return token
  }

  /// Opens (creating) the replica NAME.db, synced with this server.
  func device(_ name: String, token: String) throws -> Replica {
    try Replica(configuration: ReplicaConfiguration(
      path: dir.appendingPathComponent("\(name).db").path, deviceId: name, serverURL: url,
      token: token))
  }

  func stop() {
    process.terminate()
    let deadline = Date().addingTimeInterval(10)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    try? FileManager.default.removeItem(at: dir)
  }
}

/// Rows of the built-in Desmigratif schema for the tests.
enum Rows {
  static func household(_ id: String? = nil) -> Row {
    var row: Row = ["village_id": .text(TestServer.village), "created_by": "officer",
                    "created_at": "2026-11-29T08:00:00Z"]
    if let id { row["id"] = .text(id) }
    return row
  }

  static func person(_ id: String, status: String) -> Row {
    ["id": .text(id), "village_id": .text(TestServer.village), "full_name": "Warsih",
     "migrant_status": .text(status), "created_by": "ani", "created_at": "2026-11-29T08:00:00Z"]
  }
}

/// Waits for `semaphore` on a thread of its own, so the test's task does not
/// block a cooperative thread.
func waitOffPool(for semaphore: DispatchSemaphore, seconds: Double) async -> Bool {
  await withCheckedContinuation { continuation in
    Thread { continuation.resume(returning: semaphore.wait(timeout: .now() + seconds) == .success) }
      .start()
  }
}
