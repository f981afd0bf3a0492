// RequestRecord: what the daemon learned answering one request, for its log
// line (server/log.hpp): who asked, for which villages, what became of the
// changes, what was served, the sizes and the time. SyncServer::handle makes
// one per request and logs it when the answer goes out; the handlers fill in
// what they learn on the way.
//
// Thread-safety: filled by one handler at a time (its steps follow each
// other, across threads), read once the answer is out.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lumbung/http.hpp"
#include "server/log.hpp"

namespace lumbung::server {

// At most this many villages are named in a line; `villages_total` counts all.
inline constexpr std::size_t kLoggedVillages = 10;

struct RequestRecord {
  std::string id;     // also answered in the Lumbung-Request-Id header
  std::string route;  // "/v1/push"
  std::chrono::steady_clock::time_point started;
  std::size_t bytes_in = 0;  // the body as received (compressed)

  std::string officer;
  std::string device;
  // The villages written (push) or served (pull): the first few, and how many.
  std::vector<std::string> villages;
  std::int64_t villages_total = 0;
  std::int64_t applied = 0;
  std::int64_t superseded = 0;
  std::int64_t refused = 0;
  std::int64_t conflicts = 0;
  std::map<std::string, std::int64_t> conflict_policies;  // conflicts by policy, for metrics
  std::int64_t rows = 0;                                  // rows served

  void note_village(const std::string& village) {
    if (villages.size() < kLoggedVillages) villages.push_back(village);
    ++villages_total;
  }
};

// The answer's header that carries the request id.
inline constexpr const char* kRequestIdHeader = "Lumbung-Request-Id";

// The level and fields of the record's line once `response` answered it: a
// 5xx is an error, the rest info; a refusal names its error code.
LogLevel request_level(const HttpResponse& response);
std::vector<LogField> request_fields(const RequestRecord& record, const HttpResponse& response);

}  // namespace lumbung::server
