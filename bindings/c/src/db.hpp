// The replica handle: a Replica behind a mutex, the options it was opened
// with (a background sync opens the file again with them), and its listeners.
#pragma once

#include <memory>
#include <mutex>
#include <type_traits>

#include "config.hpp"
#include "guard.hpp"
#include "handles.hpp"
#include "listeners.hpp"
#include "lumbung.h"
#include "lumbung/replica.hpp"

struct lumbung_db {
  lumbung::ReplicaOptions options;
  std::shared_ptr<lumbung::c_api::Listeners> listeners =
      std::make_shared<lumbung::c_api::Listeners>();
  std::mutex mu;
  std::unique_ptr<lumbung::Replica> replica;  // null once closed

  // Runs `body(replica)` under the mutex: its Status or Result, or an error
  // when the db is closed.
  template <typename Body>
  auto with_replica(Body&& body) -> std::invoke_result_t<Body&, lumbung::Replica&> {
    std::lock_guard<std::mutex> lock(mu);
    if (!replica) return lumbung::Status(lumbung::ErrorCode::kInvalidArgument, "the db is closed");
    return body(*replica);
  }
};

namespace lumbung::c_api {

// guard() over db->with_replica(body): the form of every call on a db.
template <typename Body>
auto guard_db(lumbung_db* db, lumbung_error* out_error, Body&& body) noexcept {
  return guard(out_error, [&] { return db->with_replica(body); });
}

// The options of a sync or resolution of `replica` under `config` (NULL: the
// defaults). Timeouts set on the config keep the TLS settings of the file.
Result<SyncOptions> sync_options_for(Replica& replica, const lumbung_sync_config* config);

// The result moved to the heap as the C handle `Handle`, which the caller frees.
template <typename Handle, typename T>
Result<Handle*> to_handle(Result<T>&& owned) {
  if (!owned.is_ok()) return owned.status();
  return to_c(new T(std::move(owned).value()));
}

}  // namespace lumbung::c_api
