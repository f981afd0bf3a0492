// Builds one pull page (docs/protocol.md, "Pull") from a consistent snapshot
// of the store. Pure logic over a ReadTransaction: no I/O of its own.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "auth/grant.hpp"
#include "core/schema.hpp"
#include "lumbung/status.hpp"
#include "lumbung/v1/sync.pb.h"
#include "server/schema_views.hpp"
#include "server/store.hpp"

namespace lumbung::server {

struct PullQuery {
  std::string device_id;
  // RequestHeader.schema_version: what of the schema the device is served.
  std::uint32_t schema_version = 0;
  // The device's cursor per scope; a scope not named starts at 0.
  std::map<std::string, std::int64_t> cursors;
  std::uint32_t budget_bytes = 0;
  // The last push batch the device made (PullRequest.pushed_batch).
  std::uint64_t pushed_batch = 0;
  // Only the scopes this grant may read are served: every one, or `villages`.
  auth::Grant grant = auth::Grant::everything();
  // The villages a grant of fewer than all covers, listed once per request
  // (a grant by district or province reads them from its regions); empty
  // for a grant of every village. Set with the grant by set_grant().
  std::vector<std::string> villages;

  void set_grant(auth::Grant granted) {
    grant = std::move(granted);
    villages = grant.all_villages() ? std::vector<std::string>() : grant.covered_villages();
  }
};

struct PulledPage {
  v1::PullPage page;  // without server_hlc, which is the caller's
  // The last seq of the snapshot the page was read from.
  std::int64_t snapshot_seq = 0;

  // Whether the page brings the device anything besides cursors.
  bool has_news() const {
    return page.rows_size() > 0 || page.conflicts_size() > 0 || page.dropped_scopes_size() > 0;
  }
};

// Reads the page `query` asks for from `txn`: every scope the query's grant
// may read, and the scopes it names but may not read as dropped; only what
// `view` (the device's schema version) has of the tables and columns, with
// checksums over that alone.
Result<PulledPage> build_pull_page(const SchemaView& view, ReadTransaction& txn,
                                   const PullQuery& query);

}  // namespace lumbung::server
