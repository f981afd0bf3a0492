#include "server/pg_sql.hpp"

#include <bit>
#include <cctype>

namespace lumbung::server {

std::string pg_placeholders(std::string_view sql) {
  std::string text(sql);
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] == '?' && std::isdigit(static_cast<unsigned char>(text[i + 1]))) text[i] = '$';
  }
  return text;
}

std::string PgSql::upsert(std::string_view insert, std::string_view key) {
  // Every column the insert names but the key's takes the inserted value.
  const std::size_t open = insert.find('(');
  const std::size_t close = insert.find(')', open);
  const std::string_view listed = insert.substr(open + 1, close - open - 1);
  std::string keys = "," + std::string(key) + ",";
  std::erase(keys, ' ');
  std::string set;
  for (std::size_t start = 0; start < listed.size();) {
    std::size_t end = listed.find(',', start);
    if (end == std::string_view::npos) end = listed.size();
    std::string column(listed.substr(start, end - start));
    std::erase(column, ' ');
    if (keys.find("," + column + ",") == std::string::npos) {
      set += (set.empty() ? "" : ", ") + column + " = EXCLUDED." + column;
    }
    start = end + 1;
  }
  return std::string(insert) + " ON CONFLICT (" + std::string(key) + ") DO UPDATE SET " + set;
}

Value PgSql::any_value(const Value& value) {
  Blob bytes;
  const auto put64 = [&](std::uint64_t bits) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      bytes.push_back(static_cast<std::uint8_t>(bits >> shift));
    }
  };
  switch (value.type()) {
    case ValueType::kNull:
      return Value();
    case ValueType::kInteger:
      bytes.push_back('i');
      put64(static_cast<std::uint64_t>(value.as_integer()));
      break;
    case ValueType::kReal:
      bytes.push_back('r');
      put64(std::bit_cast<std::uint64_t>(value.as_real()));
      break;
    case ValueType::kText:
      bytes.push_back('t');
      bytes.insert(bytes.end(), value.as_text().begin(), value.as_text().end());
      break;
    case ValueType::kBlob:
      bytes.push_back('b');
      bytes.insert(bytes.end(), value.as_blob().begin(), value.as_blob().end());
      break;
  }
  return Value(std::move(bytes));
}

Result<Value> PgSql::from_any_value(const Value& stored, std::string_view what) {
  if (stored.is_null()) return Value();
  const auto corrupt = [&] {
    return Status(ErrorCode::kCorrupt, "store: " + std::string(what) + " holds no tagged value");
  };
  if (stored.type() != ValueType::kBlob || stored.as_blob().empty()) return corrupt();
  const Blob& bytes = stored.as_blob();
  const auto get64 = [&]() {
    std::uint64_t bits = 0;
    for (std::size_t i = 1; i <= 8; ++i) bits = bits << 8 | bytes[i];
    return bits;
  };
  switch (bytes[0]) {
    case 'i':
      if (bytes.size() != 9) return corrupt();
      return Value(static_cast<std::int64_t>(get64()));
    case 'r':
      if (bytes.size() != 9) return corrupt();
      return Value(std::bit_cast<double>(get64()));
    case 't':
      return Value(std::string(bytes.begin() + 1, bytes.end()));
    case 'b':
      return Value(Blob(bytes.begin() + 1, bytes.end()));
    default:
      return corrupt();
  }
}

}  // namespace lumbung::server
