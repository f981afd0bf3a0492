package id.lumbung;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** The device side alone: writes, reads, values, pending changes and errors. */
public class ReplicaTest {
  private Path dir;
  private Replica replica;

  @Before
  public void open() throws Exception {
    dir = Files.createTempDirectory("lumbung-java");
    replica = Replica.open(new ReplicaConfig(dir.resolve("device.db").toString()).deviceId("d1"));
  }

  @After
  public void close() throws Exception {
    replica.close();
    Files.deleteIfExists(dir.resolve("device.db"));
    Files.deleteIfExists(dir.resolve("device.db-wal"));
    Files.deleteIfExists(dir.resolve("device.db-shm"));
    Files.deleteIfExists(dir);
  }

  private static LumbungException failure(Runnable call) {
    try {
      call.run();
    } catch (LumbungException e) {
      return e;
    }
    fail("no LumbungException");
    return null;
  }

  @Test
  public void writesReadsAndValues() {
    assertTrue(Replica.version().matches("\\d+\\.\\d+\\.\\d+"));
    Map<String, Object> row = Rows.household("h1");
    row.put("head_name", "Siti Aminah \uD83C\uDF3E"); // a character beyond the BMP
    row.put("latitude", -7.25);
    replica.insert("household", row);
    String id = replica.insertNew("household", Rows.household(null));
    assertEquals(36, id.length());

    Map<String, Object> read = replica.get("household", "h1");
    assertEquals("Siti Aminah \uD83C\uDF3E", read.get("head_name"));
    assertEquals(-7.25, (Double) read.get("latitude"), 0.0);
    assertTrue(read.containsKey("phone"));
    assertNull(read.get("phone"));

    replica.update("household", "h1", Rows.cell("phone", "+6281234"));
    replica.put("household", id, Rows.cell("dusun", "Krajan"));
    assertEquals("+6281234", replica.get("household", "h1").get("phone"));

    List<Map<String, Object>> rows = replica.query(
        "SELECT count(*) AS n, ?1 AS blob, ?2 AS absent FROM household WHERE dusun = ?3",
        new byte[] {0, (byte) 0xff}, null, "Krajan");
    assertEquals(1, rows.size());
    assertEquals(1L, rows.get(0).get("n"));
    assertArrayEquals(new byte[] {0, (byte) 0xff}, (byte[]) rows.get(0).get("blob"));
    assertNull(rows.get(0).get("absent"));

    replica.delete("household", id);
    assertEquals(ErrorCode.NOT_FOUND, failure(() -> replica.get("household", id)).code());

    List<Change> pending = replica.pending();
    // The new row's writes fold into its delete; h1's cells stay apart.
    assertEquals(3, pending.size());
    assertEquals(Change.Kind.INSERT, pending.get(0).kind);
    assertEquals("h1", pending.get(0).rowId);
    assertEquals(Change.Kind.UPDATE, pending.get(1).kind);
    assertEquals("phone", pending.get(1).column);
    assertEquals(Change.Kind.DELETE, pending.get(2).kind);
    assertEquals(id, pending.get(2).rowId);
    Status status = replica.status();
    assertEquals(pending.size(), status.pending);
    assertEquals("d1", status.deviceId);
    assertNull(status.lastSync);
    assertTrue(replica.refused().isEmpty());
    assertTrue(replica.conflicts().isEmpty());
  }

  @Test
  public void errorsCarryTheirCode() {
    LumbungException badTable = failure(() -> replica.insert("no_such_table", Rows.household("x")));
    assertEquals(ErrorCode.NOT_FOUND, badTable.code());
    assertEquals(LumbungException.Retry.PERMANENT, badTable.retry());

    Map<String, Object> wrongType = Rows.household("h2");
    wrongType.put("latitude", "north");
    assertEquals(ErrorCode.TYPE_MISMATCH,
        failure(() -> replica.insert("household", wrongType)).code());
    Map<String, Object> missing = Rows.household("h3");
    missing.remove("created_by");
    assertEquals(ErrorCode.CONSTRAINT, failure(() -> replica.insert("household", missing)).code());
    assertEquals(ErrorCode.INVALID_ARGUMENT,
        failure(() -> replica.query("DELETE FROM household")).code());
    assertEquals(ErrorCode.INVALID_ARGUMENT,
        failure(() -> replica.update("household", null, Rows.cell("phone", "+62"))).code());
    assertEquals(ErrorCode.INVALID_ARGUMENT, failure(() -> replica.get(null, "h1")).code());
    Map<String, Object> notAValue = Rows.household("h4");
    notAValue.put("notes", new Object());
    assertEquals(ErrorCode.INVALID_ARGUMENT,
        failure(() -> replica.insert("household", notAValue)).code());
    assertEquals(ErrorCode.NOT_A_REPLICA, failure(() -> {
      try {
        Path text = Files.writeString(dir.resolve("text.db"), "not a database, just some words");
        try {
          Replica.open(text.toString()).close();
        } finally {
          Files.delete(text);
        }
      } catch (java.io.IOException e) {
        throw new AssertionError(e);
      }
    }).code());

    replica.close();
    replica.close(); // twice is harmless
    assertEquals(ErrorCode.INVALID_ARGUMENT, failure(() -> replica.status()).code());
  }
}
