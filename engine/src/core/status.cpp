#include "lumbung/status.hpp"

namespace lumbung {

RetryClass retry_class(ErrorCode code) {
  switch (code) {
#define LUMBUNG_ERROR(name, number, retry) \
  case ErrorCode::name:                    \
    return RetryClass::retry;
#include "lumbung/error_codes.inc"
#undef LUMBUNG_ERROR
  }
  // A number from the wire or the C API that this build does not know.
  return RetryClass::kPermanent;
}

std::string_view error_name(ErrorCode code) {
  switch (code) {
#define LUMBUNG_ERROR(name, number, retry) \
  case ErrorCode::name:                    \
    return std::string_view(#name).substr(1);
#include "lumbung/error_codes.inc"
#undef LUMBUNG_ERROR
  }
  return "Unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "OK";
  std::string out(error_name(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace lumbung
