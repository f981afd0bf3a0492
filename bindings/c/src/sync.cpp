// Syncing: blocking on the caller's thread, or in the background on a thread
// of its own with its own Replica on the same file (so the app keeps writing
// meanwhile), and the callbacks registered on the db.
#include <atomic>
#include <condition_variable>
#include <optional>
#include <thread>

#include "db.hpp"

using namespace lumbung;
using namespace lumbung::c_api;

struct lumbung_sync {
  std::unique_ptr<Replica> replica;  // used by `thread` alone
  SyncOptions options;
  std::atomic<bool> cancel{false};
  mutable std::mutex mu;
  std::condition_variable ended;
  std::optional<Result<SyncSummary>> outcome;  // set once, when the sync ends
  std::thread thread;

  void run() noexcept {
    // The thread's own guard: an exception leaving a thread ends the process.
    lumbung_error error{};
    std::optional<Result<SyncSummary>> result;
    if (!guard(&error, [&] {
          result.emplace(replica->sync(options));
          return Status::ok();
        })) {
      result.emplace(Status(static_cast<ErrorCode>(error.code), error.message));
    }
    replica.reset();  // the second connection closes with the sync
    std::lock_guard<std::mutex> lock(mu);
    outcome = std::move(result);
    ended.notify_all();
  }
};

namespace lumbung::c_api {

Result<SyncOptions> sync_options_for(Replica& replica, const lumbung_sync_config* config) {
  SyncOptions options = config == nullptr ? SyncOptions() : config->options;
  if (options.http && options.http->tls.ca_file.empty() && options.http->tls.pinned_keys.empty()) {
    Result<ReplicaStatus> status = replica.status();
    if (!status.is_ok()) return status.status();
    options.http->tls = status->tls;
  }
  return options;
}

}  // namespace lumbung::c_api

namespace {

// Copies a finished sync's summary out; its error otherwise.
Status report(const Result<SyncSummary>& result, lumbung_sync_summary* out_summary) {
  if (!result.is_ok()) return result.status();
  if (out_summary != nullptr) {
    *out_summary = {result->pushed, result->applied,   result->superseded, result->refused,
                    result->pulled, result->conflicts, result->bytes_sent, result->bytes_received};
  }
  return Status::ok();
}

Result<SyncOptions> options_with_listeners(lumbung_db* db, Replica& replica,
                                           const lumbung_sync_config* config) {
  Result<SyncOptions> options = sync_options_for(replica, config);
  if (options.is_ok()) Listeners::attach(db->listeners, *options);
  return options;
}

Status sync_now(lumbung_db* db, Replica& replica, const lumbung_sync_config* config,
                lumbung_sync_summary* out_summary) {
  Result<SyncOptions> options = options_with_listeners(db, replica, config);
  if (!options.is_ok()) return options.status();
  return report(replica.sync(*options), out_summary);
}

Result<lumbung_sync*> start(lumbung_db* db, Replica& replica, const lumbung_sync_config* config) {
  Result<SyncOptions> options = options_with_listeners(db, replica, config);
  if (!options.is_ok()) return options.status();
  Result<std::unique_ptr<Replica>> own = Replica::open(db->options);
  if (!own.is_ok()) return own.status();
  auto sync = std::make_unique<lumbung_sync>();
  sync->replica = std::move(own).value();
  sync->options = std::move(options).value();
  sync->options.cancel = &sync->cancel;
  sync->thread = std::thread([raw = sync.get()] { raw->run(); });
  return sync.release();
}

Status wait_for(lumbung_sync* sync, lumbung_sync_summary* out_summary) {
  std::unique_lock<std::mutex> lock(sync->mu);
  sync->ended.wait(lock, [&] { return sync->outcome.has_value(); });
  return report(*sync->outcome, out_summary);
}

}  // namespace

extern "C" {

bool lumbung_db_sync(lumbung_db* db, const lumbung_sync_config* config,
                     lumbung_sync_summary* out_summary, lumbung_error* out_error) noexcept {
  return guard_db(db, out_error, [&](Replica& r) { return sync_now(db, r, config, out_summary); });
}

lumbung_sync* lumbung_db_sync_start(lumbung_db* db, const lumbung_sync_config* config,
                                    lumbung_error* out_error) noexcept {
  return guard_db(db, out_error, [&](Replica& r) { return start(db, r, config); });
}

void lumbung_sync_cancel(lumbung_sync* sync) noexcept { sync->cancel = true; }

bool lumbung_sync_is_done(const lumbung_sync* sync) noexcept {
  std::lock_guard<std::mutex> lock(sync->mu);
  return sync->outcome.has_value();
}

bool lumbung_sync_wait(lumbung_sync* sync, lumbung_sync_summary* out_summary,
                       lumbung_error* out_error) noexcept {
  return guard(out_error, [&] { return wait_for(sync, out_summary); });
}

void lumbung_sync_free(lumbung_sync* sync) noexcept {
  if (sync == nullptr) return;
  sync->cancel = true;
  sync->thread.join();
  delete sync;
}

lumbung_registration* lumbung_db_on_progress(lumbung_db* db, lumbung_progress_fn fn, void* userdata,
                                             void (*free_userdata)(void*)) noexcept {
  return db->listeners->add_progress(fn, userdata, free_userdata);
}
lumbung_registration* lumbung_db_on_changed_rows(lumbung_db* db, lumbung_changed_rows_fn fn,
                                                 void* userdata,
                                                 void (*free_userdata)(void*)) noexcept {
  return db->listeners->add_changed_rows(fn, userdata, free_userdata);
}
lumbung_registration* lumbung_db_on_conflict(lumbung_db* db, lumbung_conflict_fn fn, void* userdata,
                                             void (*free_userdata)(void*)) noexcept {
  return db->listeners->add_conflict(fn, userdata, free_userdata);
}

}  // extern "C"
