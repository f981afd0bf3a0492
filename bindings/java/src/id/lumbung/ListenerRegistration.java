package id.lumbung;

/** A SyncListener's registration: close() unregisters it. */
public final class ListenerRegistration implements AutoCloseable {
  private long[] registrations;

  ListenerRegistration(long[] registrations) {
    this.registrations = registrations;
  }

  /**
   * Unregisters: waits for a call in progress on the sync's thread (which
   * only posts to the Executor), so none starts after it returns. News
   * already posted to the Executor still runs. Closing twice is harmless.
   */
  @Override
  public synchronized void close() {
    if (registrations == null) return;
    for (long registration : registrations) Native.registrationFree(registration);
    registrations = null;
  }
}
