#include "pg/connection.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <thread>
#include <type_traits>
#include <utility>

namespace lumbung::pg {
namespace {

// Type OIDs (PostgreSQL's catalog, src/include/catalog/pg_type.dat): stable
// across releases.
constexpr Oid kBool = 16, kBytea = 17, kChar = 18, kName = 19, kInt8 = 20, kInt2 = 21, kInt4 = 23,
              kText = 25, kOid = 26, kFloat4 = 700, kFloat8 = 701, kUnknown = 705, kBpchar = 1042,
              kVarchar = 1043, kVoid = 2278;

bool is_text_type(Oid type) {
  return type == kText || type == kVarchar || type == kBpchar || type == kName || type == kChar ||
         type == kUnknown;
}

// Whether Rows::value reads this type.
bool is_readable_type(Oid type) {
  switch (type) {
    case kBool:
    case kBytea:
    case kInt8:
    case kInt2:
    case kInt4:
    case kOid:
    case kFloat4:
    case kFloat8:
    case kVoid:
      return true;
    default:
      return is_text_type(type);
  }
}

std::string type_label(Oid type) {
  switch (type) {
    case kBool:
      return "bool";
    case kBytea:
      return "bytea";
    case kInt8:
      return "int8";
    case kInt2:
      return "int2";
    case kInt4:
      return "int4";
    case kOid:
      return "oid";
    case kFloat4:
      return "float4";
    case kFloat8:
      return "float8";
    case kText:
      return "text";
    case kVarchar:
      return "varchar";
    case kBpchar:
      return "bpchar";
    default:
      return "type oid " + std::to_string(type);
  }
}

// Big-endian (network order) integers, PostgreSQL's binary format.
template <typename T>
void put_big_endian(std::string& out, T value) {
  using U = std::make_unsigned_t<T>;
  const U bits = static_cast<U>(value);
  for (int shift = static_cast<int>(sizeof(U) * 8) - 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((bits >> shift) & 0xff));
  }
}

template <typename U>
U get_big_endian(const char* p) {
  U value = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) {
    value = static_cast<U>((value << 8) | static_cast<unsigned char>(p[i]));
  }
  return value;
}

// libpq's messages end in a newline and may span lines ("...failed: ...\n\tIs
// the server running...?"): one line, each run of whitespace one space.
std::string one_line(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// The statement's text as errors show it: short, on one line.
std::string sql_label(std::string_view sql) {
  std::string text = one_line(sql);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return "'" + text + "'";
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded; a malformed escape is kept as written.
std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = hex_digit(text[i + 1]), low = hex_digit(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

void add_secret(std::vector<std::string>& secrets, std::string_view raw, bool percent_encoded) {
  if (raw.empty()) return;
  secrets.emplace_back(raw);
  if (percent_encoded) secrets.push_back(percent_decode(raw));
}

// The passwords written in `url`, by libpq's own parser when it accepts the
// URL and by a scan that follows its rules when it does not (its error
// messages may quote the malformed part, which may be the password).
std::vector<std::string> passwords_in(std::string_view url) {
  std::vector<std::string> secrets;
  const std::string url_text(url);
  char* parse_error = nullptr;
  if (PQconninfoOption* options = PQconninfoParse(url_text.c_str(), &parse_error)) {
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr) {
        add_secret(secrets, o->val, false);
      }
    }
    PQconninfoFree(options);
  }
  PQfreemem(parse_error);

  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (!url.starts_with(scheme)) continue;
    const std::string_view rest = url.substr(scheme.size());
    // As libpq: the user information ends at the first '@' before any '/'.
    const std::size_t end = rest.find_first_of("@/");
    if (end != std::string_view::npos && rest[end] == '@') {
      const std::string_view userinfo = rest.substr(0, end);
      if (const std::size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
        add_secret(secrets, userinfo.substr(colon + 1), true);
      }
    }
    if (const std::size_t question = rest.find('?'); question != std::string_view::npos) {
      std::string_view query = rest.substr(question + 1);
      while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        if (pair.starts_with("password=")) add_secret(secrets, pair.substr(9), true);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
      }
    }
    return secrets;
  }
  // key=value conninfo: password = value, or password = 'quoted \' value'.
  for (std::size_t at = url.find("password"); at != std::string_view::npos;
       at = url.find("password", at + 1)) {
    std::size_t i = at + 8;
    while (i < url.size() && url[i] == ' ') ++i;
    if (i >= url.size() || url[i] != '=') continue;
    ++i;
    while (i < url.size() && url[i] == ' ') ++i;
    std::string raw, unescaped;
    if (i < url.size() && url[i] == '\'') {
      for (++i; i < url.size() && url[i] != '\''; ++i) {
        if (url[i] == '\\' && i + 1 < url.size()) raw.push_back(url[i++]);
        raw.push_back(url[i]);
        unescaped.push_back(url[i]);
      }
    } else {
      for (; i < url.size() && url[i] != ' '; ++i) raw.push_back(url[i]);
      unescaped = raw;
    }
    add_secret(secrets, raw, false);
    add_secret(secrets, unescaped, false);
  }
  return secrets;
}

void ignore_notice(void*, const char*) {}

}  // namespace

ErrorCode error_code_for(std::string_view sqlstate, bool connection_bad) {
  if (connection_bad) return ErrorCode::kUnavailable;
  if (sqlstate == "40001" || sqlstate == "40P01") return kRetryableCode;
  if (sqlstate.starts_with("23")) return ErrorCode::kConstraint;
  if (sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03" || sqlstate == "53300") {
    return ErrorCode::kUnavailable;
  }
  if (sqlstate == "53100") return ErrorCode::kNoSpace;
  if (sqlstate.starts_with("53") || sqlstate.starts_with("58")) return ErrorCode::kIo;
  // No SQLSTATE: libpq failed on this side (memory, a send), not the server.
  if (sqlstate.empty()) return ErrorCode::kIo;
  return ErrorCode::kInternal;
}

std::string redact_password(std::string message, std::string_view url) {
  std::vector<std::string> secrets = passwords_in(url);
  // Longest first, so that a password containing another is redacted whole.
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (std::size_t at = message.find(secret); at != std::string::npos;
         at = message.find(secret, at + 3)) {
      message.replace(at, secret.size(), "***");
    }
  }
  return message;
}

// ---------------------------------------------------------------- Rows

Rows::Rows(pg_result* result) : result_(result) {}

Rows::~Rows() { PQclear(result_); }

Rows::Rows(Rows&& other) noexcept
    : result_(std::exchange(other.result_, nullptr)), row_(other.row_) {}

Rows& Rows::operator=(Rows&& other) noexcept {
  if (this != &other) {
    PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
    row_ = other.row_;
  }
  return *this;
}

bool Rows::step() {
  if (row_ < row_count()) ++row_;
  return row_ < row_count();
}

int Rows::row_count() const { return result_ == nullptr ? 0 : PQntuples(result_); }

int Rows::column_count() const { return result_ == nullptr ? 0 : PQnfields(result_); }

std::string_view Rows::column_name(int column) const {
  const char* name = PQfname(result_, column);
  return name == nullptr ? std::string_view() : std::string_view(name);
}

std::int64_t Rows::affected_rows() const {
  const char* count = result_ == nullptr ? "" : PQcmdTuples(result_);
  return *count == '\0' ? 0 : std::strtoll(count, nullptr, 10);
}

bool Rows::is_null(int column) const { return PQgetisnull(result_, row_, column) != 0; }

Value Rows::value(int column) const {
  if (is_null(column)) return Value();
  const char* data = PQgetvalue(result_, row_, column);
  const int length = PQgetlength(result_, row_, column);
  switch (PQftype(result_, column)) {
    case kInt8:
      return Value(static_cast<std::int64_t>(get_big_endian<std::uint64_t>(data)));
    case kInt4:
      return Value(static_cast<std::int64_t>(
          static_cast<std::int32_t>(get_big_endian<std::uint32_t>(data))));
    case kInt2:
      return Value(static_cast<std::int64_t>(
          static_cast<std::int16_t>(get_big_endian<std::uint16_t>(data))));
    case kOid:
      return Value(static_cast<std::int64_t>(get_big_endian<std::uint32_t>(data)));
    case kBool:
      return Value(std::int64_t{data[0] != 0 ? 1 : 0});
    case kFloat8:
      return Value(std::bit_cast<double>(get_big_endian<std::uint64_t>(data)));
    case kFloat4:
      return Value(static_cast<double>(std::bit_cast<float>(get_big_endian<std::uint32_t>(data))));
    case kBytea:
      return Value(Blob(data, data + length));
    case kVoid:
      return Value();
    default:  // the text types: prepared() refuses the others
      return Value(std::string(data, static_cast<std::size_t>(length)));
  }
}

std::int64_t Rows::integer(int column) const { return value(column).as_integer(); }

std::string Rows::text(int column) const { return text_at(row_, column); }

std::string Rows::text_at(int row, int column) const {
  return std::string(PQgetvalue(result_, row, column),
                     static_cast<std::size_t>(PQgetlength(result_, row, column)));
}

std::vector<Value> Rows::row() const {
  std::vector<Value> values;
  values.reserve(static_cast<std::size_t>(column_count()));
  for (int i = 0; i < column_count(); ++i) values.push_back(value(i));
  return values;
}

// ---------------------------------------------------------------- Connection

Result<std::unique_ptr<Connection>> Connection::open(const std::string& url) {
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &parse_error);
  if (options == nullptr) {
    std::string message = parse_error == nullptr ? "out of memory" : one_line(parse_error);
    PQfreemem(parse_error);
    return Status(ErrorCode::kInvalidArgument,
                  redact_password("postgresql: not a connection URL: " + message, url));
  }
  PQconninfoFree(options);

  // The URL is expanded in place of dbname; the keywords after it override
  // what it says.
  const char* const keywords[] = {"dbname", "client_encoding", "fallback_application_name",
                                  nullptr};
  const char* const values[] = {url.c_str(), "UTF8", "lumbungd", nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return Status(ErrorCode::kInternal, "postgresql: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = one_line(PQerrorMessage(conn));
    PQfinish(conn);
    return Status(ErrorCode::kUnavailable,
                  redact_password("postgresql: cannot connect: " + message, url));
  }
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  return std::unique_ptr<Connection>(new Connection(conn, url));
}

Connection::~Connection() { PQfinish(conn_); }

Status Connection::failure(std::string_view what, const pg_result* result) {
  const char* sqlstate = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  // The primary message only: the DETAIL of a unique violation quotes the
  // row's key, which may be personal data.
  const char* primary =
      result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  last_sqlstate_ = sqlstate == nullptr ? "" : sqlstate;
  std::string message = "postgresql: " + std::string(what) + ": " +
                        one_line(primary != nullptr ? primary : PQerrorMessage(conn_));
  if (!last_sqlstate_.empty()) message += " (SQLSTATE " + last_sqlstate_ + ")";
  const ErrorCode code = error_code_for(last_sqlstate_, PQstatus(conn_) == CONNECTION_BAD);
  return Status(code, redact_password(std::move(message), url_));
}

Status Connection::exec_as(std::string_view sql, std::string_view what, std::string* command_tag) {
  LUMBUNG_RETURN_IF_ERROR(finish_sent());
  PGresult* result = PQexec(conn_, std::string(sql).c_str());
  const ExecStatusType state = PQresultStatus(result);
  Status status;
  if (state == PGRES_COMMAND_OK || state == PGRES_TUPLES_OK || state == PGRES_EMPTY_QUERY) {
    last_sqlstate_.clear();
    if (command_tag != nullptr) *command_tag = PQcmdStatus(result);
  } else {
    status = failure(what, result);
  }
  PQclear(result);
  return status;
}

Status Connection::exec(std::string_view sql) { return exec_as(sql, sql_label(sql), nullptr); }

Result<const Connection::Prepared*> Connection::prepared(const std::string& sql) {
  if (auto it = statements_.find(sql); it != statements_.end()) return &it->second;
  if (!stale_statements_.empty() && PQtransactionStatus(conn_) == PQTRANS_IDLE) {
    for (const std::string& name : stale_statements_) {
      (void)exec_as("DEALLOCATE " + name, "DEALLOCATE", nullptr);
    }
    stale_statements_.clear();
  }
  Prepared statement;
  statement.name = "lumbung_" + std::to_string(next_statement_++);
  PGresult* result = PQprepare(conn_, statement.name.c_str(), sql.c_str(), 0, nullptr);
  if (PQresultStatus(result) != PGRES_COMMAND_OK) {
    Status status = failure("cannot prepare " + sql_label(sql), result);
    PQclear(result);
    return status;
  }
  PQclear(result);
  result = PQdescribePrepared(conn_, statement.name.c_str());
  if (PQresultStatus(result) != PGRES_COMMAND_OK) {
    Status status = failure("cannot describe " + sql_label(sql), result);
    PQclear(result);
    return status;
  }
  for (int i = 0; i < PQnparams(result); ++i)
    statement.param_types.push_back(PQparamtype(result, i));
  for (int i = 0; i < PQnfields(result); ++i) {
    const Oid type = PQftype(result, i);
    if (!is_readable_type(type)) {
      Status status(ErrorCode::kInvalidArgument,
                    "postgresql: " + sql_label(sql) + ": column '" + PQfname(result, i) +
                        "' is of " + type_label(type) +
                        ", which lumbung::pg does not read: cast it in the query (::text)");
      PQclear(result);
      (void)exec_as("DEALLOCATE " + statement.name, "DEALLOCATE", nullptr);
      return status;
    }
  }
  PQclear(result);
  auto [it, inserted] = statements_.emplace(sql, std::move(statement));
  return &it->second;
}

// A statement's parameters as libpq takes them (PQexecPrepared's arrays).
// values point into buffers: set by point() once the object stays in place
// (a moved short string moves its bytes).
struct Connection::Bound {
  std::vector<std::string> buffers;
  std::vector<bool> present;  // false: NULL
  std::vector<int> formats;
  std::vector<const char*> values;
  std::vector<int> lengths;

  void point() {
    values.assign(buffers.size(), nullptr);
    lengths.assign(buffers.size(), 0);
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      if (!present[i]) continue;
      values[i] = buffers[i].data();
      lengths[i] = static_cast<int>(buffers[i].size());
    }
  }
  int count() const { return static_cast<int>(buffers.size()); }
};

Result<Connection::Bound> Connection::bind(const std::string& sql, const Prepared* statement,
                                           const std::vector<Value>& params) {
  const std::size_t count = statement->param_types.size();
  auto param_error = [&](std::size_t i, ErrorCode code, const std::string& problem) {
    return Status(code, "postgresql: " + sql_label(sql) + ": parameter $" + std::to_string(i + 1) +
                            ": " + problem);
  };
  if (params.size() != count) {
    return Status(ErrorCode::kInvalidArgument, "postgresql: " + sql_label(sql) + ": takes " +
                                                   std::to_string(count) + " parameters, " +
                                                   std::to_string(params.size()) + " given");
  }
  Bound bound{.buffers = std::vector<std::string>(count),
              .present = std::vector<bool>(count, false),
              .formats = std::vector<int>(count, 1),
              .values = {},
              .lengths = {}};
  std::vector<std::string>& buffers = bound.buffers;
  std::vector<int>& formats = bound.formats;
  for (std::size_t i = 0; i < count; ++i) {
    const Value& value = params[i];
    const Oid type = statement->param_types[i];
    std::string& out = buffers[i];
    auto mismatch = [&] {
      return param_error(i, ErrorCode::kTypeMismatch,
                         "a " + std::string(type_name(value.type())) +
                             " where PostgreSQL expects " + type_label(type));
    };
    switch (value.type()) {
      case ValueType::kNull:
        continue;
      case ValueType::kInteger: {
        const std::int64_t v = value.as_integer();
        auto out_of_range = [&] {
          return param_error(i, ErrorCode::kInvalidArgument,
                             std::to_string(v) + " is out of range for " + type_label(type));
        };
        if (type == kInt8) {
          put_big_endian(out, v);
        } else if (type == kInt4) {
          if (v < std::numeric_limits<std::int32_t>::min() ||
              v > std::numeric_limits<std::int32_t>::max()) {
            return out_of_range();
          }
          put_big_endian(out, static_cast<std::int32_t>(v));
        } else if (type == kInt2) {
          if (v < std::numeric_limits<std::int16_t>::min() ||
              v > std::numeric_limits<std::int16_t>::max()) {
            return out_of_range();
          }
          put_big_endian(out, static_cast<std::int16_t>(v));
        } else if (type == kOid) {
          if (v < 0 || v > std::numeric_limits<std::uint32_t>::max()) return out_of_range();
          put_big_endian(out, static_cast<std::uint32_t>(v));
        } else if (type == kBool) {
          if (v != 0 && v != 1) return out_of_range();
          out.push_back(static_cast<char>(v));
        } else if (type == kFloat8) {
          put_big_endian(out, std::bit_cast<std::uint64_t>(static_cast<double>(v)));
        } else if (type == kFloat4) {
          put_big_endian(out, std::bit_cast<std::uint32_t>(static_cast<float>(v)));
        } else if (is_text_type(type) || type == kBytea) {
          return mismatch();
        } else {
          out = std::to_string(v);
          formats[i] = 0;
        }
        break;
      }
      case ValueType::kReal: {
        const double v = value.as_real();
        if (type == kFloat8) {
          put_big_endian(out, std::bit_cast<std::uint64_t>(v));
        } else if (type == kFloat4) {
          put_big_endian(out, std::bit_cast<std::uint32_t>(static_cast<float>(v)));
        } else if (type == kInt8 || type == kInt4 || type == kInt2 || type == kOid ||
                   type == kBool || is_text_type(type) || type == kBytea) {
          return mismatch();
        } else {
          char text[32];
          std::snprintf(text, sizeof text, "%.17g", v);
          out = text;
          formats[i] = 0;
        }
        break;
      }
      case ValueType::kText:
        if (type == kBytea || type == kInt8 || type == kInt4 || type == kInt2 || type == kOid ||
            type == kBool || type == kFloat8 || type == kFloat4) {
          return mismatch();
        }
        out = value.as_text();
        if (!is_text_type(type)) {
          // PostgreSQL parses it; the text format is a C string.
          if (out.find('\0') != std::string::npos) {
            return param_error(i, ErrorCode::kInvalidArgument,
                               "a text with a NUL byte for " + type_label(type));
          }
          formats[i] = 0;
        }
        break;
      case ValueType::kBlob:
        if (type != kBytea) return mismatch();
        out.assign(value.as_blob().begin(), value.as_blob().end());
        break;
    }
    bound.present[i] = true;
  }
  return bound;
}

bool Connection::stale_statement(const std::string& sql, const pg_result* result) {
  // A table the statement reads changed shape (ALTER TABLE by a schema
  // upgrade, maybe another daemon's) since it was prepared: PostgreSQL
  // refuses to run it with another row type ("cached plan must not change
  // result type", raised by the plan cache's RevalidateCachedQuery; the
  // function's name does not depend on the server's language).
  const char* source = PQresultErrorField(result, PG_DIAG_SOURCE_FUNCTION);
  if (last_sqlstate_ != "0A000" || source == nullptr ||
      std::strcmp(source, "RevalidateCachedQuery") != 0) {
    return false;
  }
  // Prepared again on the next use; the old one is deallocated once no
  // transaction is open (an aborted one accepts nothing but ROLLBACK).
  if (auto it = statements_.find(sql); it != statements_.end()) {
    stale_statements_.push_back(it->second.name);
    statements_.erase(it);
  }
  return true;
}

Status Connection::retry_stale(const Status& status) {
  return Status(kRetryableCode,
                status.message() + ": a table it reads changed; run the transaction again");
}

void pause_before_retry(int attempt) {
  thread_local std::minstd_rand random(std::random_device{}());
  const int most_ms = 1 << std::min(attempt - 2, 6);
  std::uniform_int_distribution<int> microseconds(0, most_ms * 1000);
  std::this_thread::sleep_for(std::chrono::microseconds(microseconds(random)));
}

Result<Rows> Connection::query(const std::string& sql, const std::vector<Value>& params) {
  LUMBUNG_RETURN_IF_ERROR(finish_sent());
  LUMBUNG_ASSIGN_OR_RETURN(const Prepared* statement, prepared(sql));
  LUMBUNG_ASSIGN_OR_RETURN(Bound bound, bind(sql, statement, params));
  bound.point();
  PGresult* result =
      PQexecPrepared(conn_, statement->name.c_str(), bound.count(), bound.values.data(),
                     bound.lengths.data(), bound.formats.data(), /*resultFormat=*/1);
  const ExecStatusType state = PQresultStatus(result);
  if (state == PGRES_TUPLES_OK || state == PGRES_COMMAND_OK || state == PGRES_EMPTY_QUERY) {
    last_sqlstate_.clear();
    return Rows(result);
  }
  Status status = failure(sql_label(sql), result);
  const bool stale = stale_statement(sql, result);
  PQclear(result);
  if (!stale) return status;
  if (PQtransactionStatus(conn_) == PQTRANS_IDLE) return query(sql, params);
  return retry_stale(status);
}

Result<Rows> Connection::query_planned(const std::string& sql, const std::vector<Value>& params) {
  LUMBUNG_RETURN_IF_ERROR(finish_sent());
  // Prepared once all the same, for its parameters' types.
  LUMBUNG_ASSIGN_OR_RETURN(const Prepared* statement, prepared(sql));
  LUMBUNG_ASSIGN_OR_RETURN(Bound bound, bind(sql, statement, params));
  bound.point();
  PGresult* result = PQexecParams(conn_, sql.c_str(), bound.count(), statement->param_types.data(),
                                  bound.values.data(), bound.lengths.data(), bound.formats.data(),
                                  /*resultFormat=*/1);
  const ExecStatusType state = PQresultStatus(result);
  if (state == PGRES_TUPLES_OK || state == PGRES_COMMAND_OK || state == PGRES_EMPTY_QUERY) {
    last_sqlstate_.clear();
    return Rows(result);
  }
  Status status = failure(sql_label(sql), result);
  PQclear(result);
  return status;
}

Status Connection::send(const std::string& sql, const std::vector<Value>& params) {
  // Bounded, so that the answers waiting in the server's socket never fill
  // it while this side is still sending (libpq's blocking pipeline would
  // then wait forever).
  constexpr std::size_t kMostSent = 256;
  if (sent_.size() >= kMostSent) LUMBUNG_RETURN_IF_ERROR(finish_sent());
  if (statements_.find(sql) == statements_.end()) {
    LUMBUNG_RETURN_IF_ERROR(finish_sent());  // PQprepare waits for its answer
  }
  LUMBUNG_ASSIGN_OR_RETURN(const Prepared* statement, prepared(sql));
  LUMBUNG_ASSIGN_OR_RETURN(Bound bound, bind(sql, statement, params));
  bound.point();
  if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn_) == 0) {
    return failure("cannot enter pipeline mode", nullptr);
  }
  if (PQsendQueryPrepared(conn_, statement->name.c_str(), bound.count(), bound.values.data(),
                          bound.lengths.data(), bound.formats.data(), /*resultFormat=*/1) == 0) {
    Status status = failure(sql_label(sql), nullptr);
    (void)finish_sent();
    return status;
  }
  sent_.push_back(sql);
  return Status::ok();
}

Status Connection::finish_sent() {
  if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF) return Status::ok();
  Status first;  // the first statement's failure; those after it were not run
  bool stale = false;
  if (PQpipelineSync(conn_) == 0) first = failure("pipeline sync", nullptr);
  for (const std::string& sql : sent_) {
    while (PGresult* result = PQgetResult(conn_)) {
      const ExecStatusType state = PQresultStatus(result);
      if (first.is_ok() && state != PGRES_COMMAND_OK && state != PGRES_TUPLES_OK &&
          state != PGRES_EMPTY_QUERY) {
        first = failure(sql_label(sql), result);
        stale = stale_statement(sql, result);
      }
      PQclear(result);
    }
  }
  sent_.clear();
  // Then the sync point's result, after which the connection is idle.
  for (;;) {
    PGresult* result = PQgetResult(conn_);
    if (result == nullptr) break;
    const bool synced = PQresultStatus(result) == PGRES_PIPELINE_SYNC;
    PQclear(result);
    if (synced) break;
  }
  if (PQexitPipelineMode(conn_) == 0 && first.is_ok()) {
    first = failure("cannot leave pipeline mode", nullptr);
  }
  if (first.is_ok()) last_sqlstate_.clear();
  return stale ? retry_stale(first) : first;
}

Status Connection::begin(Isolation isolation) {
  switch (isolation) {
    case Isolation::kReadCommitted:
      return exec_as("BEGIN ISOLATION LEVEL READ COMMITTED", "BEGIN", nullptr);
    case Isolation::kRepeatableRead:
      return exec_as("BEGIN ISOLATION LEVEL REPEATABLE READ", "BEGIN", nullptr);
    case Isolation::kSerializable:
      return exec_as("BEGIN ISOLATION LEVEL SERIALIZABLE", "BEGIN", nullptr);
  }
  return Status(ErrorCode::kInvalidArgument, "postgresql: BEGIN: unknown isolation level");
}

Status Connection::commit() {
  // A failure among the statements sent and not read yet fails the commit,
  // which then rolls back (no transaction stays open).
  if (Status sent = finish_sent(); !sent.is_ok()) {
    (void)exec_as("ROLLBACK", "ROLLBACK", nullptr);
    return sent;
  }
  std::string tag;
  LUMBUNG_RETURN_IF_ERROR(exec_as("COMMIT", "COMMIT", &tag));
  if (tag == "ROLLBACK") {
    return Status(ErrorCode::kInternal,
                  "postgresql: COMMIT: the transaction was rolled back, as a statement in it "
                  "had failed");
  }
  return Status::ok();
}

Status Connection::rollback() {
  (void)finish_sent();  // their outcomes no longer matter
  return exec_as("ROLLBACK", "ROLLBACK", nullptr);
}

Status Connection::listen(const std::string& channel) {
  char* quoted = PQescapeIdentifier(conn_, channel.data(), channel.size());
  if (quoted == nullptr) return failure("LISTEN", nullptr);
  const std::string sql = std::string("LISTEN ") + quoted;
  PQfreemem(quoted);
  LUMBUNG_RETURN_IF_ERROR(exec_as(sql, "LISTEN", nullptr));
  if (std::find(channels_.begin(), channels_.end(), channel) == channels_.end()) {
    channels_.push_back(channel);
  }
  return Status::ok();
}

Status Connection::unlisten(const std::string& channel) {
  char* quoted = PQescapeIdentifier(conn_, channel.data(), channel.size());
  if (quoted == nullptr) return failure("UNLISTEN", nullptr);
  const std::string sql = std::string("UNLISTEN ") + quoted;
  PQfreemem(quoted);
  LUMBUNG_RETURN_IF_ERROR(exec_as(sql, "UNLISTEN", nullptr));
  channels_.erase(std::remove(channels_.begin(), channels_.end(), channel), channels_.end());
  return Status::ok();
}

Status Connection::notify(const std::string& channel, const std::string& payload) {
  return query("SELECT pg_notify($1, $2)", {Value(channel), Value(payload)}).status();
}

Result<std::vector<Notification>> Connection::wait_for_notification(
    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<Notification> received;
  auto take_queued = [&] {
    while (PGnotify* notify = PQnotifies(conn_)) {
      received.push_back(Notification{notify->relname, notify->extra, notify->be_pid});
      PQfreemem(notify);
    }
  };
  const std::string what = "waiting for notifications";
  for (;;) {
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) == CONNECTION_BAD) {
      return failure(what, nullptr);
    }
    take_queued();
    if (!received.empty()) return received;
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return received;
    pollfd socket{PQsocket(conn_), POLLIN, 0};
    if (socket.fd < 0) return failure(what, nullptr);
    const int ready = ::poll(&socket, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      return Status(ErrorCode::kIo, "postgresql: " + what + ": poll: " + std::strerror(errno));
    }
  }
}

bool Connection::connected() const { return PQstatus(conn_) == CONNECTION_OK; }

Status Connection::reset() {
  sent_.clear();  // their outcomes are lost with the session
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) return failure("cannot reconnect", nullptr);
  // A new server session: no statement is prepared in it, no channel listened to.
  statements_.clear();
  stale_statements_.clear();
  last_sqlstate_.clear();
  const std::vector<std::string> channels = channels_;
  for (const std::string& channel : channels) LUMBUNG_RETURN_IF_ERROR(listen(channel));
  return Status::ok();
}

int Connection::backend_pid() const { return PQbackendPID(conn_); }

}  // namespace lumbung::pg
