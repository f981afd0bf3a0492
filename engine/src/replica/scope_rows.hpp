// The rows of one scope (village) on the device, removed as a whole when the
// device's token no longer grants it (docs/security.md). Runs in the caller's
// applying transaction, so nothing is captured as a local write.
#pragma once

#include <functional>
#include <string>

#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/status.hpp"

namespace lumbung::replica {

// Called with each row removed (for the app's changed-rows callback).
using RemovedRow = std::function<void(const std::string& table, const std::string& id)>;

// Removes a scope the device may no longer read: its pending changes are set
// aside as refused (out_of_scope; listed, never silently dropped), then its
// rows, their versions, its conflicts and its cursor are deleted.
Status drop_scope(db::Database& db, const core::Schema& schema, const std::string& scope,
                  const RemovedRow& removed);

}  // namespace lumbung::replica
