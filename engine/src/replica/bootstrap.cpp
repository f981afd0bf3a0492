#include "replica/bootstrap.hpp"

#include <cstdio>
#include <filesystem>
#include <set>
#include <utility>

#include "protocol/wire.hpp"
#include "replica/conflict_store.hpp"
#include "replica/identity.hpp"
#include "replica/meta.hpp"
#include "replica/snapshot_format.hpp"
#include "snapshot/zstd_file.hpp"

namespace lumbung::replica {
namespace {

namespace fs = std::filesystem;
using core::quote_identifier;

// _lumbung_meta: the snapshot whose bytes the packed work file holds
// ("SCOPE\nSEQ"), so that a later sync resumes its download.
constexpr const char* kDownloadKey = "snapshot_download";
// A snapshot unpacks to at most this many bytes per byte downloaded: far
// above what SQLite pages of text compress by, far below a zip bomb's.
constexpr std::uint64_t kMaxUnpackRatio = 64;
constexpr std::size_t kIdsPerReport = 1000;

bool cut_short(const Status& status) {
  const ErrorCode code = status.code();
  return code == ErrorCode::kCancelled || code == ErrorCode::kNetwork ||
         code == ErrorCode::kTimeout || code == ErrorCode::kUnavailable;
}

Status refused(const v1::SnapshotInfo& info, const std::string& why) {
  return Status(ErrorCode::kCorrupt, "the snapshot of village '" + info.scope() + "' at seq " +
                                         std::to_string(info.seq()) + " is refused: " + why);
}

// The CREATE statements of the objects of `type` on `tables`, by name.
Result<std::map<std::string, std::string>> schema_sql(db::Database& db, const char* type,
                                                      const std::set<std::string>& tables) {
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::prepared(
          db, "SELECT name, sql, tbl_name FROM sqlite_master WHERE type = ?1 AND sql IS NOT NULL",
          {Value(type)}));
  std::map<std::string, std::string> objects;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) return objects;
    if (tables.count(query.text(2)) > 0) objects.emplace(query.text(0), query.text(1));
  }
}

}  // namespace

Bootstrapper::Bootstrapper(db::Database& db, const core::Schema& schema, std::string path)
    : db_(db),
      schema_(schema),
      path_(std::move(path)),
      packed_path_(path_ + "-snapshot.zst"),
      unpacked_path_(path_ + "-snapshot.db") {}

Result<bool> Bootstrapper::eligible() {
  std::error_code ec;
  if (!fs::is_regular_file(path_, ec)) return false;
  std::vector<std::string> holds_anything = {
      "SELECT 1 FROM _lumbung_scope", "SELECT 1 FROM _lumbung_outbox", "SELECT 1 FROM _lumbung_log",
      "SELECT 1 FROM _lumbung_refused", "SELECT 1 FROM _lumbung_conflict"};
  for (const core::Table& table : schema_.tables) {
    holds_anything.push_back("SELECT 1 FROM " + quote_identifier(table.name));
  }
  for (const std::string& sql : holds_anything) {
    Result<bool> found = db::returns_row(db_, sql);
    if (!found.is_ok()) return found;
    if (*found) return false;
  }
  return true;
}

Result<BootstrapResult> Bootstrapper::run(
    Exchanger& exchanger, std::uint32_t chunk_bytes,
    const std::function<void(const std::vector<ChangedRows>&)>& on_rows) {
  BootstrapResult result;
  LUMBUNG_ASSIGN_OR_RETURN(v1::RequestHeader header, request_header(db_, schema_));
  v1::SnapshotRequest list;
  *list.mutable_header() = header;
  v1::SnapshotResponse listed;
  const Status asked = exchanger.exchange(protocol::make_request("/v1/snapshot", list), &listed);
  if (asked.code() == ErrorCode::kCancelled) return asked;
  if (!asked.is_ok()) return result;  // a server without snapshots: pull
  for (const v1::SnapshotInfo& info : listed.snapshots()) {
    const Status downloaded = download(exchanger, header, info, chunk_bytes);
    // A download cut short stays for the next sync to resume; the sync
    // fails, as a pull over the same link would.
    if (cut_short(downloaded)) {
      return Status(downloaded.code(), "snapshot download: " + downloaded.message());
    }
    Result<std::int64_t> rows = downloaded.is_ok() ? unpack_and_adopt(info) : downloaded;
    remove_work_files();
    if (!rows.is_ok()) continue;  // pulled instead, from this scope's cursor 0
    result.rows += *rows;
    if (on_rows) LUMBUNG_RETURN_IF_ERROR(report_rows(info.scope(), on_rows));
  }
  if (result.rows > 0) {
    LUMBUNG_ASSIGN_OR_RETURN(std::vector<ConflictRecord> conflicts, load_conflicts(db_));
    result.conflicts = std::move(conflicts);
  }
  return result;
}

Result<std::int64_t> Bootstrapper::unpack_and_adopt(const v1::SnapshotInfo& info) {
  LUMBUNG_RETURN_IF_ERROR(snapshot::decompress_file(packed_path_, unpacked_path_,
                                                    kMaxUnpackRatio * (info.bytes() + 1)));
  LUMBUNG_RETURN_IF_ERROR(prepare(info));
  return adopt(info);
}

Status Bootstrapper::download(Exchanger& exchanger, const v1::RequestHeader& header,
                              const v1::SnapshotInfo& info, std::uint32_t chunk_bytes) {
  const std::string which = info.scope() + "\n" + std::to_string(info.seq());
  LUMBUNG_ASSIGN_OR_RETURN(std::string resumable, read_meta(db_, kDownloadKey));
  std::error_code ec;
  std::uint64_t offset = 0;
  if (resumable == which && fs::is_regular_file(packed_path_, ec)) {
    offset = fs::file_size(packed_path_, ec);
    if (ec || offset > info.bytes()) offset = 0;
  }
  if (offset == 0) {
    LUMBUNG_RETURN_IF_ERROR(write_meta(db_, kDownloadKey, Value(which)));
  }
  std::FILE* file = std::fopen(packed_path_.c_str(), offset == 0 ? "wb" : "r+b");
  if (!file) return Status(ErrorCode::kIo, "cannot open '" + packed_path_ + "'");
  std::fseek(file, static_cast<long>(offset), SEEK_SET);
  Status status;
  while (status.is_ok() && offset < info.bytes()) {
    v1::SnapshotRequest request;
    *request.mutable_header() = header;
    request.set_scope(info.scope());
    request.set_seq(info.seq());
    request.set_offset(offset);
    request.set_max_bytes(chunk_bytes);
    v1::SnapshotResponse chunk;
    status = exchanger.exchange(protocol::make_request("/v1/snapshot", request), &chunk);
    if (!status.is_ok()) break;
    if (chunk.data().empty()) {
      status = refused(info, "the server sent no bytes at offset " + std::to_string(offset));
    } else if (offset + chunk.data().size() > info.bytes()) {
      status = refused(info, "the server sent more bytes than the listing said");
    } else if (std::fwrite(chunk.data().data(), 1, chunk.data().size(), file) !=
                   chunk.data().size() ||
               std::fflush(file) != 0) {
      status = Status(ErrorCode::kIo, "cannot write '" + packed_path_ + "'");
    }
    offset += chunk.data().size();
  }
  std::fclose(file);
  return status;
}

Status Bootstrapper::prepare(const v1::SnapshotInfo& info) {
  Result<std::unique_ptr<db::Database>> opened = db::Database::open(unpacked_path_, false);
  if (!opened.is_ok()) return refused(info, opened.status().message());
  db::Database& snapshot = **opened;
  // No quick_check (it would cost a third of the adoption): the file came
  // whole (zstd's checksum) from the server the device trusts with its data;
  // SQLite reads it defensively; and the checksum comparison after the pull
  // reads every adopted cell (decision 0017).
  LUMBUNG_RETURN_IF_ERROR(snapshot.exec("PRAGMA cell_size_check = ON"));
  // Only the device's own tables, made by the same statements as the
  // replica's, and their key indexes: no trigger, view or other object that
  // could run code or change what a copy means.
  const std::set<std::string> tables = snapshot_tables(schema_);
  LUMBUNG_ASSIGN_OR_RETURN(auto mine, schema_sql(db_, "table", tables));
  std::set<std::string> expected = tables;
  expected.insert(kSnapshotStamp);
  {
    Result<db::Statement> objects =
        snapshot.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master");
    if (!objects.is_ok()) return refused(info, objects.status().message());
    std::set<std::string> seen;
    for (;;) {
      Result<bool> row = objects->step();
      if (!row.is_ok()) return refused(info, row.status().message());
      if (!*row) break;
      const std::string type = objects->column_text(0), name = objects->column_text(1);
      const bool key_index = type == "index" && objects->column(3).is_null() &&
                             expected.count(objects->column_text(2)) > 0;
      if (key_index) continue;
      if (type != "table" || expected.count(name) == 0) {
        return refused(info, "it holds an unexpected " + type + " '" + name + "'");
      }
      if (name != kSnapshotStamp && objects->column_text(3) != mine[name]) {
        return refused(info, "its table '" + name + "' differs from this replica's");
      }
      seen.insert(name);
    }
    if (seen != expected) return refused(info, "it lacks some of the schema's tables");
  }
  Result<db::Statement> stamp = snapshot.prepare("SELECT scope, seq FROM _lumbung_snapshot");
  if (!stamp.is_ok()) return refused(info, stamp.status().message());
  Result<bool> stamped = stamp->step();
  if (!stamped.is_ok() || !*stamped || stamp->column_text(0) != info.scope() ||
      stamp->column_int(1) != info.seq()) {
    return refused(info, "it is not the snapshot listed");
  }
  for (const core::Table& table : schema_.tables) {
    Result<bool> foreign =
        db::returns_row(snapshot,
                        "SELECT 1 FROM " + quote_identifier(table.name) + " WHERE " +
                            quote_identifier(table.scope_column) + " IS NOT ?1",
                        {Value(info.scope())});
    if (!foreign.is_ok() || *foreign) {
      return refused(info, "its table '" + table.name + "' holds rows of another village");
    }
  }
  Result<bool> foreign_versions =
      db::returns_row(snapshot,
                      std::string("SELECT 1 FROM ") + kSnapshotVersions +
                          " WHERE col = '' AND (scope IS NOT ?1 OR deleted <> 0)",
                      {Value(info.scope())});
  if (!foreign_versions.is_ok() || *foreign_versions) {
    return refused(info, "it holds versions of another village's rows, or of deleted ones");
  }
  // Only the tables that hold rows are copied.
  filled_.clear();
  for (const std::string& table : tables) {
    Result<bool> any = db::returns_row(snapshot, "SELECT 1 FROM " + quote_identifier(table));
    if (!any.is_ok()) return refused(info, any.status().message());
    if (*any) filled_.insert(table);
  }
  // The same indexes as the replica's tables have (the app's own among
  // them), so that the copy moves them whole too. A work file: unjournaled,
  // one transaction.
  LUMBUNG_ASSIGN_OR_RETURN(auto indexes, schema_sql(db_, "index", filled_));
  LUMBUNG_RETURN_IF_ERROR(snapshot.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF"));
  const Status built = db::in_transaction(snapshot, [&]() -> Status {
    for (const auto& [name, sql] : indexes) LUMBUNG_RETURN_IF_ERROR(snapshot.exec(sql));
    return Status::ok();
  });
  return built.is_ok() ? built : refused(info, built.message());
}

Result<std::int64_t> Bootstrapper::adopt(const v1::SnapshotInfo& info) {
  // Triggers fire on no write of this connection (decision 0016), but while
  // a table has any, SQLite copies it row by row: the capture triggers and
  // any of the app's go for the copy and come back, as they were, before it
  // commits.
  LUMBUNG_ASSIGN_OR_RETURN(auto triggers, schema_sql(db_, "trigger", filled_));
  // Pages of the snapshot are read through this connection now.
  LUMBUNG_RETURN_IF_ERROR(db_.exec("PRAGMA cell_size_check = ON"));
  LUMBUNG_RETURN_IF_ERROR(db::run(db_, "ATTACH ?1 AS lumbung_snapshot", {Value(unpacked_path_)}));
  std::int64_t rows = 0;
  // SQLite copies a table into an empty one with the same definition and
  // indexes record by record, without decoding rows.
  Status copied = db::in_transaction(db_, [&]() -> Status {
    for (const auto& [name, sql] : triggers) {
      LUMBUNG_RETURN_IF_ERROR(db_.exec("DROP TRIGGER " + quote_identifier(name)));
    }
    for (const std::string& table : filled_) {
      const std::string quoted = quote_identifier(table);
      LUMBUNG_RETURN_IF_ERROR(
          db_.exec("INSERT INTO main." + quoted + " SELECT * FROM lumbung_snapshot." + quoted));
      if (schema_.find_table(table) != nullptr) rows += sqlite3_changes(db_.handle());
    }
    for (const auto& [name, sql] : triggers) LUMBUNG_RETURN_IF_ERROR(db_.exec(sql));
    LUMBUNG_RETURN_IF_ERROR(
        db::run(db_, "INSERT OR REPLACE INTO _lumbung_scope (scope, cursor) VALUES (?1, ?2)",
                {Value(info.scope()), Value(info.seq())}));
    return write_meta(db_, kDownloadKey, Value(""));
  });
  const Status detached = db_.exec("DETACH lumbung_snapshot; PRAGMA cell_size_check = OFF");
  if (!copied.is_ok()) return copied;
  if (!detached.is_ok()) return detached;
  return rows;
}

Status Bootstrapper::report_rows(
    const std::string& scope, const std::function<void(const std::vector<ChangedRows>&)>& on_rows) {
  for (const core::Table& table : schema_.tables) {
    LUMBUNG_ASSIGN_OR_RETURN(
        db::Query ids,
        db::Query::prepared(db_,
                            "SELECT \"id\" FROM " + quote_identifier(table.name) + " WHERE " +
                                quote_identifier(table.scope_column) + " = ?1",
                            {Value(scope)}));
    std::vector<ChangedRows> batch{ChangedRows{table.name, {}}};
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool row, ids.step());
      if (row) batch[0].ids.push_back(ids.text(0));
      if (batch[0].ids.size() == kIdsPerReport || (!row && !batch[0].ids.empty())) {
        on_rows(batch);
        batch[0].ids.clear();
      }
      if (!row) break;
    }
  }
  return Status::ok();
}

void Bootstrapper::remove_work_files() {
  std::error_code ec;
  fs::remove(packed_path_, ec);
  fs::remove(unpacked_path_, ec);
}

}  // namespace lumbung::replica
