package id.lumbung;

import java.util.HashMap;
import java.util.Map;

/** Rows of the built-in Desmigratif schema for the tests. */
final class Rows {
  private Rows() {}

  static Map<String, Object> household(String id) {
    Map<String, Object> row = new HashMap<>();
    if (id != null) row.put("id", id);
    row.put("village_id", TestServer.VILLAGE);
    row.put("created_by", "officer");
    row.put("created_at", "2026-11-29T08:00:00Z");
    return row;
  }

  static Map<String, Object> person(String id, String status) {
    Map<String, Object> row = new HashMap<>();
    row.put("id", id);
    row.put("village_id", TestServer.VILLAGE);
    row.put("full_name", "Warsih");
    row.put("migrant_status", status);
    row.put("created_by", "ani");
    row.put("created_at", "2026-11-29T08:00:00Z");
    return row;
  }

  static Map<String, Object> cell(String column, Object value) {
    Map<String, Object> cells = new HashMap<>();
    cells.put(column, value);
    return cells;
  }
}
