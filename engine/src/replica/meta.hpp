// _lumbung_meta: the replica's named facts and settings (format, device id,
// schema, server URL, token, time of the last sync, ...), one value a key.
#pragma once

#include <string>

#include "db/database.hpp"
#include "lumbung/status.hpp"
#include "lumbung/value.hpp"

namespace lumbung::replica {

// The value of `key` as text; empty when the key is not set.
Result<std::string> read_meta(db::Database& db, const std::string& key);
Status write_meta(db::Database& db, const std::string& key, const Value& value);

}  // namespace lumbung::replica
