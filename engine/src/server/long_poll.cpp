#include "server/long_poll.hpp"

#include <algorithm>
#include <utility>

namespace lumbung::server {

LongPolls::LongPolls(std::int64_t committed_seq, std::uint32_t per_officer)
    : per_officer_(per_officer) {
  every_commit_.committed_seq = committed_seq;
}

std::vector<LongPolls::Watch*> LongPolls::watches_of(const PullQuery& query) {
  // The page serves every scope the grant may read (pull_page.cpp); a scope
  // the query names beyond the grant is news (dropped), never held. The
  // entries stay, a few per village and device, for hold()'s check.
  std::vector<Watch*> watches;
  if (query.grant.all_villages()) {
    watches.push_back(&every_commit_);
  } else {
    for (const std::string& village : query.villages) {
      watches.push_back(&scopes_[village]);
    }
  }
  watches.push_back(&devices_[query.device_id]);
  return watches;
}

LongPolls::Hold LongPolls::hold(PullWaiter& waiter, std::int64_t seen_seq) {
  std::lock_guard lock(mu_);
  if (stopped_) return Hold::kAnswerNow;
  std::vector<Watch*> watches = watches_of(waiter.query);
  // A commit between the waiter's snapshot and now found no one to wake.
  if (every_waiter_seq_ > seen_seq) return Hold::kAnswerNow;
  if (std::any_of(watches.begin(), watches.end(),
                  [seen_seq](const Watch* watch) { return watch->committed_seq > seen_seq; })) {
    return Hold::kAnswerNow;
  }
  // Unauthenticated waiters (insecure_no_auth) name no officer.
  const std::string& officer = waiter.query.grant.officer;
  if (per_officer_ > 0 && !officer.empty()) {
    const auto counted = held_per_officer_.find(officer);
    if (counted != held_per_officer_.end() && counted->second >= per_officer_) {
      return Hold::kOverLimit;
    }
  }
  if (!officer.empty()) ++held_per_officer_[officer];
  const std::uint64_t id = next_id_++;
  for (Watch* watch : watches) watch->waiting.insert(id);
  held_.emplace(id, Held{std::move(waiter), std::move(watches)});
  return Hold::kHeld;
}

PullWaiter LongPolls::release(std::uint64_t id) {
  const auto it = held_.find(id);
  Held held = std::move(it->second);
  held_.erase(it);
  for (Watch* watch : held.watches) watch->waiting.erase(id);
  const std::string& officer = held.waiter.query.grant.officer;
  if (!officer.empty() && --held_per_officer_[officer] == 0) held_per_officer_.erase(officer);
  return std::move(held.waiter);
}

void LongPolls::wake(Watch& watch, std::int64_t seq) {
  watch.committed_seq = std::max(watch.committed_seq, seq);
  for (const std::uint64_t id : std::exchange(watch.waiting, {})) woken_.push_back(release(id));
}

void LongPolls::committed(const CommittedChanges& changes) {
  std::lock_guard lock(mu_);
  const std::size_t before = woken_.size();
  wake(every_commit_, changes.seq);
  if (changes.every_waiter) {
    every_waiter_seq_ = std::max(every_waiter_seq_, changes.seq);
    for (auto& [scope, watch] : scopes_) wake(watch, changes.seq);
    for (auto& [device, watch] : devices_) wake(watch, changes.seq);
  }
  for (const std::string& scope : changes.scopes) wake(scopes_[scope], changes.seq);
  if (!changes.device_id.empty()) wake(devices_[changes.device_id], changes.seq);
  if (woken_.size() > before) woken_ready_.notify_one();
}

std::vector<PullWaiter> LongPolls::take_woken() {
  std::unique_lock lock(mu_);
  woken_ready_.wait(lock, [this] { return stopped_ || !woken_.empty(); });
  return std::exchange(woken_, {});  // empty once stopped: stop() took them
}

std::vector<PullWaiter> LongPolls::expired(std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  std::vector<std::uint64_t> due;
  for (const auto& [id, held] : held_) {
    if (held.waiter.deadline_ms <= now_ms || held.waiter.gone()) due.push_back(id);
  }
  std::vector<PullWaiter> released;
  released.reserve(due.size());
  for (const std::uint64_t id : due) released.push_back(release(id));
  return released;
}

std::size_t LongPolls::held() {
  std::lock_guard lock(mu_);
  return held_.size();
}

std::vector<PullWaiter> LongPolls::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  std::vector<PullWaiter> all = std::exchange(woken_, {});
  while (!held_.empty()) all.push_back(release(held_.begin()->first));
  woken_ready_.notify_all();
  return all;
}

}  // namespace lumbung::server
