#include "server/sealed_file.hpp"

#include <openssl/evp.h>

#include <array>

#include "snapshot/zstd_file.hpp"

namespace lumbung::server {

class Sha256 {
 public:
  static constexpr std::size_t kSize = 32;
  using Digest = std::array<unsigned char, kSize>;

  Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) failed_ = true;
  }
  void update(std::string_view bytes) {
    if (EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()) != 1) failed_ = true;
  }
  Result<Digest> digest() {
    Digest digest{};
    unsigned int size = 0;
    if (failed_ || EVP_DigestFinal_ex(ctx_.get(), digest.data(), &size) != 1 || size != kSize) {
      return Status(ErrorCode::kInternal, "SHA-256 failed");
    }
    return digest;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
  bool failed_ = false;
};

namespace {

// Level 3: most of what zstd saves, at a few hundred MB/s.
constexpr int kZstdLevel = 3;

}  // namespace

SealedFileWriter::SealedFileWriter(std::unique_ptr<snapshot::ZstdFileWriter> out)
    : out_(std::move(out)), sha_(std::make_unique<Sha256>()) {}

SealedFileWriter::~SealedFileWriter() = default;

Result<std::unique_ptr<SealedFileWriter>> SealedFileWriter::create(const std::string& path,
                                                                   std::string_view magic,
                                                                   std::uint32_t version) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<snapshot::ZstdFileWriter> out,
                           snapshot::ZstdFileWriter::create(path, kZstdLevel));
  std::unique_ptr<SealedFileWriter> writer(new SealedFileWriter(std::move(out)));
  LUMBUNG_RETURN_IF_ERROR(writer->put(magic));
  LUMBUNG_RETURN_IF_ERROR(writer->put(big_endian(version)));
  return writer;
}

Status SealedFileWriter::put(std::string_view bytes) {
  sha_->update(bytes);
  return out_->write(bytes);
}

Status SealedFileWriter::finish() {
  LUMBUNG_ASSIGN_OR_RETURN(Sha256::Digest digest, sha_->digest());
  LUMBUNG_RETURN_IF_ERROR(
      out_->write(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size())));
  return out_->finish();
}

SealedFileReader::SealedFileReader(std::unique_ptr<snapshot::ZstdFileReader> in, std::string path,
                                   std::string kind)
    : in_(std::move(in)),
      path_(std::move(path)),
      kind_(std::move(kind)),
      sha_(std::make_unique<Sha256>()) {}

SealedFileReader::~SealedFileReader() = default;

Result<std::unique_ptr<SealedFileReader>> SealedFileReader::open(const std::string& path,
                                                                 std::string_view magic,
                                                                 std::uint32_t version,
                                                                 std::string kind) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<snapshot::ZstdFileReader> in,
                           snapshot::ZstdFileReader::open(path));
  std::unique_ptr<SealedFileReader> reader(new SealedFileReader(std::move(in), path, kind));
  std::string read_magic(magic.size(), '\0');
  LUMBUNG_RETURN_IF_ERROR(reader->read(read_magic.data(), read_magic.size(), "its header"));
  if (read_magic != magic) {
    std::string_view name = magic;
    if (name.ends_with('\n')) name.remove_suffix(1);
    return reader->refused("it does not begin with \"" + std::string(name) + "\"");
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::uint32_t read_version,
                           reader->read_int<std::uint32_t>("its header"));
  if (read_version != version) {
    return Status(ErrorCode::kInvalidArgument,
                  "'" + path + "' is a " + kind + " of format " + std::to_string(read_version) +
                      "; this lumbungd reads format " + std::to_string(version));
  }
  return reader;
}

Status SealedFileReader::read(char* data, std::size_t size, std::string_view what, bool hashed) {
  std::size_t done = 0;
  while (done < size) {
    Result<std::size_t> got = in_->read(data + done, size - done);
    if (!got.is_ok()) return refused(got.status());
    if (*got == 0) return refused("it ends inside " + std::string(what));
    done += *got;
  }
  if (hashed) sha_->update(std::string_view(data, size));
  return Status::ok();
}

Status SealedFileReader::check_end() {
  LUMBUNG_ASSIGN_OR_RETURN(Sha256::Digest computed, sha_->digest());
  Sha256::Digest stored{};
  LUMBUNG_RETURN_IF_ERROR(
      read(reinterpret_cast<char*>(stored.data()), stored.size(), "its checksum", false));
  if (stored != computed) return refused("its SHA-256 does not match its contents");
  char after = 0;
  Result<std::size_t> more = in_->read(&after, 1);
  if (!more.is_ok()) return refused(more.status());
  if (*more != 0) return refused("bytes follow its checksum");
  return Status::ok();
}

Status SealedFileReader::refused(const Status& unpacking) const {
  if (unpacking.code() != ErrorCode::kCorrupt) return unpacking;
  const std::string named = "'" + path_ + "' ";
  const std::string& why = unpacking.message();
  return refused(why.starts_with(named) ? "it " + why.substr(named.size()) : why);
}

Status SealedFileReader::refused(const std::string& why) const {
  return Status(ErrorCode::kCorrupt,
                "'" + path_ + "' is not a whole, intact " + kind_ + ": " + why);
}

}  // namespace lumbung::server
