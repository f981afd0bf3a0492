package id.lumbung;

import java.util.ArrayList;
import java.util.List;

/**
 * How to open a replica (lumbung_db_config). Only the path is required;
 * every other option keeps the C API's default when not set.
 */
public final class ReplicaConfig {
  final String path;
  String schemaJson;
  String schemaName;
  byte[] key;
  String deviceId;
  String serverUrl;
  String token;
  String tlsCaFile;
  final List<String> pinnedKeys = new ArrayList<>();

  public ReplicaConfig(String path) {
    this.path = path;
  }

  /** The schema's JSON text and its name in messages. Default: the built-in schema. */
  public ReplicaConfig schema(String json, String name) {
    this.schemaJson = json;
    this.schemaName = name;
    return this;
  }

  /** The encryption key; needs the encrypted build (Replica.encryptionAvailable()). */
  public ReplicaConfig key(byte[] key) {
    this.key = key.clone();
    return this;
  }

  /** This device's id, used only when the file is created. */
  public ReplicaConfig deviceId(String deviceId) {
    this.deviceId = deviceId;
    return this;
  }

  /** The server URL kept in the file, used only when it is created. */
  public ReplicaConfig serverUrl(String url) {
    this.serverUrl = url;
    return this;
  }

  /** The bearer token kept in the file when it is created. */
  public ReplicaConfig token(String token) {
    this.token = token;
    return this;
  }

  /** A PEM file of the CAs an https server must chain to. */
  public ReplicaConfig tlsCaFile(String path) {
    this.tlsCaFile = path;
    return this;
  }

  /** A pinned key of the server's certificate, "sha256/BASE64". */
  public ReplicaConfig addTlsPinnedKey(String pin) {
    pinnedKeys.add(pin);
    return this;
  }
}
