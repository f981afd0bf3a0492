// Re-seeding (docs/protocol.md, "Going back in time"): the device pulls a
// scope's whole state again and compares it, version by version, with what it
// holds, instead of taking the server's state as the truth. Only a tombstone
// deletes; what the device holds newer than the server, or the server lacks,
// goes back to the server as re-offers: outbox entries that carry their
// version's stamp and author, pushed, scope-checked and merged like any
// change.
//
// A scope is re-seeded when its checksum differs after a pull, and every
// scope when the server went back in time (a new epoch, or the server lacks
// seqs or push batches it once acknowledged). The state is durable
// (_lumbung_scope.reseeding, _lumbung_reseed), so a re-seed cut short by a
// crash or a broken link resumes at the next sync. All of it runs in the
// caller's transaction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/hlc.hpp"
#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/status.hpp"
#include "lumbung/v1/sync.pb.h"

namespace lumbung::replica {

class ServerRow;
struct PendingRow;

class Reseeder {
 public:
  Reseeder(db::Database& db, const core::Schema& schema) : db_(db), schema_(schema) {}

  // Every scope the device holds a cursor, a row or a tombstone of.
  Result<std::set<std::string>> held_scopes();

  // Starts re-seeding `scopes`: their cursors go to 0, and each row and
  // tombstone the device holds of them waits for the server's version. When
  // `history_lost` (the server went back in time), the bases of pending and
  // refused changes, which name seqs of the lost history, become 0 (a change
  // made on nothing the server holds now), the batch in flight is dropped
  // (its changes are still pending) and the scopes' conflict records go (the
  // server numbers its conflicts anew).
  Status begin(const std::set<std::string>& scopes, bool history_lost);

  // The cursors of the page about to be applied: the base of the re-offers
  // it makes.
  void set_page_cursors(const v1::PullPage& page);

  // Called by ServerStateWriter with each row of a page, before writing it.
  // For a row the device holds in a scope being re-seeded: leaves out of
  // `row` the cells the device holds newer versions of (with other values),
  // re-offering them; for a row the device deleted, re-offers the delete.
  // Returns false when nothing is left to write: a deleted row, or one whose
  // every version the device holds already. `pending` covers what is pending.
  Result<bool> confirm(ServerRow& row, const PendingRow& pending);

  // After `page` is applied: each scope it brought up to date (more = false)
  // is re-seeded; the rows the server did not send are re-offered whole.
  // Returns whether applying the page re-offered anything.
  Result<bool> finish_page(const v1::PullPage& page);

 private:
  Status reoffer(const std::string& table, const std::string& row_id, const std::string& column,
                 int op, const core::Stamp& stamp, std::int64_t base);
  std::int64_t base_for(const std::string& scope) const;
  Status finish_scope(const std::string& scope, std::int64_t cursor);
  Result<bool> any_waiting();

  db::Database& db_;
  const core::Schema& schema_;
  std::map<std::string, std::int64_t> page_cursors_;
  std::optional<bool> waiting_;  // whether _lumbung_reseed holds rows; read once a page
  bool reoffered_ = false;       // by the page being applied
};

}  // namespace lumbung::replica
