// The server's epoch (docs/protocol.md, "Going back in time"): the id of one
// unbroken history of the server's state. A new store begins one; so does a
// restore from a backup (`lumbungd restore`), because the restored state lacks
// what the server acknowledged after the backup. Every push answer and pull
// page carries it, and a device that sees it change re-seeds the server with
// what it holds.
#pragma once

#include <string>

#include "lumbung/status.hpp"
#include "server/store.hpp"

namespace lumbung::server {

// The store's named value holding the epoch: a UUIDv7, so that epochs sort by
// the time they began.
inline constexpr const char* kEpochMetaKey = "epoch";

// Gives the store a new epoch and returns it.
Result<std::string> begin_epoch(WriteTransaction& txn);

// The store's epoch; begins one when it has none (a new store, or one written
// before epochs existed).
Result<std::string> current_epoch(WriteTransaction& txn);

}  // namespace lumbung::server
