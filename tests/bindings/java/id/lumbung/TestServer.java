package id.lumbung;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * A real `lumbungd serve` on 127.0.0.1 with an ephemeral port, in a scratch
 * directory that also holds the tests' replicas; the binary's path comes from
 * the system property id.lumbung.lumbungd (set by CMake).
 */
final class TestServer implements AutoCloseable {
  static final String VILLAGE = "0190f1c2-7a00-7000-8000-00000000000a";
  private static final String LISTENING = "lumbungd listening on ";

  final Path dir;
  final String url;
  private final String binary = System.getProperty("id.lumbung.lumbungd");
  private final Process process;

  TestServer() throws IOException {
    dir = Files.createTempDirectory("lumbung-java");
    process = new ProcessBuilder(binary, "serve", "--data", data(), "--listen", "127.0.0.1:0")
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    // The daemon prints its URL once it listens; wait for it 10 s at most.
    BufferedReader out = new BufferedReader(
        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> {
      try {
        return out.readLine();
      } catch (IOException e) {
        return null;
      }
    });
    String line;
    try {
      line = first.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException | InterruptedException | TimeoutException e) {
      line = null;
    }
    if (line == null || !line.startsWith(LISTENING)) {
      process.destroyForcibly();
      throw new IOException("lumbungd did not start: " + line);
    }
    url = line.substring(LISTENING.length()).trim();
  }

  private String data() {
    return dir.resolve("server").toString();
  }

  /** A token from `lumbungd token`. */
  String token(String officer, String role) throws IOException, InterruptedException {
    Process issue = new ProcessBuilder(binary, "token", "--data", data(), "--officer", officer,
        "--villages", VILLAGE, "--role", role).redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    String token = new String(issue.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (!issue.waitFor(30, TimeUnit.SECONDS) || issue.exitValue() != 0) {
      throw new IOException("lumbungd token failed");
    }
    return token;
  }

  /** Opens (creating) the replica NAME.db, synced with this server as `officer`. */
  Replica device(String name, String token) {
    return Replica.open(new ReplicaConfig(dir.resolve(name + ".db").toString()).deviceId(name)
        .serverUrl(url).token(token));
  }

  @Override
  public void close() throws IOException, InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
    }
  }
}
