package id.lumbung;

/**
 * How to sync (lumbung_sync_config). An option left unset keeps the C API's
 * default; -1 marks "unset" for the numbers.
 */
public final class SyncOptions {
  Transport transport;
  String token;
  long connectTimeoutMs = -1;
  long requestTimeoutMs = -1;
  int maxAttempts = -1;
  long backoffInitialMs = -1;
  long backoffMaxMs = -1;
  int pushBatch = -1;
  int waitSeconds = -1;

  /** The app's HTTP transport (e.g. over OkHttp). Default: Lumbung's own client. */
  public SyncOptions transport(Transport transport) {
    this.transport = transport;
    return this;
  }

  /** A token for this sync instead of the one kept in the replica. */
  public SyncOptions token(String token) {
    this.token = token;
    return this;
  }

  /** Lumbung's own HTTP client timeouts (ignored with an app transport). */
  public SyncOptions timeoutsMs(long connect, long request) {
    this.connectTimeoutMs = connect;
    this.requestTimeoutMs = request;
    return this;
  }

  /** Attempts at a transient failure. Default: 6. */
  public SyncOptions maxAttempts(int attempts) {
    this.maxAttempts = attempts;
    return this;
  }

  /** Exponential backoff between attempts, with full jitter. */
  public SyncOptions backoffMs(long initial, long max) {
    this.backoffInitialMs = initial;
    this.backoffMaxMs = max;
    return this;
  }

  /** Changes per push request. Default: 1000. */
  public SyncOptions pushBatch(int changes) {
    this.pushBatch = changes;
    return this;
  }

  /** The last pull waits up to this long for new changes. Default: 0. */
  public SyncOptions waitSeconds(int seconds) {
    this.waitSeconds = seconds;
    return this;
  }

  /** A native lumbung_sync_config for one call; the caller frees it. */
  long toNative() {
    return Native.syncConfigNew(transport == null ? null : new TransportBridge(transport), token,
        connectTimeoutMs, requestTimeoutMs, maxAttempts, backoffInitialMs, backoffMaxMs, pushBatch,
        waitSeconds);
  }
}
