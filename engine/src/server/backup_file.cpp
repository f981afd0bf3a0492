#include "server/backup_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>

#include "core/errno_status.hpp"
#include "core/unique_fd.hpp"
#include "server/sealed_file.hpp"

namespace lumbung::server {

namespace {

using core::UniqueFd;

constexpr std::string_view kMagic = "lumbung-backup\n";
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kMaxNameBytes = 511;
constexpr std::size_t kMaxPartBytes = 255;
constexpr std::size_t kBufferBytes = 256 * 1024;
constexpr const char* kKind = "lumbungd backup";

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

// Writes the next `size` bytes of `reader` into the new file `path`, or
// nowhere when `path` is empty.
Status unpack_file(SealedFileReader& reader, const std::string& name, std::uint64_t size,
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

BackupFileWriter::BackupFileWriter(std::unique_ptr<SealedFileWriter> out) : out_(std::move(out)) {}

BackupFileWriter::~BackupFileWriter() = default;

Result<std::unique_ptr<BackupFileWriter>> BackupFileWriter::create(const std::string& path) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<SealedFileWriter> out,
                           SealedFileWriter::create(path, kMagic, kVersion));
  return std::unique_ptr<BackupFileWriter>(new BackupFileWriter(std::move(out)));
}

Status BackupFileWriter::put(std::string_view bytes) { return out_->put(bytes); }

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
  return out_->finish();
}

Result<std::vector<std::string>> read_backup_file(const std::string& path,
                                                  const std::string& into) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<SealedFileReader> opened,
                           SealedFileReader::open(path, kMagic, kVersion, kKind));
  SealedFileReader& reader = *opened;
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
