// Errors, versions and strings: the C API's library-wide functions.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "guard.hpp"
#include "lumbung.h"
#include "lumbung/status.hpp"

namespace lumbung::c_api {

// The C enum repeats error_codes.inc by hand (C cannot include it and stay
// readable); these keep the two from drifting apart.
#define LUMBUNG_ERROR(name, number, retry) +1
constexpr int kCodeCount = 0
#include "lumbung/error_codes.inc"
    ;
#undef LUMBUNG_ERROR
static_assert(kCodeCount == LUMBUNG_TLS + 1, "lumbung.h lacks an error code of error_codes.inc");
static_assert(static_cast<int>(ErrorCode::kInvalidArgument) == LUMBUNG_INVALID_ARGUMENT);
static_assert(static_cast<int>(ErrorCode::kNotFound) == LUMBUNG_NOT_FOUND);
static_assert(static_cast<int>(ErrorCode::kSchemaInvalid) == LUMBUNG_SCHEMA_INVALID);
static_assert(static_cast<int>(ErrorCode::kSchemaIncompatible) == LUMBUNG_SCHEMA_INCOMPATIBLE);
static_assert(static_cast<int>(ErrorCode::kConstraint) == LUMBUNG_CONSTRAINT);
static_assert(static_cast<int>(ErrorCode::kTypeMismatch) == LUMBUNG_TYPE_MISMATCH);
static_assert(static_cast<int>(ErrorCode::kNotAReplica) == LUMBUNG_NOT_A_REPLICA);
static_assert(static_cast<int>(ErrorCode::kIo) == LUMBUNG_IO);
static_assert(static_cast<int>(ErrorCode::kBusy) == LUMBUNG_BUSY);
static_assert(static_cast<int>(ErrorCode::kCorrupt) == LUMBUNG_CORRUPT);
static_assert(static_cast<int>(ErrorCode::kNoSpace) == LUMBUNG_NO_SPACE);
static_assert(static_cast<int>(ErrorCode::kEncryption) == LUMBUNG_ENCRYPTION);
static_assert(static_cast<int>(ErrorCode::kInternal) == LUMBUNG_INTERNAL);
static_assert(static_cast<int>(ErrorCode::kNetwork) == LUMBUNG_NETWORK);
static_assert(static_cast<int>(ErrorCode::kTimeout) == LUMBUNG_TIMEOUT);
static_assert(static_cast<int>(ErrorCode::kProtocol) == LUMBUNG_PROTOCOL);
static_assert(static_cast<int>(ErrorCode::kTooLarge) == LUMBUNG_TOO_LARGE);
static_assert(static_cast<int>(ErrorCode::kUnavailable) == LUMBUNG_UNAVAILABLE);
static_assert(static_cast<int>(ErrorCode::kCancelled) == LUMBUNG_CANCELLED);
static_assert(static_cast<int>(ErrorCode::kStaleBatch) == LUMBUNG_STALE_BATCH);
static_assert(static_cast<int>(ErrorCode::kTokenMissing) == LUMBUNG_TOKEN_MISSING);
static_assert(static_cast<int>(ErrorCode::kTokenMalformed) == LUMBUNG_TOKEN_MALFORMED);
static_assert(static_cast<int>(ErrorCode::kTokenForged) == LUMBUNG_TOKEN_FORGED);
static_assert(static_cast<int>(ErrorCode::kTokenExpired) == LUMBUNG_TOKEN_EXPIRED);
static_assert(static_cast<int>(ErrorCode::kTokenRevoked) == LUMBUNG_TOKEN_REVOKED);
static_assert(static_cast<int>(ErrorCode::kDeviceMismatch) == LUMBUNG_DEVICE_MISMATCH);
static_assert(static_cast<int>(ErrorCode::kForbidden) == LUMBUNG_FORBIDDEN);
static_assert(static_cast<int>(ErrorCode::kTls) == LUMBUNG_TLS);
static_assert(static_cast<int>(RetryClass::kTransient) == LUMBUNG_RETRY_TRANSIENT);
static_assert(static_cast<int>(RetryClass::kAbort) == LUMBUNG_RETRY_ABORT);
static_assert(static_cast<int>(RetryClass::kPermanent) == LUMBUNG_RETRY_PERMANENT);

void fill_error(lumbung_error* out_error, const Status& status) noexcept {
  if (out_error == nullptr) return;
  out_error->code = static_cast<lumbung_code_e>(status.code());
  out_error->retry = static_cast<lumbung_retry_e>(status.retry());
  const std::string& message = status.message();
  const std::size_t length = std::min(message.size(), sizeof(out_error->message) - 1);
  std::memcpy(out_error->message, message.data(), length);
  out_error->message[length] = '\0';
}

}  // namespace lumbung::c_api

extern "C" {

// error_name() views a suffix of a string literal: NUL-terminated.
const char* lumbung_code_name(int code) noexcept {
  return lumbung::error_name(static_cast<lumbung::ErrorCode>(code)).data();
}

int lumbung_api_version(void) noexcept { return LUMBUNG_API_VERSION; }

const char* lumbung_version(void) noexcept { return LUMBUNG_LIBRARY_VERSION; }

bool lumbung_encryption_available(void) noexcept {
#ifdef LUMBUNG_HAVE_SQLCIPHER
  return true;
#else
  return false;
#endif
}

void lumbung_string_free(char* string) noexcept { std::free(string); }

}  // extern "C"
