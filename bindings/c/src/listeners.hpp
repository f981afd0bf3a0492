// The callbacks registered on a db (lumbung_db_on_*), called by its syncs.
//
// A registration's free must guarantee that no call starts after it returns,
// even while a sync on another thread is about to call: each listener has a
// mutex held across a call and taken by stop(), so stop() waits for a call in
// progress. free_userdata then runs on the stopping thread.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "lumbung.h"
#include "lumbung/sync.hpp"

namespace lumbung::c_api {

class Listener {
 public:
  Listener(void* userdata, void (*free_userdata)(void*))
      : userdata_(userdata), free_userdata_(free_userdata) {}
  virtual ~Listener() = default;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Calls `call(userdata)` unless stopped.
  template <typename Call>
  void notify(Call&& call) {
    std::lock_guard<std::mutex> lock(mu_);
    if (active_) call(userdata_);
  }
  // No call starts after it returns; then frees the userdata.
  void stop();

 private:
  std::mutex mu_;
  bool active_ = true;
  void* userdata_;
  void (*free_userdata_)(void*);
};

// A listener of one callback type.
template <typename Fn>
class TypedListener final : public Listener {
 public:
  TypedListener(Fn fn, void* userdata, void (*free_userdata)(void*))
      : Listener(userdata, free_userdata), fn(fn) {}
  const Fn fn;
};

// The listeners of one db, shared with its background syncs.
class Listeners {
 public:
  // Registers a listener; `fn` is called until the registration is freed.
  lumbung_registration* add_progress(lumbung_progress_fn fn, void* userdata,
                                     void (*free_userdata)(void*));
  lumbung_registration* add_changed_rows(lumbung_changed_rows_fn fn, void* userdata,
                                         void (*free_userdata)(void*));
  lumbung_registration* add_conflict(lumbung_conflict_fn fn, void* userdata,
                                     void (*free_userdata)(void*));

  // Sets the callbacks of `options` to call the listeners registered at the
  // time of each event. `self` keeps the listeners alive for the sync.
  static void attach(const std::shared_ptr<Listeners>& self, SyncOptions& options);

 private:
  // The registrations own the listeners; freed ones drop out of the lists.
  template <typename Fn>
  using List = std::vector<std::weak_ptr<TypedListener<Fn>>>;

  template <typename Fn>
  lumbung_registration* add(List<Fn>& list, Fn fn, void* userdata, void (*free_userdata)(void*));
  // Calls `call(fn, userdata)` for each listener of `list` registered now.
  template <typename Fn, typename Call>
  void notify_all(const List<Fn>& list, Call&& call);

  std::mutex mu_;
  List<lumbung_progress_fn> progress_;
  List<lumbung_changed_rows_fn> changed_rows_;
  List<lumbung_conflict_fn> conflict_;
};

}  // namespace lumbung::c_api
