// Opening and closing a replica, its rows, status, token, and its pending and
// refused changes.
#include "db.hpp"

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

using namespace lumbung;
using namespace lumbung::c_api;

namespace {

Result<lumbung_db*> open_db(const ReplicaOptions& options) {
  if (options.path.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "the config has no path (lumbung_db_config_set_path)");
  }
  Result<std::unique_ptr<Replica>> opened = Replica::open(options);
  if (!opened.is_ok()) return opened.status();
  auto* db = new lumbung_db();
  db->options = options;
  db->replica = std::move(opened).value();
  return db;
}

// A copy the caller frees with lumbung_string_free (free()).
Result<char*> malloc_copy(Result<std::string>&& text) {
  if (!text.is_ok()) return text.status();
  char* copy = static_cast<char*>(std::malloc(text->size() + 1));
  if (copy == nullptr) return Status(ErrorCode::kInternal, "out of memory");
  std::memcpy(copy, text->c_str(), text->size() + 1);
  return copy;
}

// The row when there is one; kNotFound otherwise.
Result<Row> found(Result<std::optional<Row>>&& row, const char* table, const char* id) {
  if (!row.is_ok()) return row.status();
  if (!row->has_value()) {
    return Status(ErrorCode::kNotFound,
                  "no row '" + std::string(id) + "' in table '" + std::string(table) + "'");
  }
  return std::move(**row);
}

}  // namespace

extern "C" {

lumbung_db* lumbung_db_open(const lumbung_db_config* config, lumbung_error* out_error) noexcept {
  return guard(out_error, [&] { return open_db(config->options); });
}

void lumbung_db_close(lumbung_db* db) noexcept {
  std::lock_guard<std::mutex> lock(db->mu);
  db->replica.reset();
}

void lumbung_db_free(lumbung_db* db) noexcept { delete db; }

bool lumbung_db_insert(lumbung_db* db, const char* table, const lumbung_row* row,
                       lumbung_error* out_error) noexcept {
  return guard_db(db, out_error, [&](Replica& r) { return r.insert(table, *cpp(row)); });
}

char* lumbung_db_insert_new(lumbung_db* db, const char* table, const lumbung_row* row,
                            lumbung_error* out_error) noexcept {
  return guard_db(db, out_error,
                  [&](Replica& r) { return malloc_copy(r.insert_new(table, *cpp(row))); });
}

bool lumbung_db_update(lumbung_db* db, const char* table, const char* id, const lumbung_row* cells,
                       lumbung_error* out_error) noexcept {
  return guard_db(db, out_error, [&](Replica& r) { return r.update(table, id, *cpp(cells)); });
}

bool lumbung_db_put(lumbung_db* db, const char* table, const char* id, const lumbung_row* cells,
                    lumbung_error* out_error) noexcept {
  return guard_db(db, out_error, [&](Replica& r) { return r.put(table, id, *cpp(cells)); });
}

bool lumbung_db_delete(lumbung_db* db, const char* table, const char* id,
                       lumbung_error* out_error) noexcept {
  return guard_db(db, out_error, [&](Replica& r) { return r.remove(table, id); });
}

lumbung_row* lumbung_db_get(lumbung_db* db, const char* table, const char* id,
                            lumbung_error* out_error) noexcept {
  return guard_db(db, out_error, [&](Replica& r) {
    return to_handle<lumbung_row>(found(r.get(table, id), table, id));
  });
}

lumbung_rows* lumbung_db_query(lumbung_db* db, const char* sql, const lumbung_value* const* params,
                               size_t param_count, lumbung_error* out_error) noexcept {
  return guard_db(db, out_error, [&](Replica& r) {
    std::vector<Value> bound;
    for (size_t i = 0; i < param_count; ++i) bound.push_back(*cpp(params[i]));
    return to_handle<lumbung_rows>(r.query(sql, bound));
  });
}

lumbung_db_status* lumbung_db_get_status(lumbung_db* db, lumbung_error* out_error) noexcept {
  return guard_db(db, out_error,
                  [&](Replica& r) { return to_handle<lumbung_db_status>(r.status()); });
}
void lumbung_db_status_free(lumbung_db_status* status) noexcept { delete cpp(status); }
int64_t lumbung_db_status_pending(const lumbung_db_status* status) noexcept {
  return cpp(status)->pending_changes;
}
int64_t lumbung_db_status_refused(const lumbung_db_status* status) noexcept {
  return cpp(status)->refused_changes;
}
const char* lumbung_db_status_last_sync(const lumbung_db_status* status) noexcept {
  return cpp(status)->last_sync ? cpp(status)->last_sync->c_str() : nullptr;
}
const char* lumbung_db_status_device_id(const lumbung_db_status* status) noexcept {
  return cpp(status)->device_id.c_str();
}
const char* lumbung_db_status_server_url(const lumbung_db_status* status) noexcept {
  return cpp(status)->server_url.c_str();
}
int lumbung_db_status_schema_version(const lumbung_db_status* status) noexcept {
  return cpp(status)->schema_version;
}

bool lumbung_db_set_token(lumbung_db* db, const char* token, lumbung_error* out_error) noexcept {
  return guard_db(db, out_error, [&](Replica& r) { return r.set_token(token); });
}

lumbung_pending_list* lumbung_db_pending(lumbung_db* db, lumbung_error* out_error) noexcept {
  return guard_db(db, out_error,
                  [&](Replica& r) { return to_handle<lumbung_pending_list>(r.pending_changes()); });
}
void lumbung_pending_list_free(lumbung_pending_list* list) noexcept { delete cpp(list); }
size_t lumbung_pending_list_count(const lumbung_pending_list* list) noexcept {
  return cpp(list)->size();
}
const char* lumbung_pending_list_table(const lumbung_pending_list* list, size_t index) noexcept {
  return (*cpp(list))[index].table.c_str();
}
const char* lumbung_pending_list_row_id(const lumbung_pending_list* list, size_t index) noexcept {
  return (*cpp(list))[index].row_id.c_str();
}
const char* lumbung_pending_list_column(const lumbung_pending_list* list, size_t index) noexcept {
  return (*cpp(list))[index].column.c_str();
}
lumbung_change_kind_e lumbung_pending_list_kind(const lumbung_pending_list* list,
                                                size_t index) noexcept {
  return static_cast<lumbung_change_kind_e>((*cpp(list))[index].kind);
}

lumbung_refused_list* lumbung_db_refused(lumbung_db* db, lumbung_error* out_error) noexcept {
  return guard_db(db, out_error,
                  [&](Replica& r) { return to_handle<lumbung_refused_list>(r.refused_changes()); });
}
void lumbung_refused_list_free(lumbung_refused_list* list) noexcept { delete cpp(list); }
size_t lumbung_refused_list_count(const lumbung_refused_list* list) noexcept {
  return cpp(list)->size();
}
const char* lumbung_refused_list_table(const lumbung_refused_list* list, size_t index) noexcept {
  return (*cpp(list))[index].table.c_str();
}
const char* lumbung_refused_list_row_id(const lumbung_refused_list* list, size_t index) noexcept {
  return (*cpp(list))[index].row_id.c_str();
}
const char* lumbung_refused_list_column(const lumbung_refused_list* list, size_t index) noexcept {
  return (*cpp(list))[index].column.c_str();
}
const char* lumbung_refused_list_reason(const lumbung_refused_list* list, size_t index) noexcept {
  return (*cpp(list))[index].reason.c_str();
}
const char* lumbung_refused_list_message(const lumbung_refused_list* list, size_t index) noexcept {
  return (*cpp(list))[index].message.c_str();
}
bool lumbung_db_retry_refused(lumbung_db* db, lumbung_error* out_error) noexcept {
  return guard_db(db, out_error, [&](Replica& r) { return r.retry_refused(); });
}

}  // extern "C"
