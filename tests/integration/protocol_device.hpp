// A device that speaks the documented protocol by hand (docs/protocol.md), as
// a compatible peer would, for tests of real lumbungd processes.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "integration/household_push.hpp"
#include "lumbung/http.hpp"
#include "protocol/wire.hpp"

namespace lumbung::test {

// A pull from `cursors`, waiting up to `wait_seconds`; its header is the caller's.
inline v1::PullRequest pull_from_cursors(const std::map<std::string, std::int64_t>& cursors,
                                         std::uint32_t wait_seconds) {
  v1::PullRequest pull;
  for (const auto& [scope, seq] : cursors) {
    v1::ScopeCursor* cursor = pull.add_cursors();
    cursor->set_scope(scope);
    cursor->set_seq(seq);
  }
  pull.set_wait_seconds(wait_seconds);
  return pull;
}

// Returns Status rather than asserting, so that it may run on a thread of its
// own (Catch's assertions are for the test's thread).
class Device {
 public:
  Device(std::shared_ptr<Transport> transport, std::string id)
      : transport_(std::move(transport)), id_(std::move(id)) {}

  // Inserts one household of village v1 in a batch of its own.
  Result<v1::PushResponse> insert_household(const std::string& row_id,
                                            const std::string& head_name) {
    v1::RequestHeader header;
    set_header(&header);
    const v1::PushRequest push = test::household_push(header, ++batch_, row_id, "v1", head_name);
    v1::PushResponse response;
    LUMBUNG_RETURN_IF_ERROR(exchange("/v1/push", push, &response));
    return response;
  }

  // Pulls one page from the device's cursors, which the page then advances.
  Result<v1::PullPage> pull(std::uint32_t wait_seconds) {
    v1::PullRequest pull = pull_from_cursors(cursors_, wait_seconds);
    set_header(pull.mutable_header());
    v1::PullPage page;
    LUMBUNG_RETURN_IF_ERROR(exchange("/v1/pull", pull, &page));
    for (const v1::ScopeCursor& cursor : page.cursors()) cursors_[cursor.scope()] = cursor.seq();
    return page;
  }

 private:
  void set_header(v1::RequestHeader* header) const {
    header->set_protocol_version(protocol::kProtocolVersion);
    header->set_schema_version(1);
    header->set_device_id(id_);
  }

  Status exchange(const char* target, const google::protobuf::MessageLite& request,
                  google::protobuf::MessageLite* response) {
    Result<HttpResponse> answer = transport_->exchange(protocol::make_request(target, request));
    if (!answer) return answer.status();
    LUMBUNG_RETURN_IF_ERROR(protocol::status_from_response(*answer));
    return protocol::decode_body(answer->headers, answer->body,
                                 HttpTransportOptions().max_response_bytes, response);
  }

  std::shared_ptr<Transport> transport_;
  std::string id_;
  std::uint64_t batch_ = 0;
  std::map<std::string, std::int64_t> cursors_;
};

template <typename T>
inline T value_of(Result<T> result) {
  INFO(result.status().to_string());
  REQUIRE(result.is_ok());
  return std::move(result).value();
}

// The household ids a page brings, in order.
inline std::vector<std::string> row_ids(const v1::PullPage& page) {
  std::vector<std::string> ids;
  for (const v1::RowState& row : page.rows()) ids.push_back(row.row_id());
  return ids;
}

}  // namespace lumbung::test
