// Writing the server's state into the synced tables: the rows of pulled pages
// and of superseded push outcomes, with the stamps of their versions
// (versions.hpp). These writes are never captured (the replica's connection
// has triggers off) and never overwrite a pending local change: the device
// shows its own writes on top of the server's state until they are
// acknowledged (docs/protocol.md, "The device"). While a scope is re-seeded,
// what the device holds newer than the server is kept and re-offered
// (reseed.hpp).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/hlc.hpp"
#include "core/schema.hpp"
#include "db/database.hpp"
#include "lumbung/status.hpp"
#include "lumbung/sync.hpp"
#include "lumbung/value.hpp"

namespace lumbung::replica {

// Runs `body` in one transaction, after folding the capture log into the
// outbox, so that `body` sees every pending local change there.
// REQUIRES: no transaction is open on `db`.
Status in_applying_transaction(db::Database& db, const core::Schema& schema,
                               const std::function<Status()>& body);

class Reseeder;

// The server's state of one row in the device's terms: a tombstone, or some
// of its cells, each with the stamp of its version. Cells of columns the
// device does not know (a newer server schema) are left out: the device keeps
// its own schema.
class ServerRow {
 public:
  ServerRow(const core::Table& table, std::string row_id);

  // A tombstone, left by a delete stamped `stamp`.
  void set_deleted(core::Stamp stamp);
  // Sets a cell; returns false, ignoring it, for a column the device does not know.
  bool add_cell(std::string_view column, Value value, core::Stamp stamp);
  // Sets the cell of table().columns[index].
  void set_cell(std::size_t index, Value value, core::Stamp stamp);
  // Leaves the cell of table().columns[index] out.
  void drop_cell(std::size_t index) { cells_[index].reset(); }

  const core::Table& table() const { return *table_; }
  const std::string& row_id() const { return row_id_; }
  bool deleted() const { return deleted_; }
  // The value of table().columns[i], when the server sent it.
  const std::optional<Value>& cell(std::size_t i) const { return cells_[i]; }
  // The stamp of cell(i)'s version, or of the delete of a tombstone (i = 0).
  const core::Stamp& stamp(std::size_t i) const { return stamps_[i]; }
  // The value of the scope column, when the server sent it; else empty.
  std::string scope() const;
  // Whether every column of the table has a cell: enough to create the row.
  bool complete() const;

 private:
  const core::Table* table_;
  std::string row_id_;
  bool deleted_ = false;
  std::vector<std::optional<Value>> cells_;  // by column index
  std::vector<core::Stamp> stamps_;          // by column index
};

// The rows written with the server's state, by table, for the app's
// on_changed_rows callback.
class ChangedRowsCollector {
 public:
  void add(const std::string& table, const std::string& row_id);
  // What was added since the last take(), tables in the order first seen.
  std::vector<ChangedRows> take();

 private:
  std::vector<ChangedRows> changed_;
};

// Whether pending local changes cover a row: the outbox's entries for it.
struct PendingRow {
  bool row = false;                // an insert or delete of the row
  std::vector<std::string> cells;  // columns with a pending change

  bool any() const { return row || !cells.empty(); }
  bool covers(const std::string& column) const;
};

class ServerStateWriter {
 public:
  // `reseeder`, when given, sees every row first (Reseeder::confirm).
  explicit ServerStateWriter(db::Database& db, Reseeder* reseeder = nullptr)
      : db_(db), reseeder_(reseeder) {}

  // Writes `row` unless pending local changes cover it: a tombstone is skipped
  // while the row has any pending change, cells while the row has a pending
  // insert or delete, and each cell that has a pending change of its own. A
  // row the device lacks is created only from a complete row (a partial one
  // leaves a gap that the scope's checksum finds and heals). The stamps of
  // what is written go to _lumbung_version. Returns whether the table
  // changed. REQUIRES: inside in_applying_transaction().
  Result<bool> write(ServerRow row);

 private:
  using Pending = PendingRow;
  // The statements that write a whole row of a table, prepared once.
  struct WholeRowSql {
    db::Statement* update = nullptr;  // every column but the id, then the id
    db::Statement* insert = nullptr;  // every column
  };
  Result<Pending> pending(const ServerRow& row);
  Result<bool> run_counting_changes(const std::string& sql, const std::vector<Value>& params);
  Result<bool> exists(const ServerRow& row);
  Result<WholeRowSql> whole_row_sql(const core::Table& table);
  // Writes a complete row that has no pending change, and its stamps.
  Result<bool> write_whole(const ServerRow& row);
  // Records the stamps of a whole row just written; `fresh`: it was inserted.
  Status record_whole(const ServerRow& row, bool fresh);
  // The scope column's value of the device's row (empty when it has none).
  Result<std::string> stored_scope(const ServerRow& row);

  db::Database& db_;
  Reseeder* reseeder_;
  // Whether the outbox was empty at the first write. Capture is off while
  // the server's state is written, so it then stays empty and no row needs
  // to be looked up in it.
  std::optional<bool> outbox_empty_;
  std::map<const core::Table*, WholeRowSql> whole_row_sql_;
};

}  // namespace lumbung::replica
