// How the opaque C handles map to C++ objects.
//
// Plain data (values, rows, lists, conflicts) crosses the boundary as the C++
// object itself: the C handle is an incomplete type whose pointer is the C++
// object's address, cast back before any use. No copy, and a value borrowed
// from a row is the row's own cell. Handles with behaviour (db, sync,
// transport, configs, registrations) are structs defined in their own files.
#pragma once

#include <vector>

#include "lumbung.h"
#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "lumbung/sync.hpp"
#include "lumbung/value.hpp"

namespace lumbung::c_api {

// What the app's transport fills in (lumbung_http_response).
struct AppAnswer {
  HttpResponse response;
  Status failure;  // set by lumbung_http_response_fail
};

}  // namespace lumbung::c_api

// Defines cpp(handle) and to_c(object) for one pair of types.
#define LUMBUNG_C_ALIAS(Handle, Cpp)                                                           \
  inline Cpp* cpp(Handle* handle) { return reinterpret_cast<Cpp*>(handle); }                   \
  inline const Cpp* cpp(const Handle* handle) { return reinterpret_cast<const Cpp*>(handle); } \
  inline Handle* to_c(Cpp* object) { return reinterpret_cast<Handle*>(object); }               \
  inline const Handle* to_c(const Cpp* object) { return reinterpret_cast<const Handle*>(object); }

namespace lumbung::c_api {

LUMBUNG_C_ALIAS(lumbung_value, Value)
LUMBUNG_C_ALIAS(lumbung_row, Row)
LUMBUNG_C_ALIAS(lumbung_rows, std::vector<Row>)
LUMBUNG_C_ALIAS(lumbung_conflict, ConflictRecord)
LUMBUNG_C_ALIAS(lumbung_conflict_list, std::vector<ConflictRecord>)
LUMBUNG_C_ALIAS(lumbung_pending_list, std::vector<PendingChange>)
LUMBUNG_C_ALIAS(lumbung_refused_list, std::vector<RefusedChange>)
LUMBUNG_C_ALIAS(lumbung_db_status, ReplicaStatus)
LUMBUNG_C_ALIAS(lumbung_http_request, HttpRequest)
LUMBUNG_C_ALIAS(lumbung_http_response, AppAnswer)

}  // namespace lumbung::c_api

#undef LUMBUNG_C_ALIAS
