#include "listeners.hpp"

#include <algorithm>

#include "handles.hpp"

using namespace lumbung;
using namespace lumbung::c_api;

// A registration owns its listener; freeing it stops the listener.
struct lumbung_registration {
  std::shared_ptr<Listener> listener;
};

namespace lumbung::c_api {

void Listener::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_ = false;
  }
  if (free_userdata_ != nullptr) free_userdata_(userdata_);
}

template <typename Fn>
lumbung_registration* Listeners::add(List<Fn>& list, Fn fn, void* userdata,
                                     void (*free_userdata)(void*)) {
  auto listener = std::make_shared<TypedListener<Fn>>(fn, userdata, free_userdata);
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(list, [](const auto& entry) { return entry.expired(); });
  list.push_back(listener);
  return new lumbung_registration{std::move(listener)};
}

template <typename Fn, typename Call>
void Listeners::notify_all(const List<Fn>& list, Call&& call) {
  std::vector<std::shared_ptr<TypedListener<Fn>>> now;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : list) {
      if (auto listener = entry.lock()) now.push_back(std::move(listener));
    }
  }
  for (const auto& listener : now) {
    listener->notify([&](void* userdata) { call(listener->fn, userdata); });
  }
}

lumbung_registration* Listeners::add_progress(lumbung_progress_fn fn, void* userdata,
                                              void (*free_userdata)(void*)) {
  return add(progress_, fn, userdata, free_userdata);
}
lumbung_registration* Listeners::add_changed_rows(lumbung_changed_rows_fn fn, void* userdata,
                                                  void (*free_userdata)(void*)) {
  return add(changed_rows_, fn, userdata, free_userdata);
}
lumbung_registration* Listeners::add_conflict(lumbung_conflict_fn fn, void* userdata,
                                              void (*free_userdata)(void*)) {
  return add(conflict_, fn, userdata, free_userdata);
}

void Listeners::attach(const std::shared_ptr<Listeners>& self, SyncOptions& options) {
  options.on_progress = [self](const SyncProgress& progress) {
    self->notify_all(self->progress_, [&](lumbung_progress_fn fn, void* userdata) {
      fn(userdata, static_cast<lumbung_sync_phase_e>(progress.phase), progress.changes,
         progress.bytes_sent, progress.bytes_received);
    });
  };
  options.on_changed_rows = [self](const std::vector<ChangedRows>& tables) {
    for (const ChangedRows& table : tables) {
      std::vector<const char*> ids;
      ids.reserve(table.ids.size());
      for (const std::string& id : table.ids) ids.push_back(id.c_str());
      self->notify_all(self->changed_rows_, [&](lumbung_changed_rows_fn fn, void* userdata) {
        fn(userdata, table.table.c_str(), ids.data(), ids.size());
      });
    }
  };
  options.on_conflict = [self](const ConflictRecord& conflict) {
    self->notify_all(self->conflict_, [&](lumbung_conflict_fn fn, void* userdata) {
      fn(userdata, to_c(&conflict));
    });
  };
}

}  // namespace lumbung::c_api

extern "C" {

void lumbung_registration_free(lumbung_registration* registration) noexcept {
  if (registration == nullptr) return;
  registration->listener->stop();
  delete registration;
}

}  // extern "C"
