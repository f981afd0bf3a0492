// Clock: the source of physical time behind Lumbung's hybrid logical clock.
// Injectable so tests can move time at will, backwards included.
//
// Thread-safety: implementations must be safe to call from any thread.
#pragma once

#include <cstdint>
#include <memory>

#include "lumbung/export.hpp"

namespace lumbung {

class LUMBUNG_EXPORT Clock {
 public:
  virtual ~Clock();
  // Milliseconds since the Unix epoch. May jump backwards; Lumbung copes.
  virtual std::int64_t now_ms() = 0;
};

// The wall clock (std::chrono::system_clock). Shared, never null.
LUMBUNG_EXPORT std::shared_ptr<Clock> system_clock();

}  // namespace lumbung
