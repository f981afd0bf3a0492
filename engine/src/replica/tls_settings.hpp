// The TLS settings of the replica's server (CA file, pinned keys), kept in
// _lumbung_meta next to its URL so that a sync needs no flags. Pins go in one
// value, comma-separated: base64 holds no comma.
#pragma once

#include "db/database.hpp"
#include "lumbung/http.hpp"
#include "lumbung/status.hpp"

namespace lumbung::replica {

Result<TlsOptions> read_tls_settings(db::Database& db);
Status write_tls_settings(db::Database& db, const TlsOptions& tls);

}  // namespace lumbung::replica
