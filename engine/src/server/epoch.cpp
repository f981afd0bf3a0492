#include "server/epoch.hpp"

#include "core/uuid.hpp"

namespace lumbung::server {

Result<std::string> begin_epoch(WriteTransaction& txn) {
  core::UuidV7Generator ids;
  std::string epoch = ids.next();
  LUMBUNG_RETURN_IF_ERROR(txn.set_meta(kEpochMetaKey, epoch));
  return epoch;
}

Result<std::string> current_epoch(WriteTransaction& txn) {
  Result<std::string> epoch = txn.meta(kEpochMetaKey);
  if (!epoch.is_ok() || !epoch->empty()) return epoch;
  return begin_epoch(txn);
}

}  // namespace lumbung::server
