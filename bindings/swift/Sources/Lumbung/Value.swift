import CLumbung
import Foundation

/// One cell's content, typed like SQLite's storage classes and the C API's
/// lumbung_value. An integer is never read as a real, nor back: 1 and 1.0
/// differ, as in the engine.
public enum Value: Sendable, Hashable {
  case null
  case integer(Int64)
  case real(Double)
  /// UTF-8 text. It crosses into C as a NUL-terminated string, so text with
  /// an embedded NUL is cut there.
  case text(String)
  case blob(Data)

  public var integerValue: Int64? {
    if case .integer(let value) = self { return value }
    return nil
  }

  public var realValue: Double? {
    if case .real(let value) = self { return value }
    return nil
  }

  public var textValue: String? {
    if case .text(let value) = self { return value }
    return nil
  }

  public var blobValue: Data? {
    if case .blob(let value) = self { return value }
    return nil
  }

  public var isNull: Bool { self == .null }
}

extension Value: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
  ExpressibleByStringLiteral {
  public init(integerLiteral value: Int64) { self = .integer(value) }
  public init(floatLiteral value: Double) { self = .real(value) }
  public init(stringLiteral value: String) { self = .text(value) }
}

/// A row: column name to value.
public typealias Row = [String: Value]

extension Value {
  /// A copy of a value borrowed from a row, a conflict or a list.
  init(borrowing value: OpaquePointer) {
    var size = 0
    switch lumbung_value_type(value) {
    case LUMBUNG_TYPE_INTEGER:
      var out: Int64 = 0
      self = lumbung_value_integer(value, &out, nil) ? .integer(out) : .null
    case LUMBUNG_TYPE_REAL:
      var out: Double = 0
      self = lumbung_value_real(value, &out, nil) ? .real(out) : .null
    case LUMBUNG_TYPE_TEXT:
      // The size, not the NUL, bounds the text.
      guard let text = lumbung_value_text(value, &size, nil) else {
        self = .null
        return
      }
      let bytes = UnsafeRawBufferPointer(start: text, count: size)
      self = .text(String(decoding: bytes, as: UTF8.self))
    case LUMBUNG_TYPE_BLOB:
      guard let bytes = lumbung_value_blob(value, &size, nil) else {
        self = .null
        return
      }
      self = .blob(Data(bytes: bytes, count: size))
    default:
      self = .null
    }
  }

  /// A new C value (free: lumbung_value_free).
  func makeCValue() -> OpaquePointer {
    switch self {
    case .null:
      return lumbung_value_new_null()
    case .integer(let value):
      return lumbung_value_new_integer(value)
    case .real(let value):
      return lumbung_value_new_real(value)
    case .text(let value):
      return value.withCString { lumbung_value_new_text($0) }
    case .blob(let value):
      return value.withUnsafeBytes { lumbung_value_new_blob($0.baseAddress, $0.count) }
    }
  }

  /// Runs `body` with a C copy of the value, freed when it returns.
  func withCValue<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
    let value = makeCValue()
    defer { lumbung_value_free(value) }
    return try body(value)
  }

  /// Sets the cell `column` of the C row `row`.
  func set(in row: OpaquePointer, column: UnsafePointer<CChar>) {
    switch self {
    case .null:
      lumbung_row_set_null(row, column)
    case .integer(let value):
      lumbung_row_set_integer(row, column, value)
    case .real(let value):
      lumbung_row_set_real(row, column, value)
    case .text(let value):
      value.withCString { lumbung_row_set_text(row, column, $0) }
    case .blob(let value):
      value.withUnsafeBytes { lumbung_row_set_blob(row, column, $0.baseAddress, $0.count) }
    }
  }
}

/// Runs `body` with a C copy of `row`, freed when it returns.
func withCRow<R>(_ row: Row, _ body: (OpaquePointer) throws -> R) rethrows -> R {
  let cRow = lumbung_row_new()
  defer { lumbung_row_free(cRow) }
  for (column, value) in row {
    column.withCString { value.set(in: cRow, column: $0) }
  }
  return try body(cRow)
}

/// A copy of a C row, borrowed for the call.
func makeRow(borrowing row: OpaquePointer) -> Row {
  var result = Row()
  let count = lumbung_row_size(row)
  result.reserveCapacity(count)
  for index in 0..<count {
    let column = lumbung_row_column(row, index)
    if let value = lumbung_row_get(row, column, nil) {
      result[String(cString: column)] = Value(borrowing: value)
    }
  }
  return result
}
