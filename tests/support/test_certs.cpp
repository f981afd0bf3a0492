#include "support/test_certs.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace lumbung::test {
namespace {

constexpr long kDay = 24 * 60 * 60;
constexpr const char* kServerNames = "IP:127.0.0.1,DNS:localhost";

struct OpenSslFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(X509* cert) const { X509_free(cert); }
  void operator()(X509_EXTENSION* ext) const { X509_EXTENSION_free(ext); }
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using Key = std::unique_ptr<EVP_PKEY, OpenSslFree>;
using Cert = std::unique_ptr<X509, OpenSslFree>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test certificates: ") + what + " failed");
}

Key new_key() {
  Key key(EVP_EC_gen("P-256"));  // fast to make, unlike RSA
  check(key != nullptr, "EVP_EC_gen");
  return key;
}

// Valid from `from` to `until` seconds from now.
struct Validity {
  long from = -kDay;
  long until = kDay;
};

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, OpenSslFree> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  check(ext && X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

// Self-signed when `issuer` is null; a CA when `names` is null, a server
// certificate for `names` (subjectAltName syntax) otherwise.
Cert make_cert(const char* common_name, const char* names, EVP_PKEY* key, Validity validity,
               X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1;
  Cert cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509* const signer = issuer != nullptr ? issuer : cert.get();
  check(X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
            ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), validity.from) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), validity.until) != nullptr &&
            X509_set_pubkey(cert.get(), key) == 1 &&
            X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>(common_name), -1, -1,
                                       0) == 1 &&
            X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) == 1,
        "filling in a certificate");
  if (names == nullptr) {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), signer, NID_subject_alt_name, names);
  }
  check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0,
        "X509_sign");
  return cert;
}

std::unique_ptr<std::FILE, OpenSslFree> open_for_writing(const std::string& path) {
  std::unique_ptr<std::FILE, OpenSslFree> file(std::fopen(path.c_str(), "wb"));
  check(file != nullptr, "opening a PEM file");
  return file;
}

void write_cert(const std::string& path, X509* cert) {
  check(PEM_write_X509(open_for_writing(path).get(), cert) == 1, "PEM_write_X509");
}

// Computed through OpenSSL's own encoders, apart from the engine's code.
std::string pin_of(X509* cert) {
  unsigned char* der = nullptr;
  const int length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  check(length > 0, "i2d_X509_PUBKEY");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  const int hashed = EVP_Digest(der, static_cast<std::size_t>(length), digest, &digest_length,
                                EVP_sha256(), nullptr);
  OPENSSL_free(der);
  check(hashed == 1, "EVP_Digest");
  unsigned char base64[64];
  const int base64_length = EVP_EncodeBlock(base64, digest, static_cast<int>(digest_length));
  return "sha256/" + std::string(reinterpret_cast<const char*>(base64),
                                 static_cast<std::size_t>(base64_length));
}

TestCertificate write_server(const std::filesystem::path& dir, const std::string& name,
                             const char* names, Validity validity, X509* ca, EVP_PKEY* ca_key) {
  const Key key = new_key();
  const Cert cert = make_cert(name.c_str(), names, key.get(), validity, ca, ca_key);
  TestCertificate result{(dir / (name + ".pem")).string(), (dir / (name + ".key")).string(),
                         pin_of(cert.get())};
  write_cert(result.cert_file, cert.get());
  check(PEM_write_PrivateKey(open_for_writing(result.key_file).get(), key.get(), nullptr, nullptr,
                             0, nullptr, nullptr) == 1,
        "PEM_write_PrivateKey");
  return result;
}

}  // namespace

TestCertificates make_test_certificates(const std::filesystem::path& dir) {
  const Key ca_key = new_key();
  const Cert ca = make_cert("Lumbung Test CA", nullptr, ca_key.get(), {}, nullptr, nullptr);
  const Key other_ca_key = new_key();
  const Cert other_ca =
      make_cert("Unknown Test CA", nullptr, other_ca_key.get(), {}, nullptr, nullptr);

  TestCertificates certs;
  certs.ca_file = (dir / "ca.pem").string();
  write_cert(certs.ca_file, ca.get());
  certs.server = write_server(dir, "server", kServerNames, {}, ca.get(), ca_key.get());
  certs.expired =
      write_server(dir, "expired", kServerNames, {-2 * kDay, -kDay}, ca.get(), ca_key.get());
  certs.wrong_host =
      write_server(dir, "wrong-host", "DNS:wrong.example", {}, ca.get(), ca_key.get());
  certs.unknown_ca =
      write_server(dir, "unknown-ca", kServerNames, {}, other_ca.get(), other_ca_key.get());
  return certs;
}

}  // namespace lumbung::test
