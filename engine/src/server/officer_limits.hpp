// What one officer may ask of the daemon at once and over time, across their
// devices (docs/security.md): pushes per second, and requests in flight.
// Only authenticated officers reach these, so their names are bounded by the
// tokens issued; idle officers are forgotten all the same.
//
// Thread-safety: all members may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace lumbung::server {

// A token bucket per officer: `per_second` tokens a second, up to `burst`.
class OfficerRate {
 public:
  // per_second 0: no limit.
  OfficerRate(std::uint32_t per_second, std::uint32_t burst)
      : per_second_(per_second), burst_(burst) {}

  // Takes one of `officer`'s tokens at `now_ms`: 0 when there was one, else
  // the whole seconds until there is (Retry-After, at least 1).
  std::uint32_t take(const std::string& officer, std::int64_t now_ms);

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t updated_ms = 0;
  };
  // Refills `bucket` up to `now_ms`.
  void refill(Bucket& bucket, std::int64_t now_ms) const;
  // Drops the buckets that are full again: they are as good as new ones.
  void forget_full(std::int64_t now_ms);

  const std::uint32_t per_second_;
  const std::uint32_t burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::size_t forget_at_size_ = 64;  // buckets_ size at which forget_full runs
};

// The requests each officer has in flight: from when the daemon takes one
// up until it answers it.
class OfficerRequests {
 public:
  // One request's place: given back by release(), or at the latest when the
  // last copy of the holder goes.
  class Place {
   public:
    ~Place() { release(); }
    void release();

   private:
    friend class OfficerRequests;
    Place(std::shared_ptr<OfficerRequests> owner, std::string officer)
        : owner_(std::move(owner)), officer_(std::move(officer)) {}
    std::shared_ptr<OfficerRequests> owner_;  // null once released
    std::string officer_;
    std::mutex mu_;
  };

  // per_officer 0: no limit.
  static std::shared_ptr<OfficerRequests> make(std::uint32_t per_officer);

  // A place for a request of `officer`; null when they have per_officer
  // requests in flight already.
  std::shared_ptr<Place> enter(const std::string& officer);

 private:
  explicit OfficerRequests(std::uint32_t per_officer) : per_officer_(per_officer) {}
  void leave(const std::string& officer);

  const std::uint32_t per_officer_;
  std::weak_ptr<OfficerRequests> self_;
  std::mutex mu_;
  std::unordered_map<std::string, std::uint32_t> in_flight_;  // no entry: none
};

}  // namespace lumbung::server
