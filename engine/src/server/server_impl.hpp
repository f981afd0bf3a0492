// SyncServer's state, shared by its handlers (sync_server.cpp routes,
// push_handler.cpp and pull_handler.cpp answer). Internal.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "core/hlc.hpp"
#include "core/schema.hpp"
#include "lumbung/v1/sync.pb.h"
#include "server/long_poll.hpp"
#include "server/store.hpp"
#include "server/sync_server.hpp"

namespace lumbung::server {

// The store's named value holding the server's HLC, so that it stays
// monotonic across restarts.
inline constexpr const char* kHlcMetaKey = "hlc";

struct SyncServer::Impl {
  Impl(const ServerOptions& options, core::Schema schema, std::shared_ptr<Clock> physical_clock,
       std::unique_ptr<Store> store, core::Hlc last_hlc, std::int64_t last_seq)
      : options(options),
        schema(std::move(schema)),
        clock(physical_clock),
        store(std::move(store)),
        hlc(std::move(physical_clock), last_hlc),
        long_polls(last_seq) {}

  // Refuses a protocol version other than 1, a schema newer than the
  // server's and a missing device id.
  Status check_header(const v1::RequestHeader& header) const;

  // POST /v1/push (push_handler.cpp).
  void handle_push(const HttpRequest& request, const Responder& respond);

  // POST /v1/pull and the long polls (pull_handler.cpp).
  void handle_pull(const HttpRequest& request, Responder respond);
  // The page `query` asks for, from one snapshot, with the server's HLC.
  Result<PulledPage> read_page(const PullQuery& query);
  // Answers `waiter` with a page; when `hold_when_empty` and the page brings
  // nothing, holds it as a long poll instead.
  void answer_pull(PullWaiter waiter, bool hold_when_empty);
  // Answers the long polls anew after a commit of changes up to `seq`.
  void wake_long_polls(std::int64_t seq);

  const ServerOptions options;
  const core::Schema schema;
  const std::shared_ptr<Clock> clock;
  const std::unique_ptr<Store> store;
  core::HlcClock hlc;
  LongPolls long_polls;
  std::atomic<bool> stopped{false};
};

}  // namespace lumbung::server
