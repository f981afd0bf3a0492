// "HOST:PORT" as written in URLs and on the daemon's command line, shared by
// the HTTP client (base URLs) and lumbungd (--listen). Header-only: the two
// link different net libraries.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lumbung::net {

struct HostPort {
  std::string host;  // an IPv6 literal without its brackets
  std::uint16_t port = 0;
};

// Parses "host:port", "1.2.3.4:port" or "[::1]:port"; without ":port",
// `default_port` when given. Returns nullopt for an empty host or a port that
// is not a decimal number up to 65535.
inline std::optional<HostPort> parse_host_port(std::string_view text,
                                               std::optional<std::uint16_t> default_port) {
  HostPort result;
  std::string_view rest;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    result.host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
  } else {
    const std::size_t colon = text.find(':');
    result.host = text.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  }
  if (result.host.empty()) return std::nullopt;
  if (rest.empty()) {
    if (!default_port) return std::nullopt;
    result.port = *default_port;
    return result;
  }
  if (!rest.starts_with(':') || rest.size() == 1) return std::nullopt;
  const std::string_view digits = rest.substr(1);
  const auto [end, error] =
      std::from_chars(digits.data(), digits.data() + digits.size(), result.port);
  if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return result;
}

}  // namespace lumbung::net
