// Status and Result<T>: how every fallible call of the Lumbung C++ API reports
// failure. Nothing is thrown across the API. A Status is cheap to copy when OK.
//
// Thread-safety: values; safe to share read-only between threads.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "lumbung/export.hpp"

namespace lumbung {

enum class ErrorCode : int {
#define LUMBUNG_ERROR(name, number, retry) name = number,
#include "lumbung/error_codes.inc"
#undef LUMBUNG_ERROR
};

// What a caller should do about an error.
enum class RetryClass : int {
  kNone = 0,       // not an error
  kTransient = 1,  // retry later, with backoff
  kAbort = 2,      // retry the whole transaction now
  kPermanent = 3,  // retrying will not help: the input or the state needs a fix
};

LUMBUNG_EXPORT RetryClass retry_class(ErrorCode code);
// The code's stable name without its 'k', e.g. "SchemaInvalid".
LUMBUNG_EXPORT std::string_view error_name(ErrorCode code);

// Exported in a declaration of its own: GCC rejects __attribute__ after a
// standard [[attribute]] in one class head.
class LUMBUNG_EXPORT Status;

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == ErrorCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  RetryClass retry() const { return retry_class(code_); }

  // "SchemaInvalid: schema.json: table 'person': unknown column 'nik2'"
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// Either a T or a failed Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).is_ok()); }

  bool is_ok() const { return v_.index() == 0; }
  explicit operator bool() const { return is_ok(); }

  // REQUIRES: is_ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  // By value, so that `for (auto& x : f().value())` does not dangle.
  T value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // OK when is_ok(), the error otherwise.
  Status status() const { return is_ok() ? Status() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lumbung

// Returns from the enclosing function when `expr` (a Status) failed.
#define LUMBUNG_RETURN_IF_ERROR(expr)                     \
  do {                                                    \
    ::lumbung::Status lumbung_status_ = (expr);           \
    if (!lumbung_status_.is_ok()) return lumbung_status_; \
  } while (0)

// Declares or assigns `lhs` from the value of `expr` (a Result<T>), or returns
// its Status from the enclosing function when it failed:
//   LUMBUNG_ASSIGN_OR_RETURN(const bool found, stmt.step());
//   LUMBUNG_ASSIGN_OR_RETURN(rows, read_rows(db));  // assigns an existing variable
// Expands to more than one statement: REQUIRES a block of its own after an if
// or else. `lhs` must not contain a comma (use auto).
#define LUMBUNG_ASSIGN_OR_RETURN(lhs, ...) \
  LUMBUNG_ASSIGN_OR_RETURN_IMPL_(LUMBUNG_CONCAT_(lumbung_result_, __LINE__), lhs, __VA_ARGS__)
#define LUMBUNG_ASSIGN_OR_RETURN_IMPL_(result, lhs, ...) \
  auto result = (__VA_ARGS__);                           \
  if (!result.is_ok()) return result.status();           \
  lhs = std::move(result).value()
#define LUMBUNG_CONCAT_(a, b) LUMBUNG_CONCAT_IMPL_(a, b)
#define LUMBUNG_CONCAT_IMPL_(a, b) a##b
