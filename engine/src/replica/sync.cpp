// Replica::sync and the sync side of the Replica API: push every pending
// change, then pull until caught up, verify the scopes' checksums, heal what
// differs, and push again what re-seeding re-offers (docs/protocol.md, "The
// device" and "Going back in time"). Each step is its own transaction in
// push.cpp, pull.cpp and scope_check.cpp; this file orders them and does
// what spans them: retries, cancellation, callbacks, the summary.
#include <chrono>
#include <cstdio>
#include <future>
#include <set>
#include <utility>

#include "lumbung/replica.hpp"
#include "replica/bootstrap.hpp"
#include "replica/conflict_store.hpp"
#include "replica/exchange.hpp"
#include "replica/identity.hpp"
#include "replica/meta.hpp"
#include "replica/pull.hpp"
#include "replica/push.hpp"
#include "replica/refused_store.hpp"
#include "replica/replica_impl.hpp"
#include "replica/scope_check.hpp"
#include "replica/tls_settings.hpp"

namespace lumbung {
namespace {

// _lumbung_meta keys.
constexpr const char* kLastSync = "last_sync";
// The schema version this device had when a page named tables or columns it
// does not know: the server's checksums then cover cells the device does not
// keep, and comparing them would re-download scopes at every sync. Comparing
// starts again once the device's schema changes.
constexpr const char* kSchemaBehindServer = "schema_behind_server";
// Push and pull rounds of one sync: the first, then, when re-seeding
// re-offered versions, rounds that push them and catch up again. A re-seed
// begun by a push answer needs two (pull, then push its re-offers).
constexpr int kMaxRounds = 3;
// Pages that showed that one side went back in time, in one pull: each one
// starts a recovery that makes the next page normal, so a third is a server
// whose state keeps changing under the sync.
constexpr int kMaxRestarts = 2;

// "2026-11-28T04:07:26Z"
std::string iso8601_utc(std::int64_t ms) {
  using namespace std::chrono;
  const sys_seconds time = floor<seconds>(sys_time<milliseconds>(milliseconds(ms)));
  const sys_days day = floor<days>(time);
  const year_month_day date(day);
  const hh_mm_ss clock_time(time - day);
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock_time.hours().count()),
                static_cast<int>(clock_time.minutes().count()),
                static_cast<int>(clock_time.seconds().count()));
  return text;
}

Status with_context(const std::string& context, const Status& status) {
  return Status(status.code(), context + ": " + status.message());
}

// HTTP to the server URL kept in the replica file.
Result<std::shared_ptr<Transport>> server_transport(db::Database& db,
                                                    const HttpTransportOptions& options) {
  LUMBUNG_ASSIGN_OR_RETURN(std::string url, replica::read_meta(db, "server_url"));
  if (url.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "the replica has no server URL: set one when creating it, or pass a "
                  "transport");
  }
  return make_http_transport(url, options);
}

// One run of Replica::sync.
class SyncRun {
 public:
  // `path` is the replica's file: empty for one that cannot start from a
  // snapshot (an encrypted one).
  SyncRun(db::Database& db, const core::Schema& schema, const std::string& path, Clock& clock,
          Transport& transport, const SyncOptions& options, std::string token)
      : db_(db),
        schema_(schema),
        options_(options),
        exchanger_(transport, options, std::move(token)),
        pusher_(db, schema, clock),
        bootstrapper_(db, schema, path),
        puller_(db, schema, clock),
        verifier_(db, schema) {}

  Result<SyncSummary> run() {
    LUMBUNG_RETURN_IF_ERROR(push_all());
    LUMBUNG_RETURN_IF_ERROR(start_from_snapshots());
    LUMBUNG_RETURN_IF_ERROR(pull_all());
    for (int round = 1; round < kMaxRounds && more_to_push_; ++round) {
      LUMBUNG_RETURN_IF_ERROR(push_all());
      LUMBUNG_RETURN_IF_ERROR(pull_all());
    }
    report_progress(SyncProgress::Phase::kDone, summary_.pushed + summary_.pulled);
    return summary_;
  }

 private:
  Status push_all() {
    more_to_push_ = false;
    bool reidentified = false;
    int batch_changes = options_.push_batch_changes;
    std::optional<replica::PushBatch> stored;  // in flight since the last answer
    for (;;) {
      LUMBUNG_RETURN_IF_ERROR(exchanger_.check_cancelled());
      Result<std::optional<replica::PushBatch>> batch =
          stored ? std::exchange(stored, std::nullopt) : pusher_.inflight();
      if (batch.is_ok() && !*batch) batch = pusher_.start_batch(batch_changes);
      if (!batch.is_ok()) return batch.status();
      if (!*batch) return Status::ok();
      const std::string context = "push batch " + std::to_string((*batch)->number);
      v1::PushResponse response;
      // The next batch is made while this one is on its way and merged, so
      // that the device and the server work at once; it goes out only if the
      // answer acknowledges all of this one (Pusher::apply_answer).
      std::future<Status> answered = std::async(
          std::launch::async, [this, &response, request = replica::push_request(**batch)] {
            return exchanger_.exchange(request, &response);
          });
      Result<std::optional<replica::PushBatch>> next =
          pusher_.prepare_after(**batch, batch_changes);
      Status sent = answered.get();
      if (!next.is_ok()) return next.status();
      if (sent.code() == ErrorCode::kStaleBatch && !reidentified) {
        LUMBUNG_RETURN_IF_ERROR(pusher_.reidentify_after_stale());
        reidentified = true;
        continue;
      }
      if (sent.code() == ErrorCode::kTooLarge && batch_changes > 1) {
        // A server whose limits (lumbungd serve --max-changes-per-push...) are
        // below this batch merged none of it: halve the batches, down to one
        // change, for the rest of this sync.
        LUMBUNG_RETURN_IF_ERROR(pusher_.drop_inflight());
        batch_changes /= 2;
        continue;
      }
      if (!sent.is_ok()) return with_context(context, sent);
      LUMBUNG_ASSIGN_OR_RETURN(replica::PushAnswer answer,
                               pusher_.apply_answer(**batch, response, *next));
      if (answer.server_went_back) {
        // Its re-seed comes with the pull; what is pending goes after it.
        more_to_push_ = true;
        return Status::ok();
      }
      if (answer.next_in_flight) stored = std::move(*next);
      summary_.pushed += answer.acknowledged;
      summary_.applied += answer.applied;
      summary_.superseded += answer.superseded;
      summary_.refused += answer.refused;
      report(answer.changed_rows, answer.new_conflicts);
      report_progress(SyncProgress::Phase::kPush, summary_.pushed);
    }
  }

  // A fresh replica first adopts the server's snapshots of its villages, if
  // any; the pulls then start at their seqs.
  Status start_from_snapshots() {
    LUMBUNG_ASSIGN_OR_RETURN(bool fresh, bootstrapper_.eligible());
    if (!fresh) {
      bootstrapper_.remove_work_files();
      return Status::ok();
    }
    LUMBUNG_ASSIGN_OR_RETURN(
        replica::BootstrapResult adopted,
        bootstrapper_.run(exchanger_, options_.page_budget_bytes, options_.on_changed_rows));
    summary_.pulled += adopted.rows;
    report({}, adopted.conflicts);
    if (adopted.rows > 0) report_progress(SyncProgress::Phase::kPull, summary_.pulled);
    return Status::ok();
  }

  // Pulls until caught up; then, when asked, waits once for news (long poll)
  // and catches up again; then verifies and heals, and pulls what it reset.
  Status pull_all() {
    LUMBUNG_ASSIGN_OR_RETURN(std::string behind, replica::read_meta(db_, kSchemaBehindServer));
    bool can_verify = behind != std::to_string(schema_.version);
    bool waited = options_.wait_seconds == 0;
    std::uint32_t wait_seconds = 0;
    int restarts = 0;
    v1::PullPage page;
    bool fetched = false;  // `page` came while the one before it was applied
    for (;;) {
      LUMBUNG_RETURN_IF_ERROR(exchanger_.check_cancelled());
      if (!fetched) {
        LUMBUNG_ASSIGN_OR_RETURN(HttpRequest request,
                                 puller_.next_request(options_.page_budget_bytes, wait_seconds));
        page.Clear();
        Status received = exchanger_.exchange(std::move(request), &page);
        if (!received.is_ok()) return with_context("pull", received);
      }
      // The next page is fetched while this one is applied, so that the
      // server builds it meanwhile; it is applied only once this one has
      // committed, and dropped if this one fails.
      v1::PullPage next;
      std::future<Status> next_received;
      if (page.more()) {
        LUMBUNG_ASSIGN_OR_RETURN(HttpRequest request,
                                 puller_.request_after(page, options_.page_budget_bytes));
        next_received = std::async(std::launch::async, [this, &next, sent = std::move(request)] {
          return exchanger_.exchange(sent, &next);
        });
      }
      LUMBUNG_ASSIGN_OR_RETURN(replica::PulledPage pulled, puller_.apply_page(page));
      if (pulled.restart) {
        // The page after it was asked for with what no longer holds.
        if (next_received.valid()) (void)next_received.get();
        if (++restarts > kMaxRestarts) {
          return Status(ErrorCode::kProtocol,
                        "pull: the server's state went back in time again and again");
        }
        more_to_push_ = true;
        fetched = false;
        continue;
      }
      more_to_push_ = more_to_push_ || pulled.reoffered;
      summary_.pulled += pulled.rows;
      report(pulled.changed_rows, pulled.new_conflicts);
      report_progress(SyncProgress::Phase::kPull, summary_.pulled);
      if (pulled.names_unknown && can_verify) {
        can_verify = false;
        LUMBUNG_RETURN_IF_ERROR(
            replica::write_meta(db_, kSchemaBehindServer, Value(std::to_string(schema_.version))));
      }
      wait_seconds = 0;
      fetched = page.more();
      if (fetched) {
        Status received = next_received.get();
        if (!received.is_ok()) return with_context("pull", received);
        page = std::move(next);
        continue;
      }
      if (!waited) {
        waited = true;
        wait_seconds = options_.wait_seconds;
        continue;
      }
      if (!can_verify) return Status::ok();
      LUMBUNG_ASSIGN_OR_RETURN(std::vector<std::string> reset,
                               verifier_.heal_mismatches(page, healed_));
      if (reset.empty()) return Status::ok();
      healed_.insert(reset.begin(), reset.end());
    }
  }

  void report(const std::vector<ChangedRows>& changed_rows,
              const std::vector<ConflictRecord>& new_conflicts) {
    summary_.conflicts += static_cast<std::int64_t>(new_conflicts.size());
    if (options_.on_changed_rows && !changed_rows.empty()) options_.on_changed_rows(changed_rows);
    if (options_.on_conflict) {
      for (const ConflictRecord& conflict : new_conflicts) options_.on_conflict(conflict);
    }
  }

  void report_progress(SyncProgress::Phase phase, std::int64_t changes) {
    summary_.bytes_sent = exchanger_.bytes_sent();
    summary_.bytes_received = exchanger_.bytes_received();
    if (!options_.on_progress) return;
    options_.on_progress(
        SyncProgress{phase, changes, summary_.bytes_sent, summary_.bytes_received});
  }

  db::Database& db_;
  const core::Schema& schema_;
  const SyncOptions& options_;
  replica::Exchanger exchanger_;
  replica::Pusher pusher_;
  replica::Bootstrapper bootstrapper_;
  replica::Puller puller_;
  replica::ScopeVerifier verifier_;
  SyncSummary summary_;
  // Scopes re-seeded for a checksum mismatch: once per sync each.
  std::set<std::string> healed_;
  // Re-seeding re-offered versions, or a push stopped for one: push again.
  bool more_to_push_ = false;
};

}  // namespace

Result<std::shared_ptr<Transport>> Replica::Impl::transport_for(const SyncOptions& options) {
  if (options.transport) return options.transport;
  // Made with the caller's options, it serves this sync alone.
  if (options.http) return server_transport(*db, *options.http);
  if (!http_transport) {
    HttpTransportOptions http;
    LUMBUNG_ASSIGN_OR_RETURN(TlsOptions tls, replica::read_tls_settings(*db));
    http.tls = std::move(tls);
    LUMBUNG_ASSIGN_OR_RETURN(std::shared_ptr<Transport> made, server_transport(*db, http));
    http_transport = std::move(made);
  }
  return http_transport;
}

Result<std::string> Replica::Impl::token_for(const SyncOptions& options) {
  if (!options.token.empty()) return options.token;
  return replica::read_meta(*db, "token");
}

Result<SyncSummary> Replica::sync(const SyncOptions& options) {
  // Each step must commit on its own, before the next request goes out.
  if (impl_->db->transaction_depth() > 0) {
    return Status(ErrorCode::kInvalidArgument, "sync cannot run inside a transaction");
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::shared_ptr<Transport> transport, impl_->transport_for(options));
  LUMBUNG_ASSIGN_OR_RETURN(std::string token, impl_->token_for(options));

  const std::string path = impl_->options.key.empty() ? impl_->options.path : std::string();
  SyncRun run(*impl_->db, impl_->schema, path, *impl_->clock, *transport, options,
              std::move(token));
  Result<SyncSummary> summary = run.run();
  // The replica may have re-identified (identity.hpp).
  Result<std::string> id = replica::device_id(*impl_->db);
  if (id.is_ok()) impl_->device_id = *id;
  if (!summary.is_ok()) return summary;
  LUMBUNG_RETURN_IF_ERROR(
      replica::write_meta(*impl_->db, kLastSync, Value(iso8601_utc(impl_->clock->now_ms()))));
  return summary;
}

Result<std::vector<ConflictRecord>> Replica::conflicts() {
  return replica::load_conflicts(*impl_->db);
}

Status Replica::set_token(std::string_view token) {
  return replica::write_meta(*impl_->db, "token", Value(std::string(token)));
}

Result<std::vector<RefusedChange>> Replica::refused_changes() {
  return replica::load_refused(*impl_->db);
}

Status Replica::retry_refused() {
  return db::in_transaction(*impl_->db, [&]() -> Status {
    LUMBUNG_RETURN_IF_ERROR(replica::fold_capture_log(*impl_->db, impl_->schema));
    return replica::requeue_refused(*impl_->db, impl_->schema, *impl_->capture);
  });
}

}  // namespace lumbung
