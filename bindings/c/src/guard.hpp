// The one guard of the C API: runs a C++ call, turns its failed Status, or
// any exception, into a lumbung_error, and never lets an exception out.
#pragma once

#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "lumbung.h"
#include "lumbung/status.hpp"

namespace lumbung::c_api {

// Copies `status` into *out_error (when given), cutting a long message.
void fill_error(lumbung_error* out_error, const Status& status) noexcept;

// What a successful call returns to C: true for a Status, the value of a Result.
inline bool success_value(Status&&) { return true; }
template <typename T>
T success_value(Result<T>&& result) {
  return std::move(result).value();
}

// The failure of a Status or a Result.
inline Status status_of(const Status& status) { return status; }
template <typename T>
Status status_of(const Result<T>& result) {
  return result.status();
}

// Runs `body` (returning a Status or a Result<T>) and returns true or the
// value on success; on failure fills *out_error and returns false or T{}.
template <typename Body>
auto guard(lumbung_error* out_error, Body&& body) noexcept {
  using Returned = std::invoke_result_t<Body&>;
  using Out = decltype(success_value(std::declval<Returned>()));
  try {
    Returned returned = body();
    if (returned.is_ok()) return success_value(std::move(returned));
    fill_error(out_error, status_of(returned));
  } catch (const std::bad_alloc&) {
    fill_error(out_error, Status(ErrorCode::kInternal, "out of memory"));
  } catch (const std::exception& e) {
    fill_error(out_error, Status(ErrorCode::kInternal, e.what()));
  } catch (...) {
    fill_error(out_error, Status(ErrorCode::kInternal, "unknown exception"));
  }
  return Out{};
}

}  // namespace lumbung::c_api
