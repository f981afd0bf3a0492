#include "server/restore.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "auth/private_file.hpp"
#include "auth/token_authority.hpp"
#include "core/errno_status.hpp"
#include "core/removal_guard.hpp"
#include "db/database.hpp"
#include "db/file_format.hpp"
#include "server/backup_file.hpp"
#include "server/epoch.hpp"
#include "server/open_store.hpp"
#include "server/snapshot_files.hpp"
#include "server/sqlite_store.hpp"
#include "server/store_migration.hpp"

namespace lumbung::server {
namespace {

namespace fs = std::filesystem;

constexpr const char* kStagingName = "restore-staging";
constexpr const char* kCommittedMark = "committed";

// A part of a data directory's state that a restore replaces.
struct StatePart {
  const char* name;
  bool sqlite;  // with the files SQLite keeps beside it
};

constexpr StatePart kStateParts[] = {{kStoreFileName, true},
                                     {auth::kCredentialsFileName, true},
                                     {auth::kKeysDirName, false},
                                     {kSnapshotDirName, false}};

Status io_error(const std::string& what, const std::error_code& ec) {
  return Status(ErrorCode::kIo, "cannot " + what + ": " + ec.message());
}

Status make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0) return core::errno_status("create directory", path, errno);
  return Status::ok();
}

Status move(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return core::errno_status("move '" + from + "' to", to, errno);
  }
  return Status::ok();
}

// Moves the committed new state from the staging folder into `data_dir`,
// each part's old version (and its SQLite files) aside first, then removes
// the staging folder. What a crash left half-done is done again: a part whose
// new version is no longer staged was moved in already.
Status move_in(const std::string& data_dir) {
  const std::string staging = data_dir + "/" + kStagingName;
  const std::string fresh = staging + "/new";
  const std::string old = staging + "/old";
  if (::mkdir(old.c_str(), 0700) != 0 && errno != EEXIST) {
    return core::errno_status("create directory", old, errno);
  }
  std::error_code ec;
  for (const StatePart& part : kStateParts) {
    if (!fs::exists(fresh + "/" + part.name, ec)) continue;
    std::vector<std::string> names;
    if (part.sqlite) {
      for (const char* suffix : db::kSidecarSuffixes) {
        names.push_back(part.name + std::string(suffix));
      }
    }
    names.emplace_back(part.name);
    for (const std::string& name : names) {
      fs::remove_all(old + "/" + name, ec);
      if (ec) return io_error("remove '" + old + "/" + name + "'", ec);
      if (fs::exists(fs::symlink_status(data_dir + "/" + name, ec))) {
        LUMBUNG_RETURN_IF_ERROR(move(data_dir + "/" + name, old + "/" + name));
      }
    }
    LUMBUNG_RETURN_IF_ERROR(move(fresh + "/" + part.name, data_dir + "/" + part.name));
  }
  LUMBUNG_RETURN_IF_ERROR(auth::sync_dir(data_dir));
  fs::remove_all(staging, ec);
  if (ec) return io_error("remove '" + staging + "'", ec);
  return auth::sync_dir(data_dir);
}

Status finish_interrupted_restore(const std::string& data_dir) {
  const std::string staging = data_dir + "/" + kStagingName;
  std::error_code ec;
  if (!fs::exists(staging, ec)) return Status::ok();
  if (fs::exists(staging + "/" + kCommittedMark, ec)) return move_in(data_dir);
  fs::remove_all(staging, ec);
  if (ec) return io_error("remove '" + staging + "'", ec);
  return Status::ok();
}

// kCorrupt unless the file `name` unpacked from `from` into `fresh` is a
// SQLite file that passes its integrity check.
Status check_sqlite_file(const std::string& fresh, const std::string& name,
                         const std::string& from) {
  const std::string path = fresh + "/" + name;
  Result<std::unique_ptr<db::Database>> db = db::Database::open(path, false);
  const Status checked = db.is_ok() ? db::check_integrity(**db, path) : db.status();
  if (checked.is_ok()) return checked;
  return Status(ErrorCode::kCorrupt,
                "'" + from + "' holds a damaged " + name + ": " + checked.message());
}

// The names a backup file holds must be parts of a data directory's state,
// its store among them.
Status check_names(const std::vector<std::string>& names, const std::string& from) {
  bool has_store = false;
  for (const std::string& name : names) {
    const std::string_view dir = std::string_view(name).substr(0, name.find('/'));
    const bool in_dir = dir.size() < name.size();
    has_store = has_store || name == kStoreFileName;
    if (in_dir ? dir != auth::kKeysDirName && dir != kSnapshotDirName
               : name != kStoreFileName && name != auth::kCredentialsFileName) {
      return Status(ErrorCode::kCorrupt, "'" + from + "' holds '" + name +
                                             "', which is no part of a lumbungd data directory");
    }
  }
  if (!has_store) {
    return Status(ErrorCode::kCorrupt, "'" + from + "' holds no store (" + kStoreFileName + ")");
  }
  return Status::ok();
}

// Whether `data_dir` holds anything but its lock file.
Result<bool> holds_anything(const std::string& data_dir) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(data_dir, ec)) {
    if (entry.path().filename() != kLockFileName) return true;
  }
  if (ec) return io_error("list '" + data_dir + "'", ec);
  return false;
}

// Checks the unpacked state in `fresh` as the daemon will open it, completes
// what it lacks (snapshots/, and keys and credentials for a backup of a
// daemon that never had them) and begins a new epoch in its store.
Result<RestoreSummary> prepare_state(const std::string& fresh, const std::string& from) {
  const std::string store = fresh + "/" + kStoreFileName;
  LUMBUNG_RETURN_IF_ERROR(check_sqlite_file(fresh, kStoreFileName, from));
  {
    LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> db, db::Database::open(store, false));
    LUMBUNG_ASSIGN_OR_RETURN(const int format, db::user_version(*db));
    if (format == 0) {
      return Status(ErrorCode::kCorrupt, "'" + from + "' holds no lumbungd store: its " +
                                             kStoreFileName + " has no lumbungd tables");
    }
  }
  std::error_code ec;
  if (fs::exists(fresh + "/" + auth::kCredentialsFileName, ec)) {
    LUMBUNG_RETURN_IF_ERROR(check_sqlite_file(fresh, auth::kCredentialsFileName, from));
  }
  const std::string snapshots = fresh + "/" + kSnapshotDirName;
  if (!fs::exists(snapshots, ec)) LUMBUNG_RETURN_IF_ERROR(make_dir(snapshots));
  {
    LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<auth::TokenAuthority> authority,
                             auth::TokenAuthority::open(fresh, nullptr));
  }
  RestoreSummary summary;
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> opened, SqliteStore::open(fresh));
  LUMBUNG_RETURN_IF_ERROR(opened->write([&](WriteTransaction& txn) -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(std::string epoch, begin_epoch(txn));
    LUMBUNG_ASSIGN_OR_RETURN(std::int64_t last_seq, txn.last_seq());
    summary.epoch = std::move(epoch);
    summary.last_seq = last_seq;
    return Status::ok();
  }));
  return summary;
}

// Syncs the staged state in `fresh` and writes the commit mark in `staging`.
// With a PostgreSQL store, the staged store and credentials, loaded into the
// database, are removed first: DIR keeps only the keys and snapshots.
Status seal(const std::string& staging, const std::string& fresh, bool in_postgresql) {
  std::error_code ec;
  for (const char* name : {kStoreFileName, auth::kCredentialsFileName}) {
    if (!in_postgresql) break;
    for (const char* suffix :
         {"", db::kSidecarSuffixes[0], db::kSidecarSuffixes[1], db::kSidecarSuffixes[2]}) {
      const std::string path = fresh + "/" + name + std::string(suffix);
      fs::remove(path, ec);
      if (ec) return io_error("remove '" + path + "'", ec);
    }
  }
  for (const char* dir : {auth::kKeysDirName, kSnapshotDirName}) {
    LUMBUNG_RETURN_IF_ERROR(auth::sync_dir(fresh + "/" + dir));
  }
  LUMBUNG_RETURN_IF_ERROR(auth::sync_dir(fresh));
  return auth::write_private_file(staging + "/" + kCommittedMark, "");
}

// Everything up to the commit: checks `from` whole, unpacks it into the
// staging folder, checks and prepares the state there and writes the commit
// mark; with `store_url`, loads the store and credentials into the database
// first (their commit point) and leaves only keys and snapshots staged. On
// failure, the staging folder is removed.
Result<RestoreSummary> stage(const std::string& from, const std::string& data_dir, bool force,
                             const std::string& store_url) {
  if (!force) {
    LUMBUNG_ASSIGN_OR_RETURN(bool occupied, holds_anything(data_dir));
    if (occupied) {
      return Status(ErrorCode::kInvalidArgument, "data directory '" + data_dir +
                                                     "' is not empty: 'lumbungd restore --force' "
                                                     "replaces its state");
    }
  }
  // The whole file is read and checked once before anything is written.
  LUMBUNG_ASSIGN_OR_RETURN(std::vector<std::string> checked, read_backup_file(from, ""));
  LUMBUNG_RETURN_IF_ERROR(check_names(checked, from));

  const std::string staging = data_dir + "/" + kStagingName;
  LUMBUNG_RETURN_IF_ERROR(make_dir(staging));
  core::RemovalGuard staged(staging);
  const std::string fresh = staging + "/new";
  LUMBUNG_RETURN_IF_ERROR(make_dir(fresh));
  LUMBUNG_ASSIGN_OR_RETURN(std::vector<std::string> names, read_backup_file(from, fresh));
  LUMBUNG_RETURN_IF_ERROR(check_names(names, from));
  LUMBUNG_ASSIGN_OR_RETURN(RestoreSummary summary, prepare_state(fresh, from));
  if (store_url.empty()) {
    LUMBUNG_RETURN_IF_ERROR(seal(staging, fresh, false));
    staged.keep();
    return summary;
  }
  LUMBUNG_RETURN_IF_ERROR(load_store_into_postgresql(fresh, store_url, force).status());
  // The database holds the restored store: DIR gets the keys and snapshots.
  const Status sealed = seal(staging, fresh, true);
  if (!sealed.is_ok()) {
    return Status(sealed.code(), sealed.message() +
                                     " (the database holds the restored store already; the same "
                                     "'lumbungd restore --force' run again puts the keys in '" +
                                     data_dir + "')");
  }
  staged.keep();
  return summary;
}

}  // namespace

Result<std::unique_ptr<DataDirLock>> lock_data_dir(const std::string& data_dir) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<DataDirLock> lock, DataDirLock::acquire(data_dir));
  LUMBUNG_RETURN_IF_ERROR(finish_interrupted_restore(data_dir));
  return lock;
}

Result<RestoreSummary> restore_backup(const RestoreOptions& options) {
  LUMBUNG_RETURN_IF_ERROR(check_store_url(options.store_url));
  std::error_code ec;
  if (!fs::is_regular_file(options.from, ec)) {
    return Status(ErrorCode::kNotFound, "backup file '" + options.from + "' does not exist");
  }
  fs::path absolute = fs::absolute(options.data_dir, ec).lexically_normal();
  if (!absolute.has_filename()) absolute = absolute.parent_path();
  const std::string data_dir = absolute.string();
  const bool existed = fs::exists(data_dir, ec);
  Result<std::unique_ptr<DataDirLock>> lock = lock_data_dir(data_dir);
  if (!lock.is_ok()) {
    if (!existed) fs::remove(data_dir, ec);  // only if it is still empty
    return lock.status();
  }
  Result<RestoreSummary> summary = stage(options.from, data_dir, options.force, options.store_url);
  if (!summary.is_ok()) {
    (*lock)->abandon();
    if (!existed) fs::remove_all(data_dir, ec);
    return summary.status();
  }
  // Committed: from here on the new state is the data directory's.
  const Status moved = move_in(data_dir);
  if (!moved.is_ok()) {
    return Status(moved.code(), moved.message() +
                                    " (the restore is committed: the next 'lumbungd serve' or "
                                    "'lumbungd restore' on '" +
                                    data_dir + "' finishes it)");
  }
  summary->data_dir = data_dir;
  return summary;
}

}  // namespace lumbung::server
