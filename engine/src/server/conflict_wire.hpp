// Conflict records on the wire: the one conversion that pushes and pulls share.
#pragma once

#include "lumbung/v1/sync.pb.h"
#include "server/conflict.hpp"

namespace lumbung::server {

void to_wire(const Conflict& conflict, v1::Conflict* out);

}  // namespace lumbung::server
