#include "server/backup_file.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>

#include "core/errno_status.hpp"
#include "core/unique_fd.hpp"
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

using core::UniqueFd;

constexpr std::string_view kMagic = "lumbung-backup\n";
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kMaxNameBytes = 511;
constexpr std::size_t kMaxPartBytes = 255;
constexpr std::size_t kBufferBytes = 256 * 1024;
// Level 3: most of what zstd saves on a store, at a few hundred MB/s.
constexpr int kZstdLevel = 3;

template <typename Int>
std::string big_endian(Int value) {
  std::string bytes(sizeof(Int), '\0');
  for (std::size_t i = 0; i < sizeof(Int); ++i) {
    bytes[sizeof(Int) - 1 - i] = static_cast<char>(value >> (8 * i));
  }
  return bytes;
}

template <typename Int>
Int from_big_endian(const char* bytes) {
  Int value = 0;
  for (std::size_t i = 0; i < sizeof(Int); ++i) {
    value = static_cast<Int>(value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

bool is_name_part(std::string_view part) {
  if (part.empty() || part.size() > kMaxPartBytes || part.front() == '.') return false;
  for (const char c : part) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!allowed) return false;
  }
  return true;
}

Status write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return core::errno_status("write", path, errno);
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  return Status::ok();
}

// Reads the unpacked bytes of a backup file in order, adding them to its
// checksum.
class BackupReader {
 public:
  BackupReader(std::unique_ptr<snapshot::ZstdFileReader> in, std::string path)
      : in_(std::move(in)), path_(std::move(path)) {}

  // Exactly `size` bytes into `data`; kCorrupt "... ends inside WHAT" when
  // the file ends first.
  Status read(char* data, std::size_t size, std::string_view what, bool hashed = true) {
    std::size_t done = 0;
    while (done < size) {
      Result<std::size_t> got = in_->read(data + done, size - done);
      if (!got.is_ok()) return refused(got.status());
      if (*got == 0) return refused("it ends inside " + std::string(what));
      done += *got;
    }
    if (hashed) sha_.update(std::string_view(data, size));
    return Status::ok();
  }

  template <typename Int>
  Result<Int> read_int(std::string_view what) {
    char bytes[sizeof(Int)];
    LUMBUNG_RETURN_IF_ERROR(read(bytes, sizeof bytes, what));
    return from_big_endian<Int>(bytes);
  }

  // Reads the stored checksum and compares; then the file must end.
  Status check_end() {
    LUMBUNG_ASSIGN_OR_RETURN(Sha256::Digest computed, sha_.digest());
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

  // The unpacking's error, which names the file, as the reason.
  Status refused(const Status& unpacking) const {
    if (unpacking.code() != ErrorCode::kCorrupt) return unpacking;
    const std::string named = "'" + path_ + "' ";
    const std::string& why = unpacking.message();
    return refused(why.starts_with(named) ? "it " + why.substr(named.size()) : why);
  }

  Status refused(const std::string& why) const {
    return Status(ErrorCode::kCorrupt,
                  "'" + path_ + "' is not a whole, intact lumbungd backup: " + why);
  }

 private:
  std::unique_ptr<snapshot::ZstdFileReader> in_;
  const std::string path_;
  Sha256 sha_;
};

// Writes the next `size` bytes of `reader` into the new file `path`, or
// nowhere when `path` is empty.
Status unpack_file(BackupReader& reader, const std::string& name, std::uint64_t size,
                   const std::string& path) {
  UniqueFd out;
  if (!path.empty()) {
    out =
        UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (out.get() < 0) {
      if (errno == EEXIST) return reader.refused("it holds '" + name + "' twice");
      return core::errno_status("create", path, errno);
    }
  }
  std::string buffer(static_cast<std::size_t>(std::min<std::uint64_t>(size, kBufferBytes)), '\0');
  for (std::uint64_t left = size; left > 0;) {
    const std::size_t piece = static_cast<std::size_t>(std::min<std::uint64_t>(left, kBufferBytes));
    LUMBUNG_RETURN_IF_ERROR(reader.read(buffer.data(), piece, "'" + name + "'"));
    if (out.valid()) {
      LUMBUNG_RETURN_IF_ERROR(write_all(out.get(), std::string_view(buffer.data(), piece), path));
    }
    left -= piece;
  }
  if (!out.valid()) return Status::ok();
  if (::fsync(out.get()) != 0) return core::errno_status("sync", path, errno);
  return out.close(path);
}

}  // namespace

bool is_backup_entry_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  const std::size_t slash = name.find('/');
  if (slash == std::string_view::npos) return is_name_part(name);
  return is_name_part(name.substr(0, slash)) && is_name_part(name.substr(slash + 1));
}

BackupFileWriter::BackupFileWriter(std::unique_ptr<snapshot::ZstdFileWriter> out, std::string path)
    : out_(std::move(out)), sha_(std::make_unique<Sha256>()), path_(std::move(path)) {}

BackupFileWriter::~BackupFileWriter() = default;

Result<std::unique_ptr<BackupFileWriter>> BackupFileWriter::create(const std::string& path) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<snapshot::ZstdFileWriter> out,
                           snapshot::ZstdFileWriter::create(path, kZstdLevel));
  std::unique_ptr<BackupFileWriter> writer(new BackupFileWriter(std::move(out), path));
  LUMBUNG_RETURN_IF_ERROR(writer->put(kMagic));
  LUMBUNG_RETURN_IF_ERROR(writer->put(big_endian(kVersion)));
  return writer;
}

Status BackupFileWriter::put(std::string_view bytes) {
  sha_->update(bytes);
  return out_->write(bytes);
}

Status BackupFileWriter::add(const std::string& name, const std::string& source) {
  if (!is_backup_entry_name(name)) {
    return Status(ErrorCode::kInvalidArgument, "'" + name + "' cannot name a file in a backup");
  }
  const UniqueFd in(::open(source.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (in.get() < 0) return core::errno_status("open", source, errno);
  struct stat info {};
  if (::fstat(in.get(), &info) != 0) return core::errno_status("inspect", source, errno);
  if (!S_ISREG(info.st_mode)) {
    return Status(ErrorCode::kInvalidArgument, "'" + source + "' is not a regular file");
  }
  const auto size = static_cast<std::uint64_t>(info.st_size);
  LUMBUNG_RETURN_IF_ERROR(
      put(big_endian(static_cast<std::uint32_t>(name.size())) + name + big_endian(size)));
  std::string buffer(kBufferBytes, '\0');
  for (std::uint64_t left = size; left > 0;) {
    const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(left, kBufferBytes));
    const ssize_t got = ::read(in.get(), buffer.data(), wanted);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return core::errno_status("read", source, errno);
    if (got == 0) {
      return Status(ErrorCode::kIo, "'" + source + "' became shorter while it was copied");
    }
    LUMBUNG_RETURN_IF_ERROR(put(std::string_view(buffer.data(), static_cast<std::size_t>(got))));
    left -= static_cast<std::uint64_t>(got);
  }
  return Status::ok();
}

Status BackupFileWriter::finish() {
  LUMBUNG_RETURN_IF_ERROR(put(big_endian(std::uint32_t{0})));
  LUMBUNG_ASSIGN_OR_RETURN(Sha256::Digest digest, sha_->digest());
  LUMBUNG_RETURN_IF_ERROR(
      out_->write(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size())));
  return out_->finish();
}

Result<std::vector<std::string>> read_backup_file(const std::string& path,
                                                  const std::string& into) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<snapshot::ZstdFileReader> in,
                           snapshot::ZstdFileReader::open(path));
  BackupReader reader(std::move(in), path);
  std::string magic(kMagic.size(), '\0');
  LUMBUNG_RETURN_IF_ERROR(reader.read(magic.data(), magic.size(), "its header"));
  if (magic != kMagic) return reader.refused("it does not begin with \"lumbung-backup\"");
  LUMBUNG_ASSIGN_OR_RETURN(std::uint32_t version, reader.read_int<std::uint32_t>("its header"));
  if (version != kVersion) {
    return Status(ErrorCode::kInvalidArgument,
                  "'" + path + "' is a lumbungd backup of format " + std::to_string(version) +
                      "; this lumbungd reads format " + std::to_string(kVersion));
  }
  std::vector<std::string> names;
  std::set<std::string> made_dirs;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(std::uint32_t name_size,
                             reader.read_int<std::uint32_t>("a file's name"));
    if (name_size == 0) break;
    if (name_size > kMaxNameBytes) return reader.refused("a file's name is too long");
    std::string name(name_size, '\0');
    LUMBUNG_RETURN_IF_ERROR(reader.read(name.data(), name.size(), "a file's name"));
    if (!is_backup_entry_name(name)) {
      return reader.refused("it holds a file named '" + name + "'");
    }
    LUMBUNG_ASSIGN_OR_RETURN(std::uint64_t size, reader.read_int<std::uint64_t>("'" + name + "'"));
    std::string target;
    if (!into.empty()) {
      target = into + "/" + name;
      const std::size_t slash = name.find('/');
      if (slash != std::string::npos && made_dirs.insert(name.substr(0, slash)).second) {
        const std::string dir = into + "/" + name.substr(0, slash);
        if (::mkdir(dir.c_str(), 0700) != 0) return core::errno_status("create", dir, errno);
      }
    }
    LUMBUNG_RETURN_IF_ERROR(unpack_file(reader, name, size, target));
    names.push_back(std::move(name));
  }
  LUMBUNG_RETURN_IF_ERROR(reader.check_end());
  return names;
}

}  // namespace lumbung::server
