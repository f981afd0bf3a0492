package id.lumbung;

/**
 * The JNI layer (bindings/java/jni) over liblumbung.so's C API. Handles are
 * the C pointers as longs; every method that can fail throws
 * LumbungException. Values are null, Long, Double, String or byte[].
 */
final class Native {
  static {
    // A test or an app that ships the library elsewhere names the file.
    String path = System.getProperty("id.lumbung.jni");
    if (path != null) {
      System.load(path);
    } else {
      System.loadLibrary("lumbung_jni");
    }
  }

  private Native() {}

  static native String version();
  static native boolean encryptionAvailable();

  static native long dbOpen(String path, String schemaJson, String schemaName, byte[] key,
      String deviceId, String serverUrl, String token, String tlsCaFile, String[] pinnedKeys);
  static native void dbFree(long db);

  static native void insert(long db, String table, String[] columns, Object[] values);
  static native String insertNew(long db, String table, String[] columns, Object[] values);
  static native void update(long db, String table, String id, String[] columns, Object[] values);
  static native void put(long db, String table, String id, String[] columns, Object[] values);
  static native void delete(long db, String table, String id);
  /** {String[] columns, Object[] values}. */
  static native Object[] get(long db, String table, String id);
  /** For each row {String[] columns, Object[] values}. */
  static native Object[][] query(long db, String sql, Object[] params);

  /** {Long pending, Long refused, String lastSync, String deviceId, String serverUrl, Integer schemaVersion}. */
  static native Object[] status(long db);
  static native void setToken(long db, String token);
  /** For each change {table, rowId, column, Integer kind}. */
  static native Object[][] pending(long db);
  /** For each change {table, rowId, column, reason, message}. */
  static native Object[][] refused(long db);
  static native void retryRefused(long db);
  /** For each conflict its fields, in Conflict's order. */
  static native Object[][] conflicts(long db);
  static native Object[] resolveConflict(long db, long id, int resolution, Object value,
      long syncConfig);

  static native long syncConfigNew(TransportBridge transport, String token, long connectMs,
      long requestMs, int maxAttempts, long backoffInitialMs, long backoffMaxMs, int pushBatch,
      int waitSeconds);
  static native void syncConfigFree(long config);
  static native long syncStart(long db, long syncConfig);
  static native void syncCancel(long sync);
  static native boolean syncIsDone(long sync);
  /** The summary's fields, or throws the sync's error. */
  static native long[] syncWait(long sync);
  static native void syncFree(long sync);

  /** Three registrations (progress, changed rows, conflicts) over one bridge. */
  static native long[] listen(long db, ListenerBridge bridge);
  static native void registrationFree(long registration);
}
