package id.lumbung;

import java.util.Collections;
import java.util.List;
import java.util.Map;

/** One request the engine wants sent by the app's Transport. */
public final class HttpRequest {
  private final String method;
  private final String path;
  private final List<Map.Entry<String, String>> headers;
  private final byte[] body;

  HttpRequest(String method, String path, List<Map.Entry<String, String>> headers, byte[] body) {
    this.method = method;
    this.path = path;
    this.headers = Collections.unmodifiableList(headers);
    this.body = body;
  }

  /** "GET" or "POST". */
  public String method() {
    return method;
  }

  /** The target relative to the server URL, e.g. "/v1/push". */
  public String path() {
    return path;
  }

  /** The headers to send, in order (Authorization, Content-Type, ...). */
  public List<Map.Entry<String, String>> headers() {
    return headers;
  }

  /** The body's bytes (compressed protobuf): send them untouched. */
  public byte[] body() {
    return body;
  }
}
