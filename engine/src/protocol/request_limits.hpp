// What a request may hold, checked on its encoded bytes before they are
// parsed. Parsing allocates an object for every nested message and string,
// so that 16 MiB of two-byte fields would become millions of objects before
// any check could look at them: the scan walks the bytes once, allocating
// nothing, and refuses a request over a limit.
#pragma once

#include <cstddef>
#include <string_view>

#include "lumbung/status.hpp"
#include "lumbung/v1/sync.pb.h"

namespace lumbung::protocol {

struct RequestLimits {
  // Fields, elements of packed lists and nested messages, at every depth:
  // what a parse allocates. An honest push of 1,000 re-offered 22-column
  // inserts holds about 120,000.
  std::size_t max_objects = 500000;
  // PushRequest.changes. A device sends 1,000 at most (SyncOptions).
  std::size_t max_changes_per_push = 5000;
  // A change's cells: its longest list of columns, values, cell_hlcs or
  // cell_authors. A valid change has at most its table's column count.
  std::size_t max_cells_per_change = 64;
};

// OK when `bytes`, an encoded Message, is within `limits`; kTooLarge naming
// the limit and the count over it; kProtocol when `bytes` is not a valid
// encoding. Defined for PushRequest, PullRequest, ResolveRequest and
// SnapshotRequest.
template <typename Message>
Status check_request_bytes(std::string_view bytes, const RequestLimits& limits);
template <>
Status check_request_bytes<v1::PushRequest>(std::string_view bytes, const RequestLimits& limits);
template <>
Status check_request_bytes<v1::PullRequest>(std::string_view bytes, const RequestLimits& limits);
template <>
Status check_request_bytes<v1::ResolveRequest>(std::string_view bytes, const RequestLimits& limits);
template <>
Status check_request_bytes<v1::SnapshotRequest>(std::string_view bytes,
                                                const RequestLimits& limits);

}  // namespace lumbung::protocol
