// The real `lumbungd serve --tls-cert --tls-key` and `lumbung` binaries, and
// Replica::sync, over TLS on 127.0.0.1 with certificates made for each test.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "support/daemon_process.hpp"
#include "support/subprocess.hpp"
#include "support/test_certs.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {
namespace {

using Catch::Matchers::Contains;

// The village row has a fixed id: its CHECK wants village_id = id.
constexpr const char* kVillageId = "0190f1c2-7a00-7000-8000-000000000001";

class TlsDaemon {
 protected:
  TempDir dir_;
  TestCertificates certs_ = make_test_certificates(dir_.path());

  // Authentication is not what these tests are about.
  DaemonProcess serve(const TestCertificate& cert) const {
    return DaemonProcess(
        LUMBUNGD, dir_.file("server"),
        {"--insecure-no-auth", "--tls-cert", cert.cert_file, "--tls-key", cert.key_file});
  }

  ProcessResult run(const char* binary, std::vector<std::string> args) const {
    args.insert(args.begin(), binary);
    return run_process(args, {}, dir_.path().string());
  }

  // Runs `lumbung ARGS...`, which must succeed; returns its stdout.
  std::string lumbung(const std::vector<std::string>& args) const {
    const ProcessResult result = run(LUMBUNG_CLI, args);
    INFO("stderr: " << result.err);
    REQUIRE(result.exit_code == 0);
    return result.out;
  }
};

TEST_CASE_METHOD(TlsDaemon, "lumbung syncs over TLS with the CA and pin kept in the replica",
                 "[tls]") {
  DaemonProcess daemon = serve(certs_.server);
  REQUIRE(daemon.url().starts_with("https://127.0.0.1:"));
  const std::string device = dir_.file("device.db");
  const std::string other = dir_.file("other.db");
  lumbung({"init", "--db", device, "--server", daemon.url(), "--ca-file", certs_.ca_file, "--pin",
           certs_.expired.pin + "," + certs_.server.pin});
  lumbung({"init", "--db", other, "--server", daemon.url(), "--ca-file", certs_.ca_file});
  lumbung({"put", "--db", device, "village", kVillageId, std::string("village_id=") + kVillageId,
           "kode_wilayah=3212140007", "name=Juntinyuat", "kecamatan=Juntinyuat",
           "kabupaten=Indramayu", "provinsi=Jawa Barat", "cohort_year=2017"});

  CHECK_THAT(lumbung({"sync", "--db", device}), Contains("\"pushed\":1"));
  CHECK_THAT(lumbung({"sync", "--db", other}), Contains("\"pulled\":1"));
  CHECK(lumbung({"dump", "--db", other}) == lumbung({"dump", "--db", device}));
}

TEST_CASE_METHOD(TlsDaemon, "lumbung sync refuses a server whose key is not the pinned one",
                 "[tls]") {
  DaemonProcess daemon = serve(certs_.server);
  const std::string device = dir_.file("device.db");
  lumbung({"init", "--db", device, "--server", daemon.url(), "--ca-file", certs_.ca_file, "--pin",
           certs_.expired.pin});
  const ProcessResult sync = run(LUMBUNG_CLI, {"sync", "--db", device});
  CHECK(sync.exit_code == 1);
  CHECK_THAT(sync.err, Contains("Tls") && Contains("pin mismatch"));
  // --server for one sync keeps the pins of the file.
  const ProcessResult other = run(LUMBUNG_CLI, {"sync", "--db", device, "--server", daemon.url()});
  CHECK(other.exit_code == 1);
  CHECK_THAT(other.err, Contains("pin mismatch"));
}

TEST_CASE_METHOD(TlsDaemon, "lumbung init checks its TLS settings", "[tls]") {
  const std::string server = "https://127.0.0.1:1";
  const ProcessResult http = run(LUMBUNG_CLI, {"init", "--db", dir_.file("a.db"), "--server",
                                               "http://127.0.0.1:1", "--ca-file", certs_.ca_file});
  CHECK(http.exit_code == 2);
  CHECK_THAT(http.err, Contains("https://"));
  const ProcessResult pin = run(LUMBUNG_CLI, {"init", "--db", dir_.file("b.db"), "--server", server,
                                              "--pin", certs_.server.pin + ",sha256/oops"});
  CHECK(pin.exit_code == 1);
  CHECK_THAT(pin.err, Contains("malformed pinned key 'sha256/oops'"));
  const ProcessResult ca = run(LUMBUNG_CLI, {"init", "--db", dir_.file("c.db"), "--server", server,
                                             "--ca-file", dir_.file("missing.pem")});
  CHECK(ca.exit_code == 1);
  CHECK_THAT(ca.err, Contains("missing.pem"));
  for (const char* db : {"a.db", "b.db", "c.db"}) {
    CHECK_FALSE(std::filesystem::exists(dir_.file(db)));
  }
}

TEST_CASE_METHOD(TlsDaemon, "Replica::sync takes TLS settings from SyncOptions::http", "[tls]") {
  DaemonProcess daemon = serve(certs_.server);
  ReplicaOptions options = options_for(dir_.file("device.db"));
  options.server_url = daemon.url();  // no CA kept: the system's, which do not know the test CA
  std::unique_ptr<Replica> replica = open_replica(options);

  Result<SyncSummary> refused = replica->sync();
  CHECK(refused.status().code() == ErrorCode::kTls);
  CHECK_THAT(refused.status().message(), Contains("untrusted"));

  SyncOptions sync;
  sync.http.emplace();
  sync.http->tls.ca_file = certs_.ca_file;
  sync.http->tls.pinned_keys = {certs_.server.pin};
  Result<SyncSummary> synced = replica->sync(sync);
  INFO(synced.status().to_string());
  CHECK(synced.is_ok());
}

TEST_CASE_METHOD(TlsDaemon, "lumbungd serve refuses TLS files it cannot use, before listening",
                 "[tls]") {
  const auto serve_with = [&](std::vector<std::string> tls_args) {
    std::vector<std::string> args = {"serve",    "--data",      dir_.file("server"),
                                     "--listen", "127.0.0.1:0", "--insecure-no-auth"};
    args.insert(args.end(), tls_args.begin(), tls_args.end());
    return run(LUMBUNGD, args);
  };
  const ProcessResult alone = serve_with({"--tls-cert", certs_.server.cert_file});
  CHECK(alone.exit_code == 2);
  CHECK_THAT(alone.err, Contains("--tls-cert and --tls-key go together"));

  const ProcessResult missing =
      serve_with({"--tls-cert", dir_.file("missing.pem"), "--tls-key", certs_.server.key_file});
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Contains("cannot read TLS certificate file") && Contains("missing.pem"));
  CHECK(missing.out.empty());  // never listened

  const ProcessResult mismatch =
      serve_with({"--tls-cert", certs_.server.cert_file, "--tls-key", certs_.expired.key_file});
  CHECK(mismatch.exit_code == 1);
  CHECK_THAT(mismatch.err, Contains("does not match the certificate"));
  CHECK(mismatch.out.empty());
}

TEST_CASE_METHOD(TlsDaemon,
                 "SIGHUP reloads lumbungd's certificate without dropping a connection, and keeps "
                 "it when the new files are bad",
                 "[tls]") {
  // The files the daemon is told of, replaced as certbot renews them.
  const std::string cert_file = dir_.file("live-cert.pem");
  const std::string key_file = dir_.file("live-key.pem");
  const auto install = [&](const TestCertificate& cert) {
    std::filesystem::copy_file(cert.cert_file, cert_file,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(cert.key_file, key_file,
                               std::filesystem::copy_options::overwrite_existing);
  };
  install(certs_.server);
  DaemonProcess daemon(LUMBUNGD, dir_.file("server"),
                       {"--insecure-no-auth", "--tls-cert", cert_file, "--tls-key", key_file,
                        "--log-format", "json"});
  // A client that accepts the first certificate only, on one kept-alive connection.
  const auto client_pinned_to = [&](const TestCertificates& certs, const TestCertificate& cert) {
    HttpTransportOptions options;
    options.tls.ca_file = certs.ca_file;
    options.tls.pinned_keys = {cert.pin};
    Result<std::shared_ptr<Transport>> transport = make_http_transport(daemon.url(), options);
    REQUIRE(transport.is_ok());
    return *transport;
  };
  const auto health = [](Transport& transport) {
    Result<HttpResponse> answer = transport.exchange({"GET", "/healthz", {}, ""});
    return answer.is_ok() ? answer->status : 0;
  };
  const std::shared_ptr<Transport> first = client_pinned_to(certs_, certs_.server);
  REQUIRE(health(*first) == 200);

  // Renewed: a certificate of another CA with another key.
  std::filesystem::create_directory(dir_.file("renewed"));
  const TestCertificates renewed = make_test_certificates(dir_.file("renewed"));
  install(renewed.server);
  ::kill(daemon.pid(), SIGHUP);
  const std::shared_ptr<Transport> second = client_pinned_to(renewed, renewed.server);
  int status = 0;
  for (int attempt = 0; attempt < 100 && status != 200; ++attempt) {
    status = health(*client_pinned_to(renewed, renewed.server));
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(status == 200);
  REQUIRE(health(*second) == 200);
  // The first connection is still open: a new one would meet the renewed
  // certificate, which this client refuses.
  CHECK(health(*first) == 200);
  CHECK(health(*client_pinned_to(certs_, certs_.server)) == 0);

  // Files that cannot be used: the renewed certificate stays in force.
  std::ofstream(key_file, std::ios::trunc) << "not a key\n";
  ::kill(daemon.pid(), SIGHUP);
  CHECK(health(*client_pinned_to(renewed, renewed.server)) == 200);
  const std::optional<ProcessResult> stopped = daemon.terminate();
  REQUIRE(stopped);
  CHECK(stopped->exit_code == 0);
  CHECK(health(*second) == 0);  // the daemon is gone
  int reloaded = 0, refused = 0;
  std::istringstream lines(stopped->err);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"event\":\"tls_reload\"") == std::string::npos) continue;
    if (line.find("\"level\":\"info\"") != std::string::npos) ++reloaded;
    if (line.find("\"level\":\"warn\"") != std::string::npos) ++refused;
  }
  CHECK(reloaded == 1);
  CHECK(refused == 1);
}

}  // namespace
}  // namespace lumbung::test
