package id.lumbung;

/** A captured change waiting for the server, or one it refused. */
public final class Change {
  /** What a pending change does. */
  public enum Kind { INSERT, UPDATE, DELETE }

  public final String table;
  public final String rowId;
  /** The changed cell; "" for an insert or a delete. */
  public final String column;
  /** For a pending change; null for a refused one. */
  public final Kind kind;
  /** For a refused change (unknown_table, constraint, out_of_scope, ...); null otherwise. */
  public final String reason;
  public final String message;

  Change(String table, String rowId, String column, Kind kind, String reason, String message) {
    this.table = table;
    this.rowId = rowId;
    this.column = column;
    this.kind = kind;
    this.reason = reason;
    this.message = message;
  }

  @Override
  public String toString() {
    return (kind != null ? kind.toString() : "REFUSED " + reason) + " " + table + "/" + rowId
        + (column.isEmpty() ? "" : "." + column);
  }
}
