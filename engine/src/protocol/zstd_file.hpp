// Whole files through zstd, streamed in fixed-size blocks so that memory does
// not follow the file's size: how a snapshot (docs/protocol.md, "Snapshot")
// is packed by the daemon and unpacked by a device.
#pragma once

#include <cstdint>
#include <string>

#include "lumbung/status.hpp"

namespace lumbung::protocol {

// Writes `from` compressed at `level` to `to` (created or truncated), with
// zstd's content checksum, so that a damaged copy fails to unpack.
Status compress_file(const std::string& from, const std::string& to, int level);

// Writes what `from` unpacks to into `to` (created or truncated). kCorrupt
// when `from` is not one whole zstd frame with a matching checksum, or
// unpacks to more than `max_bytes`; its window may be at most 8 MiB (what
// levels up to 19 use), which bounds the memory it takes.
Status decompress_file(const std::string& from, const std::string& to, std::uint64_t max_bytes);

}  // namespace lumbung::protocol
