// Who the replica is to the server, and which history of the server's state
// it knows: its device id, the id it had before it re-identified, and the
// server's epoch it last saw, kept in _lumbung_meta. Each changes when one
// side goes back in time (docs/protocol.md, "Going back in time"): a server
// restored from a backup has a new epoch; a replica restored from an old copy
// takes a new device id, so that none of its writes is taken for one the
// server already has from its old id.
#pragma once

#include <string>

#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/status.hpp"
#include "lumbung/v1/sync.pb.h"

namespace lumbung::replica {

// The header of every request: the protocol version, the version of `schema`
// the device holds, its id, the epoch it knows, the id it replaces and the
// app's version.
Result<v1::RequestHeader> request_header(db::Database& db, const core::Schema& schema);

// The device id, as the header sends it.
Result<std::string> device_id(db::Database& db);

// Records the app version the header sends (ReplicaOptions.app_version;
// empty: none); writes only when it changed.
Status set_app_version(db::Database& db, const std::string& app_version);

// The server epoch the device last saw; empty before the first answer that
// carried one.
Result<std::string> known_epoch(db::Database& db);
Status set_known_epoch(db::Database& db, const std::string& epoch);

// Gives the replica the device id `new_id`, its old one becoming the id it
// replaces, and numbers its push batches from 1 again (a new device has sent
// none); the batch in flight, whose changes are still in the outbox, is
// dropped. In the caller's transaction.
Status reidentify(db::Database& db, const std::string& new_id);

}  // namespace lumbung::replica
