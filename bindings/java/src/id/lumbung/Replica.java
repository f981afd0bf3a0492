package id.lumbung;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An open replica: the device's copy of the synced tables, over the C API's
 * lumbung_db. Thread-safe; close() may run on any thread, even while another
 * syncs (the sync is cancelled). Close it: nothing is freed by the garbage
 * collector. Failures throw the unchecked LumbungException.
 *
 * <p>Rows are maps from column name to value; values are null, Long, Double,
 * String or byte[] (Integer, Short and Byte are taken as Long, Float as Double).
 */
public final class Replica implements AutoCloseable {
  private final ReadWriteLock lock = new ReentrantReadWriteLock();
  private long handle;
  private final Set<SyncTask> syncs = new HashSet<>();
  private boolean closing; // guarded by syncs: no sync starts once close() began
  private final List<ListenerRegistration> listeners = new ArrayList<>();
  private ExecutorService ownExecutor;

  private Replica(long handle) {
    this.handle = handle;
  }

  /** Opens or creates the replica `config` describes. */
  public static Replica open(ReplicaConfig config) {
    return new Replica(Native.dbOpen(config.path, config.schemaJson, config.schemaName, config.key,
        config.deviceId, config.serverUrl, config.token, config.tlsCaFile,
        config.pinnedKeys.toArray(new String[0])));
  }

  /** Opens or creates the replica at `path` with the built-in schema. */
  public static Replica open(String path) {
    return open(new ReplicaConfig(path));
  }

  /** The native library's version, e.g. "0.1.0". */
  public static String version() {
    return Native.version();
  }

  /** Whether this build can open encrypted replicas. */
  public static boolean encryptionAvailable() {
    return Native.encryptionAvailable();
  }

  /** A call on the open db, under the read lock so that close() waits for it. */
  private interface DbCall<T> {
    T run(long db);
  }

  private static LumbungException closed() {
    return new LumbungException(ErrorCode.INVALID_ARGUMENT, LumbungException.Retry.PERMANENT,
        "the replica is closed");
  }

  private <T> T withDb(DbCall<T> call) {
    lock.readLock().lock();
    try {
      if (handle == 0) throw closed();
      return call.run(handle);
    } finally {
      lock.readLock().unlock();
    }
  }

  // ------------------------------------------------------------ writes

  /** Inserts a row; it must hold "id". */
  public void insert(String table, Map<String, ?> row) {
    Cells cells = new Cells(row);
    withDb(db -> {
      Native.insert(db, table, cells.columns, cells.values);
      return null;
    });
  }

  /** Inserts a row under a new UUIDv7 and returns its id. */
  public String insertNew(String table, Map<String, ?> row) {
    Cells cells = new Cells(row);
    return withDb(db -> Native.insertNew(db, table, cells.columns, cells.values));
  }

  /** Updates the given cells of an existing row. */
  public void update(String table, String id, Map<String, ?> cells) {
    Cells c = new Cells(cells);
    withDb(db -> {
      Native.update(db, table, id, c.columns, c.values);
      return null;
    });
  }

  /** Inserts the row when `id` is new, otherwise updates the given cells. */
  public void put(String table, String id, Map<String, ?> cells) {
    Cells c = new Cells(cells);
    withDb(db -> {
      Native.put(db, table, id, c.columns, c.values);
      return null;
    });
  }

  public void delete(String table, String id) {
    withDb(db -> {
      Native.delete(db, table, id);
      return null;
    });
  }

  // ------------------------------------------------------------- reads

  /** The row; throws NOT_FOUND when there is no such row (or table). */
  public Map<String, Object> get(String table, String id) {
    return toRow(withDb(db -> Native.get(db, table, id)));
  }

  /** Runs a read-only SQL query with `params` bound to ?1, ?2, ... */
  public List<Map<String, Object>> query(String sql, Object... params) {
    Object[] values = new Object[params.length];
    for (int i = 0; i < params.length; i++) values[i] = Cells.normalize(params[i]);
    Object[][] rows = withDb(db -> Native.query(db, sql, values));
    List<Map<String, Object>> result = new ArrayList<>(rows.length);
    for (Object[] row : rows) result.add(toRow(row));
    return Collections.unmodifiableList(result);
  }

  private static Map<String, Object> toRow(Object[] columnsAndValues) {
    String[] columns = (String[]) columnsAndValues[0];
    Object[] values = (Object[]) columnsAndValues[1];
    Map<String, Object> row = new LinkedHashMap<>();
    for (int i = 0; i < columns.length; i++) row.put(columns[i], values[i]);
    return Collections.unmodifiableMap(row);
  }

  public Status status() {
    Object[] f = withDb(Native::status);
    return new Status((Long) f[0], (Long) f[1], (String) f[2], (String) f[3], (String) f[4],
        (Integer) f[5]);
  }

  /** Replaces the bearer token kept in the replica, used by the next sync. */
  public void setToken(String token) {
    withDb(db -> {
      Native.setToken(db, token);
      return null;
    });
  }

  /** The captured changes not yet acknowledged, oldest first. */
  public List<Change> pending() {
    Change.Kind[] kinds = Change.Kind.values();
    List<Change> changes = new ArrayList<>();
    for (Object[] f : withDb(Native::pending)) {
      changes.add(new Change((String) f[0], (String) f[1], (String) f[2],
          kinds[(Integer) f[3] - 1], null, null));
    }
    return Collections.unmodifiableList(changes);
  }

  /** Changes the server refused, set aside until retried. */
  public List<Change> refused() {
    List<Change> changes = new ArrayList<>();
    for (Object[] f : withDb(Native::refused)) {
      changes.add(new Change((String) f[0], (String) f[1], (String) f[2], null, (String) f[3],
          (String) f[4]));
    }
    return Collections.unmodifiableList(changes);
  }

  /** Queues the refused changes again, with their current values, for the next sync. */
  public void retryRefused() {
    withDb(db -> {
      Native.retryRefused(db);
      return null;
    });
  }

  // ------------------------------------------------------------ conflicts

  /** Conflicts that touch this replica's data, oldest first. */
  public List<Conflict> conflicts() {
    List<Conflict> conflicts = new ArrayList<>();
    for (Object[] f : withDb(Native::conflicts)) conflicts.add(new Conflict(f));
    return Collections.unmodifiableList(conflicts);
  }

  /** How to settle a conflict under manual review. */
  public enum Resolution { KEEP_SERVER, KEEP_DEVICE }

  /** Settles conflict `id` on the server with one of its sides; blocks for the exchange. */
  public Conflict resolveConflict(long id, Resolution resolution, SyncOptions options) {
    return resolve(id, resolution.ordinal() + 1, null, options);
  }

  /** Settles conflict `id` on the server with a new value for the cell. */
  public Conflict resolveConflict(long id, Object value, SyncOptions options) {
    return resolve(id, 3, Cells.normalize(value), options);
  }

  private Conflict resolve(long id, int resolution, Object value, SyncOptions options) {
    long config = (options == null ? new SyncOptions() : options).toNative();
    try {
      return new Conflict(withDb(db -> Native.resolveConflict(db, id, resolution, value, config)));
    } finally {
      Native.syncConfigFree(config);
    }
  }

  // ----------------------------------------------------------------- sync

  /**
   * Pushes the pending changes, then pulls until caught up, blocking the
   * calling thread (not Android's main thread). Runs as a background sync
   * that this call waits for, so close() from another thread cancels it:
   * it then throws CANCELLED.
   */
  public SyncSummary sync(SyncOptions options) {
    try (SyncTask task = startSync(options)) {
      return task.await();
    }
  }

  public SyncSummary sync() {
    return sync(null);
  }

  /** Starts a sync on a thread of its own; the app may keep writing meanwhile. */
  public SyncTask startSync(SyncOptions options) {
    long config = (options == null ? new SyncOptions() : options).toNative();
    try {
      synchronized (syncs) {
        if (closing) throw closed();
        long sync = withDb(db -> Native.syncStart(db, config));
        SyncTask[] task = new SyncTask[1];
        task[0] = new SyncTask(sync, () -> {
          synchronized (syncs) {
            syncs.remove(task[0]);
          }
        });
        syncs.add(task[0]);
        return task[0];
      }
    } finally {
      Native.syncConfigFree(config);
    }
  }

  /**
   * Registers `listener` for every sync of this replica; its methods run on
   * `executor`. Close the registration to stop; closing the replica does too.
   * A direct executor (Runnable::run) runs them on the sync's own thread:
   * they must then return quickly and not call this replica.
   */
  public ListenerRegistration addListener(SyncListener listener, Executor executor) {
    ListenerBridge bridge = new ListenerBridge(listener, executor);
    synchronized (listeners) {
      ListenerRegistration registration =
          new ListenerRegistration(withDb(db -> Native.listen(db, bridge)));
      listeners.add(registration);
      return registration;
    }
  }

  /** As above, on one thread the replica keeps for its listeners. */
  public ListenerRegistration addListener(SyncListener listener) {
    synchronized (listeners) {
      if (ownExecutor == null) {
        ownExecutor = Executors.newSingleThreadExecutor(runnable -> {
          Thread thread = new Thread(runnable, "lumbung-listeners");
          thread.setDaemon(true);
          return thread;
        });
      }
      return addListener(listener, ownExecutor);
    }
  }

  /**
   * Cancels the running syncs (their waiters get CANCELLED), unregisters the
   * listeners, closes the file and frees the handle. Any thread; later calls
   * throw INVALID_ARGUMENT; closing twice is harmless.
   */
  @Override
  public void close() {
    synchronized (syncs) {
      closing = true;
      for (SyncTask task : syncs) task.cancel();
    }
    synchronized (listeners) {
      for (ListenerRegistration registration : listeners) registration.close();
      listeners.clear();
      if (ownExecutor != null) ownExecutor.shutdown();
    }
    lock.writeLock().lock();
    try {
      if (handle == 0) return;
      Native.dbFree(handle);
      handle = 0;
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** A row's cells as the arrays the JNI layer takes. */
  private static final class Cells {
    final String[] columns;
    final Object[] values;

    Cells(Map<String, ?> row) {
      columns = new String[row.size()];
      values = new Object[row.size()];
      int i = 0;
      for (Map.Entry<String, ?> cell : row.entrySet()) {
        columns[i] = cell.getKey();
        values[i] = normalize(cell.getValue());
        i++;
      }
    }

    static Object normalize(Object value) {
      if (value == null || value instanceof Long || value instanceof Double
          || value instanceof String || value instanceof byte[]) {
        return value;
      }
      if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
        return ((Number) value).longValue();
      }
      if (value instanceof Float) return ((Float) value).doubleValue();
      throw new LumbungException(ErrorCode.INVALID_ARGUMENT, LumbungException.Retry.PERMANENT,
          "a value must be null, Long, Double, String or byte[], not "
              + value.getClass().getName());
    }
  }
}
