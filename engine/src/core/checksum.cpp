#include "core/checksum.hpp"

#include <cstring>

namespace lumbung::core {
namespace {

class Fnv1a {
 public:
  Fnv1a() = default;
  explicit Fnv1a(std::uint64_t state) : hash_(state) {}
  void bytes(const void* data, std::size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) {
      hash_ = (hash_ ^ p[i]) * 0x100000001b3ULL;
    }
  }
  void u64(std::uint64_t v) {
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(v >> (8 * i));
    bytes(le, sizeof le);
  }
  void text(std::string_view s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

std::uint64_t splitmix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

RowCellHasher::RowCellHasher(std::string_view table, std::string_view row_id) {
  Fnv1a h;
  h.text(table);
  h.text(row_id);
  prefix_state_ = h.value();
}

std::uint64_t RowCellHasher::cell(std::string_view column, const Value& value) const {
  Fnv1a h(prefix_state_);
  h.text(column);
  const auto type = static_cast<unsigned char>(value.type());
  h.bytes(&type, 1);
  switch (value.type()) {
    case ValueType::kNull:
      break;
    case ValueType::kInteger:
      h.u64(static_cast<std::uint64_t>(value.as_integer()));
      break;
    case ValueType::kReal: {
      std::uint64_t bits;
      const double real = value.as_real();
      std::memcpy(&bits, &real, sizeof bits);
      h.u64(bits);
      break;
    }
    case ValueType::kText:
      h.text(value.as_text());
      break;
    case ValueType::kBlob:
      h.u64(value.as_blob().size());
      h.bytes(value.as_blob().data(), value.as_blob().size());
      break;
  }
  return splitmix64(h.value());
}

std::uint64_t cell_hash(std::string_view table, std::string_view row_id, std::string_view column,
                        const Value& value) {
  return RowCellHasher(table, row_id).cell(column, value);
}

std::uint64_t bytes_digest(std::string_view bytes) {
  Fnv1a h;
  h.text(bytes);
  return splitmix64(h.value());
}

}  // namespace lumbung::core
