package id.lumbung;

/** What a finished sync did. */
public final class SyncSummary {
  /** Changes sent and acknowledged; of those applied, superseded and refused. */
  public final long pushed;
  public final long applied;
  public final long superseded;
  public final long refused;
  /** Rows and conflicts received. */
  public final long pulled;
  public final long conflicts;
  /** HTTP bodies as sent and received (compressed). */
  public final long bytesSent;
  public final long bytesReceived;

  /** From the C struct's fields, in their order. */
  SyncSummary(long[] f) {
    pushed = f[0];
    applied = f[1];
    superseded = f[2];
    refused = f[3];
    pulled = f[4];
    conflicts = f[5];
    bytesSent = f[6];
    bytesReceived = f[7];
  }
}
