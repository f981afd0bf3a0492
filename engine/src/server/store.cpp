#include "server/store.hpp"

#include <charconv>

namespace lumbung::server {

Result<std::int64_t> meta_int64(ReadTransaction& txn, std::string_view key) {
  LUMBUNG_ASSIGN_OR_RETURN(std::string text, txn.meta(key));
  std::int64_t number = 0;
  const char* end = text.data() + text.size();
  const auto [last, error] = std::from_chars(text.data(), end, number);
  if (!text.empty() && (error != std::errc() || last != end)) {
    return Status(ErrorCode::kCorrupt,
                  "store: '" + std::string(key) + "' is not a number: '" + text + "'");
  }
  return number;
}

}  // namespace lumbung::server
