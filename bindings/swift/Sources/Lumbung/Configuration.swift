import CLumbung
import Foundation

/// How to open a replica; every option but the path has the C API's default.
public struct ReplicaConfiguration: Sendable {
  /// A schema as JSON text (docs/schema-format.md) and its name in messages.
  public struct Schema: Sendable {
    public var json: String
    public var sourceName: String

    public init(json: String, sourceName: String) {
      self.json = json
      self.sourceName = sourceName
    }
  }

  /// The replica file, created when missing.
  public var path: String
  /// Default: the built-in Desmigratif schema on create, the file's own on
  /// open; a newer version migrates the file additively.
  public var schema: Schema?
  /// The encryption key. Default: none. Opening with a key fails with
  /// `.encryption` in a build without SQLCipher (`Replica.encryptionAvailable`).
  public var key: Data?
  /// This device's id, used only when the file is created. Default: a new UUIDv7.
  public var deviceId: String?
  /// "http://host:port" or "https://...", kept in the file when it is
  /// created. A sync needs one, or a transport.
  public var serverURL: String?
  /// The bearer token kept in the file when it is created
  /// (`Replica.setToken` replaces it later).
  public var token: String?
  /// A PEM file of the CAs an https server must chain to. Default: the system's.
  public var tlsCAFile: String?
  /// Pinned keys of the server's certificate, "sha256/BASE64". Default: none.
  public var pinnedKeys: [String]

  public init(path: String, schema: Schema? = nil, key: Data? = nil, deviceId: String? = nil,
              serverURL: String? = nil, token: String? = nil, tlsCAFile: String? = nil,
              pinnedKeys: [String] = []) {
    self.path = path
    self.schema = schema
    self.key = key
    self.deviceId = deviceId
    self.serverURL = serverURL
    self.token = token
    self.tlsCAFile = tlsCAFile
    self.pinnedKeys = pinnedKeys
  }

  /// Runs `body` with a C copy of the configuration, freed when it returns.
  func withCConfig<R>(_ body: (OpaquePointer) throws -> R) throws -> R {
    let config = lumbung_db_config_new()
    defer { lumbung_db_config_free(config) }
    path.withCString { lumbung_db_config_set_path(config, $0) }
    if let schema {
      schema.json.withCString { json in
        schema.sourceName.withCString { lumbung_db_config_set_schema(config, json, $0) }
      }
    }
    if let key {
      // An empty key would silently mean "no encryption".
      guard !key.isEmpty else { throw LumbungError.invalidArgument("the encryption key is empty") }
      key.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
        if let bytes = raw.baseAddress { lumbung_db_config_set_key(config, bytes, raw.count) }
      }
    }
    deviceId?.withCString { lumbung_db_config_set_device_id(config, $0) }
    serverURL?.withCString { lumbung_db_config_set_server_url(config, $0) }
    token?.withCString { lumbung_db_config_set_token(config, $0) }
    tlsCAFile?.withCString { lumbung_db_config_set_tls_ca_file(config, $0) }
    for pin in pinnedKeys {
      pin.withCString { lumbung_db_config_add_tls_pinned_key(config, $0) }
    }
    return try body(config)
  }
}

/// How to sync; nil options keep the C API's defaults.
public struct SyncOptions: Sendable {
  /// The app's HTTP transport. Default: Lumbung's own HTTP client to the
  /// replica's server URL.
  public var transport: (any Transport)?
  /// Overrides the token kept in the replica for this sync.
  public var token: String?
  /// Lumbung's own HTTP client: connect and whole-exchange timeouts (defaults
  /// 10000 and 30000 ms). Ignored with an app transport.
  public var connectTimeoutMilliseconds: Int64?
  public var requestTimeoutMilliseconds: Int64?
  /// Attempts at a transient failure (default 6).
  public var maxAttempts: Int?
  /// Exponential backoff between attempts, with full jitter (defaults 250 and 15000 ms).
  public var backoffMilliseconds: (initial: Int64, max: Int64)?
  /// Changes per push request (default 1000).
  public var pushBatch: Int?
  /// Long poll: the last pull waits up to this long for new changes (default 0).
  public var waitSeconds: UInt32?

  public init(transport: (any Transport)? = nil, token: String? = nil,
              connectTimeoutMilliseconds: Int64? = nil, requestTimeoutMilliseconds: Int64? = nil,
              maxAttempts: Int? = nil, backoffMilliseconds: (initial: Int64, max: Int64)? = nil,
              pushBatch: Int? = nil, waitSeconds: UInt32? = nil) {
    self.transport = transport
    self.token = token
    self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
    self.requestTimeoutMilliseconds = requestTimeoutMilliseconds
    self.maxAttempts = maxAttempts
    self.backoffMilliseconds = backoffMilliseconds
    self.pushBatch = pushBatch
    self.waitSeconds = waitSeconds
  }

  /// Runs `body` with a C copy of the options, freed when it returns (a sync
  /// or a config still using the transport keeps it alive).
  func withCConfig<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
    let config = lumbung_sync_config_new()
    defer { lumbung_sync_config_free(config) }
    if let transport {
      let cTransport = makeCTransport(transport)
      lumbung_sync_config_set_transport(config, cTransport)
      lumbung_transport_free(cTransport)
    }
    token?.withCString { lumbung_sync_config_set_token(config, $0) }
    if let connectTimeoutMilliseconds {
      lumbung_sync_config_set_connect_timeout_ms(config, connectTimeoutMilliseconds)
    }
    if let requestTimeoutMilliseconds {
      lumbung_sync_config_set_request_timeout_ms(config, requestTimeoutMilliseconds)
    }
    if let maxAttempts {
      lumbung_sync_config_set_max_attempts(config, Int32(clamping: maxAttempts))
    }
    if let backoffMilliseconds {
      lumbung_sync_config_set_backoff_ms(config, backoffMilliseconds.initial,
                                         backoffMilliseconds.max)
    }
    if let pushBatch { lumbung_sync_config_set_push_batch(config, Int32(clamping: pushBatch)) }
    if let waitSeconds { lumbung_sync_config_set_wait_seconds(config, waitSeconds) }
    return try body(config)
  }
}
