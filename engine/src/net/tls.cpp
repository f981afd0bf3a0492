#include "net/tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "core/base64.hpp"

namespace lumbung::net {
namespace {

constexpr std::string_view kPinPrefix = "sha256/";
constexpr std::size_t kSha256Bytes = 32;

// The reason of the oldest error OpenSSL queued on this thread; clears the queue.
std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

Status invalid(const std::string& message) { return Status(ErrorCode::kInvalidArgument, message); }

// OpenSSL's own messages for a missing or unreadable file are vague; errno is not.
Status check_readable(const std::string& path, const std::string& what) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return invalid("cannot read " + what + " '" + path + "': " + std::strerror(errno));
  }
  std::fclose(file);
  return Status::ok();
}

// Refuses a passphrase prompt: a daemon has no terminal to ask on.
int no_passphrase(char*, int, int, void*) { return 0; }

// TLS 1.2 or later; no compression (CRIME) and no renegotiation (a cheap way
// for a client to make the server work).
Result<SslCtxPtr> new_context(const SSL_METHOD* method) {
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) {
    return Status(ErrorCode::kInternal, "cannot create a TLS context: " + openssl_error());
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_default_passwd_cb(ctx.get(), &no_passphrase);
  return ctx;
}

struct EvpPkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

Result<std::unique_ptr<EVP_PKEY, EvpPkeyFree>> read_private_key(const std::string& path) {
  LUMBUNG_RETURN_IF_ERROR(check_readable(path, "TLS key file"));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "rb"), &BIO_free);
  std::unique_ptr<EVP_PKEY, EvpPkeyFree> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, &no_passphrase, nullptr) : nullptr);
  if (!key) {
    return invalid("TLS key file '" + path +
                   "' holds no unencrypted PEM private key: " + openssl_error());
  }
  return key;
}

bool is_ip_literal(const std::string& host) {
  unsigned char address[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), address) == 1 ||
         inet_pton(AF_INET6, host.c_str(), address) == 1;
}

// "sha256/" and the base64 of the SHA-256 of the DER SubjectPublicKeyInfo.
std::string public_key_pin(const X509* cert) {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
  if (length <= 0) return {};
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  const int hashed = EVP_Digest(der, static_cast<std::size_t>(length), digest, &digest_length,
                                EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (hashed != 1) return {};
  return std::string(kPinPrefix) + core::base64_encode(Blob(digest, digest + digest_length));
}

}  // namespace

void SslCtxFree::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

Result<SslCtxPtr> server_tls_context(const std::string& cert_file, const std::string& key_file) {
  Result<SslCtxPtr> ctx = new_context(TLS_server_method());
  if (!ctx) return ctx;
  LUMBUNG_RETURN_IF_ERROR(check_readable(cert_file, "TLS certificate file"));
  if (SSL_CTX_use_certificate_chain_file(ctx->get(), cert_file.c_str()) != 1) {
    return invalid("TLS certificate file '" + cert_file +
                   "' holds no PEM certificate chain: " + openssl_error());
  }
  auto key = read_private_key(key_file);
  if (!key) return key.status();
  // Checked here, for a clear message: OpenSSL would only drop one of the two.
  if (X509_check_private_key(SSL_CTX_get0_certificate(ctx->get()), key->get()) != 1) {
    ERR_clear_error();
    return invalid("TLS key file '" + key_file + "' does not match the certificate in '" +
                   cert_file + "'");
  }
  if (SSL_CTX_use_PrivateKey(ctx->get(), key->get()) != 1) {
    return invalid("cannot use TLS key file '" + key_file + "': " + openssl_error());
  }
  return ctx;
}

Result<SslCtxPtr> client_tls_context(const TlsOptions& options) {
  for (const std::string& pin : options.pinned_keys) {
    const std::optional<Blob> digest = pin.starts_with(kPinPrefix)
                                           ? core::base64_decode(pin.substr(kPinPrefix.size()))
                                           : std::nullopt;
    if (!digest || digest->size() != kSha256Bytes) {
      return invalid("malformed pinned key '" + pin +
                     "': expected sha256/ and the base64 of a SHA-256 digest");
    }
  }
  Result<SslCtxPtr> ctx = new_context(TLS_client_method());
  if (!ctx) return ctx;
  SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_PEER, nullptr);
  if (options.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx->get()) != 1) {
      return Status(ErrorCode::kTls,
                    "cannot load the system's trusted certificates: " + openssl_error());
    }
    return ctx;
  }
  LUMBUNG_RETURN_IF_ERROR(check_readable(options.ca_file, "CA file"));
  if (SSL_CTX_load_verify_file(ctx->get(), options.ca_file.c_str()) != 1) {
    return invalid("CA file '" + options.ca_file +
                   "' holds no PEM certificate: " + openssl_error());
  }
  return ctx;
}

Status expect_server_host(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  bool done = false;
  if (is_ip_literal(host)) {
    // No SNI for an address (RFC 6066, section 3).
    done = X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    done = SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 &&
           X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1;
  }
  if (!done) {
    return invalid("cannot verify TLS for host '" + host + "': " + openssl_error());
  }
  return Status::ok();
}

std::optional<std::string> certificate_refusal(const SSL* ssl) {
  const long result = SSL_get_verify_result(ssl);
  const std::string reason = X509_verify_cert_error_string(result);
  switch (result) {
    case X509_V_OK:
      return std::nullopt;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "the server's certificate has expired (or this device's clock is wrong)";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "the server's certificate is not valid yet (or this device's clock is wrong)";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "the server's certificate is for a wrong host: " + reason;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      return "the server's certificate is untrusted: " + reason;
    default:
      return "the server's certificate was refused: " + reason;
  }
}

Status check_pinned_key(const SSL* ssl, const std::vector<std::string>& pins) {
  if (pins.empty()) return Status::ok();
  const X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return Status(ErrorCode::kTls, "the server sent no certificate");
  const std::string pin = public_key_pin(cert);
  if (std::find(pins.begin(), pins.end(), pin) != pins.end()) return Status::ok();
  return Status(ErrorCode::kTls,
                "pin mismatch: the server's public key " + pin + " is none of the pinned keys");
}

}  // namespace lumbung::net
