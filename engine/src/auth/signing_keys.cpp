#include "auth/signing_keys.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "auth/private_file.hpp"
#include "core/hex.hpp"

namespace lumbung::auth {

namespace {

constexpr std::string_view kCurrentFile = "current";
constexpr std::size_t kKeyIdBytes = 8;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* key) { return {key, EVP_PKEY_free}; }

// `what` and OpenSSL's oldest queued error; clears the queue.
Status openssl_error(const std::string& what) {
  char text[256] = "unknown error";
  if (const unsigned long code = ERR_get_error(); code != 0) {
    ERR_error_string_n(code, text, sizeof text);
  }
  ERR_clear_error();
  return Status(ErrorCode::kInternal, what + ": " + text);
}

Result<std::string> key_id_of(EVP_PKEY* key) {
  std::array<unsigned char, 32> raw{};
  std::size_t raw_size = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &raw_size) != 1) {
    return openssl_error("cannot read a signing key's public key");
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  if (EVP_Digest(raw.data(), raw_size, digest.data(), &digest_size, EVP_sha256(), nullptr) != 1) {
    return openssl_error("cannot hash a signing key's public key");
  }
  return core::to_hex(digest.data(), kKeyIdBytes);
}

Status forged(std::string_view why) { return Status(ErrorCode::kTokenForged, std::string(why)); }

}  // namespace

bool is_key_id(std::string_view text) { return core::is_lower_hex(text, 2 * kKeyIdBytes); }

Result<std::unique_ptr<SigningKeys>> SigningKeys::open(const std::string& dir) {
  LUMBUNG_RETURN_IF_ERROR(make_private_dir(dir));
  std::unique_ptr<SigningKeys> keys(new SigningKeys(dir));
  Result<std::string> current = keys->current_key_id();
  if (current.is_ok()) return keys;
  if (current.status().code() != ErrorCode::kNotFound) return current.status();
  LUMBUNG_ASSIGN_OR_RETURN(std::string first, keys->create_key());
  LUMBUNG_RETURN_IF_ERROR(keys->make_current(first, false));
  return keys;
}

std::string SigningKeys::key_path(std::string_view key_id) const {
  return dir_ + "/" + std::string(key_id) + ".pem";
}

Result<std::string> SigningKeys::current_key_id() const {
  LUMBUNG_ASSIGN_OR_RETURN(std::string text,
                           read_private_file(dir_ + "/" + std::string(kCurrentFile)));
  std::string key_id = std::move(text);
  if (!key_id.empty() && key_id.back() == '\n') key_id.pop_back();
  if (!is_key_id(key_id)) {
    return Status(ErrorCode::kCorrupt, "'" + dir_ + "/current' does not hold a key id");
  }
  return key_id;
}

Result<std::string> SigningKeys::create_key() {
  const std::shared_ptr<EVP_PKEY> key = own(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return openssl_error("cannot generate an Ed25519 key");
  LUMBUNG_ASSIGN_OR_RETURN(std::string key_id, key_id_of(key.get()));
  const Bio pem(BIO_new(BIO_s_mem()));
  if (!pem ||
      PEM_write_bio_PrivateKey(pem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return openssl_error("cannot encode key " + key_id);
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(pem.get(), &data);
  LUMBUNG_RETURN_IF_ERROR(
      write_private_file(key_path(key_id), std::string_view(data, static_cast<std::size_t>(size))));
  return key_id;
}

Status SigningKeys::make_current(const std::string& key_id, bool replace) {
  // Written whole under a name of its own, then moved into place: a reader
  // sees the old id or the new one, never a torn file.
  const std::string current = dir_ + "/" + std::string(kCurrentFile);
  const std::string staged = current + "." + key_id + ".new";
  LUMBUNG_RETURN_IF_ERROR(write_private_file(staged, key_id + "\n"));
  // link() fails when `current` exists: two processes opening a fresh
  // directory at once agree on one first key (the other stays, unused).
  const int moved =
      replace ? ::rename(staged.c_str(), current.c_str()) : ::link(staged.c_str(), current.c_str());
  const int error = errno;
  if (!replace) ::unlink(staged.c_str());
  if (moved != 0 && !(error == EEXIST && !replace)) {
    return Status(ErrorCode::kIo, "cannot update '" + current + "': " + std::strerror(error));
  }
  return sync_dir(dir_);
}

Result<SigningKeys::Key> SigningKeys::load(std::string_view key_id) {
  if (!is_key_id(key_id)) return forged("the token names no signing key of this server");
  const std::string path = key_path(key_id);
  std::error_code ignored;
  const bool present = std::filesystem::is_regular_file(path, ignored);
  std::lock_guard lock(mu_);
  const auto cached = cache_.find(key_id);
  if (!present) {
    if (cached != cache_.end()) cache_.erase(cached);
    return forged("signed by key '" + std::string(key_id) + "', which this server does not have");
  }
  if (cached != cache_.end()) return cached->second;
  LUMBUNG_ASSIGN_OR_RETURN(std::string pem, read_private_file(path));
  const Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  const std::shared_ptr<EVP_PKEY> key =
      own(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || !EVP_PKEY_is_a(key.get(), "ED25519")) {
    ERR_clear_error();
    return Status(ErrorCode::kCorrupt, "'" + path + "' does not hold an Ed25519 private key");
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::string actual_id, key_id_of(key.get()));
  if (actual_id != key_id) {
    return Status(ErrorCode::kCorrupt, "'" + path + "' holds key " + actual_id);
  }
  cache_.emplace(std::string(key_id), key);
  return key;
}

Result<std::string> SigningKeys::sign(std::string_view key_id, std::string_view message) {
  LUMBUNG_ASSIGN_OR_RETURN(const Key key, load(key_id));
  const MdCtx ctx(EVP_MD_CTX_new());
  std::string signature(kSignatureSize, '\0');
  std::size_t size = signature.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return openssl_error("cannot sign with key " + std::string(key_id));
  }
  signature.resize(size);
  return signature;
}

Status SigningKeys::verify(std::string_view key_id, std::string_view message,
                           std::string_view signature) {
  LUMBUNG_ASSIGN_OR_RETURN(const Key key, load(key_id));
  const MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return openssl_error("cannot verify with key " + std::string(key_id));
  }
  const int verified = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();  // a bad signature queues an error nobody reads
  if (verified != 1) return forged("bad signature (key '" + std::string(key_id) + "')");
  return Status::ok();
}

Result<std::string> SigningKeys::rotate() {
  LUMBUNG_ASSIGN_OR_RETURN(std::string key_id, create_key());
  LUMBUNG_RETURN_IF_ERROR(make_current(key_id, true));
  return key_id;
}

Status SigningKeys::retire(std::string_view key_id) {
  if (!is_key_id(key_id)) {
    // Appended rather than "'" + std::string(key_id) + ...: GCC 12 at -O3
    // reports a false -Wrestrict in that operator+ (GCC bug 105329).
    std::string message = "'";
    message.append(key_id).append("' is not a key id (16 lower-case hex digits)");
    return Status(ErrorCode::kInvalidArgument, std::move(message));
  }
  LUMBUNG_ASSIGN_OR_RETURN(const std::string current, current_key_id());
  if (current == key_id) {
    return Status(ErrorCode::kInvalidArgument,
                  "key " + current + " is the current signing key: rotate-key first");
  }
  const std::string path = key_path(key_id);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      return Status(ErrorCode::kNotFound, "no signing key '" + std::string(key_id) + "'");
    }
    return Status(ErrorCode::kIo, "cannot delete '" + path + "': " + std::strerror(errno));
  }
  {
    std::lock_guard lock(mu_);
    if (const auto cached = cache_.find(key_id); cached != cache_.end()) cache_.erase(cached);
  }
  return sync_dir(dir_);
}

}  // namespace lumbung::auth
