// Small pieces the HTTP client and server share. Includes Beast: only for the
// net/ .cpp files, which pay for it anyway.
#pragma once

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <string_view>

namespace lumbung::net {

// True for an error of Beast's HTTP parser (malformed or oversized message),
// as opposed to a socket error or a timeout.
inline bool is_http_error(const boost::system::error_code& ec) {
  namespace http = boost::beast::http;
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

// Headers that frame a message on the connection, which the sender derives
// itself: a handler's or caller's copies of them are not sent.
inline bool is_framing_header(std::string_view name) {
  namespace beast = boost::beast;
  return beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding") ||
         beast::iequals(name, "Connection");
}

}  // namespace lumbung::net
