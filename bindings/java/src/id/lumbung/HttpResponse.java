package id.lumbung;

import java.util.ArrayList;
import java.util.List;

/** The server's answer, as the app's Transport received it. */
public final class HttpResponse {
  final int status;
  final List<String> headerNamesAndValues = new ArrayList<>();
  final byte[] body;

  public HttpResponse(int status, byte[] body) {
    this.status = status;
    this.body = body == null ? new byte[0] : body;
  }

  /** Adds a response header (Content-Type and Content-Encoding matter). */
  public HttpResponse header(String name, String value) {
    headerNamesAndValues.add(name);
    headerNamesAndValues.add(value);
    return this;
  }
}
