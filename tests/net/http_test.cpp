// The HTTP server and client transport over real sockets on 127.0.0.1: each
// test starts its own server on a free port and finishes within seconds.
#include "lumbung/http.hpp"

#include <atomic>
#include <boost/beast/http/parser.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/arriving_body.hpp"
#include "net/http_server.hpp"
#include "net/loopback.hpp"
#include "protocol/wire.hpp"
#include "raw_tcp.hpp"

namespace lumbung::test {
namespace {

using namespace std::chrono_literals;

// Bounds every wait of these tests; none needs more than a fraction of it.
constexpr auto kPatience = 10s;

// A server answering its refusals with Error bodies, as lumbungd does.
std::unique_ptr<net::HttpServer> start_server(net::HttpServerOptions options,
                                              net::HttpHandler handler) {
  options.error_response = protocol::error_response;
  Result<std::unique_ptr<net::HttpServer>> server =
      net::HttpServer::start(std::move(options), std::move(handler));
  REQUIRE(server.is_ok());
  return std::move(server).value();
}

std::shared_ptr<Transport> transport_to(const net::HttpServer& server,
                                        const HttpTransportOptions& options = {}) {
  Result<std::shared_ptr<Transport>> transport =
      make_http_transport("http://127.0.0.1:" + std::to_string(server.port()), options);
  REQUIRE(transport.is_ok());
  return std::move(transport).value();
}

HttpResponse text_response(std::string body) {
  return HttpResponse{200, {{"Content-Type", "text/plain"}}, std::move(body)};
}

// Answers "METHOD TARGET BODY" at once.
void echo(HttpRequest request, net::Responder respond) {
  respond(text_response(request.method + " " + request.target + " " + request.body));
}

HttpRequest get_request(std::string target) {
  return HttpRequest{"GET", std::move(target), {}, {}};
}

// Polls `condition` until it holds or kPatience passes.
template <typename Condition>
bool eventually(Condition condition) {
  const Deadline deadline = after(kPatience);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Responders a handler kept, for the test to call later from its own thread.
class ParkedResponders {
 public:
  void park(net::Responder respond) {
    std::lock_guard<std::mutex> lock(mu_);
    responders_.push_back(std::move(respond));
    parked_.notify_all();
  }
  // Waits until `count` have been parked; false after kPatience.
  bool wait_for(std::size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    return parked_.wait_for(lock, kPatience, [&] { return responders_.size() >= count; });
  }
  net::Responder take() {
    std::lock_guard<std::mutex> lock(mu_);
    net::Responder respond = std::move(responders_.front());
    responders_.erase(responders_.begin());
    return respond;
  }

 private:
  std::mutex mu_;
  std::condition_variable parked_;
  std::vector<net::Responder> responders_;
};

// A handler that parks requests to /slow and echoes every other one.
net::HttpHandler parking_handler(ParkedResponders& parked) {
  return [&parked](HttpRequest request, net::Responder respond) {
    if (request.target == "/slow") return parked.park(std::move(respond));
    echo(std::move(request), std::move(respond));
  };
}

TEST_CASE("a request and its response travel whole over one kept-alive connection", "[net]") {
  HttpHeaders seen_headers;
  auto server = start_server({}, [&](HttpRequest request, net::Responder respond) {
    seen_headers = request.headers;
    respond(HttpResponse{201,
                         {{"Content-Type", "application/x-protobuf"},
                          {"Content-Encoding", "zstd"},
                          {"Content-Length", "999"}},  // the server's own framing wins
                         request.method + " " + request.target + " " + request.body});
  });
  auto transport = transport_to(*server);

  const std::string body(100000, 'x');
  Result<HttpResponse> first = transport->exchange(
      HttpRequest{"POST", "/v1/push", {{"Authorization", "Bearer t0ken"}}, body});
  REQUIRE(first.is_ok());
  CHECK(first->status == 201);
  CHECK(first->body == "POST /v1/push " + body);
  CHECK(find_header(first->headers, "content-type") == "application/x-protobuf");
  CHECK(find_header(first->headers, "Content-Encoding") == "zstd");
  CHECK(find_header(first->headers, "Content-Length") == std::to_string(first->body.size()));
  CHECK(find_header(seen_headers, "Authorization") == "Bearer t0ken");

  Result<HttpResponse> second = transport->exchange(get_request("/healthz"));
  REQUIRE(second.is_ok());
  CHECK(second->body == "GET /healthz ");
  CHECK(server->accepted_connections() == 1);
}

TEST_CASE("a response given later from another thread holds no thread meanwhile", "[net]") {
  ParkedResponders parked;
  net::HttpServerOptions options;
  options.threads = 1;  // the parked request must not hold it
  auto server = start_server(options, parking_handler(parked));

  auto slow_client = transport_to(*server);
  std::future<Result<HttpResponse>> slow =
      std::async(std::launch::async, [&] { return slow_client->exchange(get_request("/slow")); });
  REQUIRE(parked.wait_for(1));

  auto fast_client = transport_to(*server);
  for (int i = 0; i < 3; ++i) {
    Result<HttpResponse> fast = fast_client->exchange(get_request("/fast/" + std::to_string(i)));
    REQUIRE(fast.is_ok());
    CHECK(fast->body == "GET /fast/" + std::to_string(i) + " ");
  }
  CHECK(slow.wait_for(0s) == std::future_status::timeout);

  std::thread([respond = parked.take()] { respond(text_response("late")); }).join();
  REQUIRE(slow.wait_for(kPatience) == std::future_status::ready);
  Result<HttpResponse> answer = slow.get();
  REQUIRE(answer.is_ok());
  CHECK(answer->body == "late");
}

TEST_CASE("a body over the limit is refused with 413 before it is read", "[net]") {
  std::atomic<int> handled{0};
  auto server = start_server({}, [&](HttpRequest request, net::Responder respond) {
    ++handled;
    echo(std::move(request), std::move(respond));
  });

  SECTION("the Content-Length alone is enough") {
    RawConnection client = RawConnection::connect(server->port());
    REQUIRE(client.send("POST /v1/push HTTP/1.1\r\nHost: test\r\nContent-Length: " +
                        std::to_string(protocol::kMaxRequestBytes + 1) + "\r\n\r\n"));
    const std::string answer = client.read(after(kPatience));
    CHECK(answer.starts_with("HTTP/1.1 413"));
    CHECK(answer.find("TooLarge") != std::string::npos);  // an Error body
    CHECK(client.closed());
  }

  SECTION("a client that sends the body anyway still reads the 413") {
    auto transport = transport_to(*server);
    Result<HttpResponse> answer = transport->exchange(
        HttpRequest{"POST", "/v1/push", {}, std::string(protocol::kMaxRequestBytes + 1, 'x')});
    REQUIRE(answer.is_ok());
    CHECK(answer->status == 413);
    CHECK(protocol::status_from_response(*answer).code() == ErrorCode::kTooLarge);
  }
  CHECK(handled == 0);
}

TEST_CASE("admission answers a request from its header, before its body is read", "[net]") {
  std::atomic<int> handled{0};
  std::mutex mu;
  std::vector<HttpRequest> heads;
  net::HttpServerOptions options;
  options.admit = [&](const HttpRequest& head) -> std::optional<HttpResponse> {
    {
      std::lock_guard lock(mu);
      heads.push_back(head);
    }
    if (find_header(head.headers, "Authorization") == "Bearer good") return std::nullopt;
    return HttpResponse{401, {{"Content-Type", "text/plain"}}, "who are you?"};
  };
  auto server = start_server(std::move(options), [&](HttpRequest request, net::Responder respond) {
    ++handled;
    echo(std::move(request), std::move(respond));
  });

  // The refusal comes while the announced body is still to be sent.
  RawConnection refused = RawConnection::connect(server->port());
  REQUIRE(
      refused.send("POST /v1/push?x=1 HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000\r\n\r\n"));
  const std::string answer = refused.read(after(kPatience));
  CHECK(answer.starts_with("HTTP/1.1 401"));
  CHECK(answer.ends_with("who are you?"));
  CHECK(refused.closed());
  CHECK(handled == 0);

  // One that passes is read whole and handled.
  auto transport = transport_to(*server);
  Result<HttpResponse> echoed = transport->exchange(
      HttpRequest{"POST", "/v1/pull", {{"Authorization", "Bearer good"}}, "body"});
  REQUIRE(echoed.is_ok());
  CHECK(echoed->status == 200);
  CHECK(echoed->body == "POST /v1/pull body");
  CHECK(handled == 1);

  std::lock_guard lock(mu);
  REQUIRE(heads.size() == 2);
  CHECK(heads[0].method == "POST");
  CHECK(heads[0].target == "/v1/push?x=1");
  CHECK(find_header(heads[0].headers, "Content-Length") == "1000000");
  CHECK(heads[0].body.empty());
  CHECK(heads[1].target == "/v1/pull");
  CHECK(heads[1].body.empty());  // the body comes only to the handler
}

TEST_CASE("a request body holds the bytes that arrived, not its Content-Length", "[net]") {
  const std::string received =
      "POST /v1/push HTTP/1.1\r\nHost: test\r\nContent-Length: 16000000\r\n\r\nx";
  boost::beast::http::request_parser<net::ArrivingBody> parser;
  parser.body_limit(16u << 20);
  boost::beast::error_code ec;
  std::size_t parsed = 0;
  while (parsed < received.size() && !ec) {
    parsed +=
        parser.put(boost::asio::buffer(received.data() + parsed, received.size() - parsed), ec);
  }
  REQUIRE_FALSE(ec);
  CHECK_FALSE(parser.is_done());
  CHECK(parser.get().body() == "x");
  CHECK(parser.get().body().capacity() < 4096);
}

TEST_CASE("malformed HTTP gets 400 and the connection is closed", "[net]") {
  auto server = start_server({}, echo);
  RawConnection client = RawConnection::connect(server->port());
  REQUIRE(client.send("NOT HTTP AT ALL\r\n\r\n"));
  const std::string answer = client.read(after(kPatience));
  CHECK(answer.starts_with("HTTP/1.1 400"));
  CHECK(client.closed());
}

TEST_CASE("a client trickling its header is cut off at the header deadline", "[net]") {
  net::HttpServerOptions options;
  options.header_timeout = 300ms;
  std::atomic<int> handled{0};
  auto server = start_server(options, [&](HttpRequest request, net::Responder respond) {
    ++handled;
    echo(std::move(request), std::move(respond));
  });

  RawConnection client = RawConnection::connect(server->port());
  const auto started = std::chrono::steady_clock::now();
  const Deadline deadline = after(kPatience);
  REQUIRE(client.send("GET /healthz HTTP/1.1\r\n"));
  // One header byte every 50 ms, each well within any per-read timeout.
  while (!client.closed() && std::chrono::steady_clock::now() < deadline) {
    client.send("X");
    client.read(after(50ms));
  }
  CHECK(client.closed());
  CHECK(std::chrono::steady_clock::now() - started >= 300ms);
  CHECK(handled == 0);
}

TEST_CASE("a request body must keep coming at the minimum rate", "[net]") {
  net::HttpServerOptions options;
  options.header_timeout = 300ms;            // the grace after the header
  options.min_body_bytes_per_second = 1000;  // 8 kbit/s
  std::atomic<int> handled{0};
  auto server = start_server(options, [&](HttpRequest request, net::Responder respond) {
    ++handled;
    echo(std::move(request), std::move(respond));
  });
  const std::string header = "POST /slow HTTP/1.1\r\nHost: test\r\nContent-Length: ";

  SECTION("a stalled body is cut off once its grace and its bytes' time are spent") {
    RawConnection client = RawConnection::connect(server->port());
    const auto started = std::chrono::steady_clock::now();
    REQUIRE(client.send(header + "100000\r\n\r\n" + std::string(100, 'x')));
    client.read(after(kPatience));  // until the server closes
    CHECK(client.closed());
    CHECK(std::chrono::steady_clock::now() - started >= 400ms);  // 300 ms + 100 bytes' 100 ms
    CHECK(handled == 0);
  }
  SECTION("a body at 20 kbit/s, longer than the grace, is read whole") {
    RawConnection client = RawConnection::connect(server->port());
    REQUIRE(client.send(header + "1500\r\n\r\n"));
    for (int i = 0; i < 10; ++i) {  // 150 bytes every 60 ms: 2,500 bytes/s for 600 ms
      std::this_thread::sleep_for(60ms);
      REQUIRE(client.send(std::string(150, 'a' + i)));
    }
    const std::string answer = client.read(after(kPatience), "aaaa");
    CHECK(answer.starts_with("HTTP/1.1 200"));
    CHECK(handled == 1);
  }
}

TEST_CASE("connections over the limit are refused with 503", "[net]") {
  net::HttpServerOptions options;
  options.max_connections = 1;
  auto server = start_server(options, echo);
  auto transport = transport_to(*server);
  REQUIRE(transport->exchange(get_request("/first")).is_ok());  // holds the one connection

  RawConnection second = RawConnection::connect(server->port());
  const std::string answer = second.read(after(kPatience));
  CHECK(answer.starts_with("HTTP/1.1 503"));
  CHECK(second.closed());
  CHECK(transport->exchange(get_request("/again")).is_ok());
}

TEST_CASE("connections from one address beyond its share are refused with 503", "[net]") {
  net::HttpServerOptions options;
  options.max_connections_per_address = 2;
  auto server = start_server(options, echo);
  RawConnection first = RawConnection::connect(server->port());
  RawConnection second = RawConnection::connect(server->port());
  REQUIRE(first.send("GET /first HTTP/1.1\r\nHost: test\r\n\r\n"));
  REQUIRE(second.send("GET /second HTTP/1.1\r\nHost: test\r\n\r\n"));
  CHECK(first.read(after(kPatience), "/first").starts_with("HTTP/1.1 200"));
  CHECK(second.read(after(kPatience), "/second").starts_with("HTTP/1.1 200"));

  RawConnection third = RawConnection::connect(server->port());
  CHECK(third.read(after(kPatience)).starts_with("HTTP/1.1 503"));
  CHECK(third.closed());
  // Another address still gets in, and so does this one once a slot is free.
  RawConnection other = RawConnection::connect(server->port(), 2);
  REQUIRE(other.send("GET /other HTTP/1.1\r\nHost: test\r\n\r\n"));
  CHECK(other.read(after(kPatience), "/other").starts_with("HTTP/1.1 200"));
  { RawConnection closing = std::move(first); }
  CHECK(eventually([&] { return server->open_connections() == 2; }));
  RawConnection again = RawConnection::connect(server->port());
  REQUIRE(again.send("GET /again HTTP/1.1\r\nHost: test\r\n\r\n"));
  CHECK(again.read(after(kPatience), "/again").starts_with("HTTP/1.1 200"));
}

TEST_CASE("when full, a newcomer takes an idle slot of the address that holds the most", "[net]") {
  net::HttpServerOptions options;
  options.max_connections = 4;
  auto server = start_server(options, echo);
  // Address 2 holds three idle connections, address 3 one: the server is full.
  std::vector<RawConnection> crowd;
  for (int i = 0; i < 3; ++i) crowd.push_back(RawConnection::connect(server->port(), 2));
  RawConnection single = RawConnection::connect(server->port(), 3);
  REQUIRE(eventually([&] { return server->open_connections() == 4; }));

  RawConnection phone = RawConnection::connect(server->port(), 4);
  REQUIRE(phone.send("GET /phone HTTP/1.1\r\nHost: test\r\n\r\n"));
  CHECK(phone.read(after(kPatience), "/phone").starts_with("HTTP/1.1 200"));
  // One of address 2's is closed, unanswered; address 3's is still served.
  const auto closed_in_crowd = [&] {
    int closed = 0;
    for (RawConnection& connection : crowd) {
      closed += connection.read(after(0ms)).empty() && connection.closed() ? 1 : 0;
    }
    return closed;
  };
  CHECK(eventually([&] { return closed_in_crowd() == 1; }));
  CHECK(server->open_connections() == 4);
  REQUIRE(single.send("GET /single HTTP/1.1\r\nHost: test\r\n\r\n"));
  CHECK(single.read(after(kPatience), "/single").starts_with("HTTP/1.1 200"));

  // Address 2, still holding two, takes no slot from the addresses holding one.
  RawConnection more = RawConnection::connect(server->port(), 2);
  CHECK(more.read(after(kPatience)).starts_with("HTTP/1.1 503"));
}

TEST_CASE("a client that hangs up while its request is handled is let go", "[net]") {
  ParkedResponders parked;
  std::mutex mu;
  std::vector<std::shared_ptr<const std::atomic<bool>>> gone_flags;
  auto server = start_server({}, [&](HttpRequest request, net::Responder respond) {
    {
      std::lock_guard<std::mutex> lock(mu);
      gone_flags.push_back(request.client_gone);
    }
    parked.park(std::move(respond));
  });
  const auto gone = [&](std::size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return gone_flags.at(i)->load();
  };
  RawConnection staying = RawConnection::connect(server->port());
  RawConnection leaving = RawConnection::connect(server->port());
  REQUIRE(staying.send("GET /staying HTTP/1.1\r\nHost: test\r\n\r\n"));
  REQUIRE(parked.wait_for(1));
  REQUIRE(leaving.send("GET /leaving HTTP/1.1\r\nHost: test\r\n\r\n"));
  REQUIRE(parked.wait_for(2));
  CHECK_FALSE(gone(1));

  { RawConnection closing = std::move(leaving); }
  CHECK(eventually([&] { return gone(1); }));
  CHECK(eventually([&] { return server->open_connections() == 1; }));
  CHECK_FALSE(gone(0));
  // The client still waiting gets its answer; the other one's goes nowhere.
  parked.take()(text_response("staying"));
  parked.take()(text_response("leaving"));
  CHECK(staying.read(after(kPatience), "staying").starts_with("HTTP/1.1 200"));
  CHECK(server->open_connections() == 1);
}

TEST_CASE("the tick runs periodically", "[net]") {
  std::atomic<int> ticks{0};
  net::HttpServerOptions options;
  options.tick_interval = 10ms;
  options.tick = [&] { ++ticks; };
  auto server = start_server(options, echo);
  CHECK(eventually([&] { return ticks >= 3; }));
}

TEST_CASE("the client reconnects when the server closed the idle connection", "[net]") {
  net::HttpServerOptions options;
  options.idle_timeout = 100ms;
  auto server = start_server(options, echo);
  auto transport = transport_to(*server);

  REQUIRE(transport->exchange(get_request("/one")).is_ok());
  REQUIRE(eventually([&] { return server->open_connections() == 0; }));
  Result<HttpResponse> again = transport->exchange(get_request("/two"));
  REQUIRE(again.is_ok());
  CHECK(again->body == "GET /two ");
  CHECK(server->accepted_connections() == 2);
}

TEST_CASE("a request whose answer broke off is not sent again", "[net]") {
  RawListener listener;
  std::atomic<int> requests{0};
  std::thread server([&] {
    std::optional<RawConnection> connection = listener.accept(after(kPatience));
    if (!connection) return;
    connection->read(after(kPatience), "\r\n\r\n");
    ++requests;
    connection->send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    connection->read(after(kPatience), "\r\n\r\n");
    ++requests;
    connection->send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart");
    // Closing here breaks the second answer off.
  });
  auto transport = make_http_transport("http://127.0.0.1:" + std::to_string(listener.port()));
  REQUIRE(transport.is_ok());

  REQUIRE((*transport)->exchange(get_request("/one")).is_ok());
  Result<HttpResponse> broken = (*transport)->exchange(get_request("/two"));
  server.join();
  CHECK(broken.status().code() == ErrorCode::kNetwork);
  CHECK(requests == 2);
  CHECK_FALSE(listener.accept(after(0ms)));  // no connection came back to retry
}

TEST_CASE("connecting to a closed port fails with kNetwork", "[net]") {
  std::uint16_t port;
  {
    RawListener listener;  // a port that was free a moment ago, closed again
    port = listener.port();
  }
  auto transport = make_http_transport("http://127.0.0.1:" + std::to_string(port));
  REQUIRE(transport.is_ok());
  Result<HttpResponse> answer = (*transport)->exchange(get_request("/healthz"));
  CHECK(answer.status().code() == ErrorCode::kNetwork);
}

TEST_CASE("a server that never answers fails with kTimeout", "[net]") {
  RawListener listener;  // the kernel completes the connection; nobody reads it
  HttpTransportOptions options;
  options.request_timeout = 200ms;
  auto transport =
      make_http_transport("http://127.0.0.1:" + std::to_string(listener.port()), options);
  REQUIRE(transport.is_ok());
  const auto started = std::chrono::steady_clock::now();
  Result<HttpResponse> answer = (*transport)->exchange(get_request("/healthz"));
  CHECK(answer.status().code() == ErrorCode::kTimeout);
  CHECK(std::chrono::steady_clock::now() - started < kPatience);
}

TEST_CASE("a long poll's Lumbung-Wait header stretches the request timeout by its wait", "[net]") {
  // The server answers 400 ms late: after a 200 ms timeout, within 200 ms
  // plus a 1 s wait.
  std::mutex mu;
  std::vector<std::thread> answering;  // guarded by mu
  auto server = start_server({}, [&](HttpRequest request, net::Responder respond) {
    std::lock_guard lock(mu);
    answering.emplace_back([request = std::move(request), respond = std::move(respond)] {
      std::this_thread::sleep_for(400ms);  // the server's slowness under test
      respond(text_response(request.target));
    });
  });
  HttpTransportOptions options;
  options.request_timeout = 200ms;
  auto transport = transport_to(*server, options);
  CHECK(transport->exchange(get_request("/plain")).status().code() == ErrorCode::kTimeout);
  HttpRequest waiting = get_request("/waiting");
  waiting.headers.emplace_back(kLongPollWaitHeader, "1");
  Result<HttpResponse> answer = transport->exchange(waiting);
  INFO(answer.status().to_string());
  REQUIRE(answer.is_ok());
  CHECK(answer->body == "/waiting");
  std::lock_guard lock(mu);
  for (std::thread& thread : answering) thread.join();
}

TEST_CASE("a response over max_response_bytes fails with kTooLarge", "[net]") {
  auto server = start_server({}, [](HttpRequest, net::Responder respond) {
    respond(text_response(std::string(2000, 'x')));
  });
  HttpTransportOptions options;
  options.max_response_bytes = 1000;
  auto transport = transport_to(*server, options);
  CHECK(transport->exchange(get_request("/big")).status().code() == ErrorCode::kTooLarge);
}

TEST_CASE("base URLs: http or https, with an optional path prefix", "[net]") {
  for (const char* bad :
       {"ftp://host", "http://", "http://:80", "https://", "http://host:99999", "http://host:port",
        "http://user@host:80", "https://host?x", "127.0.0.1:8787"}) {
    INFO(bad);
    CHECK(make_http_transport(bad).status().code() == ErrorCode::kInvalidArgument);
  }
  auto server = start_server({}, echo);
  auto transport =
      make_http_transport("http://127.0.0.1:" + std::to_string(server->port()) + "/lumbung/");
  REQUIRE(transport.is_ok());
  Result<HttpResponse> answer = (*transport)->exchange(get_request("/healthz"));
  REQUIRE(answer.is_ok());
  CHECK(answer->body == "GET /lumbung/healthz ");
}

TEST_CASE("a graceful stop lets the request in flight finish", "[net]") {
  ParkedResponders parked;
  std::promise<void> stopping;
  net::HttpServerOptions options;
  options.on_stop = [&] { stopping.set_value(); };
  auto server = start_server(options, parking_handler(parked));

  auto idle_client = transport_to(*server);  // keeps an idle connection open
  REQUIRE(idle_client->exchange(get_request("/hello")).is_ok());
  auto slow_client = transport_to(*server);
  std::future<Result<HttpResponse>> slow =
      std::async(std::launch::async, [&] { return slow_client->exchange(get_request("/slow")); });
  REQUIRE(parked.wait_for(1));

  std::future<void> stopped = std::async(std::launch::async, [&] { server->stop(); });
  REQUIRE(stopping.get_future().wait_for(kPatience) == std::future_status::ready);
  // Stopping waits for the parked answer; the idle connection does not hold it up.
  REQUIRE(eventually([&] { return server->open_connections() == 1; }));
  CHECK(stopped.wait_for(0s) == std::future_status::timeout);

  parked.take()(text_response("finished"));
  REQUIRE(stopped.wait_for(kPatience) == std::future_status::ready);
  Result<HttpResponse> answer = slow.get();
  REQUIRE(answer.is_ok());
  CHECK(answer->body == "finished");
  CHECK(find_header(answer->headers, "Connection") == "close");
  CHECK(idle_client->exchange(get_request("/after")).status().code() == ErrorCode::kNetwork);
}

TEST_CASE("a graceful stop closes an answer that never comes after the drain timeout", "[net]") {
  ParkedResponders parked;
  net::HttpServerOptions options;
  options.drain_timeout = 300ms;
  auto server = start_server(options, parking_handler(parked));
  auto slow_client = transport_to(*server);
  std::future<Result<HttpResponse>> slow =
      std::async(std::launch::async, [&] { return slow_client->exchange(get_request("/slow")); });
  REQUIRE(parked.wait_for(1));

  const auto started = std::chrono::steady_clock::now();
  std::future<void> stopped = std::async(std::launch::async, [&] { server->stop(); });
  REQUIRE(stopped.wait_for(kPatience) == std::future_status::ready);
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took >= options.drain_timeout);
  CHECK(took < options.drain_timeout + 5s);
  CHECK(slow.get().status().code() == ErrorCode::kNetwork);
  // An answer given after the stop goes nowhere, and harms nothing.
  parked.take()(text_response("too late"));
}

TEST_CASE("a loopback host is one whose every address is a loopback address", "[net]") {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "localhost"}) {
    INFO(host);
    CHECK(net::is_loopback_host(host).value());
  }
  for (const char* host : {"0.0.0.0", "::", "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1"}) {
    INFO(host);
    CHECK_FALSE(net::is_loopback_host(host).value());
  }
}

}  // namespace
}  // namespace lumbung::test
