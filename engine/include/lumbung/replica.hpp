// Replica: the device's local copy of the synced tables, one SQLite file.
//
// The synced tables are ordinary SQLite tables: the app may read them, and
// write them with plain SQL from any connection. Every local write, through
// this API or plain SQL, is captured per cell into the outbox in the same
// transaction, stamped with the hybrid logical clock and this device's id.
//
// Thread-safety: a Replica is not thread-safe; use one from one thread at a
// time (or one Replica per thread, on the same file).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lumbung/clock.hpp"
#include "lumbung/export.hpp"
#include "lumbung/status.hpp"
#include "lumbung/sync.hpp"
#include "lumbung/value.hpp"

namespace lumbung {

struct ReplicaOptions {
  // The replica file; created when missing. REQUIRED.
  std::string path;
  // The schema file's text (JSON, docs/schema-format.md) and a name for it in
  // error messages. Default: empty, which means the built-in Desmigratif schema
  // on create, and the schema the file already has on open. A newer schema
  // version migrates the file additively.
  std::string schema_text;
  std::string schema_source = "schema";
  // Encryption key (SQLCipher builds only). Default: empty, no encryption.
  std::string key;
  // This device's id, used only when the file is created. Default: a new UUIDv7.
  std::string device_id;
  // Physical time behind the HLC. Default: the system clock.
  std::shared_ptr<Clock> clock;
  // Sync settings kept in the file, used only when the file is created.
  std::string server_url;
  std::string token;
  TlsOptions tls;  // for an https:// server_url
  // The app's version (e.g. "2.4.1"), sent with every request so that the
  // server's fleet view (`lumbungd devices`) shows it; the file keeps the
  // last open's. Default: empty, none sent.
  std::string app_version;
};

// One pending (captured, not yet acknowledged) change.
struct PendingChange {
  enum class Kind : int { kInsert = 1, kUpdate = 2, kDelete = 3 };
  std::string table;
  std::string row_id;
  Kind kind = Kind::kUpdate;
  std::string column;         // the changed cell; empty for kInsert and kDelete
  std::int64_t hlc = 0;       // packed hybrid logical clock stamp (ms << 16 | logical)
  std::int64_t base_seq = 0;  // the server version the change was edited from
};

struct ReplicaStatus {
  std::int64_t pending_changes = 0;
  std::int64_t refused_changes = 0;
  std::optional<std::string> last_sync;  // ISO-8601 UTC of the last successful sync
  std::string device_id;
  int schema_version = 0;
  std::string server_url;
  TlsOptions tls;  // kept in the file with server_url
};

class LUMBUNG_EXPORT Replica {
 public:
  // Opens or creates the replica at options.path. Fails with kNotAReplica for
  // a file that is not one, kEncryption for a wrong key, kSchemaIncompatible
  // for a non-additive schema change (the file is left untouched).
  static Result<std::unique_ptr<Replica>> open(const ReplicaOptions& options);

  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Inserts a row. `row` must hold "id"; the other columns take their defaults.
  Status insert(std::string_view table, const Row& row);
  // Inserts a row under a new UUIDv7 and returns the id.
  Result<std::string> insert_new(std::string_view table, const Row& row);
  // Updates the given cells of an existing row; kNotFound if there is none.
  Status update(std::string_view table, std::string_view id, const Row& cells);
  // Inserts the row when `id` is new (other columns take their defaults),
  // otherwise updates only the given cells.
  Status put(std::string_view table, std::string_view id, const Row& cells);
  // Deletes a row; kNotFound if there is none.
  Status remove(std::string_view table, std::string_view id);
  // The row, or nullopt.
  Result<std::optional<Row>> get(std::string_view table, std::string_view id);
  // Runs a read-only SQL query with bound parameters (?1, ?2, ...).
  Result<std::vector<Row>> query(std::string_view sql, const std::vector<Value>& params = {});

  // Parses text typed by a person into the column's declared type ("42",
  // "1.5", hex for blobs); kTypeMismatch or kNotFound with a clear message.
  Result<Value> parse_cell_text(std::string_view table, std::string_view column,
                                std::string_view text) const;

  // Runs `body` in one transaction: committed when it returns OK, rolled back
  // otherwise. Calls nest (an inner call joins the outer transaction).
  Status transaction(const std::function<Status()>& body);

  // The captured changes not yet acknowledged by the server, oldest first.
  Result<std::vector<PendingChange>> pending_changes();
  Result<ReplicaStatus> status();

  // Pushes the pending changes in batches, then pulls until caught up.
  // Transient failures are retried per `options`; the error after the last
  // attempt is returned. Interrupted at any point, the next call resumes with
  // nothing lost, applied twice or skipped.
  Result<SyncSummary> sync(const SyncOptions& options = {});
  // Conflicts the server reported that touch this replica's data, oldest first.
  Result<std::vector<ConflictRecord>> conflicts();
  // Settles the pending_review conflict `conflict_id` on the server (POST
  // /v1/resolve) with the transport, token and retries of `options` as sync()
  // uses them, stores the resolved record and the value the resolution wrote
  // (unless a pending local change covers that cell) and returns the record;
  // every other device of the scope gets both with its next sync. kNotFound
  // for an unknown id,
  // kForbidden when the token's role or villages do not allow it,
  // kInvalidArgument for a conflict not pending review (already resolved),
  // kTypeMismatch or kConstraint for a value the column refuses.
  Result<ConflictRecord> resolve_conflict(std::uint64_t conflict_id,
                                          const ConflictResolution& resolution,
                                          const SyncOptions& options = {});
  // Replaces the bearer token kept in the replica file, used by the next
  // sync: a new grant from the operator (docs/security.md).
  Status set_token(std::string_view token);
  // Changes the server refused, set aside; retry_refused() queues them again
  // (with their current values) for the next sync.
  Result<std::vector<RefusedChange>> refused_changes();
  Status retry_refused();

  // Canonical JSON of every synced table, live rows only, on one line:
  // {"table":{"id":{"col":value}}}, keys sorted. Blobs as {"base64":"..."}.
  Result<std::string> dump_json();

  // The names of the synced tables, in schema order.
  std::vector<std::string> tables() const;
  const std::string& device_id() const;
  const std::string& path() const;

 private:
  struct Impl;
  explicit Replica(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One row as a canonical JSON object on one line, keys sorted (the form of
// `lumbung get` and of the rows inside dump_json()).
LUMBUNG_EXPORT std::string to_json(const Row& row);

}  // namespace lumbung
