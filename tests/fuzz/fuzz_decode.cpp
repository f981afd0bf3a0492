// Fuzzes protocol::decode_body with every message of the protocol, plain and
// zstd-compressed. Input: one selector byte, then the body. The selector's
// value modulo 7 picks the message type (kMessages order), and its value
// divided by 7, modulo 4, the Content-Encoding (kEncodings order).
// Checks that a body that decodes survives encode_body and decode_body again
// byte for byte: what the device or daemon sends back is what it read.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_check.hpp"
#include "protocol/wire.hpp"

namespace {

using lumbung::HttpHeaders;
using lumbung::Status;

std::unique_ptr<google::protobuf::MessageLite> make_message(int index) {
  namespace v1 = lumbung::v1;
  switch (index) {
    case 0:
      return std::make_unique<v1::PushRequest>();
    case 1:
      return std::make_unique<v1::PushResponse>();
    case 2:
      return std::make_unique<v1::PullRequest>();
    case 3:
      return std::make_unique<v1::PullPage>();
    case 4:
      return std::make_unique<v1::ResolveRequest>();
    case 5:
      return std::make_unique<v1::ResolveResponse>();
    default:
      return std::make_unique<v1::Error>();
  }
}
constexpr int kMessages = 7;

// Absent, the two the protocol allows, and one it refuses.
constexpr const char* kEncodings[] = {nullptr, "identity", "zstd", "gzip"};
constexpr int kEncodingCount = 4;

// Small enough to keep each input fast; the limit's logic is the same at 16 MiB.
constexpr std::size_t kMaxBytes = 1u << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int selector = data[0];
  std::unique_ptr<google::protobuf::MessageLite> message = make_message(selector % kMessages);
  HttpHeaders headers;
  if (const char* encoding = kEncodings[(selector / kMessages) % kEncodingCount]) {
    headers.emplace_back("Content-Encoding", encoding);
  }
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  if (!lumbung::protocol::decode_body(headers, body, kMaxBytes, message.get()).is_ok()) return 0;

  const std::string bytes = message->SerializeAsString();
  HttpHeaders reencoded_headers;
  std::string reencoded;
  lumbung::protocol::encode_body(*message, &reencoded_headers, &reencoded);
  std::unique_ptr<google::protobuf::MessageLite> again = make_message(selector % kMessages);
  const Status status =
      lumbung::protocol::decode_body(reencoded_headers, reencoded, bytes.size() + 1, again.get());
  LUMBUNG_FUZZ_CHECK(status.is_ok(), status.to_string());
  LUMBUNG_FUZZ_CHECK(again->SerializeAsString() == bytes, message->GetTypeName());
  return 0;
}
