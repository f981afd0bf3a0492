import CLumbung

/// A failure reported by liblumbung: the stable code (the same numbers as the
/// C API, the C++ API and the wire), what to do about it, and the message.
public struct LumbungError: Error, Sendable, Hashable, CustomStringConvertible {
  /// A stable error number. A struct rather than an enum, so a newer library's
  /// code is still representable by an older binding.
  public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let invalidArgument = Code(rawValue: 1)
    public static let notFound = Code(rawValue: 2)
    public static let schemaInvalid = Code(rawValue: 3)
    public static let schemaIncompatible = Code(rawValue: 4)
    public static let constraint = Code(rawValue: 5)
    public static let typeMismatch = Code(rawValue: 6)
    public static let notAReplica = Code(rawValue: 7)
    public static let io = Code(rawValue: 8)
    public static let busy = Code(rawValue: 9)
    public static let corrupt = Code(rawValue: 10)
    public static let noSpace = Code(rawValue: 11)
    public static let encryption = Code(rawValue: 12)
    public static let `internal` = Code(rawValue: 13)
    public static let network = Code(rawValue: 14)
    public static let timeout = Code(rawValue: 15)
    public static let `protocol` = Code(rawValue: 16)
    public static let tooLarge = Code(rawValue: 17)
    public static let unavailable = Code(rawValue: 18)
    public static let cancelled = Code(rawValue: 19)
    public static let staleBatch = Code(rawValue: 20)
    public static let tokenMissing = Code(rawValue: 21)
    public static let tokenMalformed = Code(rawValue: 22)
    public static let tokenForged = Code(rawValue: 23)
    public static let tokenExpired = Code(rawValue: 24)
    public static let tokenRevoked = Code(rawValue: 25)
    public static let deviceMismatch = Code(rawValue: 26)
    public static let forbidden = Code(rawValue: 27)
    public static let tls = Code(rawValue: 28)

    /// The code's stable name from the library, e.g. "TypeMismatch".
    public var name: String { String(cString: lumbung_code_name(Int32(clamping: rawValue))) }
    public var description: String { name }
  }

  /// What the caller should do about the error.
  public enum Retry: Int, Sendable {
    case none = 0
    /// Retry later, with backoff.
    case transient = 1
    /// Retry the whole transaction now.
    case abort = 2
    /// Retrying will not help: the input or the state needs a fix.
    case permanent = 3
  }

  public let code: Code
  public let retry: Retry
  public let message: String

  public init(code: Code, retry: Retry, message: String) {
    self.code = code
    self.retry = retry
    self.message = message
  }

  /// The error a failing C call filled in.
  init(_ error: lumbung_error) {
    code = Code(rawValue: Int(error.code.rawValue))
    retry = Retry(rawValue: Int(error.retry.rawValue)) ?? .permanent
    // The message is NUL-terminated within its 512 bytes; stop at the end of
    // the buffer all the same rather than trust it.
    message = withUnsafeBytes(of: error.message) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
  }

  public var description: String { "\(code.name) (\(code.rawValue)): \(message)" }

  static func invalidArgument(_ message: String) -> LumbungError {
    LumbungError(code: .invalidArgument, retry: .permanent, message: message)
  }
}

/// Runs a C call that returns false on failure, and throws what it filled in.
func checked(_ call: (UnsafeMutablePointer<lumbung_error>) throws -> Bool) throws {
  var error = lumbung_error()
  if try !withUnsafeMutablePointer(to: &error, call) { throw LumbungError(error) }
}

/// Runs a C call that returns NULL on failure, and throws what it filled in.
func fetched<T>(_ call: (UnsafeMutablePointer<lumbung_error>) throws -> T?) throws -> T {
  var error = lumbung_error()
  guard let result = try withUnsafeMutablePointer(to: &error, call) else {
    throw LumbungError(error)
  }
  return result
}
