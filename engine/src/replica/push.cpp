#include "replica/push.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "core/uuid.hpp"
#include "protocol/wire.hpp"
#include "replica/capture_log.hpp"
#include "replica/conflict_store.hpp"
#include "replica/exchange.hpp"
#include "replica/hlc_store.hpp"
#include "replica/identity.hpp"
#include "replica/outbox.hpp"
#include "replica/refused_store.hpp"
#include "replica/reseed.hpp"
#include "replica/server_state.hpp"
#include "replica/versions.hpp"

namespace lumbung::replica {
namespace {

using core::quote_identifier;

constexpr const char* kPushTarget = "/v1/push";

// The dictionary of table and column names a PushRequest refers to by index.
class WireNames {
 public:
  explicit WireNames(v1::PushRequest& request) : request_(request) {}

  std::uint32_t table(const std::string& name) {
    auto [it, added] = tables_.try_emplace(name, request_.tables_size());
    if (added) {
      request_.add_tables()->set_table(name);
      columns_.emplace_back();
    }
    return it->second;
  }

  std::uint32_t column(std::uint32_t table, const std::string& name) {
    auto [it, added] = columns_[table].try_emplace(name, request_.tables(table).columns_size());
    if (added) request_.mutable_tables(table)->add_columns(name);
    return it->second;
  }

 private:
  v1::PushRequest& request_;
  std::map<std::string, std::uint32_t> tables_;
  std::vector<std::map<std::string, std::uint32_t>> columns_;
};

// SELECT of `columns` of a row of `table` by id.
std::string select_cells_sql(const core::Table& table, const std::vector<std::string>& columns) {
  std::string sql = "SELECT ";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    sql += (i ? ", " : "") + quote_identifier(columns[i]);
  }
  return sql + " FROM " + quote_identifier(table.name) + " WHERE \"id\" = ?1";
}

// The current values of a row's cells that `select` (select_cells_sql() of
// `count` columns) reads; nullopt when the row is missing.
Result<std::optional<std::vector<Value>>> read_cells(db::Database& db, const std::string& select,
                                                     const std::string& row_id, std::size_t count) {
  LUMBUNG_ASSIGN_OR_RETURN(db::Query query, db::Query::cached(db, select, {Value(row_id)}));
  LUMBUNG_ASSIGN_OR_RETURN(const bool found, query.step());
  std::optional<std::vector<Value>> values;
  if (found) {
    values.emplace();
    values->reserve(count);
    for (std::size_t i = 0; i < count; ++i) values->push_back(query.value(static_cast<int>(i)));
  }
  return values;
}

// A re-offered insert carries each cell's stamp when they are not all its
// row's (docs/protocol.md, "Going back in time").
Status add_cell_stamps(db::Database& db, const core::Table& table, const OutboxEntry& entry,
                       v1::Change* change) {
  LUMBUNG_ASSIGN_OR_RETURN(RowVersions held, Versions(db).read(table.name, entry.row_id));
  if (held.cells.empty()) return Status::ok();
  for (const core::Column& column : table.columns) {
    const core::Stamp& stamp = held.cell(column.name);
    change->add_cell_hlcs(stamp.hlc.packed());
    change->add_cell_authors(stamp.device_id.empty() ? entry.author : stamp.device_id);
  }
  return Status::ok();
}

// Adds `entry` to `request` as a Change with the row's current values, read
// by `select_row` (select_cells_sql() of every column) for an insert; false
// when the row of an insert or update is gone, which leaves nothing to send.
Result<bool> add_change(db::Database& db, const core::Table& table, const OutboxEntry& entry,
                        const std::string& select_row, WireNames& names, v1::PushRequest& request) {
  std::vector<std::string> columns;
  std::string select_update;
  if (entry.op == OutboxOp::kInsert) {
    for (const core::Column& column : table.columns) columns.push_back(column.name);
  } else if (entry.op == OutboxOp::kUpdate) {
    columns.push_back(entry.column);
    select_update = select_cells_sql(table, columns);
  }
  std::optional<std::vector<Value>> values;
  if (!columns.empty()) {
    LUMBUNG_ASSIGN_OR_RETURN(std::optional<std::vector<Value>> read,
                             read_cells(db, select_update.empty() ? select_row : select_update,
                                        entry.row_id, columns.size()));
    if (!read) return false;
    values = std::move(read);
  }
  v1::Change* change = request.add_changes();
  change->set_id(static_cast<std::uint32_t>(request.changes_size() - 1));
  change->set_table(names.table(table.name));
  change->set_row_id(entry.row_id);
  change->set_op(static_cast<v1::ChangeOp>(entry.op));
  change->set_hlc(entry.hlc);
  change->set_base_seq(entry.base);
  for (std::size_t i = 0; i < columns.size(); ++i) {
    change->add_columns(names.column(change->table(), columns[i]));
    protocol::to_wire((*values)[i], change->add_values());
  }
  if (!entry.author.empty()) {
    change->set_author(entry.author);
    if (entry.op == OutboxOp::kInsert) {
      LUMBUNG_RETURN_IF_ERROR(add_cell_stamps(db, table, entry, change));
    }
  }
  return true;
}

Status store_inflight(db::Database& db, const PushBatch& batch) {
  return db::run_cached(
      db,
      "UPDATE _lumbung_push SET inflight_batch = ?1, inflight_encoding = ?2, "
      "inflight_body = ?3, next_batch = ?1 + 1",
      {Value(static_cast<std::int64_t>(batch.number)), Value(batch.content_encoding),
       Value(Blob(batch.body.begin(), batch.body.end()))});
}

HttpHeaders body_headers(const PushBatch& batch) {
  HttpHeaders headers = {{"Content-Type", protocol::kContentType}};
  if (!batch.content_encoding.empty()) {
    headers.emplace_back("Content-Encoding", batch.content_encoding);
  }
  return headers;
}

// The outbox entry a change of `request` was made from.
Result<OutboxEntry> entry_of(const v1::PushRequest& request, const v1::Change& change) {
  if (change.table() >= static_cast<std::uint32_t>(request.tables_size()) ||
      change.op() < v1::CHANGE_OP_INSERT || change.op() > v1::CHANGE_OP_DELETE) {
    return Status(ErrorCode::kCorrupt, "the stored push batch has a malformed change");
  }
  const v1::TableColumns& table = request.tables(change.table());
  OutboxEntry entry{
      table.table(),     change.row_id(), "", static_cast<OutboxOp>(change.op()), change.hlc(),
      change.base_seq(), change.author()};
  if (entry.op == OutboxOp::kUpdate) {
    if (change.columns_size() != 1 ||
        change.columns(0) >= static_cast<std::uint32_t>(table.columns_size())) {
      return Status(ErrorCode::kCorrupt, "the stored push batch has a malformed update");
    }
    entry.column = table.columns(change.columns(0));
  }
  return entry;
}

// The server's state of the row a superseded change was about.
ServerRow current_row(const core::Table& table, const std::string& row_id,
                      const v1::ChangeOutcome& outcome) {
  ServerRow row(table, row_id);
  if (outcome.row_deleted()) row.set_deleted(kUnknownStamp);
  for (const v1::Cell& cell : outcome.current()) {
    row.add_cell(cell.column(), protocol::from_wire(cell.value()),
                 {core::Hlc(cell.hlc()), cell.device()});
  }
  return row;
}

// The scope column's value of a row the device holds; empty when it has none.
Result<std::string> row_scope(db::Database& db, const core::Table& table,
                              const std::string& row_id) {
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::cached(db,
                        "SELECT " + quote_identifier(table.scope_column) + " FROM " +
                            quote_identifier(table.name) + " WHERE \"id\" = ?1",
                        {Value(row_id)}));
  LUMBUNG_ASSIGN_OR_RETURN(const bool found, query.step());
  const Value scope = found ? query.value(0) : Value();
  return scope.type() == ValueType::kText ? scope.as_text() : std::string();
}

// Decodes a batch read back from the file; kCorrupt when it cannot be.
Result<std::shared_ptr<const v1::PushRequest>> decode_stored(const PushBatch& batch) {
  auto request = std::make_shared<v1::PushRequest>();
  Status read = protocol::decode_body(body_headers(batch), batch.body, protocol::kMaxRequestBytes,
                                      request.get());
  if (!read.is_ok()) {
    return Status(ErrorCode::kCorrupt, "push batch " + std::to_string(batch.number) +
                                           ": the stored batch cannot be read: " + read.message());
  }
  return std::shared_ptr<const v1::PushRequest>(std::move(request));
}

}  // namespace

Result<std::int64_t> next_batch_number(db::Database& db) {
  LUMBUNG_ASSIGN_OR_RETURN(db::Query query,
                           db::Query::cached(db, "SELECT next_batch FROM _lumbung_push"));
  LUMBUNG_ASSIGN_OR_RETURN(const bool found, query.step());
  if (!found) return Status(ErrorCode::kCorrupt, "_lumbung_push has no row");
  return query.integer(0);
}

HttpRequest push_request(const PushBatch& batch) {
  HttpRequest request;
  request.method = "POST";
  request.target = kPushTarget;
  request.headers = body_headers(batch);
  request.headers.emplace_back("Accept-Encoding", "zstd");
  request.body = batch.body;
  return request;
}

Result<std::optional<PushBatch>> Pusher::inflight() {
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::cached(
          db_,
          "SELECT inflight_batch, inflight_encoding, inflight_body FROM _lumbung_push "
          "WHERE inflight_batch IS NOT NULL"));
  LUMBUNG_ASSIGN_OR_RETURN(const bool found, query.step());
  if (!found) return std::optional<PushBatch>();
  const Value body = query.value(2);
  PushBatch batch{static_cast<std::uint64_t>(query.integer(0)), query.text(1),
                  std::string(body.as_blob().begin(), body.as_blob().end())};
  LUMBUNG_ASSIGN_OR_RETURN(batch.request, decode_stored(batch));
  return std::optional<PushBatch>(std::move(batch));
}

Status Pusher::drop_inflight() {
  return db::run(db_,
                 "UPDATE _lumbung_push SET inflight_batch = NULL, inflight_encoding = NULL, "
                 "inflight_body = NULL",
                 {});
}

Result<std::optional<PushBatch>> Pusher::build_batch(int max_changes, const OutboxEntry* after) {
  LUMBUNG_RETURN_IF_ERROR(fold_capture_log(db_, schema_));
  // Entries whose row is gone are dropped on the way; take more until a
  // batch has something in it or the outbox is empty.
  std::optional<OutboxEntry> last_read;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(
        std::vector<OutboxEntry> entries,
        read_outbox(db_, std::max(1, max_changes), last_read ? &*last_read : after));
    if (entries.empty()) return std::optional<PushBatch>();
    v1::PushRequest request;
    WireNames names(request);
    for (const OutboxEntry& entry : entries) {
      const core::Table* table = schema_.find_table(entry.table);
      bool added = false;
      if (table != nullptr) {
        auto [select, fresh] = row_selects_.try_emplace(table->name);
        if (fresh) {
          std::vector<std::string> every;
          for (const core::Column& column : table->columns) every.push_back(column.name);
          select->second = select_cells_sql(*table, every);
        }
        LUMBUNG_ASSIGN_OR_RETURN(added,
                                 add_change(db_, *table, entry, select->second, names, request));
      }
      if (!added) {
        LUMBUNG_RETURN_IF_ERROR(
            remove_if_unchanged(db_, entry.table, entry.row_id, entry.column, entry.hlc).status());
      }
    }
    if (request.changes_size() == 0) {
      last_read = entries.back();
      continue;
    }
    LUMBUNG_ASSIGN_OR_RETURN(std::int64_t number, next_batch_number(db_));
    LUMBUNG_ASSIGN_OR_RETURN(v1::RequestHeader header, request_header(db_, schema_));
    *request.mutable_header() = std::move(header);
    request.set_batch(static_cast<std::uint64_t>(number));
    HttpRequest encoded = protocol::make_request(kPushTarget, request);
    const std::optional<std::string_view> encoding =
        find_header(encoded.headers, "Content-Encoding");
    return std::optional<PushBatch>(PushBatch{
        static_cast<std::uint64_t>(number), encoding ? std::string(*encoding) : std::string(),
        std::move(encoded.body), std::make_shared<const v1::PushRequest>(std::move(request))});
  }
}

Result<std::optional<PushBatch>> Pusher::start_batch(int max_changes) {
  std::optional<PushBatch> batch;
  Status status = db::in_transaction(db_, [&]() -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(batch, build_batch(max_changes, nullptr));
    return batch ? store_inflight(db_, *batch) : Status::ok();
  });
  if (!status.is_ok()) return status;
  return batch;
}

Result<std::optional<PushBatch>> Pusher::prepare_after(const PushBatch& sent, int max_changes) {
  const v1::PushRequest& request = *sent.request;
  if (request.changes_size() == 0) {
    return Status(ErrorCode::kCorrupt, "push batch " + std::to_string(sent.number) +
                                           ": the batch in flight has no change");
  }
  LUMBUNG_ASSIGN_OR_RETURN(OutboxEntry last,
                           entry_of(request, request.changes(request.changes_size() - 1)));
  std::optional<PushBatch> batch;
  Status status = db::in_transaction(db_, [&]() -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(batch, build_batch(max_changes, &last));
    return Status::ok();
  });
  if (!status.is_ok()) return status;
  return batch;
}

Result<PushAnswer> Pusher::apply_answer(const PushBatch& batch, const v1::PushResponse& response,
                                        const std::optional<PushBatch>& next) {
  const std::string context = "push batch " + std::to_string(batch.number);
  const v1::PushRequest& request = *batch.request;
  if (response.batch() != batch.number) {
    return Status(ErrorCode::kProtocol,
                  context + ": the answer is for batch " + std::to_string(response.batch()));
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::string epoch, known_epoch(db_));

  PushAnswer answer;
  if (!response.epoch().empty() && !epoch.empty() && response.epoch() != epoch) {
    Status began = in_applying_transaction(db_, schema_, [&]() -> Status {
      LUMBUNG_RETURN_IF_ERROR(set_known_epoch(db_, response.epoch()));
      Reseeder reseeder(db_, schema_);
      LUMBUNG_ASSIGN_OR_RETURN(std::set<std::string> scopes, reseeder.held_scopes());
      return reseeder.begin(scopes, true);
    });
    if (!began.is_ok()) return began;
    answer.server_went_back = true;
    return answer;
  }
  LUMBUNG_ASSIGN_OR_RETURN(const std::string own_id, device_id(db_));
  ChangedRowsCollector changed;
  ServerStateWriter writer(db_);
  // Drops the entry if unchanged since sent; a later acknowledged change also
  // makes earlier refusals of its cell or row moot (looked for only while
  // there are any: usually there are none).
  bool refusals_held = false;
  const auto acknowledge = [&](const OutboxEntry& entry) -> Status {
    LUMBUNG_RETURN_IF_ERROR(
        remove_if_unchanged(db_, entry.table, entry.row_id, entry.column, entry.hlc).status());
    return refusals_held ? forget_refusals_before(db_, entry) : Status::ok();
  };
  std::vector<bool> answered(static_cast<std::size_t>(request.changes_size()));
  Status status = in_applying_transaction(db_, schema_, [&]() -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(refusals_held, holds_refusals(db_));
    for (const v1::ChangeOutcome& outcome : response.outcomes()) {
      if (outcome.id() >= static_cast<std::uint32_t>(request.changes_size())) {
        return Status(ErrorCode::kProtocol, context + ": the answer names change " +
                                                std::to_string(outcome.id()) +
                                                ", which the batch does not have");
      }
      answered[outcome.id()] = true;
      Result<OutboxEntry> entry = entry_of(request, request.changes(outcome.id()));
      if (!entry.is_ok()) {
        return Status(entry.status().code(), context + ": " + entry.status().message());
      }
      switch (outcome.outcome()) {
        case v1::OUTCOME_APPLIED:
          LUMBUNG_RETURN_IF_ERROR(record_applied(*entry, outcome, own_id));
          LUMBUNG_RETURN_IF_ERROR(acknowledge(*entry));
          ++answer.applied;
          break;
        case v1::OUTCOME_SUPERSEDED: {
          LUMBUNG_RETURN_IF_ERROR(acknowledge(*entry));
          const core::Table* table = schema_.find_table(entry->table);
          if (table && (outcome.row_deleted() || outcome.current_size() > 0)) {
            LUMBUNG_ASSIGN_OR_RETURN(bool written,
                                     writer.write(current_row(*table, entry->row_id, outcome)));
            if (written) changed.add(entry->table, entry->row_id);
          }
          ++answer.superseded;
          break;
        }
        case v1::OUTCOME_REFUSED: {
          // A change made since the refused one stays pending, and is judged on its own.
          LUMBUNG_ASSIGN_OR_RETURN(
              bool removed,
              remove_if_unchanged(db_, entry->table, entry->row_id, entry->column, entry->hlc));
          if (removed) {
            refusals_held = true;
            LUMBUNG_RETURN_IF_ERROR(set_aside(
                db_, *entry, protocol::refusal_reason_name(outcome.reason()), outcome.message()));
          }
          ++answer.refused;
          break;
        }
        default:
          return Status(ErrorCode::kProtocol,
                        context + ": change " + std::to_string(outcome.id()) + " has no outcome");
      }
      ++answer.acknowledged;
    }
    for (const v1::Conflict& wire : response.conflicts()) {
      ConflictRecord conflict = conflict_from_wire(wire);
      LUMBUNG_ASSIGN_OR_RETURN(bool added, store_conflict(db_, conflict));
      if (added) answer.new_conflicts.push_back(std::move(conflict));
    }
    LUMBUNG_RETURN_IF_ERROR(receive_clock(db_, clock_, response.server_hlc()));
    if (!response.epoch().empty()) LUMBUNG_RETURN_IF_ERROR(set_known_epoch(db_, response.epoch()));
    LUMBUNG_RETURN_IF_ERROR(
        db::run(db_,
                "UPDATE _lumbung_push SET inflight_batch = NULL, "
                "inflight_encoding = NULL, inflight_body = NULL, acked_batch = ?1",
                {Value(static_cast<std::int64_t>(batch.number))}));
    answer.next_in_flight =
        next && std::find(answered.begin(), answered.end(), false) == answered.end();
    return answer.next_in_flight ? store_inflight(db_, *next) : Status::ok();
  });
  if (!status.is_ok()) return status;
  answer.changed_rows = changed.take();
  return answer;
}

Status Pusher::record_applied(const OutboxEntry& entry, const v1::ChangeOutcome& outcome,
                              const std::string& own_id) {
  // A re-offer's versions are the ones the device holds already, unless the
  // server re-stamped them.
  if (!entry.author.empty() && !outcome.restamped()) return Status::ok();
  const core::Table* table = schema_.find_table(entry.table);
  if (table == nullptr) return Status::ok();
  core::Stamp stamp{core::Hlc(outcome.restamped() ? outcome.hlc() : entry.hlc),
                    entry.author.empty() ? own_id : entry.author};
  Versions versions(db_);
  if (entry.op == OutboxOp::kDelete) {
    return versions.set_deleted(entry.table, entry.row_id, "", stamp);
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::string scope, row_scope(db_, *table, entry.row_id));
  if (entry.op == OutboxOp::kInsert) {
    return versions.set_row(entry.table, entry.row_id, scope, stamp, {}, false);
  }
  return versions.set_cell(entry.table, entry.row_id, scope, entry.column, stamp);
}

Status Pusher::reidentify_after_stale() {
  return db::in_transaction(db_, [&] { return reidentify(db_, core::UuidV7Generator().next()); });
}

}  // namespace lumbung::replica
