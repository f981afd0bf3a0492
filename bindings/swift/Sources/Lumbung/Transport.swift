import CLumbung
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One request the engine wants sent.
public struct HTTPRequest: Sendable {
  /// "GET" or "POST".
  public let method: String
  /// The target relative to the server URL, e.g. "/v1/push": the app prefixes
  /// its own base URL.
  public let path: String
  public let headers: [(name: String, value: String)]
  /// Compressed protobuf: send it untouched.
  public let body: Data

  init(borrowing request: OpaquePointer) {
    method = String(cString: lumbung_http_request_method(request))
    path = String(cString: lumbung_http_request_path(request))
    headers = (0..<lumbung_http_request_header_count(request)).map { index in
      (name: String(cString: lumbung_http_request_header_name(request, index)),
       value: String(cString: lumbung_http_request_header_value(request, index)))
    }
    var size = 0
    let bytes = lumbung_http_request_body(request, &size)
    body = Data(bytes: bytes, count: size)
  }
}

/// The server's answer, whatever its status: the engine reads 401 and 403 as
/// token errors, so return every status, errors included.
public struct HTTPResponse: Sendable {
  public var status: Int
  public var headers: [(name: String, value: String)]
  public var body: Data

  public init(status: Int, headers: [(name: String, value: String)] = [], body: Data = Data()) {
    self.status = status
    self.headers = headers
    self.body = body
  }
}

/// An app-supplied HTTP stack (URLSession, say), in place of Lumbung's own
/// client: the C API's lumbung_transport_fn.
///
/// `exchange` runs on the syncing thread, a thread liblumbung owns (never the
/// main thread nor Swift's cooperative pool), and blocks for the exchange: that
/// is its job, bounded by the app's own timeouts. One sync at a time calls it.
/// It must not call the replica that syncs. Throwing means no answer: a
/// `URLError.timedOut` or a `LumbungError` with code `.timeout` is a timeout,
/// anything else a network failure; the sync retries by its own backoff.
public protocol Transport: Sendable {
  func exchange(_ request: HTTPRequest) throws -> HTTPResponse
}

/// Holds the app's transport for the C transport; released once by the C
/// API's free_userdata, when the last config or sync lets go of it.
private final class TransportBox {
  let transport: any Transport
  init(_ transport: any Transport) { self.transport = transport }
}

private let transportCallback: lumbung_transport_fn = { userdata, request, response in
  guard let userdata else { return }  // Leaving the response unset is a network failure.
  let transport = Unmanaged<TransportBox>.fromOpaque(userdata).takeUnretainedValue().transport
  do {
    let answer = try transport.exchange(HTTPRequest(borrowing: request))
    lumbung_http_response_set_status(response, Int32(clamping: answer.status))
    for header in answer.headers {
      header.name.withCString { name in
        header.value.withCString { lumbung_http_response_add_header(response, name, $0) }
      }
    }
    answer.body.withUnsafeBytes {
      lumbung_http_response_set_body(response, $0.baseAddress, $0.count)
    }
  } catch {
    let timedOut = (error as? URLError)?.code == .timedOut
      || (error as? LumbungError)?.code == .timeout
    String(describing: error).withCString {
      lumbung_http_response_fail(response, timedOut ? LUMBUNG_TIMEOUT : LUMBUNG_NETWORK, $0)
    }
  }
}

private let releaseTransportBox: @convention(c) (UnsafeMutableRawPointer?) -> Void = { userdata in
  if let userdata { Unmanaged<TransportBox>.fromOpaque(userdata).release() }
}

/// A new C transport over `transport` (free: lumbung_transport_free).
func makeCTransport(_ transport: any Transport) -> OpaquePointer {
  let box = Unmanaged.passRetained(TransportBox(transport)).toOpaque()
  return lumbung_transport_new(transportCallback, box, releaseTransportBox)
}

/// A `Transport` over a URLSession: the app's proxies, certificate store and
/// ATS settings apply. It blocks the syncing thread (liblumbung's own) while
/// the data task runs, which the C API expects of a transport. Sendable
/// because URLSession is thread-safe, though not every Foundation marks it so.
public final class URLSessionTransport: Transport, @unchecked Sendable {
  public let baseURL: URL
  public let session: URLSession

  /// `baseURL`, e.g. https://lumbung.example.id, is prefixed to each request's path.
  public init(baseURL: URL, session: URLSession = .shared) {
    self.baseURL = baseURL
    self.session = session
  }

  public func exchange(_ request: HTTPRequest) throws -> HTTPResponse {
    guard let url = URL(string: baseURL.absoluteString + request.path) else {
      throw URLError(.badURL)
    }
    var urlRequest = URLRequest(url: url)
    urlRequest.httpMethod = request.method
    for header in request.headers {
      urlRequest.setValue(header.value, forHTTPHeaderField: header.name)
    }
    if request.method == "POST" { urlRequest.httpBody = request.body }
    // A long-polling pull may rightly stay unanswered for the wait it asks
    // for: its timeout stretches by that much.
    if let wait = request.headers.first(where: { $0.name.lowercased() == "lumbung-wait" }),
      let seconds = TimeInterval(wait.value)
    {
      urlRequest.timeoutInterval = session.configuration.timeoutIntervalForRequest + seconds
    }

    let done = DispatchSemaphore(value: 0)
    let outcome = Outcome()
    session.dataTask(with: urlRequest) { data, response, error in
      outcome.set(data: data, response: response, error: error)
      done.signal()
    }.resume()
    done.wait()
    return try outcome.result()
  }

  /// What the data task's completion handler saw, handed to the waiting thread.
  private final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?
    private var urlResponse: URLResponse?
    private var error: Error?

    func set(data: Data?, response: URLResponse?, error: Error?) {
      lock.lock()
      defer { lock.unlock() }
      self.data = data
      urlResponse = response
      self.error = error
    }

    func result() throws -> HTTPResponse {
      lock.lock()
      defer { lock.unlock() }
      if let error { throw error }
      guard let http = urlResponse as? HTTPURLResponse else { throw URLError(.badServerResponse) }
      let headers = http.allHeaderFields.compactMap { field -> (name: String, value: String)? in
        guard let name = field.key as? String, let value = field.value as? String else {
          return nil
        }
        return (name: name, value: value)
      }
      return HTTPResponse(status: http.statusCode, headers: headers, body: data ?? Data())
    }
  }
}
