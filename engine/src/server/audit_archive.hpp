// Audit retention (docs/decisions/0028-audit-retention.md): `lumbungd audit
// --archive-before DATE --out FILE` moves the audit entries older than DATE
// into an archive file, which `lumbungd audit --from FILE` reads back.
//
// The archive is a sealed file (server/sealed_file.hpp) of magic
// "lumbung-audit\n", version 1, whose records are the entries, oldest first:
//
//   per entry:  u32 length (1 to kMaxAuditRecordBytes), then seq i64,
//               time_ms i64, conflict_id u64, officer, device_id, table,
//               row_id, column, outcome, detail, scope (each u32 length and
//               bytes), old value, new value (each a type byte, 0 null,
//               1 integer i64, 2 real as the u64 of its bits, 3 text or
//               4 blob as u32 length and bytes)
//   end mark:   u32 0
//
// An entry keeps its row's scope, so that an archive is read with the
// filters of the live log.
//
// Thread-safety: the functions are safe from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "lumbung/status.hpp"
#include "server/store.hpp"

namespace lumbung::server {

// The largest record an archive may hold: bounds what a damaged length
// makes a reader allocate.
inline constexpr std::uint32_t kMaxAuditRecordBytes = 64u << 20;

struct AuditArchiveSummary {
  std::int64_t entries = 0;
  std::uint64_t bytes = 0;  // of the archive file
  std::string path;         // absolute
  // The least and greatest time_ms of the entries archived; unset for none.
  std::optional<std::int64_t> first_time_ms;
  std::optional<std::int64_t> last_time_ms;
};

// Writes every entry of `store` with time_ms < before_ms into the new file
// `out` (written beside it under a temporary name, synced, then linked into
// place, mode 0600; kAlreadyExists when `out` exists), and only then removes
// them from the store's log, in transactions of at most `batch` entries' ids
// each, so that a serving daemon waits little on them. A crash between
// leaves entries in both the archive and the log, never in neither (a
// failure to remove them is an error that says so); an entry appended while
// it runs stays in the log. Reads in flat memory.
Result<AuditArchiveSummary> archive_audit(Store& store, std::int64_t before_ms,
                                          const std::string& out, std::int64_t batch = 10'000);

// Calls `visit` with every entry of the archive `path` that `query` selects
// (scope, table, row id; before_ms too), oldest first. The whole file is
// checked first (format, every record, the SHA-256 and zstd's checksum), so
// that nothing is visited of an archive cut short or damaged: kCorrupt
// "'PATH' is not a whole, intact lumbungd audit archive: WHY".
Status read_audit_archive(const std::string& path, const AuditQuery& query,
                          const std::function<void(const AuditEntry&)>& visit);

}  // namespace lumbung::server
