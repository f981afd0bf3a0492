package id.lumbung;

import java.net.SocketTimeoutException;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What the JNI layer calls for each request of an app Transport. It catches
 * everything the app throws, so that no Java exception reaches C.
 */
final class TransportBridge {
  private final Transport transport;

  TransportBridge(Transport transport) {
    this.transport = transport;
  }

  /**
   * Returns {Integer status, String[] header names and values, byte[] body}
   * or, when no answer came, {Integer -code, String message}.
   */
  Object[] exchange(String method, String path, String[] headers, byte[] body) {
    try {
      List<Map.Entry<String, String>> list = new ArrayList<>();
      for (int i = 0; i + 1 < headers.length; i += 2) {
        list.add(new AbstractMap.SimpleImmutableEntry<>(headers[i], headers[i + 1]));
      }
      HttpResponse response = transport.exchange(new HttpRequest(method, path, list, body));
      if (response == null) {
        return new Object[] {-ErrorCode.NETWORK.number(), "the transport returned no response"};
      }
      return new Object[] {response.status, response.headerNamesAndValues.toArray(new String[0]),
          response.body};
    } catch (SocketTimeoutException e) {
      return new Object[] {-ErrorCode.TIMEOUT.number(), String.valueOf(e.getMessage())};
    } catch (Throwable e) {
      return new Object[] {-ErrorCode.NETWORK.number(), e.toString()};
    }
  }
}
