// TLS certificates for tests, made with OpenSSL at run time (none is ever
// committed): a test CA, and server certificates for 127.0.0.1 and
// localhost, good and bad, written as PEM files.
#pragma once

#include <filesystem>
#include <string>

namespace lumbung::test {

// A certificate and its private key as PEM files.
struct TestCertificate {
  std::string cert_file;
  std::string key_file;
  // "sha256/" and the base64 of the SHA-256 of its DER SubjectPublicKeyInfo.
  std::string pin;
};

struct TestCertificates {
  std::string ca_file;         // the test CA, to trust
  TestCertificate server;      // 127.0.0.1 and localhost, valid for a day, by the CA
  TestCertificate expired;     // the same names, by the CA, expired yesterday
  TestCertificate wrong_host;  // wrong.example only, by the CA
  TestCertificate unknown_ca;  // 127.0.0.1 and localhost, by a CA nobody trusts
};

// Makes fresh keys and certificates and writes them into `dir`. Throws
// std::runtime_error when OpenSSL fails.
TestCertificates make_test_certificates(const std::filesystem::path& dir);

}  // namespace lumbung::test
