#include "lumbung/replica.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <utility>

#include "core/canonical_json.hpp"
#include "replica/capture_sql.hpp"
#include "replica/identity.hpp"
#include "replica/meta.hpp"
#include "replica/outbox.hpp"
#include "replica/replica_impl.hpp"
#include "replica/schema_sql.hpp"
#include "replica/tls_settings.hpp"

namespace lumbung {
namespace {

using core::quote_identifier;
using db::Database;
using db::Statement;

// A replica's format as _lumbung_meta 'format' names it: "lumbung-replica/N",
// N of replica::kBookkeepingFormat. Older ones are upgraded in place to the
// newest, the one this engine writes.
std::string format_text(int format) { return "lumbung-replica/" + std::to_string(format); }

// The N of a format this engine opens, or 0.
int format_number(const std::string& text) {
  const db::FileFormat& formats = replica::kBookkeepingFormat;
  for (int format = formats.oldest; format <= formats.newest(); ++format) {
    if (text == format_text(format)) return format;
  }
  return 0;
}

Status with_context(const std::string& context, const Status& status) {
  return Status(status.code(), context + ": " + status.message());
}

std::string table_context(const core::Table& table) { return "table '" + table.name + "'"; }

// Runs `query` and collects every row.
Result<std::vector<Row>> collect_rows(db::Query& query) {
  const Statement& stmt = query.statement();
  std::vector<Row> rows;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool more, query.step());
    if (!more) return rows;
    Row row;
    for (int i = 0; i < stmt.column_count(); ++i) {
      row.emplace(std::string(stmt.column_name(i)), stmt.column(i));
    }
    rows.push_back(std::move(row));
  }
}

bool file_has_content(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && info.st_size > 0;
}

}  // namespace

Replica::Impl::Impl(const ReplicaOptions& opts)
    : options(opts), clock(opts.clock ? opts.clock : system_clock()), uuids(clock) {}

Result<const core::Table*> Replica::Impl::find_table(std::string_view name) const {
  const core::Table* table = schema.find_table(name);
  if (!table) return Status(ErrorCode::kNotFound, "unknown table '" + std::string(name) + "'");
  return table;
}

Status Replica::Impl::exec_all(const std::vector<std::string>& statements) {
  for (const std::string& sql : statements) LUMBUNG_RETURN_IF_ERROR(db->exec(sql));
  return Status::ok();
}

Status Replica::Impl::create_table(const core::Table& table) {
  LUMBUNG_RETURN_IF_ERROR(db->exec(replica::create_table_sql(table)));
  return exec_all(replica::create_index_sql(table));
}

Status Replica::Impl::install_triggers(const core::Schema& old_schema) {
  LUMBUNG_RETURN_IF_ERROR(exec_all(replica::drop_capture_triggers_sql(old_schema)));
  for (const core::Table& table : schema.tables) {
    LUMBUNG_RETURN_IF_ERROR(exec_all(replica::create_capture_triggers_sql(table)));
  }
  return Status::ok();
}

Status Replica::Impl::store_schema(const std::string& text) {
  LUMBUNG_RETURN_IF_ERROR(replica::write_meta(*db, "schema", Value(text)));
  return replica::write_meta(*db, "schema_version",
                             Value(static_cast<std::int64_t>(schema.version)));
}

Status Replica::Impl::create(const std::string& schema_text) {
  device_id = options.device_id.empty() ? uuids.next() : options.device_id;
  return db::in_transaction(*db, [&]() -> Status {
    const db::FileFormat& formats = replica::kBookkeepingFormat;
    LUMBUNG_RETURN_IF_ERROR(exec_all(replica::bookkeeping_tables_sql()));
    LUMBUNG_RETURN_IF_ERROR(formats.upgrade(*db, formats.oldest));
    LUMBUNG_RETURN_IF_ERROR(
        replica::write_meta(*db, "format", Value(format_text(formats.newest()))));
    LUMBUNG_RETURN_IF_ERROR(replica::write_meta(*db, "device_id", Value(device_id)));
    LUMBUNG_RETURN_IF_ERROR(replica::write_meta(*db, "server_url", Value(options.server_url)));
    LUMBUNG_RETURN_IF_ERROR(replica::write_meta(*db, "token", Value(options.token)));
    LUMBUNG_RETURN_IF_ERROR(replica::write_tls_settings(*db, options.tls));
    LUMBUNG_RETURN_IF_ERROR(store_schema(schema_text));
    for (const core::Table& table : schema.tables) LUMBUNG_RETURN_IF_ERROR(create_table(table));
    return install_triggers(schema);
  });
}

Status Replica::Impl::migrate(core::Schema target, const std::string& target_text) {
  if (target.version < schema.version) {
    return Status(ErrorCode::kSchemaIncompatible,
                  "the replica has schema version " + std::to_string(schema.version) +
                      ", newer than version " + std::to_string(target.version) + " of '" +
                      options.schema_source + "'");
  }
  Result<replica::MigrationPlan> plan = replica::plan_migration(schema, target);
  if (!plan.is_ok()) {
    return with_context("cannot migrate from schema version " + std::to_string(schema.version) +
                            " to " + std::to_string(target.version),
                        plan.status());
  }
  const bool adds =
      !plan->new_tables.empty() || !plan->new_columns.empty() || !plan->new_indexes.empty();
  if (target.version == schema.version) {
    if (adds) {
      return Status(ErrorCode::kSchemaIncompatible,
                    "'" + options.schema_source + "' adds to schema version " +
                        std::to_string(target.version) +
                        " without raising its version; raise the version");
    }
    return Status::ok();  // same structure; keep the file as it is
  }
  core::Schema old_schema = std::move(schema);
  schema = std::move(target);
  judge.reset();
  insert_statements.clear();       // their column lists are the old schema's
  cell_update_statements.clear();  // keyed by the old schema's columns
  Status status = db::in_transaction(*db, [&]() -> Status {
    for (const core::Table* table : plan->new_tables) LUMBUNG_RETURN_IF_ERROR(create_table(*table));
    for (const auto& [table, column] : plan->new_columns) {
      LUMBUNG_RETURN_IF_ERROR(db->exec(replica::add_column_sql(*table, *column)));
    }
    for (const auto& [table, index] : plan->new_indexes) {
      core::Table only_index = *table;
      only_index.indexes = {*index};
      LUMBUNG_RETURN_IF_ERROR(exec_all(replica::create_index_sql(only_index)));
    }
    LUMBUNG_RETURN_IF_ERROR(install_triggers(old_schema));
    return store_schema(target_text);
  });
  if (!status.is_ok()) {
    schema = std::move(old_schema);
    judge.reset();
  }
  return status;
}

Status Replica::Impl::check_is_replica() {
  const std::string& path = options.path;
  Result<Statement> stmt = db->prepare("SELECT value FROM _lumbung_meta WHERE key = 'format'");
  if (!stmt.is_ok()) {
    if (stmt.status().code() == ErrorCode::kNotAReplica && !options.key.empty()) {
      return Status(ErrorCode::kEncryption,
                    "cannot read '" + path + "': wrong key, or not a Lumbung replica");
    }
    if (stmt.status().code() == ErrorCode::kNotAReplica) {
      return Status(ErrorCode::kNotAReplica,
                    "'" + path +
                        "' is not a Lumbung replica (not a SQLite database, or encrypted and "
                        "no key was given)");
    }
    return Status(ErrorCode::kNotAReplica,
                  "'" + path + "' is a SQLite database but not a Lumbung replica (" +
                      stmt.status().message() + ")");
  }
  Result<bool> row = stmt->step();
  if (!row.is_ok()) return with_context("cannot read '" + path + "'", row.status());
  const std::string format = *row ? stmt->column_text(0) : std::string();
  if (format_number(format) == 0) {
    return Status(ErrorCode::kNotAReplica, "'" + path + "' is not a Lumbung replica of format " +
                                               format_text(replica::kBookkeepingFormat.newest()));
  }
  return Status::ok();
}

Status Replica::Impl::upgrade_format() {
  const db::FileFormat& formats = replica::kBookkeepingFormat;
  LUMBUNG_ASSIGN_OR_RETURN(const std::string text, replica::read_meta(*db, "format"));
  const int format = format_number(text);  // checked by check_is_replica()
  if (format == formats.newest()) return Status::ok();
  return db::in_transaction(*db, [&]() -> Status {
    LUMBUNG_RETURN_IF_ERROR(formats.upgrade(*db, format));
    // The triggers of an older engine may not know the new tables.
    LUMBUNG_RETURN_IF_ERROR(install_triggers(schema));
    return replica::write_meta(*db, "format", Value(format_text(formats.newest())));
  });
}

Status Replica::Impl::open_file() {
  if (options.path.empty()) return Status(ErrorCode::kInvalidArgument, "no replica path given");
  std::error_code ignored;
  const bool file_existed = std::filesystem::exists(options.path, ignored);
  const bool existed = file_has_content(options.path);
  // A new replica's schema is checked before anything touches the disk.
  if (!existed) {
    const bool builtin = options.schema_text.empty();
    const std::string text =
        builtin ? std::string(core::builtin_schema_text()) : options.schema_text;
    LUMBUNG_ASSIGN_OR_RETURN(
        core::Schema loaded,
        db::load_schema(text, builtin ? "built-in schema" : options.schema_source));
    schema = std::move(loaded);
    Status status = open_database();
    if (status.is_ok()) status = create(text);
    if (!status.is_ok() && !file_existed) {
      // Leave no half-made file behind to be mistaken for a replica later.
      db.reset();
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        std::filesystem::remove(options.path + suffix, ignored);
      }
    }
    return status;
  }

  LUMBUNG_RETURN_IF_ERROR(open_database());
  LUMBUNG_ASSIGN_OR_RETURN(const std::string stored, replica::read_meta(*db, "schema"));
  LUMBUNG_ASSIGN_OR_RETURN(core::Schema current,
                           core::load_schema(stored, options.path + " (stored schema)"));
  schema = std::move(current);
  LUMBUNG_RETURN_IF_ERROR(upgrade_format());
  LUMBUNG_ASSIGN_OR_RETURN(std::string id, replica::read_meta(*db, "device_id"));
  device_id = id;
  if (options.schema_text.empty()) return Status::ok();
  LUMBUNG_ASSIGN_OR_RETURN(core::Schema target,
                           db::load_schema(options.schema_text, options.schema_source));
  return migrate(std::move(target), options.schema_text);
}

Status Replica::Impl::open_database() {
  const bool existed = file_has_content(options.path);
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<Database> opened,
                           Database::open(options.path, /*create=*/true));
  db = std::move(opened);
  capture = std::make_unique<replica::CaptureLog>(*db, *clock);
  // This connection's writes are captured by the capture log, not by the
  // triggers (decision 0016); writes of the server's state are not captured.
  if (sqlite3_db_config(db->handle(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, nullptr) != SQLITE_OK) {
    return db->last_error("cannot turn the capture triggers off on the replica's connection");
  }
  LUMBUNG_RETURN_IF_ERROR(apply_key());
  if (existed) LUMBUNG_RETURN_IF_ERROR(check_is_replica());
  // WAL: readers never block the writer; FULL: a commit survives power loss.
  // temp_store MEMORY: Debian's SQLite keeps statement journals in files by
  // default, which costs every write statement inside a transaction a
  // temporary file write (3x on bulk inserts, see docs/benchmarks.md).
  return db->exec(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; "
      "PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY");
}

Status Replica::Impl::apply_key() {
  if (options.key.empty()) return Status::ok();
#ifdef LUMBUNG_HAVE_SQLCIPHER
  if (sqlite3_key(db->handle(), options.key.data(), static_cast<int>(options.key.size())) !=
      SQLITE_OK) {
    return db->last_error("cannot set the key of '" + options.path + "'");
  }
  return Status::ok();
#else
  return Status(ErrorCode::kEncryption,
                "a key was given but this build of Lumbung has no encryption (build with "
                "LUMBUNG_WITH_SQLCIPHER=ON)");
#endif
}

Result<Value> Replica::Impl::checked_cell(const core::Table& table, const std::string& name,
                                          const Value& value) const {
  const core::Column* column = table.find_column(name);
  if (!column) {
    return Status(ErrorCode::kNotFound, table_context(table) + ": unknown column '" + name + "'");
  }
  return core::coerce_value(table, *column, value);
}

Result<Row> Replica::Impl::checked_cells(const core::Table& table, const Row& cells) const {
  Row out;
  for (const auto& [name, value] : cells) {
    LUMBUNG_ASSIGN_OR_RETURN(Value coerced, checked_cell(table, name, value));
    out.emplace(name, std::move(coerced));
  }
  return out;
}

Result<Statement*> Replica::Impl::insert_statement(const core::Table& table) {
  auto found = insert_statements.find(table.name);
  if (found != insert_statements.end()) return found->second;
  std::string sql = "INSERT INTO " + quote_identifier(table.name) + " (";
  std::string params;
  for (size_t i = 0; i < table.columns.size(); ++i) {
    sql += (i ? ", " : "") + quote_identifier(table.columns[i].name);
    params += (i ? ", ?" : "?") + std::to_string(i + 1);
  }
  sql += ") VALUES (" + params + ")";
  Result<Statement*> stmt = db->cached(sql);
  if (stmt.is_ok()) insert_statements.emplace(table.name, *stmt);
  return stmt;
}

template <typename Write>
Status Replica::Impl::in_write_transaction(Write&& write) {
  if (db->transaction_depth() == 0) return db::in_transaction(*db, write);
  return write();
}

Status Replica::Impl::insert(const core::Table& table, const Row& cells) {
  LUMBUNG_ASSIGN_OR_RETURN(Row checked, checked_cells(table, cells));
  static const Value kNull;
  // What the insert writes into `column`: the caller's cell, else the default.
  const auto cell = [&](const core::Column& column) -> const Value& {
    auto it = checked.find(column.name);
    if (it != checked.end()) return it->second;
    return column.default_value ? *column.default_value : kNull;
  };
  const Value* id = nullptr;
  for (const core::Column& column : table.columns) {
    if (column.primary_key) id = &cell(column);
  }
  if (!id || id->type() != ValueType::kText || id->as_text().empty()) {
    return Status(ErrorCode::kInvalidArgument, table_context(table) + ": a row needs a text id");
  }

  // The cells are typed already and SQLite enforces NOT NULL and the CHECKs,
  // so the row is validated in C++ only to explain a refusal.
  Result<Statement*> stmt = insert_statement(table);
  if (!stmt.is_ok()) return with_context(table_context(table), stmt.status());
  for (size_t i = 0; i < table.columns.size(); ++i) {
    (*stmt)->bind_borrowed(static_cast<int>(i + 1), cell(table.columns[i]));
  }
  int sqlite_code = SQLITE_OK;  // read before a rollback clears it
  Status status = in_write_transaction([&]() -> Status {
    Status inserted = (*stmt)->run();
    if (!inserted.is_ok()) {
      sqlite_code = sqlite3_extended_errcode(db->handle());
      return inserted;
    }
    const core::Column* scope = table.find_column(table.scope_column);
    return capture_write(table, id->as_text(), "", replica::OutboxOp::kInsert,
                         scope ? cell(*scope) : kNull);
  });
  if (status.is_ok()) return status;
  if (sqlite_code == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Status(ErrorCode::kConstraint,
                  table_context(table) + ": a row with id '" + id->as_text() + "' already exists");
  }
  status = with_context(table_context(table), status);
  if (status.code() != ErrorCode::kConstraint) return status;
  Row row;
  for (const core::Column& column : table.columns) row.emplace(column.name, cell(column));
  LUMBUNG_RETURN_IF_ERROR(explain_refusal(table, row));
  return status;
}

Result<std::optional<Row>> Replica::Impl::get(const core::Table& table, std::string_view id) {
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::cached(*db, "SELECT * FROM " + quote_identifier(table.name) + " WHERE \"id\" = ?1",
                        {Value(id)}));
  LUMBUNG_ASSIGN_OR_RETURN(std::vector<Row> rows, collect_rows(query));
  if (rows.empty()) return std::optional<Row>();
  return std::optional<Row>(std::move(rows.front()));
}

Status Replica::Impl::explain_refusal(const core::Table& table, const Row& row) {
  if (!judge) {
    LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::CheckJudge> opened, db::CheckJudge::open(schema));
    judge = std::move(opened);
  }
  return judge->validate_row(table, row);
}

Status Replica::Impl::not_found(const core::Table& table, std::string_view id) const {
  return Status(ErrorCode::kNotFound,
                table_context(table) + ": no row with id '" + std::string(id) + "'");
}

Status Replica::Impl::check_updated_row(const core::Table& table, std::string_view id,
                                        const Row& cells, const Status& otherwise) {
  LUMBUNG_ASSIGN_OR_RETURN(std::optional<Row> current, get(table, id));
  if (!current) return not_found(table, id);
  Row merged = std::move(*current);
  for (const auto& [name, value] : cells) merged[name] = value;
  LUMBUNG_RETURN_IF_ERROR(explain_refusal(table, merged));
  return otherwise;
}

Status Replica::Impl::captured(const Status& status) {
  // The write is done and SQLite keeps no statement journal to undo it alone
  // (that is the point of the log): the whole transaction must go.
  if (!status.is_ok()) db->fail_transaction(status);
  return status;
}

Status Replica::Impl::capture_write(const core::Table& table, std::string_view id,
                                    const std::string& column, replica::OutboxOp op,
                                    const Value& scope) {
  return captured(capture->append(table, id, column, op, scope));
}

Status Replica::Impl::update_refused(const core::Table& table, std::string_view id,
                                     const Row& cells, const Status& status) {
  const Status refused = with_context(table_context(table), status);
  return refused.code() == ErrorCode::kConstraint ? check_updated_row(table, id, cells, refused)
                                                  : refused;
}

Status Replica::Impl::update_cell(const core::Table& table, std::string_view id,
                                  const std::string& column, const Value& value) {
  // The common edit, one field of a form: no read first. The WHERE leaves an
  // unchanged value alone, as the capture triggers do.
  const core::Column* key = table.find_column(column);
  Statement*& stmt = cell_update_statements[key];
  if (!stmt) {
    const std::string q = quote_identifier(column);
    Result<Statement*> prepared = db->cached("UPDATE " + quote_identifier(table.name) + " SET " +
                                             q + " = ?1 WHERE \"id\" = ?2 AND " + q + " IS NOT ?1");
    if (!prepared.is_ok()) return with_context(table_context(table), prepared.status());
    stmt = *prepared;
  }
  stmt->bind_borrowed(1, value);
  stmt->bind_borrowed_text(2, id);
  Status status = stmt->run();
  if (!status.is_ok()) return update_refused(table, id, Row{{column, value}}, status);
  if (sqlite3_changes(db->handle()) == 1) {
    return capture_write(table, id, column, replica::OutboxOp::kUpdate, Value());
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::optional<Row> current, get(table, id));
  return current ? Status::ok() : not_found(table, id);
}

Status Replica::Impl::update(const core::Table& table, std::string_view id, const Row& cells) {
  if (cells.count("id") && cells.at("id") != Value(id)) {
    return Status(ErrorCode::kInvalidArgument,
                  table_context(table) + ": the id of a row cannot change");
  }
  if (cells.size() == 1 && cells.begin()->first != "id" &&
      cells.begin()->first != table.scope_column) {
    // Named, not a structured binding: clang before 16 refuses a lambda that
    // captures a binding, and the fuzz build uses clang 14.
    const std::string& column = cells.begin()->first;
    LUMBUNG_ASSIGN_OR_RETURN(Value checked, checked_cell(table, column, cells.begin()->second));
    return in_write_transaction([&] { return update_cell(table, id, column, checked); });
  }
  LUMBUNG_ASSIGN_OR_RETURN(Row checked, checked_cells(table, cells));
  checked.erase("id");
  if (checked.empty()) return check_updated_row(table, id, checked, Status::ok());
  return in_write_transaction([&]() -> Status {
    // Several cells, or a move to another scope: the row is read to write and
    // capture only the cells that change, and to know the scope.
    LUMBUNG_ASSIGN_OR_RETURN(std::optional<Row> current, get(table, id));
    if (!current) return not_found(table, id);
    Row changed;
    for (const auto& [name, value] : checked) {
      if ((*current)[name] != value) changed.emplace(name, value);
    }
    if (changed.empty()) return Status::ok();
    std::string sql = "UPDATE " + quote_identifier(table.name) + " SET ";
    int index = 0;
    for (const auto& [name, value] : changed) {
      sql += (index ? ", " : "") + quote_identifier(name) + " = ?" + std::to_string(index + 1);
      ++index;
    }
    sql += " WHERE \"id\" = ?" + std::to_string(index + 1);
    Result<Statement*> stmt = db->cached(sql);
    if (!stmt.is_ok()) return with_context(table_context(table), stmt.status());
    index = 0;
    for (const auto& [name, value] : changed) (*stmt)->bind(++index, value);
    (*stmt)->bind(index + 1, Value(id));
    Status status = (*stmt)->run();
    if (!status.is_ok()) return update_refused(table, id, changed, status);

    const Value& old_scope = (*current)[table.scope_column];
    auto moved = changed.find(table.scope_column);
    if (moved != changed.end()) {
      LUMBUNG_RETURN_IF_ERROR(captured(capture->fix_scope(table, id, old_scope)));
    }
    const Value& scope = moved != changed.end() ? moved->second : old_scope;
    for (const auto& [name, value] : changed) {
      LUMBUNG_RETURN_IF_ERROR(capture_write(table, id, name, replica::OutboxOp::kUpdate, scope));
    }
    return Status::ok();
  });
}

Status Replica::Impl::remove(const core::Table& table, std::string_view id) {
  return in_write_transaction([&]() -> Status {
    // The scope the delete is pushed in: the row's, read before it goes.
    LUMBUNG_ASSIGN_OR_RETURN(std::optional<Row> current, get(table, id));
    if (!current) return not_found(table, id);
    LUMBUNG_ASSIGN_OR_RETURN(
        Statement * stmt,
        db->cached("DELETE FROM " + quote_identifier(table.name) + " WHERE \"id\" = ?1"));
    stmt->bind(1, Value(id));
    Status status = stmt->run();
    if (!status.is_ok()) return with_context(table_context(table), status);
    return capture_write(table, id, "", replica::OutboxOp::kDelete, (*current)[table.scope_column]);
  });
}

Status Replica::Impl::fold_capture_log() {
  // Readers of the outbox take the write lock only when there is something
  // to fold.
  LUMBUNG_ASSIGN_OR_RETURN(bool empty, replica::capture_log_empty(*db));
  if (empty) return Status::ok();
  return db::in_transaction(*db, [&] { return replica::fold_capture_log(*db, schema); });
}

Replica::Replica(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Replica::~Replica() = default;

Result<std::unique_ptr<Replica>> Replica::open(const ReplicaOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  Status status = impl->open_file();
  if (status.is_ok()) status = replica::set_app_version(*impl->db, options.app_version);
  if (!status.is_ok()) {
    impl->db.reset();
    return status;
  }
  return std::unique_ptr<Replica>(new Replica(std::move(impl)));
}

Status Replica::insert(std::string_view table, const Row& row) {
  LUMBUNG_ASSIGN_OR_RETURN(const core::Table* t, impl_->find_table(table));
  return impl_->insert(*t, row);
}

Result<std::string> Replica::insert_new(std::string_view table, const Row& row) {
  Row with_id = row;
  with_id["id"] = Value(impl_->uuids.next());
  Status status = insert(table, with_id);
  if (!status.is_ok()) return status;
  return with_id["id"].as_text();
}

Status Replica::update(std::string_view table, std::string_view id, const Row& cells) {
  LUMBUNG_ASSIGN_OR_RETURN(const core::Table* t, impl_->find_table(table));
  return impl_->update(*t, id, cells);
}

Status Replica::put(std::string_view table, std::string_view id, const Row& cells) {
  LUMBUNG_ASSIGN_OR_RETURN(const core::Table* t, impl_->find_table(table));
  return transaction([&]() -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(std::optional<Row> existing, impl_->get(*t, id));
    if (existing) return impl_->update(*t, id, cells);
    Row row = cells;
    row["id"] = Value(id);
    return impl_->insert(*t, row);
  });
}

Status Replica::remove(std::string_view table, std::string_view id) {
  LUMBUNG_ASSIGN_OR_RETURN(const core::Table* t, impl_->find_table(table));
  return impl_->remove(*t, id);
}

Result<std::optional<Row>> Replica::get(std::string_view table, std::string_view id) {
  LUMBUNG_ASSIGN_OR_RETURN(const core::Table* t, impl_->find_table(table));
  return impl_->get(*t, id);
}

Result<std::vector<Row>> Replica::query(std::string_view sql, const std::vector<Value>& params) {
  Result<db::Query> query = db::Query::prepared(*impl_->db, sql, params);
  if (!query.is_ok()) return with_context("query", query.status());
  if (!query->statement().read_only()) {
    return Status(ErrorCode::kInvalidArgument,
                  "query: only reads are allowed here; write with insert/update/remove");
  }
  return collect_rows(*query);
}

Result<Value> Replica::parse_cell_text(std::string_view table, std::string_view column,
                                       std::string_view text) const {
  LUMBUNG_ASSIGN_OR_RETURN(const core::Table* t, impl_->find_table(table));
  const core::Column* c = t->find_column(column);
  if (!c) {
    return Status(ErrorCode::kNotFound,
                  table_context(*t) + ": unknown column '" + std::string(column) + "'");
  }
  return core::parse_value_text(*t, *c, text);
}

Status Replica::transaction(const std::function<Status()>& body) {
  return db::in_transaction(*impl_->db, body);
}

Result<std::vector<PendingChange>> Replica::pending_changes() {
  LUMBUNG_RETURN_IF_ERROR(impl_->fold_capture_log());
  LUMBUNG_ASSIGN_OR_RETURN(std::vector<replica::OutboxEntry> entries,
                           replica::read_outbox(*impl_->db, -1));
  std::vector<PendingChange> changes;
  for (replica::OutboxEntry& entry : entries) {
    changes.push_back(PendingChange{std::move(entry.table), std::move(entry.row_id),
                                    static_cast<PendingChange::Kind>(entry.op),
                                    std::move(entry.column), entry.hlc, entry.base});
  }
  return changes;
}

Result<ReplicaStatus> Replica::status() {
  ReplicaStatus status;
  LUMBUNG_RETURN_IF_ERROR(impl_->fold_capture_log());
  LUMBUNG_ASSIGN_OR_RETURN(std::vector<Row> counts,
                           query("SELECT (SELECT count(*) FROM _lumbung_outbox) AS pending, "
                                 "(SELECT count(*) FROM _lumbung_refused) AS refused"));
  status.pending_changes = counts.front()["pending"].as_integer();
  status.refused_changes = counts.front()["refused"].as_integer();
  LUMBUNG_ASSIGN_OR_RETURN(std::string last_sync, replica::read_meta(*impl_->db, "last_sync"));
  if (!last_sync.empty()) status.last_sync = last_sync;
  LUMBUNG_ASSIGN_OR_RETURN(std::string server, replica::read_meta(*impl_->db, "server_url"));
  status.server_url = server;
  LUMBUNG_ASSIGN_OR_RETURN(TlsOptions tls, replica::read_tls_settings(*impl_->db));
  status.tls = std::move(tls);
  status.device_id = impl_->device_id;
  status.schema_version = impl_->schema.version;
  return status;
}

Result<std::string> Replica::dump_json() {
  core::TableRows tables;
  for (const core::Table& table : impl_->schema.tables) {
    auto& rows = tables[table.name];
    LUMBUNG_ASSIGN_OR_RETURN(std::vector<Row> all,
                             query("SELECT * FROM " + quote_identifier(table.name)));
    for (Row& row : all) {
      const Value& id = row["id"];
      // Plain SQL may have stored a non-text id; it still gets a key.
      std::string key = id.type() == ValueType::kText ? id.as_text() : id.to_string();
      rows.emplace(std::move(key), std::move(row));
    }
  }
  return core::canonical_json(tables);
}

std::vector<std::string> Replica::tables() const {
  std::vector<std::string> names;
  for (const core::Table& table : impl_->schema.tables) names.push_back(table.name);
  return names;
}

const std::string& Replica::device_id() const { return impl_->device_id; }
const std::string& Replica::path() const { return impl_->options.path; }

std::string to_json(const Row& row) { return core::canonical_json(row); }

}  // namespace lumbung
