#include "server/open_store.hpp"

#include "pg/connection.hpp"
#include "server/pg_store.hpp"
#include "server/sqlite_store.hpp"

namespace lumbung::server {

Result<std::unique_ptr<Store>> open_store(const std::string& data_dir,
                                          const std::string& store_url) {
  if (store_url.empty()) {
    LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::open(data_dir));
    return std::unique_ptr<Store>(std::move(store));
  }
  if (!is_postgresql_url(store_url)) {
    return Status(ErrorCode::kInvalidArgument,
                  "--store: '" + printable_store_url(store_url) +
                      "' is not a PostgreSQL URL (postgresql://USER@HOST/DB)");
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<PgStore> store, PgStore::open(store_url));
  return std::unique_ptr<Store>(std::move(store));
}

bool is_postgresql_url(const std::string& store_url) {
  return store_url.starts_with("postgresql://") || store_url.starts_with("postgres://") ||
         store_url.starts_with("host=") || store_url.starts_with("dbname=");
}

std::string printable_store_url(const std::string& store_url) {
  return pg::redact_password(store_url, store_url);
}

}  // namespace lumbung::server
