#include "replica/pull.hpp"

#include <algorithm>
#include <optional>

#include "core/uuid.hpp"
#include "protocol/wire.hpp"
#include "replica/conflict_store.hpp"
#include "replica/exchange.hpp"
#include "replica/hlc_store.hpp"
#include "replica/identity.hpp"
#include "replica/push.hpp"
#include "replica/scope_rows.hpp"
#include "replica/server_state.hpp"
#include "replica/versions.hpp"

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

// The stamp of value `i` of `state` (of the delete, for a tombstone): its own,
// or the one all its values share; unknown from a server that sends none.
Result<core::Stamp> value_stamp(const v1::PullPage& page, const v1::RowState& state, int i) {
  if (state.hlcs_size() == 0 && state.authors_size() == 0) return kUnknownStamp;
  const int values = state.deleted() ? 1 : state.values_size();
  if (state.hlcs_size() != state.authors_size() ||
      (state.hlcs_size() != 1 && state.hlcs_size() != values)) {
    return malformed("row '" + state.row_id() + "' has " + std::to_string(state.hlcs_size()) +
                     " stamps and " + std::to_string(state.authors_size()) + " authors for " +
                     std::to_string(values) + " values");
  }
  const int at = state.hlcs_size() == 1 ? 0 : i;
  const std::uint32_t author = state.authors(at);
  if (author >= static_cast<std::uint32_t>(page.authors_size())) {
    return malformed("row '" + state.row_id() + "' names author " + std::to_string(author) +
                     ", which the page does not list");
  }
  return core::Stamp{core::Hlc(state.hlcs(at)), page.authors(static_cast<int>(author))};
}

// The page's row as a ServerRow, or nullopt for a table the device does not
// know. Sets *names_unknown when the page names something the device lacks.
Result<std::optional<ServerRow>> server_row(const v1::PullPage& page,
                                            const std::vector<PageTable>& tables,
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
    LUMBUNG_ASSIGN_OR_RETURN(core::Stamp stamp, value_stamp(page, state, 0));
    row.set_deleted(std::move(stamp));
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
    LUMBUNG_ASSIGN_OR_RETURN(core::Stamp stamp, value_stamp(page, state, i));
    if (names.columns[index]) {
      row.set_cell(*names.columns[index], protocol::from_wire(state.values(i)), std::move(stamp));
    } else {
      *names_unknown = true;
    }
  }
  return std::optional<ServerRow>(std::move(row));
}

}  // namespace

Result<Puller::Cursors> Puller::stored_cursors() {
  LUMBUNG_ASSIGN_OR_RETURN(db::Query query,
                           db::Query::cached(db_, "SELECT scope, cursor FROM _lumbung_scope"));
  Cursors cursors;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) return cursors;
    cursors[query.text(0)] = query.integer(1);
  }
}

Result<HttpRequest> Puller::request(const Cursors& cursors, std::uint32_t page_budget_bytes,
                                    std::uint32_t wait_seconds) {
  LUMBUNG_ASSIGN_OR_RETURN(std::int64_t next_batch, next_batch_number(db_));
  v1::PullRequest request;
  request.set_pushed_batch(static_cast<std::uint64_t>(next_batch - 1));
  LUMBUNG_ASSIGN_OR_RETURN(v1::RequestHeader header, request_header(db_, schema_));
  *request.mutable_header() = std::move(header);
  request.set_page_budget_bytes(page_budget_bytes);
  request.set_wait_seconds(wait_seconds);
  for (const auto& [scope, seq] : cursors) {
    v1::ScopeCursor* cursor = request.add_cursors();
    cursor->set_scope(scope);
    cursor->set_seq(seq);
  }
  HttpRequest http = protocol::make_request("/v1/pull", request);
  if (wait_seconds > 0)
    http.headers.emplace_back(kLongPollWaitHeader, std::to_string(wait_seconds));
  return http;
}

Result<HttpRequest> Puller::next_request(std::uint32_t page_budget_bytes,
                                         std::uint32_t wait_seconds) {
  LUMBUNG_ASSIGN_OR_RETURN(Cursors cursors, stored_cursors());
  return request(cursors, page_budget_bytes, wait_seconds);
}

Result<HttpRequest> Puller::request_after(const v1::PullPage& page,
                                          std::uint32_t page_budget_bytes) {
  // What apply_page() does to the cursors: it stores the page's and drops
  // the dropped scopes'.
  LUMBUNG_ASSIGN_OR_RETURN(Cursors cursors, stored_cursors());
  for (const v1::ScopeCursor& cursor : page.cursors()) cursors[cursor.scope()] = cursor.seq();
  for (const std::string& scope : page.dropped_scopes()) cursors.erase(scope);
  return request(cursors, page_budget_bytes, 0);
}

Result<Puller::Rewind> Puller::rewind_of(const v1::PullPage& page) {
  if (page.epoch().empty()) return Rewind::kNone;  // a server from before epochs tells nothing
  LUMBUNG_ASSIGN_OR_RETURN(std::string known, known_epoch(db_));
  if (!known.empty() && known != page.epoch()) return Rewind::kServer;
  LUMBUNG_ASSIGN_OR_RETURN(Cursors cursors, stored_cursors());
  for (const auto& [scope, seq] : cursors) {
    if (seq > page.last_seq()) return Rewind::kServer;
  }
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query batches,
      db::Query::cached(db_, "SELECT acked_batch, next_batch FROM _lumbung_push"));
  LUMBUNG_ASSIGN_OR_RETURN(const bool found, batches.step());
  const std::uint64_t acked = found ? static_cast<std::uint64_t>(batches.integer(0)) : 0;
  const std::uint64_t made = found ? static_cast<std::uint64_t>(batches.integer(1) - 1) : 0;
  if (acked > page.device_batch()) return Rewind::kServer;
  if (made < page.device_batch()) return Rewind::kReplica;
  return Rewind::kNone;
}

Status Puller::recover(Rewind rewind, const v1::PullPage& page) {
  return in_applying_transaction(db_, schema_, [&]() -> Status {
    if (rewind == Rewind::kReplica) return reidentify(db_, core::UuidV7Generator().next());
    LUMBUNG_RETURN_IF_ERROR(set_known_epoch(db_, page.epoch()));
    // The batches the server lost are not counted again.
    LUMBUNG_RETURN_IF_ERROR(db::run(db_, "UPDATE _lumbung_push SET acked_batch = ?1",
                                    {Value(static_cast<std::int64_t>(page.device_batch()))}));
    LUMBUNG_ASSIGN_OR_RETURN(std::set<std::string> scopes, reseeder_.held_scopes());
    return reseeder_.begin(scopes, true);
  });
}

Status Puller::reseed(const std::string& scope) { return reseeder_.begin({scope}, false); }

Result<PulledPage> Puller::apply_page(const v1::PullPage& page) {
  PulledPage pulled;
  LUMBUNG_ASSIGN_OR_RETURN(Rewind rewind, rewind_of(page));
  if (rewind != Rewind::kNone) {
    LUMBUNG_RETURN_IF_ERROR(recover(rewind, page));
    pulled.restart = true;
    return pulled;
  }
  pulled.rows = page.rows_size();
  // Checked whole before anything is written.
  const std::vector<PageTable> tables = page_tables(schema_, page);
  std::vector<ServerRow> rows;
  rows.reserve(static_cast<std::size_t>(page.rows_size()));
  for (const v1::RowState& state : page.rows()) {
    LUMBUNG_ASSIGN_OR_RETURN(std::optional<ServerRow> row,
                             server_row(page, tables, state, &pulled.names_unknown));
    if (row) rows.push_back(std::move(*row));
  }

  ChangedRowsCollector changed;
  ServerStateWriter writer(db_, &reseeder_);
  reseeder_.set_page_cursors(page);
  Status status = in_applying_transaction(db_, schema_, [&]() -> Status {
    if (!page.epoch().empty()) LUMBUNG_RETURN_IF_ERROR(set_known_epoch(db_, page.epoch()));
    for (ServerRow& row : rows) {
      const std::string& table = row.table().name;
      std::string id = row.row_id();
      LUMBUNG_ASSIGN_OR_RETURN(bool written, writer.write(std::move(row)));
      if (written) changed.add(table, id);
    }
    for (const v1::ScopeCursor& scope : page.cursors()) {
      LUMBUNG_RETURN_IF_ERROR(db::run_cached(
          db_,
          "INSERT OR REPLACE INTO _lumbung_scope (scope, cursor, reseeding) VALUES (?1, ?2, "
          "COALESCE((SELECT reseeding FROM _lumbung_scope WHERE scope = ?1), 0))",
          {Value(scope.scope()), Value(scope.seq())}));
    }
    for (const std::string& scope : page.dropped_scopes()) {
      LUMBUNG_RETURN_IF_ERROR(drop_scope(
          db_, schema_, scope,
          [&](const std::string& table, const std::string& id) { changed.add(table, id); }));
      pulled.dropped_scopes.push_back(scope);
    }
    for (const v1::Conflict& wire : page.conflicts()) {
      ConflictRecord conflict = conflict_from_wire(wire);
      LUMBUNG_ASSIGN_OR_RETURN(bool added, store_conflict(db_, conflict));
      if (added) pulled.new_conflicts.push_back(std::move(conflict));
    }
    LUMBUNG_ASSIGN_OR_RETURN(bool reoffered, reseeder_.finish_page(page));
    pulled.reoffered = reoffered;
    return receive_clock(db_, clock_, page.server_hlc());
  });
  if (!status.is_ok()) return status;
  pulled.changed_rows = changed.take();
  return pulled;
}

}  // namespace lumbung::replica
