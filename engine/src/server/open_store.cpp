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
  std::string printable = pg::redact_password(store_url, store_url);
  // A URL of another kind (refused, and echoed in the message) may hold a
  // password too: SCHEME://USER:PASSWORD@HOST...
  const std::size_t scheme = printable.find("://");
  if (scheme == std::string::npos) return printable;
  const std::size_t start = scheme + 3;
  const std::size_t path = printable.find_first_of("/?#", start);
  const std::size_t at = printable.rfind('@', path == std::string::npos ? path : path - 1);
  if (at == std::string::npos || at < start) return printable;
  const std::size_t colon = printable.find(':', start);
  if (colon == std::string::npos || colon > at) return printable;
  return printable.replace(colon + 1, at - colon - 1, "***");
}

}  // namespace lumbung::server
