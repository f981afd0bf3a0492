#include "replica/tls_settings.hpp"

#include <string>

#include "core/split.hpp"
#include "replica/meta.hpp"

namespace lumbung::replica {
namespace {

// _lumbung_meta keys.
constexpr const char* kCaFile = "tls_ca_file";
constexpr const char* kPinnedKeys = "tls_pinned_keys";

}  // namespace

Result<TlsOptions> read_tls_settings(db::Database& db) {
  LUMBUNG_ASSIGN_OR_RETURN(std::string ca_file, read_meta(db, kCaFile));
  LUMBUNG_ASSIGN_OR_RETURN(std::string pins, read_meta(db, kPinnedKeys));
  TlsOptions tls;
  tls.ca_file = std::move(ca_file);
  if (!pins.empty()) tls.pinned_keys = core::split(pins, ',');
  return tls;
}

Status write_tls_settings(db::Database& db, const TlsOptions& tls) {
  std::string pins;
  for (const std::string& pin : tls.pinned_keys) {
    if (!pins.empty()) pins += ',';
    pins += pin;
  }
  LUMBUNG_RETURN_IF_ERROR(write_meta(db, kCaFile, Value(tls.ca_file)));
  return write_meta(db, kPinnedKeys, Value(pins));
}

}  // namespace lumbung::replica
