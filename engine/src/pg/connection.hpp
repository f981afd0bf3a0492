// A thin RAII layer over libpq, the PostgreSQL client library, for the daemon's
// PostgreSQL store: one connection, statements prepared once and kept by their
// text, lumbung::Value parameters and results in PostgreSQL's binary format,
// SQLSTATEs mapped to Lumbung error codes, transactions with retries,
// LISTEN/NOTIFY, and reconnection after a server restart. The PostgreSQL
// counterpart of db/database.hpp. Internal.
//
// Thread-safety: none. A Connection and the Rows it returned belong to one
// thread at a time (libpq's own rule for a PGconn).
//
// Errors: every failure is a Status whose message reads
//   "postgresql: WHAT: libpq's message (SQLSTATE 23505)"
// with the SQLSTATE when the server sent one. Codes:
//   40001 serialization_failure, 40P01 deadlock_detected  -> kBusy: retry the
//       transaction now (retry class kAbort; retry_transaction() does);
//   class 23 (integrity constraint violation, e.g. 23505 unique_violation)
//       -> kConstraint;
//   class 08 (connection exception), 57P01-57P03 (the server shutting down or
//       starting), 53300 too_many_connections, and any failure that leaves the
//       connection broken (PQstatus CONNECTION_BAD) -> kUnavailable: reset()
//       and try again later; a COMMIT that failed so has an unknown outcome;
//   53100 disk_full -> kNoSpace; the rest of classes 53 and 58 (resources,
//       system I/O) -> kIo;
//   anything else (syntax errors, unknown tables, data exceptions, ...) ->
//       kInternal: Lumbung's SQL is wrong, or the database is not Lumbung's.
// No message ever holds the password of the connection's URL or conninfo.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lumbung/status.hpp"
#include "lumbung/value.hpp"

// libpq's handles (libpq-fe.h), declared here so that this header does not
// need libpq's include path: lumbung_pg links libpq privately.
struct pg_conn;
struct pg_result;

namespace lumbung::pg {

// The error code for a SQLSTATE (five characters; "" when the server sent
// none), as the table at the top of this file says. `connection_bad`: the
// connection is broken (PQstatus CONNECTION_BAD), which makes any failure
// kUnavailable.
ErrorCode error_code_for(std::string_view sqlstate, bool connection_bad);

// The code of the errors worth retrying the whole transaction for at once:
// serialization failures and deadlocks (docs/decisions/0032).
inline constexpr ErrorCode kRetryableCode = ErrorCode::kBusy;

// `message` with every occurrence of the password written in `url` (a
// postgresql:// URL, its percent-decoded form, or a key=value conninfo)
// replaced by "***". Used on every message a Connection returns.
std::string redact_password(std::string message, std::string_view url);

// The rows of one query, read in PostgreSQL's binary format.
//
//   LUMBUNG_ASSIGN_OR_RETURN(pg::Rows rows, conn.query("SELECT id, name FROM t WHERE v > $1",
//                                                      {Value(std::int64_t{3})}));
//   while (rows.step()) use(rows.integer(0), rows.text(1));
//
// A result holds all its rows in memory (libpq reads them whole): page big
// scans with LIMIT.
class Rows {
 public:
  Rows() = default;
  ~Rows();
  Rows(Rows&& other) noexcept;
  Rows& operator=(Rows&& other) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;

  // Moves to the next row: false after the last (at once when there is none).
  bool step();
  int row_count() const;
  // The index of the current row: -1 before the first step().
  int position() const { return row_; }
  int column_count() const;
  std::string_view column_name(int column) const;
  // The number of rows an INSERT, UPDATE or DELETE touched (PQcmdTuples); 0
  // for other statements.
  std::int64_t affected_rows() const;

  // Column `column` of the current row. REQUIRES: step() returned true.
  // int8, int4, int2 and oid read as integers; float8 and float4 as reals;
  // bool as the integers 0 and 1; text, varchar, bpchar, name and "char" as
  // text; bytea as a blob; void and SQL NULL as null. Other types are refused
  // when the statement is prepared (cast them in the query: `x::text`).
  Value value(int column) const;
  bool is_null(int column) const;
  // REQUIRES: the column is of an integer type (or bool) and not NULL.
  std::int64_t integer(int column) const;
  // REQUIRES: the column is of a text type and not NULL.
  std::string text(int column) const;
  // As text(), of row `row` (0 to row_count() - 1), wherever step() stands.
  std::string text_at(int row, int column) const;
  // All of the current row's values, in column order.
  std::vector<Value> row() const;

 private:
  friend class Connection;
  explicit Rows(pg_result* result);

  pg_result* result_ = nullptr;
  int row_ = -1;
};

// How strictly a transaction is isolated from concurrent ones (PostgreSQL's
// BEGIN ISOLATION LEVEL ...). kSerializable transactions may fail with
// kRetryableCode, at any statement or at COMMIT.
enum class Isolation { kReadCommitted, kRepeatableRead, kSerializable };

// One NOTIFY received on a channel this connection listens to.
struct Notification {
  std::string channel;
  std::string payload;
  int sender_pid = 0;  // the notifying server process (Connection::backend_pid)
};

class Connection {
 public:
  // Connects to `url`, a postgresql:// (or postgres://) URL or a libpq
  // key=value conninfo ("host=/run/postgresql dbname=lumbung"); what it
  // leaves out comes from libpq's defaults and PG* environment variables.
  // Texts are exchanged in UTF-8 (client_encoding). Errors: kUnavailable when
  // the server cannot be reached or refuses the connection,
  // kInvalidArgument for a malformed URL; never with the password.
  static Result<std::unique_ptr<Connection>> open(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without parameters (the simple query
  // protocol), discarding any rows. Stops at the first that fails.
  Status exec(std::string_view sql);

  // Runs one statement with `params` bound to $1, $2, ...: prepared once per
  // connection (PQprepare) and kept by its text, so the statement's text must
  // be the same each time (put values in parameters, not in the text).
  // Parameters are sent in binary, each as the type PostgreSQL inferred for
  // it: an integer as int8, int4 or int2 (out of range: kInvalidArgument) or
  // as bool (0 or 1); a real as float8 or float4; a text as text, varchar,
  // bpchar or name; a blob as bytea; null as NULL. A parameter of another
  // type (numeric, date, uuid, jsonb, ...) is sent as its text for
  // PostgreSQL to parse (a blob cannot be). A parameter whose type
  // PostgreSQL cannot infer needs a cast in the text ($1::bigint).
  // When a table the statement reads changed its columns since it was
  // prepared (a schema upgrade), the statement is prepared again: at once
  // outside a transaction; inside one, which PostgreSQL has then aborted, the
  // call fails with kRetryableCode, so that retry_transaction() runs the
  // transaction again.
  Result<Rows> query(const std::string& sql, const std::vector<Value>& params = {});
  // As query(), but planned for `params` at each run (an unnamed statement),
  // never by a plan kept for any parameters: for a lookup whose best plan
  // changes as its table grows (a plan kept from while the table was small
  // may scan it whole).
  Result<Rows> query_planned(const std::string& sql, const std::vector<Value>& params);

  // Sends one statement as query() runs it, without waiting for its
  // outcome (libpq's pipeline mode): for a transaction's writes whose rows
  // are not read, many statements in one round trip. PostgreSQL runs them in
  // order, and the next call that waits for the server (query(), exec(),
  // commit(), ...; or finish_sent()) first reads their outcomes: the first
  // statement that failed fails that call (the statements after it were not
  // run), with kRetryableCode for a stale prepared statement as query() has;
  // commit() then rolls back, and rollback() ignores them. A failure to send
  // is returned at once.
  // REQUIRES: inside a transaction begun with begin() (outside one, each
  // statement would commit on its own, and a failure could go unread).
  Status send(const std::string& sql, const std::vector<Value>& params);
  // Reads the outcomes of the statements send() sent: the first failure.
  Status finish_sent();

  // BEGIN with `isolation`, COMMIT and ROLLBACK. commit() fails when the
  // transaction was already aborted by a failed statement, sent ones included
  // (PostgreSQL then
  // rolls back and answers COMMIT with ROLLBACK) or when the server refuses
  // to commit it (a serialization failure: kRetryableCode). Prefer
  // in_transaction() and retry_transaction() below.
  Status begin(Isolation isolation = Isolation::kReadCommitted);
  Status commit();
  Status rollback();

  // LISTEN on `channel` (any text; quoted as an identifier). The channels
  // are listened to again after reset().
  Status listen(const std::string& channel);
  Status unlisten(const std::string& channel);
  // NOTIFY (pg_notify) `channel` with `payload` (under 8000 bytes). Inside a
  // transaction, it is delivered when the transaction commits.
  Status notify(const std::string& channel, const std::string& payload);
  // The notifications that arrived for the channels listened to, waiting up
  // to `timeout` for the first when none is queued: empty when none came in
  // time. Notifications that arrived during other calls are kept for this
  // one. Waits on the connection's socket (poll(2)); an idle connection
  // whose server went away wakes with kUnavailable.
  Result<std::vector<Notification>> wait_for_notification(std::chrono::milliseconds timeout);

  // Whether the connection is usable as far as libpq knows (a server that
  // went away is only noticed by the next call, which fails kUnavailable).
  bool connected() const;
  // Reconnects with the same URL (PQreset), for instance after a call failed
  // with kUnavailable because PostgreSQL restarted: the server-side session
  // is new, so the prepared statements are prepared again on first use and
  // the channels are listened to again. A transaction in progress is lost.
  Status reset();

  // The server process serving this connection (PQbackendPID).
  int backend_pid() const;
  // The SQLSTATE of the last call if it failed with one, "" otherwise.
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // libpq's handle, for what this class does not wrap. Valid until the
  // Connection ends.
  pg_conn* handle() const { return conn_; }

 private:
  struct Prepared {
    std::string name;                       // the server-side statement name
    std::vector<unsigned int> param_types;  // as PostgreSQL inferred them
  };

  Connection(pg_conn* conn, std::string url) : conn_(conn), url_(std::move(url)) {}
  // A failed Status for `what`, from `result` when there is one (its
  // SQLSTATE and message) or else the connection's error message; records
  // last_sqlstate_.
  Status failure(std::string_view what, const pg_result* result);
  struct Bound;

  // The statement prepared for `sql`, preparing it on first use.
  Result<const Prepared*> prepared(const std::string& sql);
  // `params` converted for `statement` (query() says how).
  Result<Bound> bind(const std::string& sql, const Prepared* statement,
                     const std::vector<Value>& params);
  // Whether `result`, a failure of `sql`, says its prepared statement is
  // stale (see query()); if so, it is forgotten, to be prepared again.
  bool stale_statement(const std::string& sql, const pg_result* result);
  // `status`, a stale statement's failure, as one to retry.
  static Status retry_stale(const Status& status);
  // Runs `sql` by the simple query protocol, reporting `what` on failure;
  // `command_tag` receives the command status ("COMMIT", "ROLLBACK", ...).
  Status exec_as(std::string_view sql, std::string_view what, std::string* command_tag);

  pg_conn* conn_;
  std::string url_;  // for reset() and redacting messages; never shown
  std::map<std::string, Prepared, std::less<>> statements_;
  std::uint64_t next_statement_ = 0;
  std::vector<std::string> stale_statements_;  // to DEALLOCATE (see query())
  std::vector<std::string> channels_;          // listened to, in order
  std::vector<std::string> sent_;              // by send(), outcomes not read yet
  std::string last_sqlstate_;
};

// Runs `body` (returning Status) inside conn.begin(isolation)/commit(),
// rolling back when it fails. The body's error, or the commit's, is returned.
template <typename Body>
Status in_transaction(Connection& conn, Isolation isolation, Body&& body) {
  LUMBUNG_RETURN_IF_ERROR(conn.begin(isolation));
  Status status = body();
  if (!status.is_ok()) {
    (void)conn.rollback();  // the body's error is the one to report
    return status;
  }
  return conn.commit();  // a failed COMMIT leaves no transaction open
}

// The attempts retry_transaction() makes by default.
inline constexpr int kDefaultTransactionAttempts = 10;

// Sleeps before attempt `attempt` (2 or more) of a transaction that failed
// with kRetryableCode: a random time of up to 2^(attempt - 2) ms, at most
// 64 ms, so that transactions that conflicted once do not meet again in step
// (4 daemons binding 4,000 new devices' tokens at once made a SERIALIZABLE
// one fail 5 immediate attempts).
void pause_before_retry(int attempt);

// Runs in_transaction(conn, isolation, body) until it does not fail with
// kRetryableCode (a serialization failure or deadlock), at most `attempts`
// times, pausing before each retry (pause_before_retry; PostgreSQL's advice
// is to retry: the retried transaction sees what the one it conflicted with
// committed). The body runs once per attempt, so what
// it does outside the database must be safe to repeat. Connection loss
// (kUnavailable) is not retried: a COMMIT's outcome is then unknown, and only
// the caller knows whether the work can be checked or is safe to repeat.
// Returns the last attempt's Status; after the last failed attempt, its
// message says how many were made.
template <typename Body>
Status retry_transaction(Connection& conn, Isolation isolation, Body&& body,
                         int attempts = kDefaultTransactionAttempts) {
  Status status;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) pause_before_retry(attempt);
    status = in_transaction(conn, isolation, body);
    if (status.code() != kRetryableCode) return status;
  }
  return Status(status.code(),
                status.message() + " (gave up after " + std::to_string(attempts) + " attempts)");
}

}  // namespace lumbung::pg
