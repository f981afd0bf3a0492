// HTTP exchanges as plain values, and the Transport that carries them.
//
// The sync protocol is sans-IO: the device's sync and the daemon's request
// handling turn messages into HttpRequest/HttpResponse values and back. A
// Transport moves them: over Boost.Beast (make_http_transport), in memory in
// tests, or through the app's own HTTP stack (OkHttp, URLSession).
//
// Thread-safety: values; a Transport is used by one sync at a time.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lumbung/export.hpp"
#include "lumbung/status.hpp"

namespace lumbung {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The value of the first header named `name` (case-insensitive), if any.
LUMBUNG_EXPORT std::optional<std::string_view> find_header(const HttpHeaders& headers,
                                                           std::string_view name);

struct HttpRequest {
  std::string method;  // "GET", "POST"
  std::string target;  // "/v1/push"
  HttpHeaders headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
};

class LUMBUNG_EXPORT Transport {
 public:
  virtual ~Transport();
  // Sends `request` and returns the server's response, whatever its status.
  // Fails with kNetwork when the connection fails or breaks and kTimeout when
  // no complete answer came in time: the caller cannot know whether the
  // server acted on the request.
  virtual Result<HttpResponse> exchange(const HttpRequest& request) = 0;
};

struct HttpTransportOptions {
  std::chrono::milliseconds connect_timeout{10000};
  // For the whole exchange, beyond any long-poll wait the request asks for.
  std::chrono::milliseconds request_timeout{30000};
  // Responses larger than this (after decompression) are refused.
  std::size_t max_response_bytes = 64u << 20;
};

// An HTTP/1.1 transport to `base_url` ("http://host:port"), keeping one
// connection alive between exchanges. kInvalidArgument for a bad URL.
LUMBUNG_EXPORT Result<std::shared_ptr<Transport>> make_http_transport(
    const std::string& base_url, const HttpTransportOptions& options = {});

}  // namespace lumbung
