// lumbung::pg::Connection against a real PostgreSQL 15 server: the run's
// throwaway cluster (support/pg_cluster.hpp), a database per test case, and a
// cluster of its own for the test that restarts one.
#include "pg/connection.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "support/pg_cluster.hpp"

namespace {

using lumbung::Blob;
using lumbung::ErrorCode;
using lumbung::RetryClass;
using lumbung::Status;
using lumbung::Value;
using lumbung::pg::Connection;
using lumbung::pg::Isolation;
using lumbung::pg::Rows;
using namespace std::chrono_literals;

std::unique_ptr<Connection> connect(const std::string& url) {
  auto conn = Connection::open(url);
  INFO(conn.status().to_string());
  REQUIRE(conn.is_ok());
  return std::move(conn).value();
}

void require_ok(const Status& status) {
  INFO(status.to_string());
  REQUIRE(status.is_ok());
}

Rows require_rows(lumbung::Result<Rows> rows) {
  INFO(rows.status().to_string());
  REQUIRE(rows.is_ok());
  return std::move(rows).value();
}

// The single value of a one-row, one-column query.
Value scalar(Connection& conn, const std::string& sql, const std::vector<Value>& params = {}) {
  Rows rows = require_rows(conn.query(sql, params));
  REQUIRE(rows.step());
  REQUIRE(rows.column_count() == 1);
  Value value = rows.value(0);
  REQUIRE_FALSE(rows.step());
  return value;
}

// The URL of a fresh database on the run's cluster.
std::string fresh_database(const std::string& name) {
  return lumbung::test::shared_pg_cluster().create_database(name);
}

}  // namespace

TEST_CASE("every Value goes to PostgreSQL and comes back the same, NULL included", "[pg]") {
  auto conn = connect(fresh_database("pg_round_trip"));
  require_ok(
      conn->exec("CREATE TABLE cells (k serial PRIMARY KEY, i int8, r float8, t text, b bytea)"));
  const std::string insert = "INSERT INTO cells (i, r, t, b) VALUES ($1, $2, $3, $4)";
  const std::vector<std::vector<Value>> rows = {
      {Value(std::numeric_limits<std::int64_t>::min()), Value(-0.5), Value(""), Value(Blob{})},
      {Value(std::numeric_limits<std::int64_t>::max()), Value(1e308), Value("Desa Sukamaju"),
       Value(Blob{0, 0, 1, 0, 255, 0})},
      {Value(std::int64_t{0}), Value(5e-324), Value("Kabupatén ☕ 村 😀"), Value(Blob{0})},
      {Value(), Value(), Value(), Value()},
  };
  for (const auto& row : rows) {
    Rows inserted = require_rows(conn->query(insert, row));
    CHECK(inserted.affected_rows() == 1);
  }
  Rows read = require_rows(conn->query("SELECT i, r, t, b FROM cells ORDER BY k"));
  CHECK(read.row_count() == 4);
  CHECK(read.column_name(3) == "b");
  for (const auto& row : rows) {
    REQUIRE(read.step());
    CHECK(read.row() == row);
  }
  CHECK_FALSE(read.step());

  // The empty text and blob are not NULL.
  CHECK(scalar(*conn, "SELECT count(*) FROM cells WHERE t = '' AND b = ''::bytea") ==
        Value(std::int64_t{1}));
  // A parameter read back as itself, by the type PostgreSQL inferred for it.
  CHECK(scalar(*conn, "SELECT $1::bytea", {Value(Blob{0, 'a', 0})}) == Value(Blob{0, 'a', 0}));
  CHECK(scalar(*conn, "SELECT $1::text", {Value()}) == Value());
}

TEST_CASE("PostgreSQL's other types read as the Value of their family", "[pg]") {
  auto conn = connect(fresh_database("pg_types"));
  Rows rows = require_rows(conn->query(
      "SELECT 7::int2, -8::int4, 9::int8, 1.5::float4, 2.25::float8, true, false, "
      "'v'::varchar(3), 'c'::char(2), NULL::int4, 'pg_class'::regclass::oid, pg_notify('x', '')"));
  REQUIRE(rows.step());
  CHECK(rows.row() == std::vector<Value>{Value(7), Value(-8), Value(9), Value(1.5), Value(2.25),
                                         Value(1), Value(0), Value("v"), Value("c "), Value(),
                                         Value(1259), Value()});

  // Parameters are sent as the type PostgreSQL expects where they are used.
  require_ok(conn->exec("CREATE TABLE narrow (s int2, n int4, f float4, ok bool, v varchar(10))"));
  const std::string insert = "INSERT INTO narrow VALUES ($1, $2, $3, $4, $5)";
  require_ok(
      conn->query(insert, {Value(-32768), Value(2147483647), Value(0.5), Value(1), Value("pendek")})
          .status());
  CHECK(scalar(*conn, "SELECT s::int8 + n FROM narrow") == Value(std::int64_t{2147450879}));
  CHECK(scalar(*conn, "SELECT ok FROM narrow") == Value(1));
  // A numeric parameter goes as text, for PostgreSQL to parse.
  CHECK(scalar(*conn, "SELECT ($1::numeric * 2)::text", {Value(21)}) == Value("42"));

  auto out_of_range = conn->query(insert, {Value(32768), Value(), Value(), Value(), Value()});
  CHECK(out_of_range.status().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(out_of_range.status().message(),
             Catch::Contains("parameter $1: 32768 is out of range for int2"));
  auto mismatch = conn->query(insert, {Value(), Value(), Value(), Value(), Value(Blob{1})});
  CHECK(mismatch.status().code() == ErrorCode::kTypeMismatch);
  CHECK_THAT(mismatch.status().message(),
             Catch::Contains("parameter $5: a blob where PostgreSQL expects varchar"));
  auto count = conn->query(insert, {Value(1)});
  CHECK(count.status().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(count.status().message(), Catch::Contains("takes 5 parameters, 1 given"));

  // A type Rows does not read is refused when prepared, with the way out.
  auto timestamp = conn->query("SELECT now() AS at");
  CHECK(timestamp.status().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(timestamp.status().message(),
             Catch::Contains("column 'at'") && Catch::Contains("cast it in the query (::text)"));
  CHECK(scalar(*conn, "SELECT (now() > '2000-01-01')::bool") == Value(1));
}

TEST_CASE("an SQL error carries its SQLSTATE, a code by its class, and no row data", "[pg]") {
  auto conn = connect(fresh_database("pg_errors"));
  const Status syntax = conn->exec("SELEKT 1");
  CHECK(syntax.code() == ErrorCode::kInternal);
  CHECK_THAT(syntax.message(), Catch::StartsWith("postgresql: 'SELEKT 1': syntax error") &&
                                   Catch::EndsWith("(SQLSTATE 42601)"));
  CHECK(conn->last_sqlstate() == "42601");

  auto missing = conn->query("SELECT * FROM no_such_table");
  CHECK(missing.status().code() == ErrorCode::kInternal);
  CHECK(conn->last_sqlstate() == "42P01");

  require_ok(conn->exec("CREATE TABLE person (nik text PRIMARY KEY, name text NOT NULL)"));
  const std::string insert = "INSERT INTO person VALUES ($1, $2)";
  require_ok(conn->query(insert, {Value("3201010101900001"), Value("Siti")}).status());
  CHECK(conn->last_sqlstate().empty());
  auto twice = conn->query(insert, {Value("3201010101900001"), Value("Siti")});
  CHECK(twice.status().code() == ErrorCode::kConstraint);
  CHECK(conn->last_sqlstate() == "23505");
  CHECK_THAT(twice.status().message(),
             Catch::Contains("duplicate key value violates unique constraint \"person_pkey\"") &&
                 Catch::EndsWith("(SQLSTATE 23505)"));
  // PostgreSQL's DETAIL quotes the key: it stays out of the message.
  CHECK_THAT(twice.status().message(), !Catch::Contains("3201010101900001"));
  auto null_name = conn->query(insert, {Value("2"), Value()});
  CHECK(null_name.status().code() == ErrorCode::kConstraint);
  CHECK(conn->last_sqlstate() == "23502");

  // The connection goes on after errors.
  CHECK(scalar(*conn, "SELECT count(*) FROM person") == Value(std::int64_t{1}));
}

TEST_CASE("SQLSTATEs map to codes by their retry class", "[pg]") {
  using lumbung::pg::error_code_for;
  CHECK(error_code_for("40001", false) == ErrorCode::kBusy);
  CHECK(error_code_for("40P01", false) == ErrorCode::kBusy);
  CHECK(lumbung::retry_class(lumbung::pg::kRetryableCode) == RetryClass::kAbort);
  CHECK(error_code_for("23505", false) == ErrorCode::kConstraint);
  CHECK(error_code_for("23514", false) == ErrorCode::kConstraint);
  CHECK(error_code_for("08006", false) == ErrorCode::kUnavailable);
  CHECK(error_code_for("57P01", false) == ErrorCode::kUnavailable);
  CHECK(error_code_for("53300", false) == ErrorCode::kUnavailable);
  CHECK(error_code_for("", true) == ErrorCode::kUnavailable);
  CHECK(error_code_for("40001", true) == ErrorCode::kUnavailable);
  CHECK(error_code_for("53100", false) == ErrorCode::kNoSpace);
  CHECK(error_code_for("58030", false) == ErrorCode::kIo);
  CHECK(error_code_for("", false) == ErrorCode::kIo);
  CHECK(error_code_for("42601", false) == ErrorCode::kInternal);
  CHECK(error_code_for("22P02", false) == ErrorCode::kInternal);
}

TEST_CASE("a transaction rolls back when its body fails, and a failed statement fails COMMIT",
          "[pg]") {
  auto conn = connect(fresh_database("pg_transactions"));
  require_ok(conn->exec("CREATE TABLE t (v int8 PRIMARY KEY)"));
  const Status failed = lumbung::pg::in_transaction(*conn, Isolation::kReadCommitted, [&] {
    LUMBUNG_RETURN_IF_ERROR(conn->query("INSERT INTO t VALUES (1)").status());
    return Status(ErrorCode::kInvalidArgument, "the body gives up");
  });
  CHECK(failed.message() == "the body gives up");
  CHECK(scalar(*conn, "SELECT count(*) FROM t") == Value(std::int64_t{0}));

  require_ok(lumbung::pg::in_transaction(*conn, Isolation::kRepeatableRead, [&] {
    return conn->query("INSERT INTO t VALUES (2)").status();
  }));
  CHECK(scalar(*conn, "SELECT count(*) FROM t") == Value(std::int64_t{1}));

  // A body that ignores a failed statement: PostgreSQL answers COMMIT with ROLLBACK.
  const Status swallowed = lumbung::pg::in_transaction(*conn, Isolation::kReadCommitted, [&] {
    (void)conn->query("INSERT INTO t VALUES (3)").status();
    (void)conn->query("INSERT INTO t VALUES (2)").status();  // a duplicate key
    return Status::ok();
  });
  CHECK(swallowed.code() == ErrorCode::kInternal);
  CHECK_THAT(swallowed.message(), Catch::Contains("rolled back"));
  CHECK(scalar(*conn, "SELECT count(*) FROM t") == Value(std::int64_t{1}));
}

TEST_CASE("statements sent without waiting run in order, and the first failure fails the next wait",
          "[pg]") {
  auto conn = connect(fresh_database("pg_pipeline"));
  require_ok(conn->exec("CREATE TABLE t (v int8 PRIMARY KEY, note text)"));
  require_ok(conn->finish_sent());  // nothing sent: nothing to read
  const std::string insert = "INSERT INTO t VALUES ($1, $2)";

  // More than the connection lets wait at once, then a read that sees them all.
  require_ok(lumbung::pg::in_transaction(*conn, Isolation::kReadCommitted, [&]() -> Status {
    for (std::int64_t v = 1; v <= 1000; ++v) {
      LUMBUNG_RETURN_IF_ERROR(conn->send(insert, {Value(v), Value("n" + std::to_string(v))}));
    }
    LUMBUNG_RETURN_IF_ERROR(
        conn->send("UPDATE t SET note = $1 WHERE v = $2", {Value("last"), Value(1000)}));
    const Value count = scalar(*conn, "SELECT count(*) FROM t");
    const Value note = scalar(*conn, "SELECT note FROM t WHERE v = $1", {Value(1000)});
    if (count != Value(std::int64_t{1000}) || note != Value("last")) {
      return Status(ErrorCode::kInternal, "the sent statements did not all run, in order");
    }
    return Status::ok();
  }));

  // A duplicate key among them: the next call that waits fails with its
  // error, and the statements sent after it did not run.
  Status failed;
  require_ok(conn->begin());
  require_ok(conn->send(insert, {Value(2001), Value("a")}));
  require_ok(conn->send(insert, {Value(5), Value("duplicate")}));
  require_ok(conn->send(insert, {Value(2002), Value("b")}));
  failed = conn->query("SELECT 1").status();
  CHECK(failed.code() == ErrorCode::kConstraint);
  CHECK_THAT(failed.message(), Catch::Contains("INSERT INTO t"));
  CHECK(conn->last_sqlstate() == "23505");
  require_ok(conn->rollback());
  CHECK(scalar(*conn, "SELECT count(*) FROM t WHERE v > 2000") == Value(std::int64_t{0}));

  // commit() reads them too: a failure there rolls the transaction back.
  require_ok(conn->begin());
  require_ok(conn->send(insert, {Value(3001), Value("c")}));
  require_ok(conn->send(insert, {Value(7), Value("duplicate")}));
  CHECK(conn->commit().code() == ErrorCode::kConstraint);
  CHECK(scalar(*conn, "SELECT count(*) FROM t") == Value(std::int64_t{1000}));
}

TEST_CASE("a query planned for its parameters reads what query() reads, never by a kept plan",
          "[pg]") {
  auto conn = connect(fresh_database("pg_planned"));
  require_ok(conn->exec("CREATE TABLE t (id text PRIMARY KEY, n int8)"));
  const std::string lookup = "SELECT id, n FROM t WHERE id IN ($1, $2, $3) ORDER BY id";
  const auto ids = [](Rows rows) {
    std::vector<std::string> read;
    while (rows.step()) read.push_back(rows.text(0) + "=" + rows.value(1).to_string());
    return read;
  };
  require_ok(lumbung::pg::in_transaction(*conn, Isolation::kReadCommitted, [&]() -> Status {
    for (std::int64_t n = 1; n <= 300; ++n) {
      LUMBUNG_RETURN_IF_ERROR(
          conn->send("INSERT INTO t VALUES ($1, $2)", {Value("k" + std::to_string(n)), Value(n)}));
    }
    // The rows sent before it are read: it waits for them first.
    const std::vector<Value> params{Value("k299"), Value(), Value("k1")};
    for (int run = 0; run < 10; ++run) {
      const std::vector<std::string> planned =
          ids(require_rows(conn->query_planned(lookup, params)));
      CHECK(planned == std::vector<std::string>{"k1=1", "k299=299"});
    }
    CHECK(ids(require_rows(conn->query(lookup, params))) ==
          std::vector<std::string>{"k1=1", "k299=299"});
    return Status::ok();
  }));
  // PostgreSQL counts the plans of the statements it keeps: the lookup ran
  // ten times planned for its parameters and once as the kept statement,
  // which had a custom plan then (its first five runs do).
  Rows plans =
      require_rows(conn->query("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                               "WHERE statement = $1",
                               {Value(lookup)}));
  REQUIRE(plans.step());
  CHECK(plans.integer(0) == 0);
  CHECK(plans.integer(1) == 1);
  CHECK(conn->query_planned(lookup, {Value("k1")}).status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("a statement prepared before its table changed is prepared again", "[pg]") {
  const std::string url = fresh_database("pg_stale_plan");
  auto conn = connect(url);
  auto upgrader = connect(url);  // another daemon upgrading the schema
  require_ok(conn->exec("CREATE TABLE household (id int8 PRIMARY KEY, village text)"));
  require_ok(conn->exec("INSERT INTO household VALUES (1, 'Sukamaju')"));
  const std::string all = "SELECT * FROM household";
  CHECK(require_rows(conn->query(all)).column_count() == 2);

  require_ok(upgrader->exec("ALTER TABLE household ADD COLUMN members int8 DEFAULT 4"));
  Rows rows = require_rows(conn->query(all));  // outside a transaction: at once
  REQUIRE(rows.step());
  CHECK(rows.row() == std::vector<Value>{Value(1), Value("Sukamaju"), Value(4)});

  require_ok(upgrader->exec("ALTER TABLE household ADD COLUMN head text"));
  int attempts = 0;
  require_ok(lumbung::pg::retry_transaction(*conn, Isolation::kReadCommitted, [&]() -> Status {
    ++attempts;
    LUMBUNG_ASSIGN_OR_RETURN(Rows in_transaction, conn->query(all));
    return in_transaction.column_count() == 4 ? Status::ok()
                                              : Status(ErrorCode::kInternal, "old columns");
  }));
  CHECK(attempts == 2);
  CHECK(conn->last_sqlstate().empty());
}

TEST_CASE("a serialization failure is retryable, and retry_transaction retries it", "[pg]") {
  const std::string url = fresh_database("pg_serializable");
  auto first = connect(url);
  auto second = connect(url);
  // The textbook write skew: at least one of the two must stay on call.
  require_ok(
      first->exec("CREATE TABLE doctor (name text PRIMARY KEY, on_call bool NOT NULL);"
                  "INSERT INTO doctor VALUES ('alice', true), ('bob', true);"));
  const std::string on_call = "SELECT count(*) FROM doctor WHERE on_call";
  const std::string go_off = "UPDATE doctor SET on_call = false WHERE name = $1";
  // Goes off call when someone else is on call; the count it saw.
  auto leave = [&](Connection& conn, const std::string& name,
                   const std::function<void()>& between) -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(Rows rows, conn.query(on_call));
    if (!rows.step()) return Status(ErrorCode::kInternal, "no count");
    const std::int64_t count = rows.integer(0);
    between();
    if (count < 2) return Status::ok();
    return conn.query(go_off, {Value(name)}).status();
  };

  SECTION("two serializable transactions that skew: one fails with the retryable code") {
    require_ok(first->begin(Isolation::kSerializable));
    require_ok(second->begin(Isolation::kSerializable));
    require_ok(leave(*first, "alice", [] {}));
    Status second_leaves = leave(*second, "bob", [] {});
    require_ok(first->commit());
    if (second_leaves.is_ok())
      second_leaves = second->commit();
    else
      (void)second->rollback();
    CHECK(second_leaves.code() == lumbung::pg::kRetryableCode);
    CHECK(second_leaves.retry() == RetryClass::kAbort);
    CHECK(second->last_sqlstate() == "40001");
    CHECK_THAT(second_leaves.message(), Catch::Contains("(SQLSTATE 40001)"));
  }

  SECTION("retried, the transaction sees what the other committed") {
    int attempts = 0;
    const Status status = lumbung::pg::retry_transaction(*second, Isolation::kSerializable, [&] {
      ++attempts;
      return leave(*second, "bob", [&] {
        if (attempts > 1) return;
        // Between bob's read and his write, alice goes off call.
        require_ok(lumbung::pg::in_transaction(*first, Isolation::kSerializable,
                                               [&] { return leave(*first, "alice", [] {}); }));
      });
    });
    require_ok(status);
    CHECK(attempts == 2);
    CHECK(scalar(*first, on_call) == Value(std::int64_t{1}));
    CHECK(scalar(*first, "SELECT name FROM doctor WHERE on_call") == Value("bob"));
  }

  SECTION("retry_transaction gives up after its attempts") {
    int attempts = 0;
    const Status status = lumbung::pg::retry_transaction(
        *second, Isolation::kSerializable,
        [&] {
          ++attempts;
          return Status(lumbung::pg::kRetryableCode, "always in conflict");
        },
        3);
    CHECK(attempts == 3);
    CHECK(status.code() == lumbung::pg::kRetryableCode);
    CHECK(status.message() == "always in conflict (gave up after 3 attempts)");
  }
}

TEST_CASE("LISTEN/NOTIFY: a waiting connection wakes on a notification, and times out without",
          "[pg]") {
  const std::string url = fresh_database("pg_notify");
  auto listener = connect(url);
  auto notifier = connect(url);
  const std::string channel = "village 3201/07";  // quoted as an identifier
  require_ok(listener->listen(channel));

  auto none = listener->wait_for_notification(100ms);
  REQUIRE(none.is_ok());
  CHECK(none->empty());

  const auto start = std::chrono::steady_clock::now();
  auto woken = std::async(std::launch::async, [&] { return listener->wait_for_notification(20s); });
  require_ok(notifier->notify(channel, "seq 42"));
  auto got = woken.get();
  REQUIRE(got.is_ok());
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  REQUIRE(got->size() == 1);
  CHECK((*got)[0].channel == channel);
  CHECK((*got)[0].payload == "seq 42");
  CHECK((*got)[0].sender_pid == notifier->backend_pid());

  // Inside a transaction, a notification leaves at COMMIT; several queue.
  require_ok(notifier->begin());
  require_ok(notifier->notify(channel, "a"));
  require_ok(notifier->notify(channel, "b"));
  require_ok(notifier->notify("another channel", "not listened to"));
  auto before_commit = listener->wait_for_notification(100ms);
  REQUIRE(before_commit.is_ok());
  CHECK(before_commit->empty());
  require_ok(notifier->commit());
  std::vector<std::string> payloads;
  while (payloads.size() < 2) {
    auto batch = listener->wait_for_notification(20s);
    REQUIRE(batch.is_ok());
    REQUIRE_FALSE(batch->empty());
    for (const auto& n : *batch) payloads.push_back(n.payload);
  }
  CHECK(payloads == std::vector<std::string>{"a", "b"});

  require_ok(listener->unlisten(channel));
  require_ok(notifier->notify(channel, "unheard"));
  auto unheard = listener->wait_for_notification(100ms);
  REQUIRE(unheard.is_ok());
  CHECK(unheard->empty());
}

TEST_CASE("a connection comes back after PostgreSQL restarts, listening again", "[pg]") {
  lumbung::test::PgCluster cluster;
  const std::string url = cluster.create_database("pg_restart");
  auto conn = connect(url);
  require_ok(conn->exec("CREATE TABLE kept (v text)"));
  require_ok(conn->query("INSERT INTO kept VALUES ($1)", {Value("acknowledged")}).status());
  require_ok(conn->listen("changes"));
  // A long poll's connection, idle in its wait when the server goes.
  auto waiter = connect(url);
  require_ok(waiter->listen("changes"));
  const auto start = std::chrono::steady_clock::now();
  auto waiting = std::async(std::launch::async, [&] { return waiter->wait_for_notification(20s); });

  cluster.restart();
  auto woken = waiting.get();
  CHECK(woken.status().code() == ErrorCode::kUnavailable);
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  auto lost = conn->query("SELECT v FROM kept");
  CHECK(lost.status().code() == ErrorCode::kUnavailable);
  CHECK_FALSE(conn->connected());

  require_ok(conn->reset());
  CHECK(conn->connected());
  CHECK(scalar(*conn, "SELECT v FROM kept") == Value("acknowledged"));
  auto other = connect(url);
  require_ok(other->notify("changes", "after restart"));
  auto got = conn->wait_for_notification(20s);
  REQUIRE(got.is_ok());
  REQUIRE(got->size() == 1);
  CHECK((*got)[0].payload == "after restart");
}

TEST_CASE("a connection's password never appears in its error messages", "[pg]") {
  const std::string server = lumbung::test::shared_pg_cluster().url();
  const std::string socket_query = server.substr(server.find('?'));  // ?host=...&user=postgres

  // The server (trust authentication) ignores the password; the database is missing.
  auto missing = Connection::open("postgresql://postgres:S3cret-Pa55@/no_such_db" + socket_query);
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().code() == ErrorCode::kUnavailable);
  CHECK_THAT(missing.status().message(),
             Catch::Contains("\"no_such_db\" does not exist") && !Catch::Contains("S3cret"));

  // libpq's own message quotes the malformed part: here, the password.
  auto malformed = Connection::open("postgresql://postgres:pa%zzS3cret@/postgres" + socket_query);
  REQUIRE_FALSE(malformed.is_ok());
  CHECK(malformed.status().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(malformed.status().message(),
             Catch::Contains("percent-encoded") && !Catch::Contains("S3cret"));

  auto in_query =
      Connection::open("postgresql:///postgres" + socket_query + "&password=Qu%zzery-S3cret");
  REQUIRE_FALSE(in_query.is_ok());
  CHECK_THAT(in_query.status().message(),
             Catch::Contains("percent-encoded") && !Catch::Contains("S3cret"));

  auto conninfo = Connection::open(
      "dbname=no_such_db user=postgres password='Tr1cky S3cret \\' x' "
      "port=notaport");
  REQUIRE_FALSE(conninfo.is_ok());
  CHECK_THAT(conninfo.status().message(), Catch::Contains("notaport") &&
                                              !Catch::Contains("S3cret") &&
                                              !Catch::Contains("Tr1cky"));

  CHECK(lumbung::pg::redact_password("no S3cret here, S3cret twice",
                                     "postgresql://u:S3cret@host/db") == "no *** here, *** twice");
  CHECK(lumbung::pg::redact_password("decoded: p@ss", "postgresql://u:p%40ss@host/db") ==
        "decoded: ***");
}
