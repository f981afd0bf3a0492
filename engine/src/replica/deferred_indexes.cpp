#include "replica/deferred_indexes.hpp"

#include <string>

#include "replica/meta.hpp"
#include "replica/schema_sql.hpp"

namespace lumbung::replica {
namespace {

constexpr const char* kIndexesDeferred = "indexes_deferred";

}  // namespace

Status defer_indexes(db::Database& db, const core::Schema& schema) {
  return db::in_transaction(db, [&]() -> Status {
    for (const core::Table& table : schema.tables) {
      for (const core::Index& index : table.indexes) {
        LUMBUNG_RETURN_IF_ERROR(
            db.exec("DROP INDEX IF EXISTS " + core::quote_identifier(index.name)));
      }
    }
    return write_meta(db, kIndexesDeferred, Value("1"));
  });
}

Status restore_indexes(db::Database& db, const core::Schema& schema) {
  Result<std::string> deferred = read_meta(db, kIndexesDeferred);
  if (!deferred.is_ok()) return deferred.status();
  if (deferred->empty()) return Status::ok();
  return db::in_transaction(db, [&]() -> Status {
    for (const core::Table& table : schema.tables) {
      for (const std::string& sql : create_index_sql(table)) LUMBUNG_RETURN_IF_ERROR(db.exec(sql));
    }
    return write_meta(db, kIndexesDeferred, Value(""));
  });
}

}  // namespace lumbung::replica
