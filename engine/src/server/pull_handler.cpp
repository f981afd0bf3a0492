// POST /v1/pull, long polls included.
#include <algorithm>
#include <utility>

#include "protocol/wire.hpp"
#include "server/pull_page.hpp"
#include "server/server_impl.hpp"

namespace lumbung::server {
namespace {

// The answer to a long poll beyond its officer's limit: 429 with an Error
// the device retries later (kUnavailable), once the officer's waiting polls
// have ended, which they do within `wait_seconds`.
HttpResponse too_many_long_polls(const std::string& officer, std::uint32_t wait_seconds) {
  return protocol::too_many_requests(
      Status(ErrorCode::kUnavailable, "officer '" + officer +
                                          "' has as many long polls waiting as this server "
                                          "allows; poll again later"),
      wait_seconds);
}

// Notes that the device of `header` pulled what `query`'s grant serves
// (docs/decisions/0025-fleet-view.md).
void note_pull(Store& store, CommitQueue& commits, std::int64_t now_ms,
               const v1::RequestHeader& header, const PullQuery& query) {
  DeviceSighting seen{.device_id = header.device_id(),
                      .officer = query.grant.officer,
                      .time_ms = now_ms,
                      .schema_version = header.schema_version(),
                      .app_version = header.app_version(),
                      .pulled = true,
                      .all_villages = query.grant.all_villages(),
                      .villages = query.villages};
  // Kept in memory; written with the next commit group, or by an empty
  // commit once the oldest sighting kept waited long enough.
  if (store.note_sighting(seen)) {
    commits.submit([](WriteTransaction&) { return Status::ok(); }, [](const Status&) {});
  }
}

}  // namespace

void SyncServer::Impl::handle_pull(const HttpRequest& request, Responder respond,
                                   const std::shared_ptr<RequestRecord>& record) {
  v1::PullRequest pull;
  Result<auth::Grant> grant = admit(request, &pull, *record);
  if (!grant.is_ok()) return respond(protocol::error_response(grant.status()));

  PullWaiter waiter;
  waiter.query.device_id = pull.header().device_id();
  waiter.query.schema_version = pull.header().schema_version();
  waiter.query.pushed_batch = pull.pushed_batch();
  waiter.query.set_grant(std::move(grant).value());
  note_pull(*store, commits, clock->now_ms(), pull.header(), waiter.query);
  for (const v1::ScopeCursor& cursor : pull.cursors()) {
    auto [it, added] = waiter.query.cursors.emplace(cursor.scope(), cursor.seq());
    if (!added) it->second = std::max(it->second, cursor.seq());
  }
  const std::uint32_t budget = pull.page_budget_bytes();
  waiter.query.budget_bytes =
      budget == 0 ? options.default_page_bytes : std::min(budget, options.max_page_bytes);
  const std::uint32_t wait_seconds = std::min(pull.wait_seconds(), options.max_wait_seconds);
  waiter.deadline_ms = clock->now_ms() + std::int64_t{wait_seconds} * 1000;
  waiter.respond = std::move(respond);
  waiter.client_gone = request.client_gone;
  waiter.record = record;
  answer_pull(std::move(waiter), wait_seconds > 0);
}

Result<PulledPage> SyncServer::Impl::read_page(const PullQuery& query) {
  Result<PulledPage> pulled = Status(ErrorCode::kInternal, "no page was read");
  const Status read = store->read([&](ReadTransaction& txn) {
    pulled = build_pull_page(schema_views.view(query.schema_version), txn, query);
    return pulled.status();
  });
  if (!read.is_ok()) return read;
  pulled->page.set_server_hlc(hlc.last().packed());
  pulled->page.set_epoch(epoch);
  return pulled;
}

void SyncServer::Impl::answer_pull(PullWaiter waiter, bool hold_when_empty) {
  if (waiter.gone()) {
    return waiter.respond(
        protocol::error_response(Status(ErrorCode::kUnavailable, "the client has gone")));
  }
  Result<PulledPage> pulled = read_page(waiter.query);
  if (pulled.is_ok() && hold_when_empty && !pulled->has_news()) {
    switch (long_polls.hold(waiter, pulled->snapshot_seq)) {
      case LongPolls::Hold::kHeld:
        return;
      case LongPolls::Hold::kOverLimit:
        return waiter.respond(
            too_many_long_polls(waiter.query.grant.officer, options.max_wait_seconds));
      case LongPolls::Hold::kAnswerNow:
        // A change committed after the page's snapshot, or the server is stopping.
        pulled = read_page(waiter.query);
    }
  }
  if (!pulled.is_ok()) return waiter.respond(protocol::error_response(pulled.status()));
  if (waiter.record) {
    waiter.record->rows = pulled->page.rows_size();
    for (const v1::ScopeCursor& cursor : pulled->page.cursors()) {
      waiter.record->note_village(cursor.scope());
    }
  }
  waiter.respond(protocol::make_response(pulled->page));
}

void SyncServer::Impl::wake_long_polls(const CommittedChanges& changes) {
  long_polls.committed(changes);
  // After the commit, for the other daemons' long polls: a hint, which a
  // daemon killed now never sends (docs/decisions/0036-several-daemons.md).
  if (feed) feed->publish(changes, hlc.last().packed());
}

void SyncServer::Impl::answer_woken_polls() {
  for (;;) {
    std::vector<PullWaiter> woken = long_polls.take_woken();
    if (woken.empty()) return;  // stopped
    for (PullWaiter& waiter : woken) answer_pull(std::move(waiter), true);
  }
}

}  // namespace lumbung::server
