package id.lumbung;

/** A concurrent edit the server detected, with both sides and the outcome. */
public final class Conflict {
  public final long id;
  public final String table;
  public final String rowId;
  /** "" when a delete met an edit of the row. */
  public final String column;
  /** last_writer_wins, server_wins, first_writer_wins, manual_review, delete_wins. */
  public final String policy;
  /** server_kept, device_applied, pending_review; resolved_server, resolved_device, resolved_value. */
  public final String outcome;
  /** Values are null, Long, Double, String or byte[]. */
  public final Object serverValue;
  public final Object deviceValue;
  /** What a resolution wrote; null until then. */
  public final Object resolvedValue;
  public final String serverDevice;
  public final String deviceId;
  /** The reviewer's officer id; "" until resolved. */
  public final String resolvedBy;

  /** From the JNI layer's field array, in the order of the fields above. */
  Conflict(Object[] f) {
    id = (Long) f[0];
    table = (String) f[1];
    rowId = (String) f[2];
    column = (String) f[3];
    policy = (String) f[4];
    outcome = (String) f[5];
    serverValue = f[6];
    deviceValue = f[7];
    resolvedValue = f[8];
    serverDevice = (String) f[9];
    deviceId = (String) f[10];
    resolvedBy = (String) f[11];
  }

  @Override
  public String toString() {
    return "Conflict#" + id + " " + table + "/" + rowId + "." + column + " " + policy + " "
        + outcome;
  }
}
