package id.lumbung;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.ref.WeakReference;
import java.net.HttpURLConnection;
import java.net.URL;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** The HTTP hand-off to a Java Transport, and closing a replica while it syncs. */
public class TransportTest {
  private TestServer server;

  @Before
  public void start() throws Exception {
    server = new TestServer();
  }

  @After
  public void stop() throws Exception {
    server.close();
  }

  /** The app's client, as an Android app would wrap OkHttp: here HttpURLConnection. */
  private static final class UrlConnectionTransport implements Transport {
    final String baseUrl;
    final AtomicInteger exchanges = new AtomicInteger();

    UrlConnectionTransport(String baseUrl) {
      this.baseUrl = baseUrl;
    }

    @Override
    public HttpResponse exchange(HttpRequest request) throws IOException {
      exchanges.incrementAndGet();
      HttpURLConnection connection =
          (HttpURLConnection) new URL(baseUrl + request.path()).openConnection();
      connection.setConnectTimeout(10000);
      connection.setReadTimeout(30000);
      connection.setRequestMethod(request.method());
      for (Map.Entry<String, String> header : request.headers()) {
        connection.setRequestProperty(header.getKey(), header.getValue());
      }
      if (request.method().equals("POST")) {
        connection.setDoOutput(true);
        try (OutputStream out = connection.getOutputStream()) {
          out.write(request.body());
        }
      }
      int status = connection.getResponseCode();
      InputStream in = status >= 400 ? connection.getErrorStream() : connection.getInputStream();
      HttpResponse response = new HttpResponse(status, in == null ? null : in.readAllBytes());
      for (Map.Entry<String, List<String>> header : connection.getHeaderFields().entrySet()) {
        if (header.getKey() == null) continue; // the status line
        for (String value : header.getValue()) response.header(header.getKey(), value);
      }
      connection.disconnect();
      return response;
    }
  }

  @Test
  public void syncsThroughTheAppsTransport() throws Exception {
    // The replica knows no server: every exchange goes through the Transport.
    try (Replica ani = Replica.open(new ReplicaConfig(server.dir.resolve("ani.db").toString())
            .deviceId("ani").token(server.token("ani", "officer")))) {
      UrlConnectionTransport transport = new UrlConnectionTransport(server.url);
      ani.insert("household", Rows.household("h1"));
      SyncSummary summary = ani.sync(new SyncOptions().transport(transport));
      assertEquals(1, summary.pushed);
      assertEquals(1, summary.applied);
      assertTrue(transport.exchanges.get() >= 2);
      assertEquals(0, ani.status().pending);

      // A transport that throws is a network failure, and nothing is lost.
      ani.update("household", "h1", Rows.cell("phone", "+6281234"));
      Transport broken = request -> {
        throw new IOException("no signal");
      };
      try {
        ani.sync(new SyncOptions().transport(broken).maxAttempts(1));
        fail("synced without a network");
      } catch (LumbungException e) {
        assertEquals(ErrorCode.NETWORK, e.code());
        assertEquals(LumbungException.Retry.TRANSIENT, e.retry());
      }
      assertEquals(1, ani.status().pending);
      assertEquals(1, ani.sync(new SyncOptions().transport(transport)).pushed);
    }
  }

  /** Whether the collector frees the referent within a bounded number of cycles. */
  private static boolean collected(WeakReference<?> reference) throws InterruptedException {
    for (int i = 0; i < 50 && reference.get() != null; i++) {
      System.gc();
      Thread.sleep(20); // let the collector run; bounded, and the loop ends on the condition
    }
    return reference.get() == null;
  }

  @Test
  public void theNativeSideLetsGoOfTransportsAndListeners() throws Exception {
    WeakReference<Transport> transport;
    WeakReference<SyncListener> listener;
    try (Replica ani = server.device("ani", server.token("ani", "officer"))) {
      Transport t = new UrlConnectionTransport(server.url);
      SyncListener l = new SyncListener() {};
      transport = new WeakReference<>(t);
      listener = new WeakReference<>(l);
      ListenerRegistration registration = ani.addListener(l);
      ani.insert("household", Rows.household("h1"));
      assertEquals(1, ani.sync(new SyncOptions().transport(t)).pushed);
      registration.close();
      t = null;
      l = null;
      // Both are unreachable from Java now: only a leaked global reference would keep them.
      assertTrue(collected(transport));
      assertTrue(collected(listener));
    }
  }

  @Test
  public void closingFromAnotherThreadCancelsTheSync() throws Exception {
    Replica ani = server.device("ani", server.token("ani", "officer"));
    ani.insert("household", Rows.household("h1"));
    CountDownLatch inExchange = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    UrlConnectionTransport real = new UrlConnectionTransport(server.url);
    Transport gated = request -> {
      inExchange.countDown();
      try {
        if (!release.await(30, TimeUnit.SECONDS)) throw new IOException("never released");
      } catch (InterruptedException e) {
        throw new IOException(e);
      }
      return real.exchange(request);
    };
    ExecutorService syncer = Executors.newSingleThreadExecutor();
    try {
      Future<SyncSummary> sync = syncer.submit(() -> ani.sync(new SyncOptions().transport(gated)));
      assertTrue(inExchange.await(30, TimeUnit.SECONDS));
      ani.close(); // while the sync is inside the transport
      release.countDown();
      try {
        sync.get(30, TimeUnit.SECONDS);
        fail("the sync was not cancelled");
      } catch (ExecutionException e) {
        assertEquals(ErrorCode.CANCELLED, ((LumbungException) e.getCause()).code());
      }
      try {
        ani.status();
        fail("a closed replica answered");
      } catch (LumbungException e) {
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
      }
    } finally {
      release.countDown();
      syncer.shutdown();
      assertTrue(syncer.awaitTermination(30, TimeUnit.SECONDS));
    }
    // The file is intact: reopened, the unacknowledged insert still waits or was acknowledged.
    try (Replica again = server.device("ani", null)) {
      assertTrue(again.get("household", "h1") != null);
      assertEquals(0, again.sync(new SyncOptions().token(server.token("ani", "officer")))
          .refused);
      assertEquals(0, again.status().pending);
    }
  }
}
