// Hybrid logical clock (Kulkarni et al.): physical milliseconds plus a logical
// counter, packed into one int64 as (ms << 16) | logical so that integer order
// is clock order and SQL can compute it. Ties between devices are broken by
// the device id (Stamp).
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "lumbung/clock.hpp"

namespace lumbung::core {

class Hlc {
 public:
  static constexpr int kLogicalBits = 16;
  static constexpr std::int64_t kLogicalMask = (std::int64_t{1} << kLogicalBits) - 1;

  constexpr Hlc() = default;
  constexpr explicit Hlc(std::int64_t packed) : packed_(packed) {}
  static constexpr Hlc from_parts(std::int64_t physical_ms, std::int64_t logical) {
    return Hlc((physical_ms << kLogicalBits) | (logical & kLogicalMask));
  }

  constexpr std::int64_t packed() const { return packed_; }
  constexpr std::int64_t physical_ms() const { return packed_ >> kLogicalBits; }
  constexpr std::int64_t logical() const { return packed_ & kLogicalMask; }

  constexpr auto operator<=>(const Hlc&) const = default;

  // "2026-11-28T04:07:26.123Z/5": UTC time of the physical part, then the counter.
  std::string to_string() const;

 private:
  std::int64_t packed_ = 0;
};

// The send rule in one formula: the next stamp after `last` at physical time
// `now_ms` is max(last + 1, now_ms << 16). When the wall clock stands still or
// jumps back the counter grows; a full counter carries into the milliseconds,
// so stamps stay strictly increasing. The replica's capture triggers compute
// exactly this in SQL.
constexpr Hlc hlc_next(Hlc last, std::int64_t now_ms) {
  const std::int64_t wall = now_ms << Hlc::kLogicalBits;
  return Hlc(last.packed() + 1 > wall ? last.packed() + 1 : wall);
}

// A stamp: clock value and author. Total order: HLC first, device id breaks ties.
struct Stamp {
  Hlc hlc;
  std::string device_id;
  auto operator<=>(const Stamp&) const = default;
};

// The stateful clock. Persisting last() across restarts is the owner's job:
// construct with the last value stored. Thread-safe.
class HlcClock {
 public:
  // A null `clock` means system_clock().
  explicit HlcClock(std::shared_ptr<Clock> clock, Hlc last = Hlc());

  // Send rule: a stamp for a new local event, greater than every stamp issued
  // or received before.
  Hlc send();
  // Receive rule: merges a remote stamp; the result is
  // max(last + 1, remote + 1, now_ms << 16), greater than both the remote
  // stamp and every earlier local stamp. REQUIRES: remote.packed() < INT64_MAX
  // (callers bound how far a remote clock may run ahead anyway).
  Hlc receive(Hlc remote);
  Hlc last() const;
  std::int64_t physical_now() const;

 private:
  std::shared_ptr<Clock> clock_;
  mutable std::mutex mu_;
  Hlc last_;
};

}  // namespace lumbung::core
