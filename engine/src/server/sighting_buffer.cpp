#include "server/sighting_buffer.hpp"

#include <algorithm>
#include <utility>

namespace lumbung::server {

bool SightingBuffer::note(const DeviceSighting& sighting) {
  std::lock_guard lock(mu_);
  auto [it, added] = sightings_.try_emplace(sighting.device_id);
  Pending& pending = it->second;
  if (added) {
    pending.first_ms = sighting.time_ms;
    pending.latest = sighting;
  } else {
    pending.first_ms = std::min(pending.first_ms, sighting.time_ms);
    // The villages of the last pull stay when a push comes after it.
    const bool pulled = pending.latest.pulled;
    if (sighting.time_ms >= pending.latest.time_ms) {
      if (!sighting.pulled && pulled) {
        DeviceSighting kept = std::move(pending.latest);
        pending.latest = sighting;
        pending.latest.pulled = true;
        pending.latest.all_villages = kept.all_villages;
        pending.latest.villages = std::move(kept.villages);
      } else {
        pending.latest = sighting;
      }
    }
  }
  if (oldest_ms_ == 0 || sighting.time_ms < oldest_ms_) oldest_ms_ = sighting.time_ms;
  // Asked once until a write takes the sightings.
  if (flush_asked_ || sighting.time_ms - oldest_ms_ < Store::kSightingFlushMs) return false;
  flush_asked_ = true;
  return true;
}

SightingBuffer::Sightings SightingBuffer::take() {
  std::lock_guard lock(mu_);
  Sightings taken;
  taken.swap(sightings_);
  oldest_ms_ = 0;
  flush_asked_ = false;
  return taken;
}

void SightingBuffer::put_back(Sightings sightings) {
  std::lock_guard lock(mu_);
  for (auto& [device_id, pending] : sightings) {
    if (!sightings_.contains(device_id)) sightings_.emplace(device_id, std::move(pending));
  }
}

bool SightingBuffer::empty() const {
  std::lock_guard lock(mu_);
  return sightings_.empty();
}

}  // namespace lumbung::server
