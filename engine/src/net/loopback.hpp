// Whether a daemon's listening address reaches only this machine: what
// `lumbungd serve` requires before it serves without tokens, and before it
// serves plain HTTP under --require-tls (docs/security.md).
#pragma once

#include <string>

#include "lumbung/status.hpp"

namespace lumbung::net {

// True when every address `host` names is a loopback address (127.0.0.0/8,
// ::1, or ::ffff:127.x.y.z). A name is resolved, so "localhost" counts; a
// wildcard ("0.0.0.0", "::") reaches every interface and does not. Fails
// with kInvalidArgument when the name does not resolve.
Result<bool> is_loopback_host(const std::string& host);

}  // namespace lumbung::net
