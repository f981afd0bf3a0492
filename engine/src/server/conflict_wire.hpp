// Conflict records on the wire: the one conversion that pushes and pulls share.
#pragma once

#include "lumbung/sync.hpp"
#include "lumbung/v1/sync.pb.h"

namespace lumbung::server {

void to_wire(const ConflictRecord& conflict, v1::Conflict* out);

}  // namespace lumbung::server
