#include "replica/pull.hpp"

#include <algorithm>
#include <optional>

#include "protocol/wire.hpp"
#include "replica/conflict_store.hpp"
#include "replica/exchange.hpp"
#include "replica/hlc_store.hpp"
#include "replica/push.hpp"
#include "replica/scope_rows.hpp"
#include "replica/server_state.hpp"

namespace lumbung::replica {
namespace {

Status malformed(const std::string& what) {
  return Status(ErrorCode::kProtocol, "pull page: " + what);
}

// A table of the page's dictionary in the device's terms: its schema table
// (nullptr when the device does not know it) and, for each of the page's
// columns, the device's column index (nullopt when unknown). Resolved once
// per page rather than once per cell.
struct PageTable {
  const core::Table* table = nullptr;
  std::vector<std::optional<std::size_t>> columns;
};

std::vector<PageTable> page_tables(const core::Schema& schema, const v1::PullPage& page) {
  std::vector<PageTable> tables;
  for (const v1::TableColumns& names : page.tables()) {
    PageTable& entry = tables.emplace_back();
    entry.table = schema.find_table(names.table());
    if (!entry.table) continue;
    const auto& columns = entry.table->columns;
    for (const std::string& name : names.columns()) {
      const auto it = std::find_if(columns.begin(), columns.end(),
                                   [&](const core::Column& c) { return c.name == name; });
      entry.columns.push_back(
          it == columns.end() ? std::nullopt : std::optional<std::size_t>(it - columns.begin()));
    }
  }
  return tables;
}

// The page's row as a ServerRow, or nullopt for a table the device does not
// know. Sets *names_unknown when the page names something the device lacks.
Result<std::optional<ServerRow>> server_row(const std::vector<PageTable>& tables,
                                            const v1::RowState& state, bool* names_unknown) {
  if (state.table() >= tables.size()) {
    return malformed("row '" + state.row_id() + "' names table " + std::to_string(state.table()) +
                     ", which the page does not list");
  }
  const PageTable& names = tables[state.table()];
  if (!names.table) {
    *names_unknown = true;
    return std::optional<ServerRow>();
  }
  const core::Table& table = *names.table;
  ServerRow row(table, state.row_id());
  if (state.deleted()) {
    row.set_deleted();
    return std::optional<ServerRow>(std::move(row));
  }
  // No column indexes: the values are every column of the table, in order.
  const int columns =
      state.columns_size() > 0 ? state.columns_size() : static_cast<int>(names.columns.size());
  if (state.values_size() != columns) {
    return malformed("table '" + table.name + "': row '" + state.row_id() + "' has " +
                     std::to_string(state.values_size()) + " values for " +
                     std::to_string(columns) + " columns");
  }
  for (int i = 0; i < columns; ++i) {
    const std::uint32_t index =
        state.columns_size() > 0 ? state.columns(i) : static_cast<std::uint32_t>(i);
    if (index >= names.columns.size()) {
      return malformed("table '" + table.name + "': row '" + state.row_id() + "' names column " +
                       std::to_string(index) + ", which the page does not list");
    }
    if (names.columns[index]) {
      row.set_cell(*names.columns[index], protocol::from_wire(state.values(i)));
    } else {
      *names_unknown = true;
    }
  }
  return std::optional<ServerRow>(std::move(row));
}

}  // namespace

Result<Puller::Cursors> Puller::stored_cursors() {
  Result<db::Statement*> stmt = db_.cached("SELECT scope, cursor FROM _lumbung_scope");
  if (!stmt.is_ok()) return stmt.status();
  Cursors cursors;
  for (;;) {
    Result<bool> row = (*stmt)->step();
    if (!row.is_ok()) return row.status();
    if (!*row) break;
    cursors[(*stmt)->column_text(0)] = (*stmt)->column_int(1);
  }
  (*stmt)->reset();
  return cursors;
}

Result<HttpRequest> Puller::request(const Cursors& cursors, std::uint32_t page_budget_bytes,
                                    std::uint32_t wait_seconds) {
  Result<std::int64_t> next_batch = next_batch_number(db_);
  if (!next_batch.is_ok()) return next_batch.status();
  v1::PullRequest request;
  request.set_pushed_batch(static_cast<std::uint64_t>(*next_batch - 1));
  *request.mutable_header() = request_header(schema_, device_id_);
  request.set_page_budget_bytes(page_budget_bytes);
  request.set_wait_seconds(wait_seconds);
  for (const auto& [scope, seq] : cursors) {
    v1::ScopeCursor* cursor = request.add_cursors();
    cursor->set_scope(scope);
    cursor->set_seq(seq);
  }
  return protocol::make_request("/v1/pull", request);
}

Result<HttpRequest> Puller::next_request(std::uint32_t page_budget_bytes,
                                         std::uint32_t wait_seconds) {
  Result<Cursors> cursors = stored_cursors();
  if (!cursors.is_ok()) return cursors.status();
  return request(*cursors, page_budget_bytes, wait_seconds);
}

Result<HttpRequest> Puller::request_after(const v1::PullPage& page,
                                          std::uint32_t page_budget_bytes) {
  // What apply_page() does to the cursors: it stores the page's and drops
  // the dropped scopes'.
  Result<Cursors> cursors = stored_cursors();
  if (!cursors.is_ok()) return cursors.status();
  for (const v1::ScopeCursor& cursor : page.cursors()) (*cursors)[cursor.scope()] = cursor.seq();
  for (const std::string& scope : page.dropped_scopes()) cursors->erase(scope);
  return request(*cursors, page_budget_bytes, 0);
}

Result<PulledPage> Puller::apply_page(const v1::PullPage& page) {
  PulledPage pulled;
  pulled.rows = page.rows_size();
  // Checked whole before anything is written.
  const std::vector<PageTable> tables = page_tables(schema_, page);
  std::vector<ServerRow> rows;
  rows.reserve(static_cast<std::size_t>(page.rows_size()));
  for (const v1::RowState& state : page.rows()) {
    Result<std::optional<ServerRow>> row = server_row(tables, state, &pulled.names_unknown);
    if (!row.is_ok()) return row.status();
    if (*row) rows.push_back(std::move(**row));
  }

  ChangedRowsCollector changed;
  ServerStateWriter writer(db_);
  Status status = in_applying_transaction(db_, schema_, [&]() -> Status {
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
      LUMBUNG_RETURN_IF_ERROR(drop_scope(
          db_, schema_, scope,
          [&](const std::string& table, const std::string& id) { changed.add(table, id); }));
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
