// Replica::Impl: the state behind a Replica, shared by the files that
// implement it: replica.cpp (opening, local reads and writes), sync.cpp
// (sync with the server, over the parts in push, pull, server_state, ...) and
// resolve.cpp (conflict resolutions).
// Internal; not thread-safe, like Replica.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.hpp"
#include "core/uuid.hpp"
#include "db/check_judge.hpp"
#include "db/database.hpp"
#include "lumbung/http.hpp"
#include "lumbung/replica.hpp"
#include "replica/capture_log.hpp"

namespace lumbung {

struct Replica::Impl {
  ReplicaOptions options;
  std::shared_ptr<Clock> clock;  // options.clock, or the system clock
  std::unique_ptr<db::Database> db;
  std::unique_ptr<replica::CaptureLog> capture;  // over `db`, made with it
  core::Schema schema;
  // Says which constraint a refused write broke; made on first need, and
  // again after a migration (it holds pointers into `schema`).
  std::unique_ptr<db::CheckJudge> judge;
  std::string device_id;
  core::UuidV7Generator uuids;
  std::map<std::string, db::Statement*> insert_statements;  // see insert_statement()
  // The prepared UPDATE of one cell, by column of `schema` (see update_cell()).
  std::map<const core::Column*, db::Statement*> cell_update_statements;
  // HTTP to the server URL kept in the file; made by the first sync that needs
  // it and kept, so that its connection is reused.
  std::shared_ptr<Transport> http_transport;

  // What requests to the server travel over: options.transport, else HTTP to
  // the server URL kept in the file (sync.cpp).
  Result<std::shared_ptr<Transport>> transport_for(const SyncOptions& options);
  // The bearer token: options.token, else the one kept in the file.
  Result<std::string> token_for(const SyncOptions& options);

  explicit Impl(const ReplicaOptions& opts);

  Result<const core::Table*> find_table(std::string_view name) const;

  Status exec_all(const std::vector<std::string>& statements);
  Status create_table(const core::Table& table);
  // Drops and recreates every capture trigger, so that a migration or a newer
  // engine always leaves the current trigger SQL in the file.
  Status install_triggers(const core::Schema& old_schema);
  Status store_schema(const std::string& text);
  Status create(const std::string& schema_text);
  // Moves the file to `target` when it is newer; nothing is written otherwise.
  Status migrate(core::Schema target, const std::string& target_text);
  // Checks that the open file is a replica, before anything writes to it.
  Status check_is_replica();
  // Moves a replica of an earlier format to the current one; `schema` is loaded.
  Status upgrade_format();
  Status open_file();
  // Opens the connection, checks an existing file is a replica before
  // anything writes to it, then sets the connection's pragmas.
  Status open_database();
  Status apply_key();

  // Checks and converts the caller's cells: known columns, the right types,
  // NOT NULL, and each column's own CHECK. SQLite enforces the rest again.
  Result<Row> checked_cells(const core::Table& table, const Row& cells) const;
  Result<Value> checked_cell(const core::Table& table, const std::string& name,
                             const Value& value) const;
  // The prepared INSERT of every column of `table`, by table name.
  Result<db::Statement*> insert_statement(const core::Table& table);
  Status insert(const core::Table& table, const Row& cells);
  Result<std::optional<Row>> get(const core::Table& table, std::string_view id);
  // Why SQLite refused `row` of `table` (a NOT NULL, type or CHECK
  // constraint, named as the schema file writes it); OK when it finds none.
  Status explain_refusal(const core::Table& table, const Row& row);
  Status not_found(const core::Table& table, std::string_view id) const;
  // Why an update of `cells` is or would be refused (no such row, or the
  // resulting row breaks the schema), else `otherwise`.
  Status check_updated_row(const core::Table& table, std::string_view id, const Row& cells,
                           const Status& otherwise);
  Status update(const core::Table& table, std::string_view id, const Row& cells);
  Status remove(const core::Table& table, std::string_view id);

  // Runs a write and its capture as one: in a transaction of its own, or in
  // the caller's, which a capture that fails after the write then rolls back.
  // (A template, defined in replica.cpp: a std::function would cost an
  // allocation per write.)
  template <typename Write>
  Status in_write_transaction(Write&& write);
  // `status` of the capture of a write already made: a failure fails the
  // caller's transaction too.
  Status captured(const Status& status);
  // Logs the write of `column` ('' for the row); `scope` as CaptureLog::append.
  Status capture_write(const core::Table& table, std::string_view id, const std::string& column,
                       replica::OutboxOp op, const Value& scope);
  // Updates one cell that is not the scope's, only if its value changes.
  Status update_cell(const core::Table& table, std::string_view id, const std::string& column,
                     const Value& value);
  // The SQL error of an update, explained when it is a refusal.
  Status update_refused(const core::Table& table, std::string_view id, const Row& cells,
                        const Status& status);
  // Merges the capture log into the outbox, in a transaction of its own if
  // the log holds anything.
  Status fold_capture_log();
};

}  // namespace lumbung
