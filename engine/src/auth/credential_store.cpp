#include "auth/credential_store.hpp"

#include <algorithm>
#include <filesystem>

#include "auth/credential_sql.hpp"

namespace lumbung::auth {

namespace {

// The officers whose grants the cache holds at most; past it, it starts over.
constexpr std::size_t kMaxCachedOfficers = 10'000;

Status mismatch(std::string message) {
  return Status(ErrorCode::kDeviceMismatch, std::move(message));
}

std::optional<SelectorKind> parse_selector_kind(std::string_view name) {
  for (SelectorKind kind : {SelectorKind::kVillage, SelectorKind::kDistrict,
                            SelectorKind::kProvince, SelectorKind::kAll}) {
    if (selector_kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

// "village 'krasak'", "all villages": a selector as messages name it.
std::string selector_text(const Selector& selector) {
  if (selector.kind == SelectorKind::kAll) return "all villages";
  return std::string(selector_kind_name(selector.kind)) + " '" + selector.value + "'";
}

// Whether `sql` returns a row.
Result<bool> returns_row(CredentialSql& sql, std::string_view text, CredentialSql::Params params) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<CredentialRows> rows, sql.query(text, params));
  return rows->step();
}

// The token ids `query` returns in its first column.
Result<std::vector<std::string>> token_ids(CredentialRows& query) {
  std::vector<std::string> ids;
  while (true) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) break;
    ids.push_back(query.text(0));
  }
  return ids;
}

}  // namespace

std::string_view selector_kind_name(SelectorKind kind) {
  switch (kind) {
    case SelectorKind::kVillage:
      return "village";
    case SelectorKind::kDistrict:
      return "district";
    case SelectorKind::kProvince:
      return "province";
    case SelectorKind::kAll:
      return "all";
  }
  return "village";
}

CredentialStore::CredentialStore(std::unique_ptr<CredentialSql> sql) : sql_(std::move(sql)) {}

CredentialStore::~CredentialStore() = default;

Result<std::unique_ptr<CredentialStore>> CredentialStore::open(const std::string& path) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<CredentialSql> sql, open_sqlite_credential_sql(path));
  return std::unique_ptr<CredentialStore>(new CredentialStore(std::move(sql)));
}

Result<std::unique_ptr<CredentialStore>> CredentialStore::open_postgresql(const std::string& url) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<CredentialSql> sql, open_pg_credential_sql(url));
  return std::unique_ptr<CredentialStore>(new CredentialStore(std::move(sql)));
}

Result<std::unique_ptr<CredentialStore>> CredentialStore::open_for(const std::string& data_dir,
                                                                   const std::string& store_url) {
  if (!store_url.empty()) return open_postgresql(store_url);
  return open((std::filesystem::path(data_dir) / kCredentialsFileName).string());
}

Status CredentialStore::revoke(std::string_view token_id, std::int64_t now) {
  std::lock_guard lock(mu_);
  return sql_->transaction([&]() -> Status {
    // A legacy token (not recorded at issue) is known once a device used it.
    LUMBUNG_ASSIGN_OR_RETURN(
        const bool known, returns_row(*sql_,
                                      "SELECT 1 FROM @issued_tokens WHERE token_id = ?1 "
                                      "UNION ALL SELECT 1 FROM @token_device WHERE token_id = ?1",
                                      {Value(token_id)}));
    if (!known) {
      return Status(ErrorCode::kNotFound,
                    "token " + std::string(token_id) +
                        " is unknown: this server never recorded it at issue and no device "
                        "uses it (a token issued before tokens were recorded and never used is "
                        "revoked with every token of its officer: revoke --officer)");
    }
    return sql_->run(
        sql_->insert_or_ignore("INSERT INTO @revoked_token (token_id, revoked_at) VALUES (?1, ?2)",
                               "token_id"),
        {Value(token_id), Value(now)});
  });
}

Status CredentialStore::check_not_revoked(std::string_view token_id) {
  std::lock_guard lock(mu_);
  LUMBUNG_ASSIGN_OR_RETURN(
      const bool revoked,
      returns_row(*sql_, "SELECT revoked_at FROM @revoked_token WHERE token_id = ?1",
                  {Value(token_id)}));
  if (revoked) {
    return Status(ErrorCode::kTokenRevoked, "token " + std::string(token_id) + " was revoked");
  }
  return Status::ok();
}

Result<std::pair<std::string, std::string>> CredentialStore::bindings(std::string_view token_id,
                                                                      std::string_view device_id) {
  LUMBUNG_ASSIGN_OR_RETURN(
      std::unique_ptr<CredentialRows> query,
      sql_->query("SELECT (SELECT device_id FROM @token_device WHERE token_id = ?1), "
                  "       (SELECT officer FROM @device_officer WHERE device_id = ?2)",
                  {Value(token_id), Value(device_id)}));
  LUMBUNG_RETURN_IF_ERROR(query->step().status());
  return std::pair<std::string, std::string>{query->text(0), query->text(1)};
}

Result<std::string> CredentialStore::bound_device(std::string_view token_id) {
  std::lock_guard lock(mu_);
  LUMBUNG_ASSIGN_OR_RETURN(auto bound, bindings(token_id, ""));
  return bound.first;
}

Status CredentialStore::bind(std::string_view token_id, std::string_view device_id,
                             std::string_view officer, std::int64_t now,
                             std::string_view replaces) {
  std::lock_guard lock(mu_);
  const auto moves = [&](const std::string& token_device) {
    return !replaces.empty() && token_device == replaces;
  };
  // Checks the bindings found; false when one is still to be made.
  const auto check = [&](const std::pair<std::string, std::string>& bound) -> Result<bool> {
    const auto& [token_device, device_officer] = bound;
    if (!token_device.empty() && token_device != device_id && !moves(token_device)) {
      return mismatch("token " + std::string(token_id) + " is bound to another device");
    }
    if (!device_officer.empty() && device_officer != officer) {
      return mismatch("device '" + std::string(device_id) + "' belongs to another officer");
    }
    return token_device == device_id && !device_officer.empty();
  };
  // Every request after the first: a read, no write lock.
  LUMBUNG_ASSIGN_OR_RETURN(auto bound, bindings(token_id, device_id));
  Result<bool> complete = check(bound);
  if (!complete.is_ok() || *complete) return complete.status();
  // First use: decided again under the write lock, which a concurrent first
  // use (here or in another process) may have taken first.
  return sql_->transaction([&]() -> Status {
    LUMBUNG_ASSIGN_OR_RETURN(auto locked, bindings(token_id, device_id));
    Result<bool> settled = check(locked);
    if (!settled.is_ok() || *settled) return settled.status();
    if (moves(locked.first)) {
      LUMBUNG_RETURN_IF_ERROR(
          sql_->run("UPDATE @token_device SET device_id = ?2, bound_at = ?3 "
                    "WHERE token_id = ?1",
                    {Value(std::string(token_id)), Value(std::string(device_id)), Value(now)}));
    }
    const auto insert = [&](const char* sql, const char* key_column, std::string_view key,
                            std::string_view value) {
      return sql_->run(sql_->insert_or_ignore(sql, key_column),
                       {Value(key), Value(value), Value(now)});
    };
    LUMBUNG_RETURN_IF_ERROR(
        insert("INSERT INTO @token_device (token_id, device_id, bound_at) VALUES (?1, ?2, ?3)",
               "token_id", token_id, device_id));
    LUMBUNG_RETURN_IF_ERROR(
        insert("INSERT INTO @device_officer (device_id, officer, bound_at) VALUES (?1, ?2, ?3)",
               "device_id", device_id, officer));
    return Status::ok();
  });
}

Result<OfficerGrant> CredentialStore::read_grant(std::string_view officer) {
  OfficerGrant grant;
  {
    LUMBUNG_ASSIGN_OR_RETURN(
        std::unique_ptr<CredentialRows> query,
        sql_->query("SELECT role, tokens_revoked_at FROM @officers WHERE officer = ?1",
                    {Value(officer)}));
    LUMBUNG_ASSIGN_OR_RETURN(const bool found, query->step());
    if (found) {
      grant.role = parse_role(query->text(0));  // '' (no role) reads as none
      if (!query->value(1).is_null()) grant.tokens_revoked_at = query->integer(1);
    }
  }
  LUMBUNG_ASSIGN_OR_RETURN(
      std::unique_ptr<CredentialRows> query,
      sql_->query("SELECT kind, value FROM @officer_grants WHERE officer = ?1", {Value(officer)}));
  while (true) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, query->step());
    if (!row) break;
    const std::optional<SelectorKind> kind = parse_selector_kind(query->text(0));
    if (!kind) continue;  // the CHECK constraint keeps others out
    switch (*kind) {
      case SelectorKind::kVillage:
        grant.villages.insert(query->text(1));
        break;
      case SelectorKind::kDistrict:
        grant.districts.insert(query->text(1));
        break;
      case SelectorKind::kProvince:
        grant.provinces.insert(query->text(1));
        break;
      case SelectorKind::kAll:
        grant.every_village = true;
        break;
    }
  }
  return grant;
}

Result<OfficerGrant> CredentialStore::officer_grant(std::string_view officer) {
  std::lock_guard lock(mu_);
  // Another process's change of grants (`lumbungd grant`, another daemon)
  // moves the version on; this object's own writes clear the cache themselves.
  LUMBUNG_ASSIGN_OR_RETURN(const std::int64_t version, sql_->grants_version());
  if (version != cached_version_ || cache_.size() >= kMaxCachedOfficers) {
    cache_.clear();
    cached_version_ = version;
  }
  if (const auto found = cache_.find(officer); found != cache_.end()) return found->second;
  LUMBUNG_ASSIGN_OR_RETURN(OfficerGrant grant, read_grant(officer));
  cache_.emplace(std::string(officer), grant);
  return grant;
}

Status CredentialStore::grant_locked(std::string_view officer, std::optional<Role> role,
                                     std::span<const Selector> selectors, std::int64_t now) {
  LUMBUNG_RETURN_IF_ERROR(sql_->grants_changed());
  LUMBUNG_ASSIGN_OR_RETURN(
      const bool known,
      returns_row(*sql_, "SELECT 1 FROM @officers WHERE officer = ?1 AND role <> ''",
                  {Value(officer)}));
  if (!known || role) {
    // A new record, or one that had no role (only revoked legacy tokens).
    const std::string_view name = role_name(role.value_or(Role::kOfficer));
    LUMBUNG_RETURN_IF_ERROR(sql_->run(
        sql_->insert_or_ignore(
            "INSERT INTO @officers (officer, role, updated_at) VALUES (?1, ?2, ?3)", "officer"),
        {Value(officer), Value(name), Value(now)}));
    LUMBUNG_RETURN_IF_ERROR(
        sql_->run("UPDATE @officers SET role = ?2, updated_at = ?3 WHERE officer = ?1",
                  {Value(officer), Value(name), Value(now)}));
  }
  for (const Selector& selector : selectors) {
    LUMBUNG_RETURN_IF_ERROR(sql_->run(
        sql_->insert_or_ignore("INSERT INTO @officer_grants (officer, kind, value, granted_at) "
                               "VALUES (?1, ?2, ?3, ?4)",
                               "officer, kind, value"),
        {Value(officer), Value(selector_kind_name(selector.kind)),
         Value(selector.kind == SelectorKind::kAll ? std::string() : selector.value), Value(now)}));
  }
  if (!selectors.empty()) {
    LUMBUNG_RETURN_IF_ERROR(sql_->run("UPDATE @officers SET updated_at = ?2 WHERE officer = ?1",
                                      {Value(officer), Value(now)}));
  }
  return Status::ok();
}

Status CredentialStore::grant(std::string_view officer, std::optional<Role> role,
                              std::span<const Selector> selectors, std::int64_t now) {
  std::lock_guard lock(mu_);
  cache_.clear();
  return sql_->transaction([&] { return grant_locked(officer, role, selectors, now); });
}

Status CredentialStore::ungrant(std::string_view officer, std::span<const Selector> selectors) {
  std::lock_guard lock(mu_);
  cache_.clear();
  return sql_->transaction([&]() -> Status {
    LUMBUNG_RETURN_IF_ERROR(sql_->grants_changed());
    std::string missing;
    for (const Selector& selector : selectors) {
      const std::string value = selector.kind == SelectorKind::kAll ? "" : selector.value;
      LUMBUNG_ASSIGN_OR_RETURN(
          const bool held,
          returns_row(*sql_,
                      "SELECT 1 FROM @officer_grants "
                      "WHERE officer = ?1 AND kind = ?2 AND value = ?3",
                      {Value(officer), Value(selector_kind_name(selector.kind)), Value(value)}));
      if (!held) {
        missing += (missing.empty() ? "" : ", ") + selector_text(selector);
        continue;
      }
      LUMBUNG_RETURN_IF_ERROR(
          sql_->run("DELETE FROM @officer_grants WHERE officer = ?1 AND kind = ?2 AND value = ?3",
                    {Value(officer), Value(selector_kind_name(selector.kind)), Value(value)}));
    }
    if (!missing.empty()) {
      return Status(ErrorCode::kNotFound,
                    "officer '" + std::string(officer) + "' is not granted " + missing);
    }
    return Status::ok();
  });
}

Status CredentialStore::record_token(const TokenRecord& token, std::optional<Role> role,
                                     std::span<const Selector> villages) {
  std::lock_guard lock(mu_);
  cache_.clear();
  return sql_->transaction([&]() -> Status {
    LUMBUNG_RETURN_IF_ERROR(grant_locked(token.officer, role, villages, token.issued_at));
    LUMBUNG_RETURN_IF_ERROR(sql_->run(
        "INSERT INTO @issued_tokens (token_id, officer, key_id, issued_at, expires_at, device_id) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        {Value(token.token_id), Value(token.officer), Value(token.key_id), Value(token.issued_at),
         Value(token.expires_at), Value(token.device_id)}));
    if (token.device_id.empty()) return Status::ok();
    return sql_->run(
        "INSERT INTO @token_device (token_id, device_id, bound_at) "
        "VALUES (?1, ?2, ?3)",
        {Value(token.token_id), Value(token.device_id), Value(token.issued_at)});
  });
}

Result<std::vector<std::string>> CredentialStore::revoke_all(
    const std::vector<std::string>& token_ids, std::int64_t now) {
  std::vector<std::string> revoked;
  for (const std::string& token_id : token_ids) {
    LUMBUNG_ASSIGN_OR_RETURN(
        const bool already,
        returns_row(*sql_, "SELECT 1 FROM @revoked_token WHERE token_id = ?1", {Value(token_id)}));
    if (already) continue;
    LUMBUNG_RETURN_IF_ERROR(
        sql_->run("INSERT INTO @revoked_token (token_id, revoked_at) VALUES (?1, ?2)",
                  {Value(token_id), Value(now)}));
    revoked.push_back(token_id);
  }
  std::sort(revoked.begin(), revoked.end());
  return revoked;
}

Result<std::vector<std::string>> CredentialStore::revoke_officer(std::string_view officer,
                                                                 std::int64_t now) {
  std::lock_guard lock(mu_);
  cache_.clear();
  std::vector<std::string> revoked;
  LUMBUNG_RETURN_IF_ERROR(sql_->transaction([&]() -> Status {
    std::vector<std::string> ids;
    {
      LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<CredentialRows> query,
                               sql_->query("SELECT token_id FROM @issued_tokens WHERE officer = ?1 "
                                           "UNION SELECT t.token_id FROM @token_device AS t "
                                           "JOIN @device_officer AS d ON d.device_id = t.device_id "
                                           "WHERE d.officer = ?1",
                                           {Value(officer)}));
      LUMBUNG_ASSIGN_OR_RETURN(ids, token_ids(*query));
    }
    LUMBUNG_ASSIGN_OR_RETURN(
        const bool recorded,
        returns_row(*sql_, "SELECT 1 FROM @officers WHERE officer = ?1", {Value(officer)}));
    if (ids.empty() && !recorded) {
      return Status(ErrorCode::kNotFound, "officer '" + std::string(officer) +
                                              "' has no token, device or grant to revoke");
    }
    // Legacy tokens were not recorded at issue: refused by their time of issue.
    LUMBUNG_RETURN_IF_ERROR(sql_->grants_changed());
    LUMBUNG_RETURN_IF_ERROR(sql_->run(
        sql_->insert_or_ignore(
            "INSERT INTO @officers (officer, role, updated_at) VALUES (?1, '', ?2)", "officer"),
        {Value(officer), Value(now)}));
    LUMBUNG_RETURN_IF_ERROR(
        sql_->run("UPDATE @officers SET tokens_revoked_at = ?2, updated_at = ?2 WHERE officer = ?1",
                  {Value(officer), Value(now)}));
    LUMBUNG_ASSIGN_OR_RETURN(revoked, revoke_all(ids, now));
    return Status::ok();
  }));
  return revoked;
}

Result<std::vector<std::string>> CredentialStore::revoke_device(std::string_view device_id,
                                                                std::int64_t now) {
  std::lock_guard lock(mu_);
  std::vector<std::string> revoked;
  LUMBUNG_RETURN_IF_ERROR(sql_->transaction([&]() -> Status {
    std::vector<std::string> ids;
    {
      LUMBUNG_ASSIGN_OR_RETURN(
          std::unique_ptr<CredentialRows> query,
          sql_->query("SELECT token_id FROM @token_device WHERE device_id = ?1 "
                      "UNION SELECT token_id FROM @issued_tokens WHERE device_id = ?1",
                      {Value(device_id)}));
      LUMBUNG_ASSIGN_OR_RETURN(ids, token_ids(*query));
    }
    if (ids.empty()) {
      return Status(ErrorCode::kNotFound,
                    "device '" + std::string(device_id) + "' has no token to revoke");
    }
    LUMBUNG_ASSIGN_OR_RETURN(revoked, revoke_all(ids, now));
    return Status::ok();
  }));
  return revoked;
}

Result<std::vector<OfficerListing>> CredentialStore::officers() {
  std::lock_guard lock(mu_);
  std::vector<OfficerListing> listed;
  {
    LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<CredentialRows> query,
                             sql_->query("SELECT officer FROM @officers UNION SELECT officer FROM "
                                         "@issued_tokens UNION SELECT officer FROM @device_officer "
                                         "ORDER BY 1"));
    while (true) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool row, query->step());
      if (!row) break;
      listed.push_back(OfficerListing{query->text(0), {}, {}, {}});
    }
  }
  for (OfficerListing& officer : listed) {
    LUMBUNG_ASSIGN_OR_RETURN(officer.grant, read_grant(officer.officer));
    {
      LUMBUNG_ASSIGN_OR_RETURN(
          std::unique_ptr<CredentialRows> query,
          sql_->query("SELECT device_id FROM @device_officer WHERE officer = ?1 "
                      "ORDER BY device_id",
                      {Value(officer.officer)}));
      LUMBUNG_ASSIGN_OR_RETURN(officer.devices, token_ids(*query));
    }
    LUMBUNG_ASSIGN_OR_RETURN(officer.tokens, read_tokens(officer.officer));
  }
  return listed;
}

Result<std::vector<TokenListing>> CredentialStore::tokens() {
  std::lock_guard lock(mu_);
  return read_tokens(std::nullopt);
}

Result<std::vector<TokenListing>> CredentialStore::read_tokens(
    std::optional<std::string_view> officer) {
  std::vector<TokenListing> listed;
  LUMBUNG_ASSIGN_OR_RETURN(
      std::unique_ptr<CredentialRows> query,
      sql_->query("SELECT i.token_id, i.officer, o.role, i.key_id, i.issued_at, "
                  "       i.expires_at, "
                  "       EXISTS (SELECT 1 FROM @revoked_token AS r "
                  "               WHERE r.token_id = i.token_id), "
                  "       coalesce((SELECT t.device_id FROM @token_device AS t "
                  "                 WHERE t.token_id = i.token_id), i.device_id) "
                  "FROM @issued_tokens AS i LEFT JOIN @officers AS o "
                  "  ON o.officer = i.officer "
                  "WHERE CAST(?1 AS TEXT) IS NULL OR i.officer = CAST(?1 AS TEXT) "
                  "ORDER BY i.issued_at, i.token_id",
                  {officer ? Value(*officer) : Value()}));
  while (true) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, query->step());
    if (!row) break;
    listed.push_back({.token_id = query->text(0),
                      .officer = query->text(1),
                      .role = parse_role(query->text(2)),  // '' or NULL: none
                      .key_id = query->text(3),
                      .issued_at = query->integer(4),
                      .expires_at = query->integer(5),
                      .revoked = query->integer(6) != 0,
                      .device_id = query->text(7)});
  }
  return listed;
}

Result<std::map<std::string, std::string>> CredentialStore::device_officers() {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> bound;
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<CredentialRows> query,
                           sql_->query("SELECT device_id, officer FROM @device_officer"));
  while (true) {
    LUMBUNG_ASSIGN_OR_RETURN(const bool row, query->step());
    if (!row) break;
    bound.emplace(query->text(0), query->text(1));
  }
  return bound;
}

}  // namespace lumbung::auth
