#include "server/backup.hpp"

#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <vector>

#include "auth/private_file.hpp"
#include "auth/token_authority.hpp"
#include "core/errno_status.hpp"
#include "core/removal_guard.hpp"
#include "db/database.hpp"
#include "server/backup_file.hpp"
#include "server/open_store.hpp"
#include "server/snapshot_files.hpp"
#include "server/sqlite_store.hpp"
#include "server/store_migration.hpp"

namespace lumbung::server {
namespace {

namespace fs = std::filesystem;

// Copies the SQLite file `from` into the new file `to` (mode 0600).
Status copy_sqlite_file(const std::string& from, const std::string& to) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> source, db::Database::open(from, false));
  LUMBUNG_RETURN_IF_ERROR(source->exec("PRAGMA busy_timeout = 5000"));
  return db::copy_database(*source, to);
}

// kInternal when the closed SQLite copy `path` kept its log beside it: the
// backup holds the file alone.
Status check_no_log(const std::string& path) {
  const std::string wal = path + db::kSidecarSuffixes[0];
  std::error_code ec;
  if (fs::exists(wal, ec)) {
    return Status(ErrorCode::kInternal, "the copy '" + path + "' kept its log '" + wal + "'");
  }
  return Status::ok();
}

// The last seq of the store copied into `dir`.
Result<std::int64_t> copied_last_seq(const std::string& dir) {
  std::int64_t last_seq = 0;
  {
    LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> copy, SqliteStore::open(dir));
    LUMBUNG_RETURN_IF_ERROR(copy->read([&](ReadTransaction& txn) -> Status {
      LUMBUNG_ASSIGN_OR_RETURN(std::int64_t seq, txn.last_seq());
      last_seq = seq;
      return Status::ok();
    }));
  }
  // Closed: the copy is its one file again, which is what the backup holds.
  LUMBUNG_RETURN_IF_ERROR(check_no_log(dir + "/" + kStoreFileName));
  return last_seq;
}

// The regular files in `dir`, by name; none when it does not exist.
Result<std::vector<std::string>> files_in(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && !entry.is_symlink(ec)) {
      names.push_back(entry.path().filename().string());
    }
  }
  if (ec) return Status(ErrorCode::kIo, "cannot list '" + dir + "': " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Result<BackupSummary> back_up(const BackupOptions& options) {
  const std::string& data_dir = options.data_dir;
  const std::string store = data_dir + "/" + kStoreFileName;
  const bool in_postgresql = !options.store_url.empty();
  LUMBUNG_RETURN_IF_ERROR(check_store_url(options.store_url));
  std::error_code ec;
  if (in_postgresql && !fs::is_directory(data_dir, ec)) {
    return Status(ErrorCode::kNotFound,
                  "data directory '" + data_dir + "' does not exist (it holds the signing keys)");
  }
  if (!in_postgresql && !fs::is_regular_file(store, ec)) {
    return Status(ErrorCode::kNotFound,
                  "data directory '" + data_dir + "' holds no store ('" + store + "')");
  }
  const std::string out = fs::absolute(options.out, ec).lexically_normal().string();
  if (ec || out.ends_with('/') || fs::is_directory(out, ec)) {
    return Status(ErrorCode::kInvalidArgument,
                  "cannot write the backup to '" + options.out + "': not a file name");
  }
  // Everything is written in a folder of its own beside `out`, renamed into
  // place when whole.
  std::string scratch_path = out + ".tmp-XXXXXX";
  if (::mkdtemp(scratch_path.data()) == nullptr) {
    return core::errno_status("write the backup to", out, errno);
  }
  const core::RemovalGuard scratch(scratch_path);
  const std::string written = scratch.path() + "/backup";
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<BackupFileWriter> writer,
                           BackupFileWriter::create(written));

  if (options.with_snapshots) {
    LUMBUNG_ASSIGN_OR_RETURN(std::vector<SnapshotFile> snapshots,
                             newest_snapshots(snapshot_dir(data_dir)));
    for (const SnapshotFile& snapshot : snapshots) {
      LUMBUNG_RETURN_IF_ERROR(writer->add(
          std::string(kSnapshotDirName) + "/" + fs::path(snapshot.path).filename().string(),
          snapshot.path));
    }
  }
  BackupSummary summary;
  const std::string credentials_copy = scratch.path() + "/" + auth::kCredentialsFileName;
  if (in_postgresql) {
    // The store and the credentials, of one moment of the database.
    LUMBUNG_RETURN_IF_ERROR(
        copy_store_out_of_postgresql(options.store_url, scratch.path()).status());
  } else {
    LUMBUNG_RETURN_IF_ERROR(copy_sqlite_file(store, scratch.path() + "/" + kStoreFileName));
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::int64_t last_seq, copied_last_seq(scratch.path()));
  summary.last_seq = last_seq;
  LUMBUNG_RETURN_IF_ERROR(writer->add(kStoreFileName, scratch.path() + "/" + kStoreFileName));

  const std::string credentials = data_dir + "/" + auth::kCredentialsFileName;
  if (!in_postgresql && fs::exists(credentials, ec)) {
    LUMBUNG_RETURN_IF_ERROR(copy_sqlite_file(credentials, credentials_copy));
  }
  if (fs::exists(credentials_copy, ec)) {
    LUMBUNG_RETURN_IF_ERROR(check_no_log(credentials_copy));
    LUMBUNG_RETURN_IF_ERROR(writer->add(auth::kCredentialsFileName, credentials_copy));
  }
  const std::string keys = data_dir + "/" + auth::kKeysDirName;
  LUMBUNG_ASSIGN_OR_RETURN(std::vector<std::string> key_files, files_in(keys));
  for (const std::string& name : key_files) {
    LUMBUNG_RETURN_IF_ERROR(
        writer->add(std::string(auth::kKeysDirName) + "/" + name, keys + "/" + name));
  }
  LUMBUNG_RETURN_IF_ERROR(writer->finish());

  if (::rename(written.c_str(), out.c_str()) != 0) {
    return core::errno_status("write the backup to", out, errno);
  }
  LUMBUNG_RETURN_IF_ERROR(auth::sync_dir(fs::path(out).parent_path().string()));
  struct stat info {};
  if (::stat(out.c_str(), &info) != 0) return core::errno_status("inspect", out, errno);
  summary.path = out;
  summary.bytes = static_cast<std::uint64_t>(info.st_size);
  return summary;
}

}  // namespace lumbung::server
