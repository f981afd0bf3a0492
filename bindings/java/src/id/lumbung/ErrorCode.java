package id.lumbung;

/** The engine's stable error codes (lumbung_code_e), never renumbered. */
public enum ErrorCode {
  OK(0), INVALID_ARGUMENT(1), NOT_FOUND(2), SCHEMA_INVALID(3), SCHEMA_INCOMPATIBLE(4),
  CONSTRAINT(5), TYPE_MISMATCH(6), NOT_A_REPLICA(7), IO(8), BUSY(9), CORRUPT(10), NO_SPACE(11),
  ENCRYPTION(12), INTERNAL(13), NETWORK(14), TIMEOUT(15), PROTOCOL(16), TOO_LARGE(17),
  UNAVAILABLE(18), CANCELLED(19), STALE_BATCH(20), TOKEN_MISSING(21), TOKEN_MALFORMED(22),
  TOKEN_FORGED(23), TOKEN_EXPIRED(24), TOKEN_REVOKED(25), DEVICE_MISMATCH(26), FORBIDDEN(27),
  TLS(28);

  private final int number;

  ErrorCode(int number) {
    this.number = number;
  }

  /** The number shared with the C API and the wire. */
  public int number() {
    return number;
  }

  /** The code of `number`; INTERNAL for a number this binding does not know. */
  public static ErrorCode of(int number) {
    for (ErrorCode code : values()) {
      if (code.number == number) return code;
    }
    return INTERNAL;
  }
}
