// Values, rows and query results (lumbung_value, lumbung_row, lumbung_rows).
#include <cstdint>
#include <string>

#include "guard.hpp"
#include "handles.hpp"

using namespace lumbung;
using namespace lumbung::c_api;

namespace {

Blob blob_of(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  return size == 0 ? Blob() : Blob(bytes, bytes + size);
}

// Values are never converted: reading one as another type is an error.
Status expect_type(const Value& value, ValueType wanted) {
  if (value.type() == wanted) return Status::ok();
  return Status(ErrorCode::kTypeMismatch, "the value is " + std::string(type_name(value.type())) +
                                              ", not " + std::string(type_name(wanted)));
}

// Copies `value`'s content, read by `read`, into *out when it is of type `wanted`.
template <typename T, typename Read>
Status read_into(const Value& value, ValueType wanted, T* out, Read read) {
  LUMBUNG_RETURN_IF_ERROR(expect_type(value, wanted));
  *out = read(value);
  return Status::ok();
}

// The bytes of a text or blob value of type `wanted`, their size into *out_size.
template <typename Bytes>
Result<const void*> bytes_of(const Value& value, ValueType wanted, std::size_t* out_size,
                             Bytes bytes) {
  static constexpr std::uint8_t kEmpty = 0;
  LUMBUNG_RETURN_IF_ERROR(expect_type(value, wanted));
  const auto& content = bytes(value);
  if (out_size != nullptr) *out_size = content.size();
  return content.empty() ? static_cast<const void*>(&kEmpty)
                         : static_cast<const void*>(content.data());
}

}  // namespace

extern "C" {

lumbung_value* lumbung_value_new_null(void) noexcept { return to_c(new Value()); }
lumbung_value* lumbung_value_new_integer(int64_t value) noexcept {
  return to_c(new Value(static_cast<std::int64_t>(value)));
}
lumbung_value* lumbung_value_new_real(double value) noexcept { return to_c(new Value(value)); }
lumbung_value* lumbung_value_new_text(const char* text) noexcept { return to_c(new Value(text)); }
lumbung_value* lumbung_value_new_blob(const void* data, size_t size) noexcept {
  return to_c(new Value(blob_of(data, size)));
}
void lumbung_value_free(lumbung_value* value) noexcept { delete cpp(value); }

lumbung_type_e lumbung_value_type(const lumbung_value* value) noexcept {
  return static_cast<lumbung_type_e>(cpp(value)->type());
}

bool lumbung_value_integer(const lumbung_value* value, int64_t* out,
                           lumbung_error* out_error) noexcept {
  return guard(out_error, [&] {
    return read_into(*cpp(value), ValueType::kInteger, out,
                     [](const Value& v) { return v.as_integer(); });
  });
}

bool lumbung_value_real(const lumbung_value* value, double* out,
                        lumbung_error* out_error) noexcept {
  return guard(out_error, [&] {
    return read_into(*cpp(value), ValueType::kReal, out,
                     [](const Value& v) { return v.as_real(); });
  });
}

const char* lumbung_value_text(const lumbung_value* value, size_t* out_size,
                               lumbung_error* out_error) noexcept {
  return static_cast<const char*>(guard(out_error, [&] {
    return bytes_of(*cpp(value), ValueType::kText, out_size,
                    [](const Value& v) -> const std::string& { return v.as_text(); });
  }));
}

const void* lumbung_value_blob(const lumbung_value* value, size_t* out_size,
                               lumbung_error* out_error) noexcept {
  return guard(out_error, [&] {
    return bytes_of(*cpp(value), ValueType::kBlob, out_size,
                    [](const Value& v) -> const Blob& { return v.as_blob(); });
  });
}

lumbung_row* lumbung_row_new(void) noexcept { return to_c(new Row()); }
void lumbung_row_free(lumbung_row* row) noexcept { delete cpp(row); }

void lumbung_row_set(lumbung_row* row, const char* column, const lumbung_value* value) noexcept {
  (*cpp(row))[column] = *cpp(value);
}
void lumbung_row_set_null(lumbung_row* row, const char* column) noexcept {
  (*cpp(row))[column] = Value();
}
void lumbung_row_set_integer(lumbung_row* row, const char* column, int64_t value) noexcept {
  (*cpp(row))[column] = Value(static_cast<std::int64_t>(value));
}
void lumbung_row_set_real(lumbung_row* row, const char* column, double value) noexcept {
  (*cpp(row))[column] = Value(value);
}
void lumbung_row_set_text(lumbung_row* row, const char* column, const char* text) noexcept {
  (*cpp(row))[column] = Value(text);
}
void lumbung_row_set_blob(lumbung_row* row, const char* column, const void* data,
                          size_t size) noexcept {
  (*cpp(row))[column] = Value(blob_of(data, size));
}

size_t lumbung_row_size(const lumbung_row* row) noexcept { return cpp(row)->size(); }

const char* lumbung_row_column(const lumbung_row* row, size_t index) noexcept {
  return std::next(cpp(row)->begin(), static_cast<std::ptrdiff_t>(index))->first.c_str();
}

const lumbung_value* lumbung_row_get(const lumbung_row* row, const char* column,
                                     lumbung_error* out_error) noexcept {
  return guard(out_error, [&]() -> Result<const lumbung_value*> {
    const auto cell = cpp(row)->find(column);
    if (cell == cpp(row)->end()) {
      return Status(ErrorCode::kNotFound, "the row has no column '" + std::string(column) + "'");
    }
    return to_c(&cell->second);
  });
}

size_t lumbung_rows_count(const lumbung_rows* rows) noexcept { return cpp(rows)->size(); }
const lumbung_row* lumbung_rows_at(const lumbung_rows* rows, size_t index) noexcept {
  return to_c(&(*cpp(rows))[index]);
}
void lumbung_rows_free(lumbung_rows* rows) noexcept { delete cpp(rows); }

}  // extern "C"
