// The out-of-line parts of the public HTTP values (lumbung/http.hpp), which
// every layer that moves or builds requests shares.
#include "lumbung/http.hpp"

#include <algorithm>
#include <cctype>

namespace lumbung {

std::optional<std::string_view> find_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (std::equal(key.begin(), key.end(), name.begin(), name.end(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

Transport::~Transport() = default;

}  // namespace lumbung
