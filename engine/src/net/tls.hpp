// TLS policy of the daemon and the device, on OpenSSL: TLS 1.2 or later, no
// compression, no renegotiation; the device checks the server's chain, dates
// and host name (RFC 6125), and its pinned keys. Plain OpenSSL, no Asio: the
// HTTP server and client hand the contexts to boost::asio::ssl::context,
// which takes ownership of an SSL_CTX*.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lumbung/http.hpp"
#include "lumbung/status.hpp"

namespace lumbung::net {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const;
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// The daemon's context, serving the certificate chain in `cert_file` (leaf
// first) with the private key in `key_file`, both PEM. kInvalidArgument,
// naming the file, when one cannot be read or parsed or the key does not
// match the certificate.
Result<SslCtxPtr> server_tls_context(const std::string& cert_file, const std::string& key_file);

// The device's context: verifies servers against options.ca_file, or the
// system's default verify paths when it is empty. kInvalidArgument when the
// CA file cannot be loaded or a pin is not "sha256/" and the base64 of 32
// bytes.
Result<SslCtxPtr> client_tls_context(const TlsOptions& options);

// Prepares one connection of the device before its handshake: SNI for a
// host name, and the name or IP address (`host`, without brackets) the
// server's certificate must carry.
Status expect_server_host(SSL* ssl, const std::string& host);

// After a failed handshake: why the server's certificate was refused
// ("the server's certificate has expired"), or nullopt when the handshake
// failed for another reason.
std::optional<std::string> certificate_refusal(const SSL* ssl);

// After a successful handshake: OK when `pins` is empty or holds the pin of
// the server's own (leaf) public key; kTls naming the server's pin otherwise.
Status check_pinned_key(const SSL* ssl, const std::vector<std::string>& pins);

}  // namespace lumbung::net
