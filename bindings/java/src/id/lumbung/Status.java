package id.lumbung;

/** The replica's state. */
public final class Status {
  /** Changes captured and not yet acknowledged by the server. */
  public final long pending;
  /** Changes the server refused, set aside. */
  public final long refused;
  /** ISO-8601 UTC of the last successful sync; null before the first. */
  public final String lastSync;
  public final String deviceId;
  public final String serverUrl;
  public final int schemaVersion;

  Status(long pending, long refused, String lastSync, String deviceId, String serverUrl,
      int schemaVersion) {
    this.pending = pending;
    this.refused = refused;
    this.lastSync = lastSync;
    this.deviceId = deviceId;
    this.serverUrl = serverUrl;
    this.schemaVersion = schemaVersion;
  }
}
