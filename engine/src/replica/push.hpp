// Push (docs/protocol.md, "Push" and "The device"): the outbox goes to the
// server in numbered batches. A batch is stored (its number and exact body)
// before it is first sent and re-sent unchanged until answered; its answer is
// applied in one transaction that also clears it. So a crash at any point
// loses no change and applies none twice: the server answers a repeated batch
// from its record of the last one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/clock.hpp"
#include "lumbung/http.hpp"
#include "lumbung/status.hpp"
#include "lumbung/sync.hpp"
#include "lumbung/v1/sync.pb.h"
#include "replica/outbox.hpp"

namespace lumbung::replica {

// A batch stored in _lumbung_push: in flight until its answer is applied.
struct PushBatch {
  std::uint64_t number = 0;
  std::string content_encoding;  // of `body`: "zstd", or empty for none
  std::string body;              // the encoded PushRequest, byte for byte as sent
  // `body` decoded, so that applying its answer need not decode it again.
  std::shared_ptr<const v1::PushRequest> request{};
};

// The HTTP request that sends `batch`.
HttpRequest push_request(const PushBatch& batch);

// The number the next new batch gets: one more than the last batch made.
Result<std::int64_t> next_batch_number(db::Database& db);

// What applying an answer did.
struct PushAnswer {
  std::int64_t acknowledged = 0;  // changes with an outcome
  std::int64_t applied = 0;
  std::int64_t superseded = 0;
  std::int64_t refused = 0;
  std::vector<ConflictRecord> new_conflicts;  // not stored before
  std::vector<ChangedRows> changed_rows;      // rewritten with the server's state
  // The answer came from another epoch of the server: nothing of the batch
  // was merged, and the replica began re-seeding every scope
  // (docs/protocol.md, "Going back in time"). Pull before pushing again.
  bool server_went_back = false;
  // The batch given to apply_answer() to follow this one is now in flight:
  // every change of this one was acknowledged.
  bool next_in_flight = false;
};

class Pusher {
 public:
  Pusher(db::Database& db, const core::Schema& schema, Clock& clock)
      : db_(db), schema_(schema), clock_(clock) {}

  // The batch in flight, if any.
  Result<std::optional<PushBatch>> inflight();

  // Makes the next batch of up to `max_changes` of the oldest outbox entries,
  // with their current values, and stores it as in flight; nullopt when the
  // outbox is empty. REQUIRES: no batch in flight.
  Result<std::optional<PushBatch>> start_batch(int max_changes);

  // Makes the batch that follows `sent`, the batch in flight: up to
  // `max_changes` of the outbox entries after its last change, numbered after
  // it, without storing it, so that it can be made while `sent` is on its way
  // (docs/protocol.md, "Push"). nullopt when no entry follows.
  Result<std::optional<PushBatch>> prepare_after(const PushBatch& sent, int max_changes);

  // Drops the batch in flight, which the server refused whole as too large
  // (413, over one of its limits: none of it was merged); its changes stay in
  // the outbox for smaller batches. Its number is not reused.
  Status drop_inflight();

  // Applies the server's answer to the batch in flight, in one transaction:
  // drops each acknowledged outbox entry that still carries the stamp sent
  // (a newer local write stays pending) and records the stamp of an applied
  // one (versions.hpp), writes the server's cells for a superseded change
  // (or deletes the row) under the pending overlay, sets refused changes
  // aside, stores the conflicts, runs the HLC receive rule, and clears the
  // batch. Changes without an outcome stay pending for the next batch.
  // kProtocol for an answer that does not fit the batch. An answer from
  // another epoch of the server is not applied (server_went_back).
  // `next` (prepare_after() of `batch`) becomes the batch in flight in the
  // same transaction when every change of `batch` was acknowledged
  // (next_in_flight); otherwise it is dropped, as its changes may have to go
  // after some of `batch`'s.
  Result<PushAnswer> apply_answer(const PushBatch& batch, const v1::PushResponse& response,
                                  const std::optional<PushBatch>& next = std::nullopt);

  // After the server refused a batch as stale (this file was restored from an
  // old copy and reuses numbers its old self already sent): the replica takes
  // a new device id (identity.hpp), drops the batch in flight, whose changes
  // are still in the outbox, and numbers its batches from 1 again. The
  // outbox then goes under the new id, so that no change of it is taken for
  // one the server has from the old id.
  Status reidentify_after_stale();

 private:
  // The next batch of up to `max_changes` outbox entries (those after `after`
  // when given), with their current values; nullopt when there is none.
  // Drops the entries whose row is gone on the way. Runs in the caller's
  // transaction.
  Result<std::optional<PushBatch>> build_batch(int max_changes, const OutboxEntry* after);

  // Records the stamps of a change the server applied; `own_id`: this
  // device's id, the author of its own writes.
  Status record_applied(const OutboxEntry& entry, const v1::ChangeOutcome& outcome,
                        const std::string& own_id);

  db::Database& db_;
  const core::Schema& schema_;
  Clock& clock_;
  // SELECT of every column of a table's row by id, by table: built once.
  std::map<std::string, std::string, std::less<>> row_selects_;
};

}  // namespace lumbung::replica
