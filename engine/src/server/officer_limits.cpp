#include "server/officer_limits.hpp"

#include <algorithm>
#include <cmath>

namespace lumbung::server {

void OfficerRate::refill(Bucket& bucket, std::int64_t now_ms) const {
  const std::int64_t elapsed_ms = std::max<std::int64_t>(now_ms - bucket.updated_ms, 0);
  bucket.tokens = std::min(bucket.tokens + static_cast<double>(elapsed_ms) * per_second_ / 1000.0,
                           static_cast<double>(burst_));
  bucket.updated_ms = now_ms;
}

void OfficerRate::forget_full(std::int64_t now_ms) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now_ms);
    it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  // Sweeps stay rare however many officers are busy: amortized over inserts.
  forget_at_size_ = std::max<std::size_t>(64, 2 * buckets_.size());
}

std::uint32_t OfficerRate::take(const std::string& officer, std::int64_t now_ms) {
  if (per_second_ == 0) return 0;
  std::lock_guard lock(mu_);
  auto it = buckets_.find(officer);
  if (it == buckets_.end()) {
    if (buckets_.size() >= forget_at_size_) forget_full(now_ms);
    it = buckets_.emplace(officer, Bucket{static_cast<double>(burst_), now_ms}).first;
  }
  Bucket& bucket = it->second;
  refill(bucket, now_ms);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 0;
  }
  const double seconds = (1 - bucket.tokens) / per_second_;
  return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::ceil(seconds)));
}

void OfficerRequests::Place::release() {
  std::lock_guard lock(mu_);
  if (!owner_) return;
  owner_->leave(officer_);
  owner_.reset();
}

std::shared_ptr<OfficerRequests> OfficerRequests::make(std::uint32_t per_officer) {
  std::shared_ptr<OfficerRequests> requests(new OfficerRequests(per_officer));
  requests->self_ = requests;
  return requests;
}

std::shared_ptr<OfficerRequests::Place> OfficerRequests::enter(const std::string& officer) {
  {
    std::lock_guard lock(mu_);
    std::uint32_t& count = in_flight_[officer];
    if (per_officer_ != 0 && count >= per_officer_) return nullptr;
    ++count;
  }
  return std::shared_ptr<Place>(new Place(self_.lock(), officer));
}

void OfficerRequests::leave(const std::string& officer) {
  std::lock_guard lock(mu_);
  const auto it = in_flight_.find(officer);
  if (it != in_flight_.end() && --it->second == 0) in_flight_.erase(it);
}

}  // namespace lumbung::server
