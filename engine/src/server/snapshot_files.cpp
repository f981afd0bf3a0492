#include "server/snapshot_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>

#include "auth/private_file.hpp"
#include "core/errno_status.hpp"
#include "core/hex.hpp"

namespace lumbung::server {
namespace {

namespace fs = std::filesystem;

// A file is named HEX-SEQ-ROWS.s2.zst, HEX the village id's bytes in hex: any
// id makes a safe name. "s2": what it holds is of the second format, with
// its rows' versions (replica/snapshot_format.hpp); files of the first, named
// HEX-SEQ-ROWS.zst, are not snapshots any more.
constexpr std::string_view kSuffix = ".s2.zst";
constexpr std::string_view kPackedSuffix = ".zst";

std::string file_name(std::string_view scope, std::int64_t seq, std::int64_t rows) {
  return core::to_hex(scope) + "-" + std::to_string(seq) + "-" + std::to_string(rows) +
         std::string(kSuffix);
}

bool parse_int(std::string_view text, std::int64_t* out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size() && *out >= 0;
}

// The snapshot a file name describes; nullopt for any other file (the
// builder's work files among them).
std::optional<SnapshotFile> parse_name(const fs::directory_entry& entry) {
  std::string name = entry.path().filename().string();
  if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) return std::nullopt;
  name.resize(name.size() - kSuffix.size());
  const std::size_t first = name.find('-');
  const std::size_t second = name.find('-', first == name.npos ? first : first + 1);
  if (first == name.npos || second == name.npos) return std::nullopt;
  const std::string_view hex = std::string_view(name).substr(0, first);
  const std::optional<std::vector<std::uint8_t>> scope = core::from_hex(hex);
  if (!scope || !core::is_lower_hex(hex, hex.size())) return std::nullopt;
  SnapshotFile file;
  file.scope.assign(scope->begin(), scope->end());
  if (!parse_int(std::string_view(name).substr(first + 1, second - first - 1), &file.seq) ||
      !parse_int(std::string_view(name).substr(second + 1), &file.rows)) {
    return std::nullopt;
  }
  std::error_code ec;
  file.bytes = entry.file_size(ec);
  if (ec) return std::nullopt;
  file.path = entry.path().string();
  return file;
}

// Every snapshot in `dir`, by village, newest first.
Result<std::map<std::string, std::vector<SnapshotFile>>> all_snapshots(const std::string& dir) {
  std::map<std::string, std::vector<SnapshotFile>> by_scope;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return by_scope;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (std::optional<SnapshotFile> file = parse_name(entry)) {
      by_scope[file->scope].push_back(std::move(*file));
    }
  }
  if (ec) return Status(ErrorCode::kIo, "cannot list '" + dir + "': " + ec.message());
  for (auto& [scope, files] : by_scope) {
    std::sort(files.begin(), files.end(),
              [](const SnapshotFile& a, const SnapshotFile& b) { return a.seq > b.seq; });
  }
  return by_scope;
}

}  // namespace

std::string snapshot_dir(const std::string& data_dir) { return data_dir + "/" + kSnapshotDirName; }

Result<std::vector<SnapshotFile>> newest_snapshots(const std::string& dir) {
  LUMBUNG_ASSIGN_OR_RETURN(auto by_scope, all_snapshots(dir));
  std::vector<SnapshotFile> newest;
  for (auto& [scope, files] : by_scope) newest.push_back(std::move(files.front()));
  return newest;
}

Result<std::optional<SnapshotFile>> find_snapshot(const std::string& dir, std::string_view scope,
                                                  std::int64_t seq) {
  LUMBUNG_ASSIGN_OR_RETURN(auto by_scope, all_snapshots(dir));
  const auto files = by_scope.find(std::string(scope));
  if (files != by_scope.end()) {
    for (SnapshotFile& file : files->second) {
      if (file.seq == seq) return std::optional<SnapshotFile>(std::move(file));
    }
  }
  return std::optional<SnapshotFile>();
}

Status remove_stale_snapshots(const std::string& dir) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(kPackedSuffix) && !parse_name(entry)) {
      fs::remove(entry.path(), ec);
      if (ec) break;
    }
  }
  if (ec) return Status(ErrorCode::kIo, "cannot clean '" + dir + "': " + ec.message());
  return Status::ok();
}

Result<SnapshotFile> publish_snapshot(const std::string& dir, const std::string& written,
                                      const std::string& scope, std::int64_t seq,
                                      std::int64_t rows) {
  {
    const int fd = ::open(written.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return core::errno_status("open", written, errno);
    const int synced = ::fsync(fd);
    ::close(fd);
    if (synced != 0) return core::errno_status("sync", written, errno);
  }
  const std::string path = dir + "/" + file_name(scope, seq, rows);
  if (::rename(written.c_str(), path.c_str()) != 0)
    return core::errno_status("rename", written, errno);
  LUMBUNG_RETURN_IF_ERROR(auth::sync_dir(dir));
  LUMBUNG_ASSIGN_OR_RETURN(auto by_scope, all_snapshots(dir));
  std::vector<SnapshotFile>& files = by_scope[scope];
  for (std::size_t i = 2; i < files.size(); ++i) ::unlink(files[i].path.c_str());
  return files.front();
}

Result<std::string> read_snapshot_chunk(const SnapshotFile& file, std::uint64_t offset,
                                        std::uint32_t max_bytes) {
  if (offset > file.bytes) {
    return Status(ErrorCode::kInvalidArgument, "offset " + std::to_string(offset) +
                                                   " is past the end of the snapshot (" +
                                                   std::to_string(file.bytes) + " bytes)");
  }
  std::string chunk(std::min<std::uint64_t>(max_bytes, file.bytes - offset), '\0');
  const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // Removed by a rebuild since it was found.
    if (errno == ENOENT) return Status(ErrorCode::kNotFound, "the snapshot is no longer kept");
    return core::errno_status("open", file.path, errno);
  }
  std::size_t done = 0;
  while (done < chunk.size()) {
    const ssize_t got =
        ::pread(fd, chunk.data() + done, chunk.size() - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const Status error = got < 0 ? core::errno_status("read", file.path, errno)
                                   : Status(ErrorCode::kIo, "'" + file.path + "' was truncated");
      ::close(fd);
      return error;
    }
    done += static_cast<std::size_t>(got);
  }
  ::close(fd);
  return chunk;
}

}  // namespace lumbung::server
