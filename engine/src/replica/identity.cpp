#include "replica/identity.hpp"

#include "protocol/wire.hpp"
#include "replica/meta.hpp"

namespace lumbung::replica {
namespace {

// _lumbung_meta keys.
constexpr const char* kDeviceId = "device_id";
constexpr const char* kReplacesDevice = "replaces_device";
constexpr const char* kServerEpoch = "server_epoch";
constexpr const char* kAppVersion = "app_version";

}  // namespace

Result<v1::RequestHeader> request_header(db::Database& db, const core::Schema& schema) {
  v1::RequestHeader header;
  header.set_protocol_version(protocol::kProtocolVersion);
  header.set_schema_version(static_cast<std::uint32_t>(schema.version));
  for (const auto& [key, field] : {std::pair{kDeviceId, header.mutable_device_id()},
                                   std::pair{kServerEpoch, header.mutable_epoch()},
                                   std::pair{kReplacesDevice, header.mutable_replaces_device()},
                                   std::pair{kAppVersion, header.mutable_app_version()}}) {
    LUMBUNG_ASSIGN_OR_RETURN(std::string value, read_meta(db, key));
    *field = std::move(value);
  }
  return header;
}

Result<std::string> device_id(db::Database& db) { return read_meta(db, kDeviceId); }

Status set_app_version(db::Database& db, const std::string& app_version) {
  LUMBUNG_ASSIGN_OR_RETURN(const std::string stored, read_meta(db, kAppVersion));
  if (stored == app_version) return Status::ok();  // no write at every open
  return write_meta(db, kAppVersion, Value(app_version));
}

Result<std::string> known_epoch(db::Database& db) { return read_meta(db, kServerEpoch); }

Status set_known_epoch(db::Database& db, const std::string& epoch) {
  return write_meta(db, kServerEpoch, Value(epoch));
}

Status reidentify(db::Database& db, const std::string& new_id) {
  LUMBUNG_ASSIGN_OR_RETURN(std::string old_id, device_id(db));
  LUMBUNG_RETURN_IF_ERROR(write_meta(db, kReplacesDevice, Value(old_id)));
  LUMBUNG_RETURN_IF_ERROR(write_meta(db, kDeviceId, Value(new_id)));
  return db.exec(
      "UPDATE _lumbung_push SET next_batch = 1, acked_batch = 0, inflight_batch = NULL, "
      "inflight_encoding = NULL, inflight_body = NULL");
}

}  // namespace lumbung::replica
