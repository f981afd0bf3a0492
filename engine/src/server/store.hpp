// Store: where the merge daemon keeps its state (docs/protocol.md, "The
// server"): the current rows of every synced table, as tables of their own
// that any SQL tool can read, beside the version of every cell, tombstones, a
// checksum per scope, each device's last batch and its answer, conflict records,
// an append-only audit log, the global seq counter and small named values
// (the server's HLC, the schema's identity).
//
// The interface says nothing about SQL: the embedded SQLite store
// (sqlite_store.hpp) implements it, and a PostgreSQL store will. The merge
// logic above it (push_merge.hpp, pull_page.hpp) is the same for every store.
//
// Invariants every store keeps on its own:
// - a scope's checksum is the sum, modulo 2^64, of core::cell_hash over the
//   cells of its live rows, and its row count the number of live rows;
// - seq only grows, and a reader that sees seq N sees every change with a
//   smaller seq (docs/protocol.md, "Model").
//
// Thread-safety: write() calls are serialized; read() calls run in parallel
// with each other and with write(), each on a consistent snapshot of the
// committed state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/merge.hpp"
#include "core/schema.hpp"
#include "lumbung/status.hpp"
#include "lumbung/value.hpp"
#include "server/conflict.hpp"

namespace lumbung::server {

// A row the server has, live or deleted.
struct StoredRow {
  std::string scope;
  std::int64_t created_seq = 0;                  // the seq of its first cell
  std::optional<core::ServerVersion> tombstone;  // set once deleted
};

struct StoredCell {
  std::string column;
  core::ServerCell cell;
};

// One entry of the change log a pull reads: the current version of a cell of
// a live row, a live row new to the reader (see scan_changes), a tombstone,
// or a conflict record.
struct ChangeItem {
  enum class Kind { kCell, kRow, kTombstone, kConflict };
  Kind kind = Kind::kCell;
  std::int64_t seq = 0;
  std::string scope;
  std::string table;
  std::string row_id;
  std::string column;  // kCell
  Value value;         // kCell
  core::Stamp stamp;   // kCell: of the version the cell holds; kTombstone: of the delete
  std::int64_t row_created_seq = 0;  // kCell, kRow: when the row was inserted
  std::vector<StoredCell> cells;     // kRow: the row's current cells
  Conflict conflict;                 // kConflict
};

// A seq per scope: where a reader of each scope's change log stands.
using ScopeCursors = std::map<std::string, std::int64_t, std::less<>>;

// A device whose own writes a scan of the change log may leave out in some
// scopes: those it pulls after pushing them (docs/protocol.md, "Pull").
struct OwnWrites {
  std::string device_id;  // empty: none left out
  std::set<std::string, std::less<>> scopes;
};

struct ScopeState {
  std::string scope;
  std::uint64_t checksum = 0;
  std::int64_t live_rows = 0;
};

// A device's last applied push batch and the digest of its request (a retry
// must match it).
struct DeviceBatch {
  std::uint64_t batch = 0;
  std::uint64_t request_digest = 0;
};

// One line of the audit log: who changed (or tried to change) what, when.
// Fields that designated initializers may leave out are initialized.
struct AuditEntry {
  std::int64_t seq = 0;  // the seq the change got; 0 when it got none
  std::int64_t time_ms = 0;
  // The officer of the transaction that appended the entry
  // (WriteTransaction::set_officer); filled by reads, ignored by append_audit.
  std::string officer{};
  std::string device_id;
  std::string table;
  std::string row_id;
  std::string column;  // empty for a whole-row change
  Value old_value;
  // For an applied insert of a new row, one entry (column empty) whose new
  // value is the text of the row as a canonical JSON object of its cells
  // (core::canonical_json(Row)); stores written before format 7 hold one
  // entry per cell instead. Every other whole-row entry has no new value.
  Value new_value;
  // "applied", "superseded", "refused", or a resolution's conflict outcome
  // ("resolved_server", "resolved_device", "resolved_value").
  std::string outcome;
  std::string detail{};           // why a change was refused
  std::uint64_t conflict_id = 0;  // the conflict a resolution settled; 0: none
  // The row's scope; empty when the server has no such row. append_audit()
  // looks it up when the caller leaves it empty.
  std::string scope{};
  std::int64_t id = 0;  // its place in the log, filled by reads; ignored by append_audit
};

// What the daemon saw of a device at one request it served
// (docs/decisions/0025-fleet-view.md).
struct DeviceSighting {
  std::string device_id{};
  std::string officer{};     // empty for requests served with --insecure-no-auth
  std::int64_t time_ms = 0;  // the server's time
  std::uint32_t schema_version = 0;
  std::string app_version{};  // RequestHeader.app_version; empty: not sent
  // Set by a pull: the villages its grant served (the grant's villages, or
  // every village); a push leaves those recorded as they are.
  bool pulled = false;
  bool all_villages = false;
  std::vector<std::string> villages{};
};

// The refused rows the store keeps pending per device, for the fleet view:
// a bound on what one device can make the server store.
inline constexpr std::int64_t kMaxRefusalsKeptPerDevice = 1000;

// A row a device pushed a change of: (table, row id).
using RowKey = std::pair<std::string, std::string>;

// One device as the fleet view lists it. Times are ms since the Unix epoch,
// 0 when unknown (a device known only from before the store recorded them).
struct DeviceRecord {
  std::string device_id{};
  std::string officer{};  // of its last request
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  std::int64_t last_push_ms = 0;  // of its last applied batch; 0: none
  std::uint32_t schema_version = 0;
  std::string app_version{};
  bool all_villages = false;
  std::vector<std::string> villages{};  // served at its last pull, in order
  // Rows whose changes the server refused and the device has not pushed a
  // change of since.
  std::int64_t refused_pending = 0;
};

// One live row as a scan gives it: valid during the visit only.
struct LiveRow {
  std::string_view table;
  std::string_view scope;
  std::string_view row_id;
  const std::vector<std::string>& columns;  // every column the store keeps of the table
  const std::vector<Value>& values;         // in the order of `columns`
};

// Which audit entries a reader wants; an unset field selects every entry.
// Designated initializers may leave any field out.
struct AuditQuery {
  std::optional<std::string> scope{};  // entries of rows of this scope
  std::optional<std::string> table{};
  std::optional<std::string> row_id{};
  std::optional<std::int64_t> before_ms{};  // entries with time_ms before it
};

class ReadTransaction {
 public:
  virtual ~ReadTransaction() = default;

  // The greatest seq given so far (0: none).
  virtual Result<std::int64_t> last_seq() = 0;
  // A named value; empty when never set.
  virtual Result<std::string> meta(std::string_view key) = 0;
  virtual Result<std::optional<StoredRow>> row(std::string_view table, std::string_view row_id) = 0;
  // row() of each of `row_ids`, in a statement or two per kRowsPerRead ids
  // rather than per id (over a network, a round trip costs more than the
  // lookup): the rows the server has among them, live or deleted, by id.
  static constexpr std::size_t kRowsPerRead = 256;
  virtual Result<std::map<std::string, StoredRow, std::less<>>> rows(
      std::string_view table, const std::vector<std::string>& row_ids) = 0;
  // The current cells of a row; none for a deleted or missing row.
  virtual Result<std::vector<StoredCell>> cells(std::string_view table,
                                                std::string_view row_id) = 0;
  // Every scope that ever had a row, ordered by name.
  virtual Result<std::vector<ScopeState>> scopes() = 0;
  // Those of `names` (in order) that ever had a row, in their order: what a
  // grant of some villages reads, at a cost that follows their number.
  virtual Result<std::vector<ScopeState>> scopes_among(const std::vector<std::string>& names) = 0;
  // Calls `visit` with every change of each scope of `cursors` whose seq is
  // greater than that scope's cursor, in seq order across the scopes, until
  // it returns false. Its cost follows the changes it visits, not the size of
  // the log. The cells of a live row created after its scope's cursor come as
  // one kRow item at the seq of the first of them, once, not one by one, and
  // the item carries them all: a new row is read whole, and its cells cost
  // no lookups of their own. It may leave out, unread, the log entries of
  // `own`'s writes in its scopes: a cell that device wrote last, and a row
  // new to the reader whose cells are all that device's (a row another
  // device wrote in since still comes whole); it need not (a log entry of an
  // older store does not say whose write it is).
  virtual Status scan_changes(const ScopeCursors& cursors, const OwnWrites& own,
                              const std::function<bool(const ChangeItem&)>& visit) = 0;
  // Calls `visit` with every live row of `table` (of every table of the
  // store when not given; in the order they were adopted), in order of row
  // id, of `scope` when given. Its cost follows the rows it visits.
  using RowVisitor = std::function<void(const LiveRow& row)>;
  virtual Status scan_rows(const std::optional<std::string>& table,
                           const std::optional<std::string>& scope, const RowVisitor& visit) = 0;
  // What every push of the device compares its batch with; without the
  // stored answer, which only a retry reads (device_answer).
  virtual Result<std::optional<DeviceBatch>> device_batch(std::string_view device_id) = 0;
  // The encoded PushResponse to the device's last applied batch; empty when
  // it has none.
  virtual Result<std::string> device_answer(std::string_view device_id) = 0;
  // The number of the device's last applied batch (0: none), without its
  // stored response: what every pull compares with PullRequest.pushed_batch.
  virtual Result<std::uint64_t> last_batch(std::string_view device_id) = 0;
  // The conflict record `id`, as last stored; nullopt when there is none.
  // kCorrupt (here and in scan_changes) for a stored policy or outcome that
  // has no name in core/merge.hpp.
  virtual Result<std::optional<Conflict>> conflict(std::uint64_t id) = 0;
  // Calls `visit` with every audit entry `query` selects, oldest first.
  virtual Status scan_audit(const AuditQuery& query,
                            const std::function<void(const AuditEntry&)>& visit) = 0;
  // Calls `visit` with every device the store recorded (a request served, or
  // a batch applied before it recorded more), in order of device id.
  virtual Status scan_devices(const std::function<void(const DeviceRecord&)>& visit) = 0;
};

class WriteTransaction : public virtual ReadTransaction {
 public:
  // Gives out the next seq. It becomes visible to readers with the commit.
  virtual std::int64_t next_seq() = 0;
  virtual Status set_meta(std::string_view key, std::string_view value) = 0;
  // Creates a live row with `cells`, one for every column of its table (of
  // the schema the store adopted). REQUIRES: no row (table, row_id) exists,
  // live or deleted.
  virtual Status insert_row(std::string_view table, std::string_view row_id, std::string_view scope,
                            std::int64_t created_seq, const std::vector<StoredCell>& cells) = 0;
  // Creates or replaces a cell of a live row. REQUIRES: the row is live, and
  // cell.version.seq was given to no other change (a seq per cell written).
  virtual Status write_cell(std::string_view table, std::string_view row_id,
                            std::string_view column, const core::ServerCell& cell) = 0;
  // Turns a live row into a tombstone and drops its cells. REQUIRES: the row is live.
  virtual Status delete_row(std::string_view table, std::string_view row_id,
                            const core::ServerVersion& tombstone) = 0;
  // Stores a conflict (its id is ignored) under `seq`; returns its new id.
  virtual Result<std::uint64_t> add_conflict(const Conflict& conflict, std::int64_t seq) = 0;
  // Stores the outcome and resolution fields of `conflict` over the record
  // with its id, under a new `seq`, so that pulls deliver it again.
  // REQUIRES: the record exists.
  virtual Status update_conflict(const Conflict& conflict, std::int64_t seq) = 0;
  // The officer on whose behalf this transaction writes (the authenticated
  // caller's); every audit entry it appends names them. Default: empty.
  virtual void set_officer(std::string_view officer) = 0;
  virtual Status append_audit(const AuditEntry& entry) = 0;
  // The one sanctioned delete from the append-only audit log
  // (docs/decisions/0028-audit-retention.md), for entries already archived:
  // removes those with first_id <= id <= last_id and time_ms < before_ms.
  // Returns how many it removed.
  virtual Result<std::int64_t> remove_archived_audit(std::int64_t before_ms, std::int64_t first_id,
                                                     std::int64_t last_id) = 0;
  // Records the device's last applied batch and the encoded PushResponse it got.
  virtual Status set_device_batch(std::string_view device_id, const DeviceBatch& batch,
                                  std::string_view response) = 0;
  // Records an applied push of the device: seen and pushed at
  // sighting.time_ms; the rows of `refused` pending refusal (at most
  // kMaxRefusalsKeptPerDevice of them per device), and those of `accepted`
  // (applied or superseded) no longer.
  virtual Status record_push(const DeviceSighting& sighting, const std::vector<RowKey>& refused,
                             const std::vector<RowKey>& accepted) = 0;
};

// A named value that holds an integer; 0 when never set. kCorrupt for text
// that is not one.
Result<std::int64_t> meta_int64(ReadTransaction& txn, std::string_view key);

// The named value holding the server's HLC, so that it stays monotonic
// across restarts.
inline constexpr const char* kHlcMetaKey = "hlc";
// The named value holding the text of the schema a server was last opened
// with by name (ServerOptions::schema_text), which later opens without one
// serve: `lumbungd dump` and the rest after an upgrade.
inline constexpr const char* kSchemaTextMetaKey = "schema_text";

using WriteBody = std::function<Status(WriteTransaction&)>;

class Store {
 public:
  virtual ~Store() = default;
  // Makes the store hold the tables of `schema`: creates those it lacks, adds
  // the columns and indexes it lacks to the others (a column or table the
  // schema no longer has is kept), and moves rows a store of an older format
  // kept cell by cell into them. kSchemaIncompatible when a column's type
  // differs from the one the store holds, or when older rows name a table or
  // column the schema lacks. Rows are written through it only afterwards.
  virtual Status adopt_schema(const core::Schema& schema) = 0;
  // Runs `body` in the one write transaction: committed (durably) when it
  // returns OK, rolled back otherwise; its error, or the commit's, is returned.
  virtual Status write(const WriteBody& body) = 0;
  // Runs `bodies` one after the other in one write transaction, each as if
  // alone (it sees those before it): a body that fails is rolled back by
  // itself, and the others commit together, durably, with one sync to disk.
  // Returns the status of each: its error, or the commit's.
  virtual std::vector<Status> write_group(const std::vector<WriteBody>& bodies) = 0;
  // Runs `body` on one consistent snapshot of the committed state.
  virtual Status read(const std::function<Status(ReadTransaction&)>& body) = 0;
  // Notes that a device was seen, in memory: the sightings noted are written
  // by the next write transaction (a push's commit group), or when the store
  // closes, never one write a request. Returns true when the oldest sighting
  // not written yet is kSightingFlushMs or more older than `sighting`: the
  // caller should then commit a write (an empty body will do).
  virtual bool note_sighting(const DeviceSighting& sighting) = 0;
  static constexpr std::int64_t kSightingFlushMs = 10'000;
};

}  // namespace lumbung::server
