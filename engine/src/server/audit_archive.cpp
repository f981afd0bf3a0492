#include "server/audit_archive.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>

#include "auth/private_file.hpp"
#include "core/errno_status.hpp"
#include "server/sealed_file.hpp"

namespace lumbung::server {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic = "lumbung-audit\n";
constexpr std::uint32_t kVersion = 1;
constexpr const char* kKind = "lumbungd audit archive";

enum class ValueTag : std::uint8_t { kNull = 0, kInteger = 1, kReal = 2, kText = 3, kBlob = 4 };

void put_bytes(std::string& out, std::string_view bytes) {
  out += big_endian(static_cast<std::uint32_t>(bytes.size()));
  out += bytes;
}

void put_value(std::string& out, const Value& value) {
  switch (value.type()) {
    case ValueType::kNull:
      out += static_cast<char>(ValueTag::kNull);
      return;
    case ValueType::kInteger:
      out += static_cast<char>(ValueTag::kInteger);
      out += big_endian(static_cast<std::uint64_t>(value.as_integer()));
      return;
    case ValueType::kReal:
      out += static_cast<char>(ValueTag::kReal);
      out += big_endian(std::bit_cast<std::uint64_t>(value.as_real()));
      return;
    case ValueType::kText:
      out += static_cast<char>(ValueTag::kText);
      put_bytes(out, value.as_text());
      return;
    case ValueType::kBlob: {
      out += static_cast<char>(ValueTag::kBlob);
      const Blob& blob = value.as_blob();
      put_bytes(out, std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size()));
      return;
    }
  }
}

// One entry as its record's body.
std::string encode(const AuditEntry& e) {
  std::string out;
  out += big_endian(static_cast<std::uint64_t>(e.seq));
  out += big_endian(static_cast<std::uint64_t>(e.time_ms));
  out += big_endian(e.conflict_id);
  for (const std::string* text : {&e.officer, &e.device_id, &e.table, &e.row_id, &e.column,
                                  &e.outcome, &e.detail, &e.scope}) {
    put_bytes(out, *text);
  }
  put_value(out, e.old_value);
  put_value(out, e.new_value);
  return out;
}

// Reads a record's body field by field; false once it runs short.
class RecordReader {
 public:
  explicit RecordReader(std::string_view bytes) : rest_(bytes) {}

  bool u64(std::uint64_t* value) {
    if (rest_.size() < 8) return false;
    *value = from_big_endian<std::uint64_t>(rest_.data());
    rest_.remove_prefix(8);
    return true;
  }
  bool i64(std::int64_t* value) {
    std::uint64_t bits = 0;
    if (!u64(&bits)) return false;
    *value = static_cast<std::int64_t>(bits);
    return true;
  }
  bool bytes(std::string_view* value) {
    if (rest_.size() < 4) return false;
    const auto size = from_big_endian<std::uint32_t>(rest_.data());
    rest_.remove_prefix(4);
    if (rest_.size() < size) return false;
    *value = rest_.substr(0, size);
    rest_.remove_prefix(size);
    return true;
  }
  bool text(std::string* value) {
    std::string_view view;
    if (!bytes(&view)) return false;
    value->assign(view);
    return true;
  }
  bool value(Value* value) {
    if (rest_.empty()) return false;
    const auto tag = static_cast<ValueTag>(rest_.front());
    rest_.remove_prefix(1);
    std::uint64_t bits = 0;
    std::string_view view;
    switch (tag) {
      case ValueTag::kNull:
        *value = Value();
        return true;
      case ValueTag::kInteger:
        if (!u64(&bits)) return false;
        *value = Value(static_cast<std::int64_t>(bits));
        return true;
      case ValueTag::kReal:
        if (!u64(&bits)) return false;
        *value = Value(std::bit_cast<double>(bits));
        return true;
      case ValueTag::kText:
        if (!bytes(&view)) return false;
        *value = Value(view);
        return true;
      case ValueTag::kBlob:
        if (!bytes(&view)) return false;
        *value = Value(Blob(view.begin(), view.end()));
        return true;
    }
    return false;
  }
  bool at_end() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

bool decode(std::string_view record, AuditEntry* e) {
  RecordReader in(record);
  bool ok = in.i64(&e->seq) && in.i64(&e->time_ms) && in.u64(&e->conflict_id);
  for (std::string* text : {&e->officer, &e->device_id, &e->table, &e->row_id, &e->column,
                            &e->outcome, &e->detail, &e->scope}) {
    ok = ok && in.text(text);
  }
  return ok && in.value(&e->old_value) && in.value(&e->new_value) && in.at_end();
}

bool selects(const AuditQuery& query, const AuditEntry& e) {
  return (!query.scope || e.scope == *query.scope) && (!query.table || e.table == *query.table) &&
         (!query.row_id || e.row_id == *query.row_id) &&
         (!query.before_ms || e.time_ms < *query.before_ms);
}

// Reads the archive `path` through, calling `visit` (when set) with each
// entry `query` selects; checks the whole file.
Status read_archive(const std::string& path, const AuditQuery& query,
                    const std::function<void(const AuditEntry&)>* visit) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<SealedFileReader> reader,
                           SealedFileReader::open(path, kMagic, kVersion, kKind));
  std::string record;
  AuditEntry entry;
  for (std::int64_t number = 1;; ++number) {
    LUMBUNG_ASSIGN_OR_RETURN(std::uint32_t size, reader->read_int<std::uint32_t>("an entry"));
    if (size == 0) break;
    if (size > kMaxAuditRecordBytes) {
      return reader->refused("entry " + std::to_string(number) + " is too long");
    }
    record.resize(size);
    LUMBUNG_RETURN_IF_ERROR(reader->read(record.data(), size, "an entry"));
    if (!decode(record, &entry)) {
      return reader->refused("entry " + std::to_string(number) + " is malformed");
    }
    if (visit != nullptr && selects(query, entry)) (*visit)(entry);
  }
  return reader->check_end();
}

// `out` as an absolute path to a file that does not exist yet.
Result<std::string> new_file_path(const std::string& out) {
  std::error_code ec;
  const std::string path = fs::absolute(out, ec).lexically_normal().string();
  if (ec || path.ends_with('/') || fs::is_directory(path, ec)) {
    return Status(ErrorCode::kInvalidArgument,
                  "cannot write the audit archive to '" + out + "': not a file name");
  }
  if (fs::exists(fs::symlink_status(path, ec))) {
    return Status(ErrorCode::kInvalidArgument,
                  "'" + path + "' exists: an audit archive is never written over a file");
  }
  return path;
}

}  // namespace

Result<AuditArchiveSummary> archive_audit(Store& store, std::int64_t before_ms,
                                          const std::string& out, std::int64_t batch) {
  LUMBUNG_ASSIGN_OR_RETURN(const std::string path, new_file_path(out));
  // Written under a name of its own beside `path`, linked into place whole.
  std::string temp = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) return core::errno_status("write the audit archive to", path, errno);
  ::close(fd);
  struct TempFile {
    std::string path;
    ~TempFile() { ::unlink(path.c_str()); }
  } const written{temp};

  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<SealedFileWriter> writer,
                           SealedFileWriter::create(temp, kMagic, kVersion));
  AuditArchiveSummary summary;
  std::int64_t first_id = 0;
  std::int64_t last_id = 0;
  Status wrote = Status::ok();
  LUMBUNG_RETURN_IF_ERROR(store.read([&](ReadTransaction& txn) {
    AuditQuery query;
    query.before_ms = before_ms;
    LUMBUNG_RETURN_IF_ERROR(txn.scan_audit(query, [&](const AuditEntry& entry) {
      if (!wrote.is_ok()) return;
      const std::string record = encode(entry);
      if (record.size() > kMaxAuditRecordBytes) {
        wrote = Status(ErrorCode::kTooLarge,
                       "audit entry " + std::to_string(entry.id) + " is too large for an archive");
        return;
      }
      wrote = writer->put(big_endian(static_cast<std::uint32_t>(record.size())) + record);
      if (summary.entries++ == 0) first_id = entry.id;
      last_id = entry.id;
      summary.first_time_ms =
          std::min(summary.first_time_ms.value_or(entry.time_ms), entry.time_ms);
      summary.last_time_ms = std::max(summary.last_time_ms.value_or(entry.time_ms), entry.time_ms);
    }));
    return wrote;
  }));
  LUMBUNG_RETURN_IF_ERROR(writer->put(big_endian(std::uint32_t{0})));
  LUMBUNG_RETURN_IF_ERROR(writer->finish());  // synced
  // link() fails when `path` exists: an archive never replaces a file.
  if (::link(temp.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) {
      return Status(ErrorCode::kInvalidArgument,
                    "'" + path + "' exists: an audit archive is never written over a file");
    }
    return core::errno_status("write the audit archive to", path, errno);
  }
  LUMBUNG_RETURN_IF_ERROR(auth::sync_dir(fs::path(path).parent_path().string()));
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return core::errno_status("inspect", path, errno);
  summary.path = path;
  summary.bytes = static_cast<std::uint64_t>(info.st_size);

  // The archive is durable: the entries leave the log, a batch of ids a
  // transaction. Entries appended since the scan have greater ids.
  for (std::int64_t from = first_id; summary.entries > 0 && from <= last_id; from += batch) {
    const std::int64_t to = std::min(last_id, from + batch - 1);
    const Status removed = store.write([&](WriteTransaction& txn) -> Status {
      return txn.remove_archived_audit(before_ms, from, to).status();
    });
    if (!removed.is_ok()) {
      return Status(removed.code(), "the entries are archived in '" + path +
                                        "', but some are still in the log too (archiving again "
                                        "moves them into another file): " +
                                        removed.message());
    }
  }
  return summary;
}

Status read_audit_archive(const std::string& path, const AuditQuery& query,
                          const std::function<void(const AuditEntry&)>& visit) {
  // Checked whole before anything is visited; then read again, visiting.
  LUMBUNG_RETURN_IF_ERROR(read_archive(path, query, nullptr));
  return read_archive(path, query, &visit);
}

}  // namespace lumbung::server
