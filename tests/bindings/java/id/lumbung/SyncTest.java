package id.lumbung;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** Two and three devices syncing through a real lumbungd. */
public class SyncTest {
  private TestServer server;

  @Before
  public void start() throws Exception {
    server = new TestServer();
  }

  @After
  public void stop() throws Exception {
    server.close();
  }

  /** What a listener heard, on the listener's thread. */
  private static final class Heard implements SyncListener {
    final List<Phase> phases = new ArrayList<>();
    final List<String> changedIds = new ArrayList<>();
    final List<Conflict> conflicts = new ArrayList<>();
    final List<Thread> threads = new ArrayList<>();
    final CountDownLatch done = new CountDownLatch(1);

    @Override
    public synchronized void onProgress(Phase phase, long changes, long sent, long received) {
      phases.add(phase);
      threads.add(Thread.currentThread());
      if (phase == Phase.DONE) done.countDown();
    }

    @Override
    public synchronized void onChangedRows(String table, List<String> rowIds) {
      changedIds.addAll(rowIds);
    }

    @Override
    public synchronized void onConflict(Conflict conflict) {
      conflicts.add(conflict);
    }
  }

  @Test
  public void writesReachTheOtherDeviceWithNews() throws Exception {
    try (Replica ani = server.device("ani", server.token("ani", "officer"));
        Replica budi = server.device("budi", server.token("budi", "officer"))) {
      ani.insert("household", Rows.household("h1"));
      SyncSummary pushed = ani.sync();
      assertEquals(1, pushed.pushed);
      assertEquals(0, ani.status().pending);

      Heard heard = new Heard();
      try (ListenerRegistration registration = budi.addListener(heard)) {
        SyncSummary pulled;
        try (SyncTask task = budi.startSync(new SyncOptions())) {
          pulled = task.await();
          assertTrue(task.isDone());
        }
        assertEquals(1, pulled.pulled);
        assertTrue(heard.done.await(10, TimeUnit.SECONDS));
      }
      synchronized (heard) {
        assertTrue(heard.phases.contains(SyncListener.Phase.PULL));
        assertTrue(heard.changedIds.contains("h1"));
        for (Thread thread : heard.threads) assertEquals("lumbung-listeners", thread.getName());
      }
      assertEquals("officer", budi.get("household", "h1").get("created_by"));
    }
  }

  @Test
  public void aConflictIsSeenAndResolved() throws Exception {
    try (Replica ani = server.device("ani", server.token("ani", "officer"));
        Replica budi = server.device("budi", server.token("budi", "officer"));
        Replica rina = server.device("rina", server.token("rina", "supervisor"))) {
      ani.insert("person", Rows.person("p1", "CALON"));
      ani.sync();
      budi.sync();
      ani.update("person", "p1", Rows.cell("migrant_status", "AKTIF"));
      budi.update("person", "p1", Rows.cell("migrant_status", "PURNA"));
      ani.sync();
      Heard heard = new Heard();
      budi.addListener(heard, Runnable::run); // the caller's Executor: here, the sync's thread
      assertTrue(budi.sync().conflicts >= 1);
      synchronized (heard) {
        assertEquals(1, heard.conflicts.size());
        assertEquals("pending_review", heard.conflicts.get(0).outcome);
      }

      rina.sync();
      Conflict conflict = null;
      for (Conflict c : rina.conflicts()) {
        if (c.policy.equals("manual_review")) conflict = c;
      }
      assertTrue(conflict != null);
      assertEquals("AKTIF", conflict.serverValue);
      assertEquals("PURNA", conflict.deviceValue);
      assertEquals("migrant_status", conflict.column);
      long id = conflict.id;
      try {
        ani.resolveConflict(id, Replica.Resolution.KEEP_SERVER, null);
        fail("an officer resolved");
      } catch (LumbungException e) {
        assertEquals(ErrorCode.FORBIDDEN, e.code());
      }
      Conflict resolved = rina.resolveConflict(id, "NON_PROSEDURAL", null);
      assertEquals("resolved_value", resolved.outcome);
      assertEquals("rina", resolved.resolvedBy);
      assertEquals("NON_PROSEDURAL", resolved.resolvedValue);

      ani.sync();
      budi.sync();
      assertEquals("NON_PROSEDURAL", ani.get("person", "p1").get("migrant_status"));
      assertEquals("NON_PROSEDURAL", budi.get("person", "p1").get("migrant_status"));
    }
  }

  @Test
  public void aBadTokenFailsWithItsCodeUntilReplaced() throws Exception {
    try (Replica ani = server.device("ani", "not-a-token")) {
      ani.insert("household", Rows.household("h1"));
      try {
        ani.sync(new SyncOptions().maxAttempts(1));
        fail("synced with a bad token");
      } catch (LumbungException e) {
        assertEquals(ErrorCode.TOKEN_MALFORMED, e.code());
        assertEquals(LumbungException.Retry.PERMANENT, e.retry());
      }
      assertEquals(1, ani.status().pending);
      ani.setToken(server.token("ani", "officer"));
      assertEquals(1, ani.sync().pushed);
      assertEquals(0, ani.status().pending);
    }
  }
}
