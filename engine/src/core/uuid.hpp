// UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version, a 12-bit counter that
// keeps ids made in one millisecond ordered (method 1), variant, 62 random bits.
// Time-ordered keys keep SQLite's primary-key b-tree appends cheap.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "lumbung/clock.hpp"

namespace lumbung::core {

class UuidV7Generator {
 public:
  using RandomSource = std::function<std::uint64_t()>;
  // Defaults: the system clock and a random source seeded from std::random_device.
  explicit UuidV7Generator(std::shared_ptr<Clock> clock = nullptr, RandomSource random = nullptr);

  // Lower-case canonical text, 36 characters. Strictly increasing (as text too)
  // for ids made by one generator, also when the clock stands still or steps back.
  std::string next();

 private:
  std::shared_ptr<Clock> clock_;
  RandomSource random_;
  std::mutex mu_;
  std::int64_t last_ms_ = -1;
  std::uint32_t counter_ = 0;
};

// True when `text` is a canonical lower-case UUID of version 7.
bool is_uuid_v7(const std::string& text);

}  // namespace lumbung::core
