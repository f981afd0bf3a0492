package id.lumbung;

/**
 * A failed Lumbung call: the engine's stable code, what to do about it, and a
 * message. Unchecked, so that Kotlin and Java callers catch it where they can
 * act on it rather than at every call.
 */
public final class LumbungException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What the caller should do about an error (lumbung_retry_e). */
  public enum Retry {
    /** Not an error. */
    NONE,
    /** Retry later, with backoff. */
    TRANSIENT,
    /** Retry the whole transaction now. */
    ABORT,
    /** Retrying will not help: the input or the state needs a fix. */
    PERMANENT
  }

  private final ErrorCode code;
  private final Retry retry;

  public LumbungException(ErrorCode code, Retry retry, String message) {
    super(code.name() + ": " + message);
    this.code = code;
    this.retry = retry;
  }

  /** Called by the JNI layer with the C API's numbers. */
  static LumbungException fromNative(int code, int retry, String message) {
    Retry[] retries = Retry.values();
    return new LumbungException(ErrorCode.of(code),
        retry >= 0 && retry < retries.length ? retries[retry] : Retry.PERMANENT, message);
  }

  public ErrorCode code() {
    return code;
  }

  public Retry retry() {
    return retry;
  }
}
