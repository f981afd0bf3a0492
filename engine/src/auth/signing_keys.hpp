// SigningKeys: the daemon's Ed25519 token signing keys, one PEM file per key
// in a private directory (DIR/keys, mode 0700; files 0600):
//
//   keys/<key id>.pem   a private key (PKCS#8); its id is the first 8 bytes,
//                       in hex, of the SHA-256 of its raw public key
//   keys/current        the id of the key new tokens are signed with
//
// Every key present verifies; a retired key is deleted. Each verification
// checks that the key file still exists and each signing reads `current`, so
// a rotation or retirement by another process (`lumbungd rotate-key`) shows
// at once in a running daemon.
//
// Thread-safety: safe to share between threads.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "lumbung/status.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace lumbung::auth {

// Bytes in an Ed25519 signature.
constexpr std::size_t kSignatureSize = 64;

// True when `text` has the shape of a key id: 16 lower-case hex digits.
bool is_key_id(std::string_view text);

class SigningKeys {
 public:
  // Opens the key directory `dir`, creating it and a first key when missing.
  static Result<std::unique_ptr<SigningKeys>> open(const std::string& dir);

  // The id of the key new tokens are signed with.
  Result<std::string> current_key_id() const;
  // The Ed25519 signature (64 bytes) of `message` by key `key_id`.
  Result<std::string> sign(std::string_view key_id, std::string_view message);
  // OK when `signature` is key `key_id`'s signature of `message`; kTokenForged
  // when it is not, or when no such key is present.
  Status verify(std::string_view key_id, std::string_view message, std::string_view signature);

  // Creates a key and makes it current; returns its id. Older keys keep verifying.
  Result<std::string> rotate();
  // Deletes key `key_id`: tokens it signed no longer verify. kInvalidArgument
  // for the current key; kNotFound when there is no such key.
  Status retire(std::string_view key_id);

 private:
  using Key = std::shared_ptr<evp_pkey_st>;

  explicit SigningKeys(std::string dir) : dir_(std::move(dir)) {}
  std::string key_path(std::string_view key_id) const;
  // Creates a key file; returns the new key's id.
  Result<std::string> create_key();
  // Points `current` at `key_id`; when `replace` is false, only if no key is current yet.
  Status make_current(const std::string& key_id, bool replace);
  // The key `key_id`, from the cache if its file is still present.
  Result<Key> load(std::string_view key_id);

  const std::string dir_;
  std::mutex mu_;
  std::map<std::string, Key, std::less<>> cache_;  // guarded by mu_
};

}  // namespace lumbung::auth
