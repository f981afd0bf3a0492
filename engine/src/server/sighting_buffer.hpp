// SightingBuffer: what the daemon saw of devices at their pulls, kept in
// memory until a store's next write transaction records it
// (Store::note_sighting, docs/decisions/0025-fleet-view.md): per device, the
// latest sighting (the villages of its last pull kept when a push comes
// after it) and the time it was first seen since the last write.
//
// Thread-safety: safe to share.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "server/store.hpp"

namespace lumbung::server {

class SightingBuffer {
 public:
  struct Pending {
    std::int64_t first_ms = 0;  // the earliest noted
    DeviceSighting latest;
  };
  // Device id -> what was seen of it.
  using Sightings = std::map<std::string, Pending, std::less<>>;

  // As Store::note_sighting: true, once until the next take(), when the
  // oldest sighting noted is Store::kSightingFlushMs or more older than this one.
  bool note(const DeviceSighting& sighting);
  // Every sighting noted, for a write transaction to record.
  Sightings take();
  // Sightings a failed commit did not record, noted again; newer ones win.
  void put_back(Sightings sightings);
  bool empty() const;

 private:
  mutable std::mutex mu_;
  Sightings sightings_;         // guarded by mu_
  std::int64_t oldest_ms_ = 0;  // of sightings_; 0: none. Guarded by mu_
  bool flush_asked_ = false;    // note() returned true since the last take(). Guarded by mu_
};

}  // namespace lumbung::server
