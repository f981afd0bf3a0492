// The server fuzz target's input format, an HTTP request as text, so that
// seeds can be read and written by hand:
//
//   POST /v1/push            method, one space, target
//   Content-Encoding: zstd   headers, "Name: value", one a line
//                            an empty line
//   <body bytes>             the rest, as is
//
// Lines end in "\n" (a "\r" before it is dropped). Parsing never fails: a
// missing part is empty.
#pragma once

#include <string>
#include <string_view>

#include "lumbung/http.hpp"

namespace lumbung::fuzz {

inline std::string request_text(const HttpRequest& request) {
  std::string text = request.method + " " + request.target + "\n";
  for (const auto& [name, value] : request.headers) text += name + ": " + value + "\n";
  return text + "\n" + request.body;
}

inline HttpRequest parse_request_text(std::string_view text) {
  const auto next_line = [&text]() {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  HttpRequest request;
  const std::string_view first = next_line();
  const std::size_t space = first.find(' ');
  request.method = first.substr(0, space);
  if (space != std::string_view::npos) request.target = first.substr(space + 1);
  for (std::string_view line = next_line(); !line.empty(); line = next_line()) {
    const std::size_t colon = line.find(':');
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    request.headers.emplace_back(line.substr(0, colon), value);
  }
  request.body = text;
  return request;
}

}  // namespace lumbung::fuzz
