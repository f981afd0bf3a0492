package id.lumbung;

import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A sync running on a thread of its own (Replica.startSync). Any thread may
 * cancel it or wait for it; close() cancels it if it still runs, waits for
 * its end and frees it.
 */
public final class SyncTask implements AutoCloseable {
  private final ReadWriteLock lock = new ReentrantReadWriteLock();
  private long handle;
  private final Runnable onClose;

  SyncTask(long handle, Runnable onClose) {
    this.handle = handle;
    this.onClose = onClose;
  }

  /** Asks the sync to stop at its next step; it then ends with CANCELLED. Returns at once. */
  public void cancel() {
    lock.readLock().lock();
    try {
      if (handle != 0) Native.syncCancel(handle);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Whether the sync has ended. */
  public boolean isDone() {
    lock.readLock().lock();
    try {
      return handle == 0 || Native.syncIsDone(handle);
    } finally {
      lock.readLock().unlock();
    }
  }

  /**
   * Blocks until the sync ends: its summary, or the LumbungException it ended
   * with (CANCELLED when cancelled). May be called again for the same outcome.
   * Never call it from a listener or a Transport.
   */
  public SyncSummary await() {
    lock.readLock().lock();
    try {
      if (handle == 0) throw closed();
      return new SyncSummary(Native.syncWait(handle));
    } finally {
      lock.readLock().unlock();
    }
  }

  @Override
  public void close() {
    cancel();
    lock.writeLock().lock();
    try {
      if (handle == 0) return;
      Native.syncFree(handle);
      handle = 0;
    } finally {
      lock.writeLock().unlock();
    }
    onClose.run();
  }

  static LumbungException closed() {
    return new LumbungException(ErrorCode.INVALID_ARGUMENT, LumbungException.Retry.PERMANENT,
        "the sync task is closed");
  }
}
