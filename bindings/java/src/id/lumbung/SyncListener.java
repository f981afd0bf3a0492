package id.lumbung;

import java.util.List;

/**
 * News from every sync of a replica, blocking or background. Each method is
 * called on the listener's Executor (by default one thread of the replica's
 * own), never on the sync's thread, so it may take its time; the default
 * methods do nothing, so implement only what the app shows.
 */
public interface SyncListener {
  /** Where a sync is. */
  enum Phase { PUSH, PULL, DONE }

  /** Changes pushed (PUSH) or pulled (PULL) so far, and bytes. */
  default void onProgress(Phase phase, long changes, long bytesSent, long bytesReceived) {}

  /** Rows of `table` a pulled page wrote or deleted: refresh their views. */
  default void onChangedRows(String table, List<String> rowIds) {}

  /** A conflict the sync received. */
  default void onConflict(Conflict conflict) {}
}
