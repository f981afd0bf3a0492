package id.lumbung;

import java.io.IOException;

/**
 * The app's HTTP client: Lumbung hands it each request and sends back what it
 * returns, so an Android app can use OkHttp with the platform's proxies and
 * certificate store. Called on the sync's own thread, one request at a time;
 * it blocks for the exchange, bounded by the app's own timeouts. It must not
 * call the replica that syncs.
 */
public interface Transport {
  /**
   * Sends `request` to the server (its path is relative: prefix the base URL)
   * and returns the answer whatever its status. Throw an IOException when no
   * answer came (a java.net.SocketTimeoutException counts as a timeout);
   * any other exception is taken as a network failure too.
   */
  HttpResponse exchange(HttpRequest request) throws IOException;
}
