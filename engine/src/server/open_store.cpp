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
  LUMBUNG_RETURN_IF_ERROR(check_store_url(store_url));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<PgStore> store, PgStore::open(store_url));
  return std::unique_ptr<Store>(std::move(store));
}

Result<std::unique_ptr<auth::CredentialStore>> open_credentials(const std::string& data_dir,
                                                                const std::string& store_url) {
  LUMBUNG_RETURN_IF_ERROR(check_store_url(store_url));
  return auth::CredentialStore::open_for(data_dir, store_url);
}

Status check_store_url(const std::string& store_url) {
  if (store_url.empty() || is_postgresql_url(store_url)) return Status::ok();
  return Status(ErrorCode::kInvalidArgument,
                "--store: '" + printable_store_url(store_url) +
                    "' is not a PostgreSQL URL (postgresql://USER@HOST/DB)");
}

bool is_postgresql_url(const std::string& store_url) {
  return store_url.starts_with("postgresql://") || store_url.starts_with("postgres://") ||
         store_url.starts_with("host=") || store_url.starts_with("dbname=");
}

std::string printable_store_url(const std::string& store_url) {
  return pg::redact_password(store_url, store_url);
}

}  // namespace lumbung::server
