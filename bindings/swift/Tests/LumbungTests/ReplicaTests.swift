import Foundation
import Lumbung
import XCTest

/// The local API on a replica of the built-in schema: no server needed.
final class ReplicaTests: XCTestCase {
  private var dir: URL!

  override func setUpWithError() throws {
    dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("lumbung-swift-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try FileManager.default.removeItem(at: dir)
  }

  private func open(_ name: String = "device") throws -> Replica {
    try Replica(path: dir.appendingPathComponent("\(name).db").path)
  }

  func testTheLibraryAnswers() {
    XCTAssertFalse(Replica.version.isEmpty)
    XCTAssertEqual(LumbungError.Code.typeMismatch.name, "TypeMismatch")
  }

  func testWritesAndReadsKeepEveryValueType() throws {
    let replica = try open()
    try replica.insert("household", Rows.household("h1"))
    let id = try replica.insertNew("household", Rows.household())
    XCTAssertEqual(id.count, 36)  // a UUIDv7

    // Text beyond the BMP and a blob with a zero byte survive the crossing.
    try replica.update("household", id: "h1", ["head_name": "Desa Ñ 🌾"])
    var row = try replica.get("household", id: "h1")
    XCTAssertEqual(row["head_name"], .text("Desa Ñ 🌾"))
    XCTAssertEqual(row["created_by"]?.textValue, "officer")

    let rows = try replica.query("SELECT id, ?1 AS n, ?2 AS r, ?3 AS b, ?4 AS z FROM household WHERE id = ?5",
                                 [.integer(Int64.max), .real(1.5), .blob(Data([0, 1, 255])), .null, "h1"])
    XCTAssertEqual(rows.count, 1)
    row = rows[0]
    XCTAssertEqual(row["n"], .integer(Int64.max))
    XCTAssertEqual(row["r"], .real(1.5))
    XCTAssertEqual(row["b"], .blob(Data([0, 1, 255])))
    XCTAssertEqual(row["z"], .null)

    try replica.put("household", id: "h2", Rows.household())
    try replica.delete("household", id: id)
    XCTAssertEqual(try replica.query("SELECT id FROM household ORDER BY id").count, 2)
    let pending = try replica.pending()
    XCTAssertTrue(pending.contains { $0.rowId == "h1" && $0.kind == .insert })
    XCTAssertTrue(pending.contains { $0.rowId == "h1" && $0.kind == .update && $0.column == "head_name" })
    XCTAssertEqual(try replica.status().pending, Int64(pending.count))
    XCTAssertEqual(try replica.refused(), [])
    XCTAssertEqual(try replica.conflicts(), [])
  }

  func testFailuresThrowTheirCodeAndRetryClass() throws {
    let replica = try open()
    XCTAssertThrowsError(try replica.get("household", id: "nobody")) { error in
      XCTAssertEqual((error as? LumbungError)?.code, .notFound)
    }
    XCTAssertThrowsError(try replica.insert("household", ["id": "h1", "no_such_column": 1])) { error in
      let failure = error as? LumbungError
      XCTAssertEqual(failure?.code, .notFound)
      XCTAssertEqual(failure?.retry, .permanent)
      XCTAssertTrue(failure?.message.contains("no_such_column") ?? false)
    }
    XCTAssertThrowsError(try replica.query("DELETE FROM household")) { error in
      XCTAssertEqual((error as? LumbungError)?.code, .invalidArgument)
    }
  }

  func testAClosedReplicaAnswersInvalidArgument() throws {
    let replica = try open()
    replica.close()
    replica.close()  // harmless
    XCTAssertThrowsError(try replica.status()) { error in
      XCTAssertEqual((error as? LumbungError)?.code, .invalidArgument)
    }
    XCTAssertThrowsError(try replica.startSync()) { error in
      XCTAssertEqual((error as? LumbungError)?.code, .invalidArgument)
    }
  }

  func testAKeyNeedsTheEncryptedBuild() throws {
    let config = ReplicaConfiguration(path: dir.appendingPathComponent("secret.db").path,
                                      key: Data("kunci rahasia".utf8))
    if Replica.encryptionAvailable {
      try Replica(configuration: config).close()
      var wrong = config
      wrong.key = Data("salah".utf8)
      XCTAssertThrowsError(try Replica(configuration: wrong)) { error in
        XCTAssertEqual((error as? LumbungError)?.code, .encryption)
      }
    } else {
      XCTAssertThrowsError(try Replica(configuration: config)) { error in
        XCTAssertEqual((error as? LumbungError)?.code, .encryption)
      }
    }
    var empty = config
    empty.key = Data()
    XCTAssertThrowsError(try Replica(configuration: empty)) { error in
      XCTAssertEqual((error as? LumbungError)?.code, .invalidArgument)
    }
  }
}
