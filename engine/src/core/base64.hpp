// Base64 (RFC 4648): the standard alphabet, padded, is how blobs appear in
// JSON; the URL-safe alphabet without padding (section 5) is how bearer tokens
// carry bytes in an HTTP header.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lumbung/value.hpp"

namespace lumbung::core {

std::string base64_encode(const Blob& bytes);
// nullopt when `text` is not canonical padded base64.
std::optional<Blob> base64_decode(std::string_view text);

// '-' and '_' for '+' and '/', no '=' padding.
std::string base64url_encode(const Blob& bytes);
// nullopt when `text` is not canonical unpadded base64url.
std::optional<Blob> base64url_decode(std::string_view text);

}  // namespace lumbung::core
