#include "replica/exchange.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>
#include <thread>

#include "protocol/wire.hpp"

namespace lumbung::replica {
namespace {

// The largest answer decoded (a pull page is a few MiB at most).
constexpr std::size_t kMaxResponseBytes = 64u << 20;
// How often a backoff looks at the cancel flag: it is a plain atomic that
// nothing can wake a sleeper on, so sleep in slices short enough to feel
// immediate.
constexpr std::chrono::milliseconds kCancelPoll{10};

bool retryable(const Status& status) {
  return status.retry() == RetryClass::kTransient || status.retry() == RetryClass::kAbort;
}

// A 429's (or 503's) Retry-After, in whole seconds, capped by `cap`: the
// server's word on when a retry can succeed (an officer's push rate).
std::chrono::milliseconds retry_after_of(const HttpResponse& answer,
                                         std::chrono::milliseconds cap) {
  const std::optional<std::string_view> header = find_header(answer.headers, "Retry-After");
  std::uint32_t seconds = 0;
  if (!header ||
      std::from_chars(header->data(), header->data() + header->size(), seconds).ec != std::errc()) {
    return std::chrono::milliseconds(0);
  }
  return std::min<std::chrono::milliseconds>(std::chrono::seconds(seconds), cap);
}

}  // namespace

Exchanger::Exchanger(Transport& transport, const SyncOptions& options, std::string token)
    : transport_(transport),
      options_(options),
      token_(std::move(token)),
      random_(std::random_device()()) {}

Status Exchanger::check_cancelled() const {
  if (options_.cancel && options_.cancel->load()) {
    return Status(ErrorCode::kCancelled, "sync cancelled");
  }
  return Status::ok();
}

std::chrono::milliseconds Exchanger::backoff(int failures) {
  const std::int64_t cap = std::max<std::int64_t>(options_.max_backoff.count(), 0);
  std::int64_t ceiling = std::max<std::int64_t>(options_.initial_backoff.count(), 0);
  for (int i = 1; i < failures && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  return std::chrono::milliseconds(
      std::uniform_int_distribution<std::int64_t>(0, ceiling)(random_));
}

bool Exchanger::sleep_unless_cancelled(std::chrono::milliseconds duration) const {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  for (;;) {
    if (!check_cancelled().is_ok()) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return true;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(deadline - now, kCancelPoll));
  }
}

Status Exchanger::exchange(HttpRequest request, google::protobuf::MessageLite* response) {
  if (!token_.empty()) request.headers.emplace_back("Authorization", "Bearer " + token_);
  const int attempts = std::max(options_.max_attempts, 1);
  Status last;
  std::chrono::milliseconds retry_after{0};  // what the last answer asked for
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1 && !sleep_unless_cancelled(std::max(backoff(attempt - 1), retry_after))) {
      return check_cancelled();
    }
    LUMBUNG_RETURN_IF_ERROR(check_cancelled());
    bytes_sent_ += static_cast<std::int64_t>(request.body.size());
    Result<HttpResponse> answer = transport_.exchange(request);
    retry_after = std::chrono::milliseconds(0);
    if (answer.is_ok()) {
      bytes_received_ += static_cast<std::int64_t>(answer->body.size());
      last = protocol::status_from_response(*answer);
      if (last.is_ok()) {
        return protocol::decode_body(answer->headers, answer->body, kMaxResponseBytes, response);
      }
      retry_after = retry_after_of(*answer, options_.max_backoff);
    } else {
      last = answer.status();
    }
    if (!retryable(last)) return last;
  }
  return last;
}

}  // namespace lumbung::replica
