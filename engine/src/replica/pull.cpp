#include "replica/pull.hpp"

#include "protocol/wire.hpp"
#include "replica/conflict_store.hpp"
#include "replica/exchange.hpp"
#include "replica/hlc_store.hpp"
#include "replica/scope_rows.hpp"
#include "replica/server_state.hpp"

namespace lumbung::replica {
namespace {

Status malformed(const std::string& what) {
  return Status(ErrorCode::kProtocol, "pull page: " + what);
}

// The page's row as a ServerRow, or nullopt for a table the device does not
// know. Sets *names_unknown when the page names something the device lacks.
Result<std::optional<ServerRow>> server_row(const core::Schema& schema, const v1::PullPage& page,
                                            const v1::RowState& state, bool* names_unknown) {
  if (state.table() >= static_cast<std::uint32_t>(page.tables_size())) {
    return malformed("row '" + state.row_id() + "' names table " + std::to_string(state.table()) +
                     ", which the page does not list");
  }
  const v1::TableColumns& names = page.tables(state.table());
  const core::Table* table = schema.find_table(names.table());
  if (!table) {
    *names_unknown = true;
    return std::optional<ServerRow>();
  }
  ServerRow row(*table, state.row_id());
  if (state.deleted()) {
    row.set_deleted();
    return std::optional<ServerRow>(std::move(row));
  }
  // No column indexes: the values are every column of the table, in order.
  const int columns = state.columns_size() > 0 ? state.columns_size() : names.columns_size();
  if (state.values_size() != columns) {
    return malformed("table '" + table->name + "': row '" + state.row_id() + "' has " +
                     std::to_string(state.values_size()) + " values for " +
                     std::to_string(columns) + " columns");
  }
  for (int i = 0; i < columns; ++i) {
    const std::uint32_t index =
        state.columns_size() > 0 ? state.columns(i) : static_cast<std::uint32_t>(i);
    if (index >= static_cast<std::uint32_t>(names.columns_size())) {
      return malformed("table '" + table->name + "': row '" + state.row_id() + "' names column " +
                       std::to_string(index) + ", which the page does not list");
    }
    if (!row.add_cell(names.columns(index), protocol::from_wire(state.values(i)))) {
      *names_unknown = true;
    }
  }
  return std::optional<ServerRow>(std::move(row));
}

}  // namespace

Result<HttpRequest> Puller::next_request(std::uint32_t page_budget_bytes,
                                         std::uint32_t wait_seconds) {
  v1::PullRequest request;
  *request.mutable_header() = request_header(schema_, device_id_);
  request.set_page_budget_bytes(page_budget_bytes);
  request.set_wait_seconds(wait_seconds);
  Result<db::Statement*> stmt = db_.cached("SELECT scope, cursor FROM _lumbung_scope");
  if (!stmt.is_ok()) return stmt.status();
  for (;;) {
    Result<bool> row = (*stmt)->step();
    if (!row.is_ok()) return row.status();
    if (!*row) break;
    v1::ScopeCursor* cursor = request.add_cursors();
    cursor->set_scope((*stmt)->column_text(0));
    cursor->set_seq((*stmt)->column_int(1));
  }
  (*stmt)->reset();
  return protocol::make_request("/v1/pull", request);
}

Result<PulledPage> Puller::apply_page(const v1::PullPage& page) {
  PulledPage pulled;
  pulled.rows = page.rows_size();
  // Checked whole before anything is written.
  std::vector<ServerRow> rows;
  for (const v1::RowState& state : page.rows()) {
    Result<std::optional<ServerRow>> row = server_row(schema_, page, state, &pulled.names_unknown);
    if (!row.is_ok()) return row.status();
    if (*row) rows.push_back(std::move(**row));
  }

  ChangedRowsCollector changed;
  ServerStateWriter writer(db_);
  Status status = in_applying_transaction(db_, [&]() -> Status {
    for (const ServerRow& row : rows) {
      Result<bool> written = writer.write(row);
      if (!written.is_ok()) return written.status();
      if (*written) changed.add(row.table().name, row.row_id());
    }
    Result<db::Statement*> cursor =
        db_.cached("INSERT OR REPLACE INTO _lumbung_scope (scope, cursor) VALUES (?1, ?2)");
    if (!cursor.is_ok()) return cursor.status();
    for (const v1::ScopeCursor& scope : page.cursors()) {
      (*cursor)->bind(1, Value(scope.scope()));
      (*cursor)->bind(2, Value(scope.seq()));
      LUMBUNG_RETURN_IF_ERROR((*cursor)->run());
    }
    for (const std::string& scope : page.dropped_scopes()) {
      LUMBUNG_RETURN_IF_ERROR(
          drop_scope(db_, schema_, scope, [&](const std::string& table, const std::string& id) {
            changed.add(table, id);
          }));
      pulled.dropped_scopes.push_back(scope);
    }
    for (const v1::Conflict& wire : page.conflicts()) {
      ConflictRecord conflict = conflict_from_wire(wire);
      Result<bool> added = store_conflict(db_, conflict);
      if (!added.is_ok()) return added.status();
      if (*added) pulled.new_conflicts.push_back(std::move(conflict));
    }
    return receive_clock(db_, clock_, page.server_hlc());
  });
  if (!status.is_ok()) return status;
  pulled.changed_rows = changed.take();
  return pulled;
}

}  // namespace lumbung::replica
