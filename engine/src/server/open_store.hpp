// Where the daemon keeps its state: the embedded SQLite store of its data
// directory, or a PostgreSQL database named by a URL (`lumbungd ... --store
// URL`, docs/decisions/0034-postgresql-store.md).
#pragma once

#include <memory>
#include <string>

#include "auth/credential_store.hpp"
#include "lumbung/status.hpp"
#include "server/store.hpp"

namespace lumbung::server {

// Opens the store `store_url` names: a postgresql:// or postgres:// URL (or
// a libpq key=value conninfo starting "host=" or "dbname="): the PostgreSQL
// store there; empty: the SQLite store in `data_dir`. kInvalidArgument for a
// URL of any other kind; the store's own errors otherwise. No message holds
// the URL's password.
Result<std::unique_ptr<Store>> open_store(const std::string& data_dir,
                                          const std::string& store_url);

// The credential store beside the store open_store(data_dir, store_url)
// opens: DIR/credentials.sqlite, or the credential tables of the PostgreSQL
// database (docs/decisions/0039-credentials-in-the-store.md). Errors as
// open_store's.
Result<std::unique_ptr<auth::CredentialStore>> open_credentials(const std::string& data_dir,
                                                                const std::string& store_url);

// kInvalidArgument, as open_store() answers it, for a `store_url` neither
// empty nor a PostgreSQL URL.
Status check_store_url(const std::string& store_url);

// Whether `store_url` names a PostgreSQL database (the forms open_store takes).
bool is_postgresql_url(const std::string& store_url);

// `store_url` with its password replaced, for a log line or a message.
std::string printable_store_url(const std::string& store_url);

}  // namespace lumbung::server
