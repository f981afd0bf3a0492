// Between the engine's types and the wire: values, errors and message bodies.
// Sans-IO: everything here turns bytes into values and back, nothing more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "lumbung/http.hpp"
#include "lumbung/status.hpp"
#include "lumbung/v1/sync.pb.h"
#include "lumbung/value.hpp"

namespace lumbung::protocol {

inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr const char* kContentType = "application/x-protobuf";
// Bodies at least this large are sent zstd-compressed; below it the frame's
// overhead eats the gain.
inline constexpr std::size_t kCompressThreshold = 512;
// The largest request body the daemon reads, compressed or not.
inline constexpr std::size_t kMaxRequestBytes = 16u << 20;

void to_wire(const Value& value, v1::Value* out);
Value from_wire(const v1::Value& value);

// The stable lowercase name of a refusal reason: unknown_table,
// unknown_column, type_mismatch, constraint, malformed, out_of_scope,
// no_such_row, read_only ("unspecified" from a peer that gave none).
std::string refusal_reason_name(v1::RefusalReason reason);

// The HTTP status that carries an error code: 400, 404, 409, 413, 500, 503...
int http_status_for(ErrorCode code);
// A non-2xx response with an Error body for `status`.
HttpResponse error_response(const Status& status);
// HTTP 429 with `Retry-After: retry_after_seconds` and an Error body for
// `status` (kUnavailable, which every client retries as transient): a
// request over one of its officer's limits.
HttpResponse too_many_requests(const Status& status, std::uint32_t retry_after_seconds);
// The Status a non-2xx response carries (kProtocol when its body is not an
// Error); OK for a 2xx response.
Status status_from_response(const HttpResponse& response);

// Serializes `message` into `body`, compressed when large enough, and sets
// Content-Type and Content-Encoding in `headers` to match.
void encode_body(const google::protobuf::MessageLite& message, HttpHeaders* headers,
                 std::string* body);
// Looks at a message's encoded bytes before they are parsed
// (request_limits.hpp); an error refuses them.
using BytesCheck = std::function<Status(std::string_view bytes)>;

// Undoes encode_body: decompresses (refusing more than max_bytes of output,
// so that a small body cannot expand into gigabytes), runs `check` when
// given, and parses. kTooLarge, or kProtocol for an unknown encoding or a
// malformed message; `check`'s error.
Status decode_body(const HttpHeaders& headers, const std::string& body, std::size_t max_bytes,
                   google::protobuf::MessageLite* message, const BytesCheck& check = {});

// Request and response builders for the protocol's messages.
HttpRequest make_request(const char* target, const google::protobuf::MessageLite& message);
HttpResponse make_response(const google::protobuf::MessageLite& message);

}  // namespace lumbung::protocol
