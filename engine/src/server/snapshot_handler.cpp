// POST /v1/snapshot: the snapshots a caller may read, and chunks of them
// (docs/protocol.md, "Snapshot"). Files only: the store is not read.
#include <algorithm>

#include "protocol/wire.hpp"
#include "server/server_impl.hpp"
#include "server/snapshot_files.hpp"

namespace lumbung::server {
namespace {

// A chunk's size when the device names none, and the most it may ask for.
constexpr std::uint32_t kDefaultChunkBytes = 256u << 10;
constexpr std::uint32_t kMaxChunkBytes = 4u << 20;

void add_info(const SnapshotFile& file, v1::SnapshotResponse* response) {
  v1::SnapshotInfo* info = response->add_snapshots();
  info->set_scope(file.scope);
  info->set_seq(file.seq);
  info->set_bytes(file.bytes);
  info->set_rows(file.rows);
}

}  // namespace

void SyncServer::Impl::handle_snapshot(const HttpRequest& request, const Responder& respond,
                                       const std::shared_ptr<RequestRecord>& record) {
  v1::SnapshotRequest wanted;
  Result<auth::Grant> grant = admit(request, &wanted, *record);
  if (!wanted.scope().empty()) record->note_village(wanted.scope());
  if (!grant.is_ok()) return respond(protocol::error_response(grant.status()));
  const std::string dir = snapshot_dir(options.data_dir);
  v1::SnapshotResponse response;
  if (wanted.scope().empty()) {
    // A snapshot holds the tables of the server's schema version: a device
    // of another version pulls instead.
    if (wanted.header().schema_version() == static_cast<std::uint32_t>(schema.version)) {
      Result<std::vector<SnapshotFile>> files = newest_snapshots(dir);
      if (!files.is_ok()) return respond(protocol::error_response(files.status()));
      for (const SnapshotFile& file : *files) {
        if (grant->may_read(file.scope)) add_info(file, &response);
      }
    }
    return respond(protocol::make_response(response));
  }
  if (!grant->may_read(wanted.scope())) {
    return respond(protocol::error_response(
        Status(ErrorCode::kForbidden, "the token may not read village '" + wanted.scope() + "'")));
  }
  Result<std::optional<SnapshotFile>> file = find_snapshot(dir, wanted.scope(), wanted.seq());
  if (!file.is_ok()) return respond(protocol::error_response(file.status()));
  if (!*file) {
    return respond(protocol::error_response(
        Status(ErrorCode::kNotFound, "no snapshot of village '" + wanted.scope() + "' at seq " +
                                         std::to_string(wanted.seq()) + " is kept")));
  }
  const std::uint32_t max_bytes =
      wanted.max_bytes() == 0 ? kDefaultChunkBytes : std::min(wanted.max_bytes(), kMaxChunkBytes);
  Result<std::string> chunk = read_snapshot_chunk(**file, wanted.offset(), max_bytes);
  if (!chunk.is_ok()) return respond(protocol::error_response(chunk.status()));
  add_info(**file, &response);
  response.set_data(std::move(chunk).value());
  respond(protocol::make_response(response));
}

}  // namespace lumbung::server
