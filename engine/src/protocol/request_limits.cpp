#include "protocol/request_limits.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string>

#include "lumbung/v1/sync.pb.h"

namespace lumbung::protocol {
namespace {

// What the scan knows of a message's fields: those that are not one object
// each (a number or a string) or that a limit counts.
struct MessageShape;
struct FieldShape {
  enum class Kind { kMessage, kPackedVarints, kBytes };
  std::uint32_t number = 0;
  Kind kind = Kind::kBytes;
  const MessageShape* message = nullptr;  // kMessage
  bool per_cell = false;                  // a change's list of one element per cell
};
struct MessageShape {
  std::span<const FieldShape> fields;
};

using Kind = FieldShape::Kind;

// Numbers and strings only: RequestHeader, Value, TableColumns, ScopeCursor.
constexpr MessageShape kFlat{};
constexpr FieldShape kChangeFields[] = {
    {5, Kind::kPackedVarints, nullptr, true},   // columns
    {6, Kind::kMessage, &kFlat, true},          // values
    {10, Kind::kPackedVarints, nullptr, true},  // cell_hlcs
    {11, Kind::kBytes, nullptr, true},          // cell_authors
};
constexpr MessageShape kChange{kChangeFields};
constexpr std::uint32_t kChangesField = 4;
constexpr FieldShape kPushFields[] = {{1, Kind::kMessage, &kFlat},
                                      {3, Kind::kMessage, &kFlat},
                                      {kChangesField, Kind::kMessage, &kChange}};
constexpr FieldShape kPullFields[] = {{1, Kind::kMessage, &kFlat}, {2, Kind::kMessage, &kFlat}};
constexpr FieldShape kResolveFields[] = {{1, Kind::kMessage, &kFlat}, {4, Kind::kMessage, &kFlat}};
constexpr FieldShape kSnapshotFields[] = {{1, Kind::kMessage, &kFlat}};
// The most fields a shape names: the scan counts each in an array this long.
constexpr std::size_t kMaxShapeFields = 4;
static_assert(std::size(kChangeFields) <= kMaxShapeFields &&
              std::size(kPushFields) <= kMaxShapeFields);

constexpr int kVarint = 0;
constexpr int kFixed64 = 1;
constexpr int kLengthDelimited = 2;
constexpr int kFixed32 = 5;

// Reads protobuf's wire format without allocating.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : rest_(bytes) {}

  bool done() const { return rest_.empty(); }

  std::optional<std::uint64_t> varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64 && !rest_.empty(); shift += 7) {
      const auto byte = static_cast<unsigned char>(rest_.front());
      rest_.remove_prefix(1);
      value |= std::uint64_t{byte & 0x7Fu} << shift;
      if (byte < 0x80) return value;
    }
    return std::nullopt;
  }

  std::optional<std::string_view> take(std::uint64_t size) {
    if (size > rest_.size()) return std::nullopt;
    const std::string_view taken = rest_.substr(0, static_cast<std::size_t>(size));
    rest_.remove_prefix(static_cast<std::size_t>(size));
    return taken;
  }

 private:
  std::string_view rest_;
};

// Calls `visit(number, wire_type, payload)` for each field of the message
// `bytes` (payload: a length-delimited field's bytes, else empty); false for
// bytes that are not a message protobuf parses (groups, which proto3 never
// sends, included).
template <typename Visit>
bool for_each_field(std::string_view bytes, const Visit& visit) {
  WireReader reader(bytes);
  while (!reader.done()) {
    const std::optional<std::uint64_t> tag = reader.varint();
    if (!tag || (*tag >> 3) == 0 || (*tag >> 3) > 0x1FFFFFFF) return false;
    const auto number = static_cast<std::uint32_t>(*tag >> 3);
    const int wire_type = static_cast<int>(*tag & 7);
    std::optional<std::string_view> payload = std::string_view();
    switch (wire_type) {
      case kVarint:
        if (!reader.varint()) return false;
        break;
      case kFixed64:
        if (!reader.take(8)) return false;
        break;
      case kFixed32:
        if (!reader.take(4)) return false;
        break;
      case kLengthDelimited: {
        const std::optional<std::uint64_t> size = reader.varint();
        payload = size ? reader.take(*size) : std::nullopt;
        if (!payload) return false;
        break;
      }
      default:
        return false;
    }
    if (!visit(number, wire_type, *payload)) return false;
  }
  return true;
}

// The varints a packed list holds; nullopt when its last one is cut short.
std::optional<std::size_t> packed_varints(std::string_view payload) {
  if (!payload.empty() && static_cast<unsigned char>(payload.back()) >= 0x80) return std::nullopt;
  return static_cast<std::size_t>(std::count_if(payload.begin(), payload.end(), [](char byte) {
    return static_cast<unsigned char>(byte) < 0x80;
  }));
}

class RequestScan {
 public:
  RequestScan(std::string_view type_name, const RequestLimits& limits)
      : type_name_(type_name), limits_(limits) {}

  Status check(std::string_view bytes, const MessageShape& shape) {
    if (!scan(bytes, shape)) return failure_.is_ok() ? malformed() : failure_;
    if (objects_ > limits_.max_objects) {
      return Status(ErrorCode::kTooLarge,
                    std::string(type_name_) + " of " + std::to_string(objects_) +
                        " objects (fields, list elements and messages) is over the " +
                        std::to_string(limits_.max_objects) +
                        "-object limit (serve --max-objects-per-request)");
    }
    return Status::ok();
  }

  Status malformed() const {
    return Status(ErrorCode::kProtocol, "malformed " + std::string(type_name_) + " message");
  }

 private:
  // Counts the objects of `bytes` and checks each change's cells; false
  // when malformed or a change is over its limit (failure_).
  bool scan(std::string_view bytes, const MessageShape& shape) {
    std::array<std::size_t, kMaxShapeFields> counts{};
    const bool scanned =
        for_each_field(bytes, [&](std::uint32_t number, int wire_type, std::string_view payload) {
          const auto field = std::find_if(shape.fields.begin(), shape.fields.end(),
                                          [&](const FieldShape& f) { return f.number == number; });
          std::size_t elements = 1;
          if (field != shape.fields.end() && wire_type == kLengthDelimited) {
            if (field->kind == Kind::kPackedVarints) {
              const std::optional<std::size_t> packed = packed_varints(payload);
              if (!packed) return false;
              elements = *packed;
            }
            if (field->kind == Kind::kMessage) {
              if (field->message == &kChange) ++changes_;
              if (!scan(payload, *field->message)) return false;
            }
          }
          objects_ += std::max<std::size_t>(elements, 1);
          if (field != shape.fields.end()) {
            counts[static_cast<std::size_t>(field - shape.fields.begin())] += elements;
          }
          return true;
        });
    if (!scanned) return false;
    std::size_t cells = 0;
    for (std::size_t i = 0; i < shape.fields.size(); ++i) {
      if (shape.fields[i].per_cell) cells = std::max(cells, counts[i]);
    }
    if (cells > limits_.max_cells_per_change) {
      failure_ =
          Status(ErrorCode::kTooLarge, "change " + std::to_string(changes_) + " of the push has " +
                                           std::to_string(cells) + " cells, over the " +
                                           std::to_string(limits_.max_cells_per_change) +
                                           "-cell limit (serve --max-cells-per-change)");
      return false;
    }
    return true;
  }

  const std::string_view type_name_;
  const RequestLimits& limits_;
  std::size_t objects_ = 0;
  std::size_t changes_ = 0;  // the changes met so far: names one over the cell limit
  Status failure_;
};

}  // namespace

template <>
Status check_request_bytes<v1::PushRequest>(std::string_view bytes, const RequestLimits& limits) {
  RequestScan scan("PushRequest", limits);
  // The changes first, from the top level alone: a push of too many is
  // refused, with their number, without a look inside them.
  std::size_t changes = 0;
  const bool counted =
      for_each_field(bytes, [&](std::uint32_t number, int wire_type, std::string_view) {
        if (number == kChangesField && wire_type == kLengthDelimited) ++changes;
        return true;
      });
  if (!counted) return scan.malformed();
  if (changes > limits.max_changes_per_push) {
    return Status(ErrorCode::kTooLarge, "push of " + std::to_string(changes) +
                                            " changes is over the " +
                                            std::to_string(limits.max_changes_per_push) +
                                            "-change limit (serve --max-changes-per-push)");
  }
  return scan.check(bytes, MessageShape{kPushFields});
}

template <>
Status check_request_bytes<v1::PullRequest>(std::string_view bytes, const RequestLimits& limits) {
  return RequestScan("PullRequest", limits).check(bytes, MessageShape{kPullFields});
}

template <>
Status check_request_bytes<v1::ResolveRequest>(std::string_view bytes,
                                               const RequestLimits& limits) {
  return RequestScan("ResolveRequest", limits).check(bytes, MessageShape{kResolveFields});
}

template <>
Status check_request_bytes<v1::SnapshotRequest>(std::string_view bytes,
                                                const RequestLimits& limits) {
  return RequestScan("SnapshotRequest", limits).check(bytes, MessageShape{kSnapshotFields});
}

}  // namespace lumbung::protocol
