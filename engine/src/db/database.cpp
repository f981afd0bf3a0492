#include "db/database.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

#include "core/errno_status.hpp"

namespace lumbung::db {

ErrorCode error_code_for(int sqlite_code) {
  switch (sqlite_code & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return ErrorCode::kOk;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::kBusy;
    case SQLITE_CONSTRAINT:
      return ErrorCode::kConstraint;
    case SQLITE_MISMATCH:
      return ErrorCode::kTypeMismatch;
    case SQLITE_FULL:
      return ErrorCode::kNoSpace;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return ErrorCode::kIo;
    case SQLITE_CORRUPT:
      return ErrorCode::kCorrupt;
    case SQLITE_NOTADB:
      return ErrorCode::kNotAReplica;
    case SQLITE_ERROR:
    case SQLITE_RANGE:
      return ErrorCode::kInvalidArgument;
    default:
      return ErrorCode::kInternal;
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

namespace {

void bind_value(sqlite3_stmt* stmt, int index, const Value& value, sqlite3_destructor_type copy) {
  switch (value.type()) {
    case ValueType::kNull:
      sqlite3_bind_null(stmt, index);
      break;
    case ValueType::kInteger:
      sqlite3_bind_int64(stmt, index, value.as_integer());
      break;
    case ValueType::kReal:
      sqlite3_bind_double(stmt, index, value.as_real());
      break;
    case ValueType::kText:
      sqlite3_bind_text64(stmt, index, value.as_text().data(), value.as_text().size(), copy,
                          SQLITE_UTF8);
      break;
    case ValueType::kBlob:
      // A zero-length blob must stay a blob, not become NULL: bind a zeroblob.
      if (value.as_blob().empty()) {
        sqlite3_bind_zeroblob(stmt, index, 0);
      } else {
        sqlite3_bind_blob64(stmt, index, value.as_blob().data(), value.as_blob().size(), copy);
      }
      break;
  }
}

}  // namespace

void Statement::bind(int index, const Value& value) {
  bind_value(stmt_, index, value, SQLITE_TRANSIENT);
}

void Statement::bind_borrowed(int index, const Value& value) {
  bind_value(stmt_, index, value, SQLITE_STATIC);
}

void Statement::bind_borrowed_text(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status error(error_code_for(rc), sqlite3_errmsg(db_));
  sqlite3_reset(stmt_);
  return error;
}

Status Statement::run() {
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(bool row, step());
    if (!row) break;
  }
  reset();
  return Status::ok();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Statement::column_count() const { return sqlite3_column_count(stmt_); }

std::string_view Statement::column_name(int i) const { return sqlite3_column_name(stmt_, i); }

Value Statement::column(int i) const {
  switch (sqlite3_column_type(stmt_, i)) {
    case SQLITE_INTEGER:
      return Value(static_cast<std::int64_t>(sqlite3_column_int64(stmt_, i)));
    case SQLITE_FLOAT:
      return Value(sqlite3_column_double(stmt_, i));
    case SQLITE_TEXT:
      return Value(column_text(i));
    case SQLITE_BLOB: {
      const auto* bytes = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, i));
      return Value(Blob(bytes, bytes + sqlite3_column_bytes(stmt_, i)));
    }
    default:
      return Value();
  }
}

std::int64_t Statement::column_int(int i) const { return sqlite3_column_int64(stmt_, i); }

std::string Statement::column_text(int i) const { return std::string(column_text_view(i)); }

std::string_view Statement::column_text_view(int i) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  return text ? std::string_view(text, sqlite3_column_bytes(stmt_, i)) : std::string_view();
}

bool Statement::read_only() const { return sqlite3_stmt_readonly(stmt_) != 0; }

Result<std::unique_ptr<Database>> Database::open(const std::string& path, bool create) {
  sqlite3* db = nullptr;
  // One connection, one thread at a time (the class's contract): SQLite's
  // own per-connection mutex would only cost a lock per API call.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status error(error_code_for(rc),
                 "cannot open '" + path + "': " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close_v2(db);
    return error;
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Database>(new Database(db));
}

Database::~Database() {
  cache_.clear();  // statements must be finalized before the connection closes
  sqlite3_close_v2(db_);
}

Status Database::exec(std::string_view sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return Status::ok();
  Status error(error_code_for(rc), message ? message : sqlite3_errstr(rc));
  sqlite3_free(message);
  return error;
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return Status(error_code_for(rc), sqlite3_errmsg(db_));
  return Statement(db_, stmt);
}

Result<Statement*> Database::cached(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    LUMBUNG_ASSIGN_OR_RETURN(Statement stmt, prepare(sql));
    it = cache_.emplace(sql, std::make_unique<Statement>(std::move(stmt))).first;
  }
  it->second->reset();
  return it->second.get();
}

Status Database::last_error(std::string_view context) const {
  return Status(error_code_for(sqlite3_extended_errcode(db_)),
                std::string(context) + ": " + sqlite3_errmsg(db_));
}

Status Database::begin() {
  Status status = exec(depth_ == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT lumbung_nested");
  if (status.is_ok() && depth_++ == 0) ++serial_;
  return status;
}

Status Database::commit() {
  if (depth_ > 1) {
    LUMBUNG_RETURN_IF_ERROR(exec("RELEASE lumbung_nested"));
    --depth_;
    return Status::ok();
  }
  if (!failed_.is_ok()) {
    const Status why = failed_;
    (void)rollback();
    return Status(why.code(), "the transaction was rolled back: " + why.message());
  }
  Status status = exec("COMMIT");
  // A failed COMMIT may leave the transaction open (SQLITE_BUSY) or not.
  if (status.is_ok() || sqlite3_get_autocommit(db_)) depth_ = 0;
  return status;
}

void Database::fail_transaction(const Status& why) {
  if (depth_ > 0 && failed_.is_ok()) failed_ = why;
}

Status Database::rollback() {
  if (depth_ > 1) {
    --depth_;
    LUMBUNG_RETURN_IF_ERROR(exec("ROLLBACK TO lumbung_nested"));
    return exec("RELEASE lumbung_nested");
  }
  depth_ = 0;
  failed_ = Status::ok();
  if (sqlite3_get_autocommit(db_)) return Status::ok();  // SQLite already rolled back
  return exec("ROLLBACK");
}

namespace {

template <typename Params>
void bind_all(Statement& stmt, const Params& params) {
  int index = 1;
  for (const Value& param : params) stmt.bind(index++, param);
}

}  // namespace

template <typename Params>
Result<Query> Query::cached_bound(Database& db, const std::string& sql, const Params& params) {
  LUMBUNG_ASSIGN_OR_RETURN(Statement* const stmt, db.cached(sql));
  bind_all(*stmt, params);
  return Query(stmt);
}

template <typename Params>
Result<Query> Query::prepared_bound(Database& db, std::string_view sql, const Params& params) {
  LUMBUNG_ASSIGN_OR_RETURN(Statement stmt, db.prepare(sql));
  bind_all(stmt, params);
  return Query(std::move(stmt));
}

Result<Query> Query::cached(Database& db, const std::string& sql,
                            std::initializer_list<Value> params) {
  return cached_bound(db, sql, params);
}

Result<Query> Query::cached(Database& db, const std::string& sql,
                            const std::vector<Value>& params) {
  return cached_bound(db, sql, params);
}

Result<Query> Query::prepared(Database& db, std::string_view sql,
                              std::initializer_list<Value> params) {
  return prepared_bound(db, sql, params);
}

Result<Query> Query::prepared(Database& db, std::string_view sql,
                              const std::vector<Value>& params) {
  return prepared_bound(db, sql, params);
}

Query::Query(Statement&& owned)
    : stmt_(nullptr), owned_(std::make_unique<Statement>(std::move(owned))) {
  stmt_ = owned_.get();
}

Query::Query(Query&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), owned_(std::move(other.owned_)) {}

Query::~Query() {
  if (stmt_ != nullptr) stmt_->reset();
}

void Query::restart(std::initializer_list<Value> params) {
  stmt_->reset();
  bind_all(*stmt_, params);
}

Status run(Database& db, std::string_view sql, const std::vector<Value>& params) {
  LUMBUNG_ASSIGN_OR_RETURN(Query query, Query::prepared(db, sql, params));
  return query.run();
}

Result<bool> returns_row(Database& db, std::string_view sql, const std::vector<Value>& params) {
  LUMBUNG_ASSIGN_OR_RETURN(Query query, Query::prepared(db, sql, params));
  return query.step();
}

Status run_cached(Database& db, const std::string& sql, const std::vector<Value>& params) {
  LUMBUNG_ASSIGN_OR_RETURN(Query query, Query::cached(db, sql, params));
  return query.run();
}

Result<bool> returns_row_cached(Database& db, const std::string& sql,
                                const std::vector<Value>& params) {
  LUMBUNG_ASSIGN_OR_RETURN(Query query, Query::cached(db, sql, params));
  return query.step();
}

Status create_private_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return core::errno_status("create", path, errno);
  ::close(fd);
  constexpr mode_t kGroupOrOther = 077;
  std::vector<std::string> files = {path};
  for (const char* suffix : kSidecarSuffixes) files.push_back(path + suffix);
  for (const std::string& file : files) {
    struct stat info {};
    if (::lstat(file.c_str(), &info) != 0) {
      if (errno == ENOENT) continue;
      return core::errno_status("inspect", file, errno);
    }
    if ((info.st_mode & kGroupOrOther) != 0 &&
        ::chmod(file.c_str(), info.st_mode & 07777 & ~kGroupOrOther) != 0) {
      return core::errno_status("restrict to its owner", file, errno);
    }
  }
  return Status::ok();
}

Status copy_database(Database& source, const std::string& to) {
  LUMBUNG_RETURN_IF_ERROR(create_private_file(to));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<Database> copy, Database::open(to, false));
  sqlite3_backup* backup = sqlite3_backup_init(copy->handle(), "main", source.handle(), "main");
  if (backup == nullptr) return copy->last_error("cannot copy into '" + to + "'");
  // All pages in one step: a step at a time would restart whenever another
  // connection writes between steps, and might never end under load.
  const int stepped = sqlite3_backup_step(backup, -1);
  const int finished = sqlite3_backup_finish(backup);
  if (stepped != SQLITE_DONE) {
    return Status(error_code_for(stepped),
                  "cannot copy into '" + to + "': " + sqlite3_errstr(stepped));
  }
  if (finished != SQLITE_OK) return copy->last_error("cannot copy into '" + to + "'");
  return Status::ok();
}

Status check_integrity(Database& db, const std::string& path) {
  LUMBUNG_ASSIGN_OR_RETURN(Query check, Query::prepared(db, "PRAGMA integrity_check"));
  Result<bool> row = check.step();
  if (!row.is_ok()) return Status(row.status().code(), "'" + path + "': " + row.status().message());
  if (!*row || check.text(0) != "ok") {
    std::string problem = check.text(0);  // may span lines
    std::replace(problem.begin(), problem.end(), '\n', ' ');
    return Status(ErrorCode::kCorrupt, "'" + path + "' fails its integrity check: " + problem);
  }
  return Status::ok();
}

}  // namespace lumbung::db
