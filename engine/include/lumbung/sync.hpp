// What Replica::sync() takes and reports. See docs/protocol.md for the
// protocol, and its section "The device" for what the device does at each
// step.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lumbung/http.hpp"
#include "lumbung/value.hpp"

namespace lumbung {

struct SyncProgress {
  enum class Phase : int { kPush = 1, kPull = 2, kDone = 3 };
  Phase phase = Phase::kPush;
  std::int64_t changes = 0;  // pushed so far (kPush) or pulled so far (kPull)
  std::int64_t bytes_sent = 0;
  std::int64_t bytes_received = 0;
};

// The rows of one table that a pulled page touched (written or deleted).
struct ChangedRows {
  std::string table;
  std::vector<std::string> ids;
};

// A concurrent edit the server detected, with both sides and the outcome.
struct ConflictRecord {
  std::uint64_t id = 0;
  std::string table;
  std::string row_id;
  std::string column;  // empty when a delete met an edit of the row
  std::string
      policy;  // last_writer_wins, server_wins, first_writer_wins, manual_review, delete_wins
  Value server_value;
  std::string server_device;
  std::int64_t server_hlc = 0;
  Value device_value;
  std::string device_id;
  std::int64_t device_hlc = 0;
  // server_kept, device_applied, pending_review; once a reviewer resolved a
  // pending_review conflict: resolved_server, resolved_device, resolved_value.
  std::string outcome;
  std::string scope;
  // Set by the resolution: the value it wrote, the reviewer's officer id
  // (empty without authentication), their device, and the server's time.
  // Initialized, so that designated initializers may leave them out.
  Value resolved_value{};
  std::string resolved_by{};
  std::string resolved_device{};
  std::int64_t resolved_ms = 0;  // ms since the Unix epoch; 0: not resolved
};

// How a reviewer settles a pending_review conflict (Replica::resolve_conflict).
struct ConflictResolution {
  enum class Kind : int {
    kKeepServer = 1,  // the conflict's server_value
    kKeepDevice = 2,  // the conflict's device_value
    kValue = 3,       // `value`, a new value for the cell
  };
  Kind kind = Kind::kKeepServer;
  Value value;  // kValue only; NULL is a value
};

// A change the server refused: set aside, shown to the app, retryable.
struct RefusedChange {
  std::string table;
  std::string row_id;
  std::string column;  // empty for a row insert or delete
  std::string reason;  // stable: unknown_table, unknown_column, type_mismatch, constraint, ...
  std::string message;
  std::int64_t hlc = 0;
};

struct SyncOptions {
  // How requests travel. Default: HTTP to the replica's server URL.
  std::shared_ptr<Transport> transport;
  // Without `transport`: the options of the HTTP transport made for this
  // sync alone (timeouts, TLS). Default: the defaults, with the TLS settings
  // kept in the replica file, on a connection kept between syncs.
  std::optional<HttpTransportOptions> http;
  // Overrides the token kept in the replica file. Default: that token.
  std::string token;
  // Changes per push request, and the soft size limit of a pulled page. A
  // server whose limits a batch exceeds answers 413: the sync then halves
  // its batches, down to one change (lumbungd's default limit is 5,000).
  int push_batch_changes = 1000;
  std::uint32_t page_budget_bytes = 512u << 10;
  // Retries of a transient failure, with exponential backoff and full jitter.
  int max_attempts = 6;
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{15000};
  // Long poll: the last pull waits up to this long for new changes (0: none).
  std::uint32_t wait_seconds = 0;
  // Set to true from any thread to stop at the next step (kCancelled).
  const std::atomic<bool>* cancel = nullptr;
  // Called on the syncing thread.
  std::function<void(const SyncProgress&)> on_progress;
  std::function<void(const std::vector<ChangedRows>&)> on_changed_rows;
  std::function<void(const ConflictRecord&)> on_conflict;
};

// `lumbung sync` prints these fields as JSON.
struct SyncSummary {
  std::int64_t pushed = 0;      // changes sent and acknowledged
  std::int64_t applied = 0;     // of those, merged into the server state
  std::int64_t superseded = 0;  // of those, outvoted by the merge rule
  std::int64_t refused = 0;     // of those, refused and set aside
  std::int64_t pulled = 0;      // rows received
  std::int64_t conflicts = 0;   // conflicts received
  std::int64_t bytes_sent = 0;  // HTTP bodies as sent (compressed)
  std::int64_t bytes_received = 0;
};

}  // namespace lumbung
