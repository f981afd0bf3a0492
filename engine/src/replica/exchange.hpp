// One request of a sync with what every request gets: its header, the bearer token,
// retries of transient failures with exponential backoff and full jitter,
// cancellation, and the count of bytes on the wire.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "core/schema.hpp"
#include "lumbung/http.hpp"
#include "lumbung/status.hpp"
#include "lumbung/sync.hpp"
#include "lumbung/v1/sync.pb.h"

namespace lumbung::replica {

// One exchange at a time, on any thread.
class Exchanger {
 public:
  // `transport` and `options` must outlive the Exchanger.
  Exchanger(Transport& transport, const SyncOptions& options, std::string token);

  // Sends `request` and decodes the answer into `response`. A transient
  // failure (retry class TRANSIENT or ABORT: a broken connection, a timeout,
  // a 503 or 429) is tried again after a backoff, no shorter than the
  // answer's Retry-After (up to options.max_backoff), up to
  // options.max_attempts tries in all, and the last error is returned; any
  // other error at once.
  // kCancelled when options.cancel is set before a try or during a backoff.
  Status exchange(HttpRequest request, google::protobuf::MessageLite* response);

  // kCancelled when the caller has set options.cancel, OK otherwise.
  Status check_cancelled() const;

  // Readable while an exchange runs on another thread.
  std::int64_t bytes_sent() const { return bytes_sent_.load(); }
  std::int64_t bytes_received() const { return bytes_received_.load(); }

 private:
  // Full jitter: a uniform wait up to initial_backoff * 2^failures, capped.
  std::chrono::milliseconds backoff(int failures);
  // Sleeps `duration`; false when cancelled meanwhile.
  bool sleep_unless_cancelled(std::chrono::milliseconds duration) const;

  Transport& transport_;
  const SyncOptions& options_;
  std::string token_;
  std::mt19937_64 random_;
  std::atomic<std::int64_t> bytes_sent_{0};
  std::atomic<std::int64_t> bytes_received_{0};
};

}  // namespace lumbung::replica
