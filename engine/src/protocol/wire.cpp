#include "protocol/wire.hpp"

#include <zstd.h>

#include <memory>

namespace lumbung {
namespace protocol {
namespace {

constexpr int kZstdLevel = 3;

Status too_large(std::size_t max_bytes) {
  return Status(ErrorCode::kTooLarge,
                "body decompresses to more than " + std::to_string(max_bytes) + " bytes");
}

// Streams, so that memory stays bounded by max_bytes whatever the frame claims.
Result<std::string> decompress(const std::string& body, std::size_t max_bytes) {
  std::unique_ptr<ZSTD_DStream, decltype(&ZSTD_freeDStream)> stream(ZSTD_createDStream(),
                                                                    ZSTD_freeDStream);
  if (!stream) return Status(ErrorCode::kInternal, "zstd: out of memory");
  std::string out;
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{body.data(), body.size(), 0};
  for (;;) {
    ZSTD_outBuffer buffer{chunk.data(), chunk.size(), 0};
    const std::size_t hint = ZSTD_decompressStream(stream.get(), &buffer, &in);
    if (ZSTD_isError(hint)) {
      return Status(ErrorCode::kProtocol,
                    std::string("body is not valid zstd: ") + ZSTD_getErrorName(hint));
    }
    out.append(chunk.data(), buffer.pos);
    if (out.size() > max_bytes) return too_large(max_bytes);
    const bool input_done = in.pos == in.size;
    if (hint == 0 && input_done) return out;  // every frame complete
    if (input_done && buffer.pos < buffer.size) {
      return Status(ErrorCode::kProtocol, "zstd body is truncated");
    }
  }
}

// `text` with every byte that is not part of a valid UTF-8 sequence (RFC 3629:
// no overlong forms, no surrogates, nothing past U+10FFFF) replaced by '?'.
std::string valid_utf8(std::string text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the valid range of the second byte
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    }
    bool valid = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      valid = k == 1 ? byte(i + 1) >= low && byte(i + 1) <= high
                     : byte(i + k) >= 0x80 && byte(i + k) <= 0xBF;
    }
    if (!valid) {
      text[i++] = '?';
      continue;
    }
    i += length;
  }
  return text;
}

}  // namespace

void to_wire(const Value& value, v1::Value* out) {
  switch (value.type()) {
    case ValueType::kNull:
      out->Clear();
      break;
    case ValueType::kInteger:
      out->set_integer(value.as_integer());
      break;
    case ValueType::kReal:
      out->set_real(value.as_real());
      break;
    case ValueType::kText:
      out->set_text(value.as_text());
      break;
    case ValueType::kBlob:
      out->set_blob(std::string(value.as_blob().begin(), value.as_blob().end()));
      break;
  }
}

Value from_wire(const v1::Value& value) {
  switch (value.kind_case()) {
    case v1::Value::kInteger:
      return Value(static_cast<std::int64_t>(value.integer()));
    case v1::Value::kReal:
      return Value(value.real());
    case v1::Value::kText:
      return Value(value.text());
    case v1::Value::kBlob:
      return Value(Blob(value.blob().begin(), value.blob().end()));
    case v1::Value::KIND_NOT_SET:
      break;
  }
  return Value();
}

std::string refusal_reason_name(v1::RefusalReason reason) {
  switch (reason) {
    case v1::REFUSAL_REASON_UNKNOWN_TABLE:
      return "unknown_table";
    case v1::REFUSAL_REASON_UNKNOWN_COLUMN:
      return "unknown_column";
    case v1::REFUSAL_REASON_TYPE_MISMATCH:
      return "type_mismatch";
    case v1::REFUSAL_REASON_CONSTRAINT:
      return "constraint";
    case v1::REFUSAL_REASON_MALFORMED:
      return "malformed";
    case v1::REFUSAL_REASON_OUT_OF_SCOPE:
      return "out_of_scope";
    case v1::REFUSAL_REASON_NO_SUCH_ROW:
      return "no_such_row";
    case v1::REFUSAL_REASON_READ_ONLY:
      return "read_only";
    default:
      return "unspecified";
  }
}

int http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return 200;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kSchemaIncompatible:
    case ErrorCode::kStaleBatch:
      return 409;
    case ErrorCode::kTooLarge:
      return 413;
    case ErrorCode::kTokenMissing:
    case ErrorCode::kTokenMalformed:
    case ErrorCode::kTokenForged:
    case ErrorCode::kTokenExpired:
    case ErrorCode::kTokenRevoked:
      return 401;
    case ErrorCode::kDeviceMismatch:
    case ErrorCode::kForbidden:
      return 403;
    case ErrorCode::kBusy:
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kTimeout:
      return 504;
    case ErrorCode::kIo:
    case ErrorCode::kNoSpace:
    case ErrorCode::kCorrupt:
    case ErrorCode::kInternal:
      return 500;
    default:
      return 400;
  }
}

HttpResponse error_response(const Status& status) {
  v1::Error error;
  error.set_code(static_cast<std::uint32_t>(status.code()));
  error.set_name(std::string(error_name(status.code())));
  error.set_retry(static_cast<v1::RetryClass>(status.retry()));
  // A proto string, which the receiver refuses to parse unless it is valid
  // UTF-8; messages quote what the request held (its path, an encoding).
  error.set_message(valid_utf8(status.message()));
  HttpResponse response = make_response(error);
  response.status = http_status_for(status.code());
  return response;
}

HttpResponse too_many_requests(const Status& status, std::uint32_t retry_after_seconds) {
  HttpResponse response = error_response(status);
  response.status = 429;
  response.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
  return response;
}

Status status_from_response(const HttpResponse& response) {
  if (response.status >= 200 && response.status < 300) return Status::ok();
  v1::Error error;
  const Status parsed = decode_body(response.headers, response.body, 1u << 20, &error);
  if (!parsed.is_ok() || error.code() == 0) {
    // Not ours (a proxy's page, say): retry server trouble, not client trouble.
    return Status(response.status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kProtocol,
                  "HTTP " + std::to_string(response.status) + " without a Lumbung error body");
  }
  return Status(static_cast<ErrorCode>(error.code()), error.message());
}

void encode_body(const google::protobuf::MessageLite& message, HttpHeaders* headers,
                 std::string* body) {
  std::string bytes = message.SerializeAsString();
  headers->emplace_back("Content-Type", kContentType);
  if (bytes.size() < kCompressThreshold) {
    *body = std::move(bytes);
    return;
  }
  body->resize(ZSTD_compressBound(bytes.size()));
  const std::size_t size =
      ZSTD_compress(body->data(), body->size(), bytes.data(), bytes.size(), kZstdLevel);
  if (ZSTD_isError(size) || size >= bytes.size()) {
    *body = std::move(bytes);
    return;
  }
  body->resize(size);
  headers->emplace_back("Content-Encoding", "zstd");
}

Status decode_body(const HttpHeaders& headers, const std::string& body, std::size_t max_bytes,
                   google::protobuf::MessageLite* message, const BytesCheck& check) {
  const std::optional<std::string_view> encoding = find_header(headers, "Content-Encoding");
  std::string decoded;
  const std::string* bytes = &body;
  if (encoding && *encoding == "zstd") {
    LUMBUNG_ASSIGN_OR_RETURN(std::string plain, decompress(body, max_bytes));
    decoded = std::move(plain);
    bytes = &decoded;
  } else if (encoding && *encoding != "identity") {
    return Status(ErrorCode::kProtocol,
                  "unsupported Content-Encoding '" + std::string(*encoding) + "' (use zstd)");
  } else if (body.size() > max_bytes) {
    return Status(ErrorCode::kTooLarge,
                  "body of " + std::to_string(body.size()) + " bytes is over the limit");
  }
  if (check) LUMBUNG_RETURN_IF_ERROR(check(*bytes));
  if (!message->ParseFromString(*bytes)) {
    return Status(ErrorCode::kProtocol, "malformed " + message->GetTypeName() + " message");
  }
  return Status::ok();
}

HttpRequest make_request(const char* target, const google::protobuf::MessageLite& message) {
  HttpRequest request;
  request.method = "POST";
  request.target = target;
  request.headers.emplace_back("Accept-Encoding", "zstd");
  encode_body(message, &request.headers, &request.body);
  return request;
}

HttpResponse make_response(const google::protobuf::MessageLite& message) {
  HttpResponse response;
  response.status = 200;
  encode_body(message, &response.headers, &response.body);
  return response;
}

}  // namespace protocol
}  // namespace lumbung
