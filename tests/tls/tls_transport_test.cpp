// The HTTP server and client over TLS on 127.0.0.1, with certificates made
// for each test (support/test_certs.hpp): what the device accepts and
// refuses, and the server's limits and timeouts kept over TLS.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "lumbung/http.hpp"
#include "net/http_server.hpp"
#include "net/raw_tcp.hpp"
#include "support/temp_dir.hpp"
#include "support/test_certs.hpp"

namespace lumbung::test {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;

// Bounds every wait of these tests; none needs more than a fraction of it.
constexpr auto kPatience = 10s;

// Answers "METHOD TARGET BODY" at once.
void echo(HttpRequest request, net::Responder respond) {
  respond(HttpResponse{200, {}, request.method + " " + request.target + " " + request.body});
}

HttpRequest get_request(std::string target) {
  return HttpRequest{"GET", std::move(target), {}, {}};
}

class Tls {
 protected:
  TempDir dir_;
  TestCertificates certs_ = make_test_certificates(dir_.path());

  // A server on 127.0.0.1 presenting `cert`.
  std::unique_ptr<net::HttpServer> serve(const TestCertificate& cert,
                                         net::HttpServerOptions options = {},
                                         net::HttpHandler handler = echo) {
    options.tls_cert_file = cert.cert_file;
    options.tls_key_file = cert.key_file;
    Result<std::unique_ptr<net::HttpServer>> server =
        net::HttpServer::start(std::move(options), std::move(handler));
    REQUIRE(server.is_ok());
    return std::move(server).value();
  }

  // A transport trusting the test CA, unless `options` say otherwise.
  std::shared_ptr<Transport> client(const net::HttpServer& server,
                                    HttpTransportOptions options = {},
                                    const std::string& scheme = "https",
                                    const std::string& host = "127.0.0.1") {
    if (options.tls.ca_file.empty()) options.tls.ca_file = certs_.ca_file;
    Result<std::shared_ptr<Transport>> transport =
        make_http_transport(scheme + "://" + host + ":" + std::to_string(server.port()), options);
    REQUIRE(transport.is_ok());
    return std::move(transport).value();
  }

  HttpTransportOptions pinned(std::vector<std::string> pins) const {
    HttpTransportOptions options;
    options.tls.pinned_keys = std::move(pins);
    return options;
  }
};

TEST_CASE_METHOD(Tls, "requests travel over TLS on one kept-alive connection", "[tls]") {
  auto server = serve(certs_.server);
  const std::string host = GENERATE("127.0.0.1", "localhost");  // an IP SAN, a DNS SAN
  auto transport = client(*server, {}, "https", host);

  const std::string body(100000, 'x');
  Result<HttpResponse> first = transport->exchange(HttpRequest{"POST", "/v1/push", {}, body});
  REQUIRE(first.is_ok());
  CHECK(first->status == 200);
  CHECK(first->body == "POST /v1/push " + body);
  Result<HttpResponse> second = transport->exchange(get_request("/healthz"));
  REQUIRE(second.is_ok());
  CHECK(second->body == "GET /healthz ");
  CHECK(server->accepted_connections() == 1);
}

TEST_CASE_METHOD(Tls, "the device refuses a bad certificate with kTls, saying why", "[tls]") {
  struct Case {
    const TestCertificate& cert;
    const char* host;
    const char* why;
  };
  const Case cases[] = {
      {certs_.expired, "127.0.0.1", "has expired"},
      {certs_.wrong_host, "127.0.0.1", "wrong host"},
      {certs_.wrong_host, "localhost", "wrong host"},
      {certs_.unknown_ca, "127.0.0.1", "untrusted"},
  };
  const Case& bad = cases[GENERATE(0, 1, 2, 3)];  // the fixture, and its files, are new each time
  INFO(bad.cert.cert_file << " at " << bad.host);
  auto server = serve(bad.cert);
  Result<HttpResponse> answer = client(*server, {}, "https", bad.host)->exchange(get_request("/"));
  CHECK(answer.status().code() == ErrorCode::kTls);
  CHECK_THAT(answer.status().message(), Contains(bad.why));
  CHECK_THAT(answer.status().message(), Contains(":" + std::to_string(server->port())));
}

TEST_CASE_METHOD(Tls, "without a CA file the system's trust store is used", "[tls]") {
  auto server = serve(certs_.server);
  Result<std::shared_ptr<Transport>> transport =
      make_http_transport("https://127.0.0.1:" + std::to_string(server->port()));
  REQUIRE(transport.is_ok());
  Result<HttpResponse> answer = (*transport)->exchange(get_request("/"));
  CHECK(answer.status().code() == ErrorCode::kTls);  // no system trusts the test CA
  CHECK_THAT(answer.status().message(), Contains("untrusted"));
}

TEST_CASE_METHOD(Tls, "a pinned key must match the server's, besides verification", "[tls]") {
  auto server = serve(certs_.server);
  CHECK(client(*server, pinned({certs_.server.pin}))->exchange(get_request("/")).is_ok());
  CHECK(client(*server, pinned({certs_.expired.pin, certs_.server.pin}))
            ->exchange(get_request("/"))
            .is_ok());

  Result<HttpResponse> mismatch =
      client(*server, pinned({certs_.expired.pin}))->exchange(get_request("/"));
  CHECK(mismatch.status().code() == ErrorCode::kTls);
  CHECK_THAT(mismatch.status().message(), Contains("pin mismatch"));
  CHECK_THAT(mismatch.status().message(), Contains(certs_.server.pin));

  // A pin adds a check: it does not make an untrusted certificate acceptable.
  auto unknown = serve(certs_.unknown_ca);
  Result<HttpResponse> untrusted =
      client(*unknown, pinned({certs_.unknown_ca.pin}))->exchange(get_request("/"));
  CHECK(untrusted.status().code() == ErrorCode::kTls);
  CHECK_THAT(untrusted.status().message(), Contains("untrusted"));
}

TEST_CASE_METHOD(Tls, "malformed pins and unreadable CA files are refused up front", "[tls]") {
  const std::string url = "https://127.0.0.1:1";
  for (const char* pin : {"", "sha256/", "sha1/AAAA", "sha256/not base64",
                          "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}) {  // 31 bytes
    INFO(pin);
    Result<std::shared_ptr<Transport>> transport = make_http_transport(url, pinned({pin}));
    CHECK(transport.status().code() == ErrorCode::kInvalidArgument);
    CHECK_THAT(transport.status().message(), Contains("malformed pinned key"));
  }
  HttpTransportOptions options;
  options.tls.ca_file = dir_.file("missing.pem");
  Result<std::shared_ptr<Transport>> missing = make_http_transport(url, options);
  CHECK(missing.status().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(missing.status().message(), Contains("missing.pem") && Contains("No such file"));
  options.tls.ca_file = certs_.server.key_file;  // PEM, but no certificate
  CHECK(make_http_transport(url, options).status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE_METHOD(Tls, "plain HTTP and TLS on the wrong ends fail at once, and cleanly", "[tls]") {
  net::HttpServerOptions options;
  options.header_timeout = 20s;  // a failure that waited for it would show
  auto tls_server = serve(certs_.server, options);
  HttpTransportOptions patient;
  patient.request_timeout = 20s;
  const auto started = std::chrono::steady_clock::now();
  Result<HttpResponse> plain = client(*tls_server, patient, "http")->exchange(get_request("/"));
  CHECK_FALSE(plain.is_ok());
  CHECK((plain.status().code() == ErrorCode::kNetwork ||
         plain.status().code() == ErrorCode::kProtocol));
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK(client(*tls_server)->exchange(get_request("/")).is_ok());  // still serving

  Result<std::unique_ptr<net::HttpServer>> plain_server = net::HttpServer::start({}, echo);
  REQUIRE(plain_server.is_ok());
  Result<HttpResponse> tls = client(**plain_server, patient)->exchange(get_request("/"));
  CHECK(tls.status().code() == ErrorCode::kTls);
  CHECK_THAT(tls.status().message(), Contains("handshake failed"));
}

TEST_CASE_METHOD(Tls, "a client that never sends its ClientHello is cut off at the header deadline",
                 "[tls]") {
  net::HttpServerOptions options;
  options.header_timeout = 300ms;
  options.idle_timeout = 60s;  // not the one that applies
  auto server = serve(certs_.server, options);
  const auto started = std::chrono::steady_clock::now();
  RawConnection silent = RawConnection::connect(server->port());
  CHECK(client(*server)->exchange(get_request("/")).is_ok());  // served meanwhile
  CHECK(silent.read(after(kPatience)).empty());
  CHECK(silent.closed());
  CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE_METHOD(Tls, "a body over the limit is refused with 413 over TLS", "[tls]") {
  net::HttpServerOptions options;
  options.max_body_bytes = 1000;
  auto server = serve(certs_.server, options);
  auto transport = client(*server);
  Result<HttpResponse> refused =
      transport->exchange(HttpRequest{"POST", "/v1/push", {}, std::string(200000, 'x')});
  INFO(refused.status().to_string());
  REQUIRE(refused.is_ok());
  CHECK(refused->status == 413);
  CHECK(transport->exchange(get_request("/")).is_ok());  // on a new connection
}

TEST_CASE_METHOD(Tls, "a TLS connection over the limit is closed at once", "[tls]") {
  net::HttpServerOptions options;
  options.max_connections = 1;
  auto server = serve(certs_.server, options);
  std::optional<RawConnection> holder = RawConnection::connect(server->port());
  HttpTransportOptions patient;
  patient.connect_timeout = 20s;
  const auto started = std::chrono::steady_clock::now();
  Result<HttpResponse> refused = client(*server, patient)->exchange(get_request("/"));
  CHECK(refused.status().code() == ErrorCode::kNetwork);  // transient: the device retries
  CHECK(std::chrono::steady_clock::now() - started < 5s);

  holder.reset();
  const Deadline deadline = after(kPatience);
  Result<HttpResponse> later = refused;
  while (!later.is_ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);  // until the server has seen the holder go
    later = client(*server)->exchange(get_request("/"));
  }
  CHECK(later.is_ok());
}

TEST_CASE_METHOD(Tls, "the client reconnects when the server closed an idle TLS connection",
                 "[tls]") {
  net::HttpServerOptions options;
  options.idle_timeout = 100ms;
  auto server = serve(certs_.server, options);
  auto transport = client(*server);
  REQUIRE(transport->exchange(get_request("/first")).is_ok());
  std::this_thread::sleep_for(500ms);
  Result<HttpResponse> second = transport->exchange(get_request("/second"));
  REQUIRE(second.is_ok());
  CHECK(second->body == "GET /second ");
  CHECK(server->accepted_connections() == 2);
}

TEST_CASE_METHOD(Tls, "a graceful stop over TLS answers the request in flight", "[tls]") {
  std::promise<net::Responder> parked;
  auto server = serve(certs_.server, {}, [&](HttpRequest request, net::Responder respond) {
    if (request.target == "/slow") return parked.set_value(std::move(respond));
    echo(std::move(request), std::move(respond));
  });
  auto idle_client = client(*server);  // an idle kept-alive connection must not delay the stop
  REQUIRE(idle_client->exchange(get_request("/hello")).is_ok());
  auto slow_client = client(*server);
  std::future<Result<HttpResponse>> slow =
      std::async(std::launch::async, [&] { return slow_client->exchange(get_request("/slow")); });
  std::future<net::Responder> respond = parked.get_future();
  REQUIRE(respond.wait_for(kPatience) == std::future_status::ready);

  std::future<void> stopped = std::async(std::launch::async, [&] { server->stop(); });
  std::this_thread::sleep_for(100ms);
  CHECK(stopped.wait_for(0s) == std::future_status::timeout);  // waits for the answer
  respond.get()(HttpResponse{200, {}, "finished"});
  REQUIRE(stopped.wait_for(kPatience) == std::future_status::ready);
  Result<HttpResponse> answer = slow.get();
  REQUIRE(answer.is_ok());
  CHECK(answer->body == "finished");
}

TEST_CASE_METHOD(Tls, "a client that hangs up while its request is handled is let go over TLS",
                 "[tls]") {
  using Parked = std::pair<std::shared_ptr<const std::atomic<bool>>, net::Responder>;
  std::promise<Parked> parked;
  auto server = serve(certs_.server, {}, [&](HttpRequest request, net::Responder respond) {
    parked.set_value({request.client_gone, std::move(respond)});
  });
  HttpTransportOptions impatient;
  impatient.request_timeout = 2s;
  {
    auto leaving = client(*server, impatient);
    CHECK(leaving->exchange(get_request("/slow")).status().code() == ErrorCode::kTimeout);
  }  // the transport closes its connection
  std::future<Parked> held = parked.get_future();
  REQUIRE(held.wait_for(kPatience) == std::future_status::ready);
  auto [gone, respond] = held.get();
  const Deadline deadline = after(kPatience);
  while ((!gone->load() || server->open_connections() > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(gone->load());
  CHECK(server->open_connections() == 0);
  respond(HttpResponse{200, {}, "for no one"});  // dropped
}

TEST_CASE("the server refuses TLS files it cannot use, before listening", "[tls]") {
  TempDir dir;
  const TestCertificates certs = make_test_certificates(dir.path());
  const auto start = [](std::string cert, std::string key) {
    net::HttpServerOptions options;
    options.tls_cert_file = std::move(cert);
    options.tls_key_file = std::move(key);
    return net::HttpServer::start(options, echo).status();
  };
  const Status missing = start(dir.file("missing.pem"), certs.server.key_file);
  CHECK(missing.code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(missing.message(), Contains("missing.pem") && Contains("No such file"));
  const Status not_a_cert = start(certs.server.key_file, certs.server.key_file);
  CHECK(not_a_cert.code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(not_a_cert.message(), Contains("no PEM certificate"));
  const Status not_a_key = start(certs.server.cert_file, certs.server.cert_file);
  CHECK(not_a_key.code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(not_a_key.message(), Contains("no unencrypted PEM private key"));
  const Status mismatch = start(certs.server.cert_file, certs.expired.key_file);
  CHECK(mismatch.code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(mismatch.message(), Contains("does not match"));
  CHECK(start(certs.server.cert_file, "").code() == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace lumbung::test
