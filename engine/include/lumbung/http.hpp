// HTTP exchanges as plain values, and the Transport that carries them.
//
// The sync protocol is sans-IO: the device's sync and the daemon's request
// handling turn messages into HttpRequest/HttpResponse values and back. A
// Transport moves them: over Boost.Beast (make_http_transport), in memory in
// tests, or through the app's own HTTP stack (OkHttp, URLSession).
//
// Thread-safety: values; a Transport is used by one sync at a time.
#pragma once

#include <atomic>
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

// The header of a pull that asks the server to hold it until a change comes
// (a long poll): the seconds it may wait, in decimal. The server may then
// answer that much later than usual, so a transport stretches its timeout by
// that much (docs/protocol.md, "Transport").
inline constexpr const char* kLongPollWaitHeader = "Lumbung-Wait";

// The value of the first header named `name` (case-insensitive), if any.
LUMBUNG_EXPORT std::optional<std::string_view> find_header(const HttpHeaders& headers,
                                                           std::string_view name);

struct HttpRequest {
  std::string method;  // "GET", "POST"
  std::string target;  // "/v1/push"
  HttpHeaders headers;
  std::string body;
  // On a request a server received: set true by the server's transport once
  // no answer can reach the client (it hung up, or the connection closed),
  // so that a handler holding the request (a long poll) can let it go. Null
  // when the transport cannot tell (in memory); ignored by client transports.
  std::shared_ptr<const std::atomic<bool>> client_gone{};
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

// How the device checks the server of an https:// URL. The server's
// certificate must chain to a trusted CA, be within its validity dates and
// name the URL's host (RFC 6125); pinned keys add a check, never replace one.
struct TlsOptions {
  // A PEM file of the CAs to trust. Default: empty, the system's trust store.
  std::string ca_file;
  // Keys the server's own (leaf) certificate must carry one of, each
  // "sha256/" and the base64 of the SHA-256 of its DER SubjectPublicKeyInfo:
  // the format of OkHttp's CertificatePinner. Default: empty, no pinning.
  std::vector<std::string> pinned_keys;
};

struct HttpTransportOptions {
  // For the TCP connection and, for https, the TLS handshake together.
  std::chrono::milliseconds connect_timeout{10000};
  // For the whole exchange, beyond any long-poll wait the request asks for.
  std::chrono::milliseconds request_timeout{30000};
  // Responses larger than this (after decompression) are refused.
  std::size_t max_response_bytes = 64u << 20;
  // For an https:// base URL.
  TlsOptions tls;
};

// An HTTP/1.1 transport to `base_url` ("http://host:port", or
// "https://host:port" for TLS 1.2 or later), keeping one connection alive
// between exchanges. kInvalidArgument for a bad URL, a malformed pin or an
// unreadable CA file. Over https, exchange() also fails with kTls when the
// server's certificate or key is refused; the message says why (untrusted,
// expired, wrong host, pin mismatch).
LUMBUNG_EXPORT Result<std::shared_ptr<Transport>> make_http_transport(
    const std::string& base_url, const HttpTransportOptions& options = {});

}  // namespace lumbung
