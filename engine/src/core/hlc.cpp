#include "core/hlc.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace lumbung::core {

std::string Hlc::to_string() const {
  using namespace std::chrono;
  const sys_time<milliseconds> time{milliseconds(physical_ms())};
  const sys_days day = floor<days>(time);
  const year_month_day date(day);
  const hh_mm_ss clock_time(time - day);
  char text[64];
  std::snprintf(
      text, sizeof(text), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ/%lld", static_cast<int>(date.year()),
      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
      static_cast<int>(clock_time.hours().count()), static_cast<int>(clock_time.minutes().count()),
      static_cast<int>(clock_time.seconds().count()),
      static_cast<int>(clock_time.subseconds().count()), static_cast<long long>(logical()));
  return text;
}

HlcClock::HlcClock(std::shared_ptr<Clock> clock, Hlc last)
    : clock_(clock ? std::move(clock) : system_clock()), last_(last) {}

Hlc HlcClock::send() {
  const std::int64_t now = clock_->now_ms();
  std::lock_guard lock(mu_);
  last_ = hlc_next(last_, now);
  return last_;
}

Hlc HlcClock::receive(Hlc remote) {
  const std::int64_t now = clock_->now_ms();
  std::lock_guard lock(mu_);
  last_ = std::max(hlc_next(last_, now), Hlc(remote.packed() + 1));
  return last_;
}

Hlc HlcClock::last() const {
  std::lock_guard lock(mu_);
  return last_;
}

std::int64_t HlcClock::physical_now() const { return clock_->now_ms(); }

}  // namespace lumbung::core
