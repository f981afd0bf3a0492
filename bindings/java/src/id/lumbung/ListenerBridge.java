package id.lumbung;

import java.util.Arrays;
import java.util.concurrent.Executor;

/**
 * What the JNI layer calls on the sync's thread: each call only hands the
 * news to the listener's Executor and returns, and catches what the Executor
 * throws (a shut-down one refuses), so no Java exception reaches C.
 */
final class ListenerBridge {
  private final SyncListener listener;
  private final Executor executor;

  ListenerBridge(SyncListener listener, Executor executor) {
    this.listener = listener;
    this.executor = executor;
  }

  private void post(Runnable news) {
    try {
      executor.execute(news);
    } catch (RuntimeException refused) {
      // The app's Executor is shutting down: the news has nobody to reach.
    }
  }

  void progress(int phase, long changes, long bytesSent, long bytesReceived) {
    SyncListener.Phase p = SyncListener.Phase.values()[phase - 1];
    post(() -> listener.onProgress(p, changes, bytesSent, bytesReceived));
  }

  void changedRows(String table, String[] ids) {
    post(() -> listener.onChangedRows(table, Arrays.asList(ids)));
  }

  void conflict(Object[] fields) {
    Conflict conflict = new Conflict(fields);
    post(() -> listener.onConflict(conflict));
  }
}
