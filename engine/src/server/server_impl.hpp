// SyncServer's state, shared by its handlers (sync_server.cpp routes,
// push_handler.cpp, pull_handler.cpp and resolve_handler.cpp answer). Internal.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "auth/grant.hpp"
#include "auth/token_authority.hpp"
#include "core/hlc.hpp"
#include "core/schema.hpp"
#include "db/check_judge.hpp"
#include "lumbung/v1/sync.pb.h"
#include "protocol/request_limits.hpp"
#include "protocol/wire.hpp"
#include "server/commit_feed.hpp"
#include "server/commit_queue.hpp"
#include "server/long_poll.hpp"
#include "server/metrics.hpp"
#include "server/officer_limits.hpp"
#include "server/regions.hpp"
#include "server/request_record.hpp"
#include "server/schema_views.hpp"
#include "server/store.hpp"
#include "server/sync_server.hpp"

namespace lumbung::server {

struct SyncServer::Impl {
  Impl(const ServerOptions& options, core::Schema schema, std::shared_ptr<Clock> physical_clock,
       std::unique_ptr<auth::TokenAuthority> authority, std::unique_ptr<Store> store,
       std::string epoch, core::Hlc last_hlc, std::int64_t last_seq)
      : options(options),
        schema(std::move(schema)),
        request_limits(request_limits_for(options, this->schema)),
        regions(this->schema),
        clock(physical_clock),
        authority(std::move(authority)),
        store(std::move(store)),
        epoch(std::move(epoch)),
        hlc(std::move(physical_clock), last_hlc),
        push_rate(options.max_pushes_per_officer_per_second, options.push_burst_per_officer),
        pull_rate(options.max_pulls_per_officer_per_second, options.pull_burst_per_officer),
        officer_requests(OfficerRequests::make(options.max_requests_per_officer)),
        long_polls(last_seq, options.max_long_polls_per_officer) {}

  // The limits of options, max_cells_per_change 0 made twice the widest
  // table's column count.
  static protocol::RequestLimits request_limits_for(const ServerOptions& options,
                                                    const core::Schema& schema);

  // Refuses a protocol version other than 1, a schema newer than the
  // server's and a missing device id.
  Status check_header(const v1::RequestHeader& header) const;

  // Who sent `request` from the device its `header` names, and what they may
  // do, read against the current regions.
  Result<auth::Grant> authenticate(const HttpRequest& request, const v1::RequestHeader& header);

  // Decodes the body of `request` into `message` (within request_limits),
  // checks its header and authenticates the caller: what the caller may do,
  // or the error to answer. Notes the device and officer in `record`.
  template <typename Message>
  Result<auth::Grant> admit(const HttpRequest& request, Message* message, RequestRecord& record) {
    LUMBUNG_RETURN_IF_ERROR(protocol::decode_body(
        request.headers, request.body, protocol::kMaxRequestBytes, message,
        [this](std::string_view bytes) {
          return protocol::check_request_bytes<Message>(bytes, request_limits);
        }));
    LUMBUNG_RETURN_IF_ERROR(check_header(message->header()));
    record.device = message->header().device_id();
    Result<auth::Grant> grant = authenticate(request, message->header());
    if (grant.is_ok()) record.officer = grant->officer;
    return grant;
  }

  // A record of `request`, numbered, its clock started.
  std::shared_ptr<RequestRecord> start_record(const HttpRequest& request, std::string_view route);
  // Names the request in `response` (its id header) and logs the record's
  // line: what is done to every answer before it goes out.
  void answered(const RequestRecord& record, HttpResponse& response);
  // SyncServer::admit's refusal of a request from its header alone, if any.
  std::optional<HttpResponse> refuse_head(const HttpRequest& head, std::string_view path,
                                          RequestRecord& record);

  // Records the current signing key, logging a change (a rotation).
  void note_signing_key();

  // GET /metrics: the text of metrics and of the gauges read now.
  HttpResponse metrics_response();

  // POST /v1/push (push_handler.cpp): answered once the push committed, from
  // the commit queue's thread.
  void handle_push(const HttpRequest& request, const Responder& respond,
                   const std::shared_ptr<RequestRecord>& record);

  // POST /v1/resolve (resolve_handler.cpp).
  void handle_resolve(const HttpRequest& request, const Responder& respond,
                      const std::shared_ptr<RequestRecord>& record);

  // POST /v1/snapshot (snapshot_handler.cpp).
  void handle_snapshot(const HttpRequest& request, const Responder& respond,
                       const std::shared_ptr<RequestRecord>& record);

  // POST /v1/pull and the long polls (pull_handler.cpp).
  void handle_pull(const HttpRequest& request, Responder respond,
                   const std::shared_ptr<RequestRecord>& record);
  // The page `query` asks for, from one snapshot, with the server's HLC.
  Result<PulledPage> read_page(const PullQuery& query);
  // Answers `waiter` with a page; when `hold_when_empty` and the page brings
  // nothing, holds it as a long poll instead. A waiter whose client has gone
  // gets a short error no one reads, not a page.
  void answer_pull(PullWaiter waiter, bool hold_when_empty);
  // Queues the long polls that `changes` may bring news to for
  // poll_answerer: the commit thread reads no page.
  void wake_long_polls(const CommittedChanges& changes);
  // poll_answerer's loop: answers the woken long polls anew until stop().
  void answer_woken_polls();

  // Another daemon's commit, told by the commit feed (sync_server.cpp): its
  // HLC, region rows and long polls.
  void remote_commit(const CommitNotice& notice);
  // Moves the HLC past the last stamp the store holds: other daemons over the
  // same store may have stamped later, and the store's writers take turns,
  // so a write that calls this inside its transaction stamps after them all.
  Status follow_stored_hlc(ReadTransaction& txn);
  // The commit feed listens (again): what other daemons committed meanwhile
  // was not told, so every long poll is woken and the regions read again.
  Status feed_listening();

  const ServerOptions options;
  const core::Schema schema;
  const protocol::RequestLimits request_limits;
  // What grants by district and province read; refreshed by the pushes and
  // resolutions that write the region table, before they are answered.
  Regions regions;
  // Judges the CHECKs of the rows pushes and resolutions make, on the commit
  // thread; set by SyncServer::open before any request.
  std::unique_ptr<db::CheckJudge> judge;
  std::string schema_text;  // what `schema` was loaded from; set by open
  // What devices of older schema versions are served; set by open.
  SchemaViews schema_views;
  const std::shared_ptr<Clock> clock;
  const std::unique_ptr<auth::TokenAuthority> authority;  // null: --insecure-no-auth
  const std::unique_ptr<Store> store;
  // The store's epoch (epoch.hpp), read at open: it changes only while no
  // daemon serves the data directory (a restore).
  const std::string epoch;
  core::HlcClock hlc;
  OfficerRate push_rate;
  OfficerRate pull_rate;  // pulls and snapshot downloads
  const std::shared_ptr<OfficerRequests> officer_requests;
  LongPolls long_polls;
  // Over PostgreSQL: the other daemons' commits, and this one's told to them
  // (docs/decisions/0036-several-daemons.md); null over SQLite. Started by
  // SyncServer::open, stopped by stop().
  std::unique_ptr<CommitFeed> feed;
  // Started by SyncServer's constructor, joined by stop().
  std::thread poll_answerer;
  std::atomic<bool> stopped{false};
  // The signing key current when last looked at (tick(), every
  // kSigningKeyCheck), so that a rotation by `lumbungd rotate-key` is logged.
  std::string signing_key;
  std::int64_t signing_key_checked_ms = 0;
  // Request ids: a random number drawn at open, then a count.
  std::uint32_t request_id_prefix = 0;
  std::atomic<std::uint32_t> requests_started{0};
  ServerMetrics metrics;
  // Open and accepted connections, from the network layer
  // (SyncServer::watch_connections); empty until it is set.
  std::mutex connections_mu;
  std::function<ConnectionCounts()> connections;
  // Last: stopped (its queue answered) before the members its answers use.
  CommitQueue commits{*store, [this](std::size_t pushes, std::chrono::steady_clock::duration took) {
                        metrics.committed(pushes, took);
                      }};
};

}  // namespace lumbung::server
