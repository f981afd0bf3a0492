// Base64 (RFC 4648, standard alphabet, padded): how blobs appear in JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lumbung/value.hpp"

namespace lumbung::core {

std::string base64_encode(const Blob& bytes);
// nullopt when `text` is not canonical padded base64.
std::optional<Blob> base64_decode(std::string_view text);

}  // namespace lumbung::core
