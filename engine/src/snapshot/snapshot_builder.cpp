#include "snapshot/snapshot_builder.hpp"

#include <filesystem>
#include <utility>

#include "auth/private_file.hpp"
#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/replica.hpp"
#include "replica/snapshot_format.hpp"
#include "server/snapshot_files.hpp"
#include "server/sync_server.hpp"
#include "snapshot/zstd_file.hpp"

namespace lumbung::snapshot {
namespace {

namespace fs = std::filesystem;
using core::quote_identifier;

// Requests handed to the SyncServer in this process. A pull that does not
// wait is answered before handle() returns.
class InProcessTransport : public Transport {
 public:
  explicit InProcessTransport(server::SyncServer& server) : server_(server) {}
  Result<HttpResponse> exchange(const HttpRequest& request) override {
    std::optional<HttpResponse> answer;
    server_.handle(request, [&answer](HttpResponse response) { answer = std::move(response); });
    if (!answer) return Status(ErrorCode::kInternal, "the server did not answer at once");
    return std::move(*answer);
  }

 private:
  server::SyncServer& server_;
};

// The builder's replica, named by schema version and snapshot format: a new
// one of either starts a new replica, whose tables are made as a fresh
// device of that version makes them, and whose rows carry their versions.
Result<std::string> builder_replica(const std::string& dir, int schema_version) {
  const std::string name = "build-s2-v" + std::to_string(schema_version) + ".db";
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string other = entry.path().filename().string();
    if (other.starts_with("build-") && !other.starts_with(name)) fs::remove(entry.path(), ec);
  }
  if (ec) return Status(ErrorCode::kIo, "cannot clean '" + dir + "': " + ec.message());
  return dir + "/" + name;
}

// The CREATE TABLE statement of `table` in `db`, as SQLite keeps it.
Result<std::string> table_sql(db::Database& db, const std::string& table) {
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::prepared(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                          {Value(table)}));
  LUMBUNG_ASSIGN_OR_RETURN(const bool found, query.step());
  if (!found) return Status(ErrorCode::kInternal, "the builder's replica has no table " + table);
  return query.text(0);
}

// Copies `scope`'s rows and conflicts from the builder's replica `db` into
// the new file `path`; returns the number of rows.
Result<std::int64_t> copy_scope(db::Database& db, const core::Schema& schema,
                                const std::string& scope, std::int64_t seq,
                                const std::string& path) {
  {
    LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> out, db::Database::open(path, true));
    LUMBUNG_RETURN_IF_ERROR(out->exec("PRAGMA journal_mode = OFF"));
    for (const std::string& table : replica::snapshot_tables(schema)) {
      LUMBUNG_ASSIGN_OR_RETURN(std::string sql, table_sql(db, table));
      LUMBUNG_RETURN_IF_ERROR(out->exec(sql));
    }
    LUMBUNG_RETURN_IF_ERROR(out->exec(replica::kCreateSnapshotStamp));
  }
  LUMBUNG_RETURN_IF_ERROR(db::run(db, "ATTACH ?1 AS snapshot", {Value(path)}));
  std::int64_t rows = 0;
  Status copied = db::in_transaction(db, [&]() -> Status {
    for (const core::Table& table : schema.tables) {
      const std::string name = quote_identifier(table.name);
      // In id order: each table and its key index are written front to back.
      LUMBUNG_RETURN_IF_ERROR(db::run(db,
                                      "INSERT INTO snapshot." + name + " SELECT * FROM main." +
                                          name + " WHERE " + quote_identifier(table.scope_column) +
                                          " = ?1 ORDER BY \"id\"",
                                      {Value(scope)}));
      rows += sqlite3_changes(db.handle());
    }
    LUMBUNG_RETURN_IF_ERROR(db::run(db,
                                    "INSERT INTO snapshot._lumbung_conflict SELECT * FROM "
                                    "main._lumbung_conflict WHERE scope = ?1 ORDER BY id",
                                    {Value(scope)}));
    LUMBUNG_RETURN_IF_ERROR(
        db::run(db,
                "INSERT INTO snapshot._lumbung_version SELECT v.* FROM main._lumbung_version AS v "
                "JOIN main._lumbung_version AS r ON r.tbl = v.tbl AND r.row_id = v.row_id AND "
                "r.col = '' WHERE r.scope = ?1 AND r.deleted = 0 ORDER BY v.tbl, v.row_id, v.col",
                {Value(scope)}));
    return db::run(db, "INSERT INTO snapshot._lumbung_snapshot VALUES (?1, ?2, ?3)",
                   {Value(scope), Value(seq), Value(rows)});
  });
  const Status detached = db.exec("DETACH snapshot");
  if (!copied.is_ok()) return copied;
  if (!detached.is_ok()) return detached;
  return rows;
}

}  // namespace

Result<std::vector<BuiltSnapshot>> build_snapshots(const SnapshotBuildOptions& options) {
  server::ServerOptions server_options;
  server_options.data_dir = options.data_dir;
  server_options.store_url = options.store_url;
  server_options.schema_text = options.schema_text;
  server_options.schema_source = options.schema_source;
  server_options.insecure_no_auth = true;  // in process: no request comes from outside
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<server::SyncServer> server,
                           server::SyncServer::open(server_options));
  const core::Schema& schema = server->schema();

  const std::string dir = server::snapshot_dir(options.data_dir);
  LUMBUNG_RETURN_IF_ERROR(auth::make_owner_only_dir(dir));
  std::error_code ec;
  LUMBUNG_ASSIGN_OR_RETURN(std::string replica_path, builder_replica(dir, schema.version));
  LUMBUNG_RETURN_IF_ERROR(server::remove_stale_snapshots(dir));
  {
    ReplicaOptions replica_options;
    replica_options.path = replica_path;
    replica_options.schema_text = server->schema_text();
    replica_options.schema_source = options.schema_source;
    replica_options.device_id = "lumbungd-snapshot-builder";
    LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<Replica> replica, Replica::open(replica_options));
    SyncOptions sync;
    sync.transport = std::make_shared<InProcessTransport>(*server);
    sync.page_budget_bytes = 4u << 20;
    LUMBUNG_RETURN_IF_ERROR(replica->sync(sync).status());
  }

  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::Database> db,
                           db::Database::open(replica_path, false));
  std::vector<std::pair<std::string, std::int64_t>> scopes;
  {
    LUMBUNG_ASSIGN_OR_RETURN(
        db::Query query,
        db::Query::prepared(*db, "SELECT scope, cursor FROM _lumbung_scope ORDER BY scope"));
    for (;;) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
      if (!row) break;
      if (options.village && query.text(0) != *options.village) continue;
      scopes.emplace_back(query.text(0), query.integer(1));
    }
  }
  if (options.village && scopes.empty()) {
    return Status(ErrorCode::kNotFound, "village '" + *options.village + "' has no rows");
  }

  std::vector<BuiltSnapshot> built;
  const std::string work_db = dir + "/build.tmp.db";
  const std::string work_zst = dir + "/build.tmp.zst";
  for (const auto& [scope, seq] : scopes) {
    LUMBUNG_ASSIGN_OR_RETURN(std::optional<server::SnapshotFile> kept,
                             server::find_snapshot(dir, scope, seq));
    if (kept) {
      built.push_back({scope, seq, kept->rows, kept->bytes, false});
      continue;
    }
    fs::remove(work_db, ec);
    LUMBUNG_ASSIGN_OR_RETURN(std::int64_t rows, copy_scope(*db, schema, scope, seq, work_db));
    LUMBUNG_RETURN_IF_ERROR(compress_file(work_db, work_zst, options.zstd_level));
    fs::remove(work_db, ec);
    LUMBUNG_ASSIGN_OR_RETURN(server::SnapshotFile file,
                             server::publish_snapshot(dir, work_zst, scope, seq, rows));
    built.push_back({scope, seq, rows, file.bytes, true});
  }
  return built;
}

}  // namespace lumbung::snapshot
