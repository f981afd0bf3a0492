// SyncServer: opening, routing, the long polls' clock, shutdown and dumps.
#include "server/sync_server.hpp"

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "core/canonical_json.hpp"
#include "protocol/wire.hpp"
#include "server/epoch.hpp"
#include "server/open_store.hpp"
#include "server/server_impl.hpp"

namespace lumbung::server {
namespace {

// The store remembers which schema it holds: a server started on the data of
// another schema, or of a newer version of its own, refuses to open.
Status check_schema_identity(ReadTransaction& txn, const core::Schema& schema) {
  LUMBUNG_ASSIGN_OR_RETURN(std::string name, txn.meta("schema_name"));
  LUMBUNG_ASSIGN_OR_RETURN(const std::int64_t version, meta_int64(txn, "schema_version"));
  if (!name.empty() && name != schema.name) {
    return Status(ErrorCode::kSchemaIncompatible,
                  "the data directory holds schema '" + name + "', not '" + schema.name + "'");
  }
  if (version > schema.version) {
    return Status(ErrorCode::kSchemaIncompatible,
                  "the data directory holds version " + std::to_string(version) + " of schema '" +
                      schema.name + "', newer than this server's version " +
                      std::to_string(schema.version));
  }
  return Status::ok();
}

// How often tick() looks for a rotated signing key: a file read.
constexpr std::int64_t kSigningKeyCheckMs = 10'000;

HttpResponse method_not_allowed(const HttpRequest& request, std::string_view path,
                                const char* allowed) {
  HttpResponse response = protocol::error_response(
      Status(ErrorCode::kProtocol, "method " + request.method + " is not allowed on " +
                                       std::string(path) + " (use " + allowed + ")"));
  response.status = 405;
  response.headers.emplace_back("Allow", allowed);
  return response;
}

// The path of `request`'s target, without its query.
std::string_view path_of(const HttpRequest& request) {
  const std::string_view target = request.target;
  return target.substr(0, target.find('?'));
}

// The answer to a request for a path or a method the server does not serve;
// nullopt for GET /healthz and POST to the sync routes.
std::optional<HttpResponse> unserved(const HttpRequest& request, std::string_view path) {
  if (path == "/healthz" || path == "/metrics") {
    if (request.method == "GET") return std::nullopt;
    return method_not_allowed(request, path, "GET");
  }
  if (path != "/v1/push" && path != "/v1/pull" && path != "/v1/resolve" && path != "/v1/snapshot") {
    return protocol::error_response(
        Status(ErrorCode::kNotFound, "no such path '" + std::string(path) + "'"));
  }
  if (request.method != "POST") return method_not_allowed(request, path, "POST");
  return std::nullopt;
}

// The answer to a request beyond one of its officer's limits.
HttpResponse over_officer_limit(const std::string& officer, const std::string& what,
                                std::uint32_t retry_after_seconds) {
  return protocol::too_many_requests(
      Status(ErrorCode::kUnavailable, "officer '" + officer + "' " + what + "; try again later"),
      retry_after_seconds);
}

HttpResponse health_ok() {
  HttpResponse response;
  response.status = 200;
  response.headers.emplace_back("Content-Type", "text/plain");
  response.body = "ok";
  return response;
}

}  // namespace

Status SyncServer::Impl::check_header(const v1::RequestHeader& header) const {
  if (header.protocol_version() != protocol::kProtocolVersion) {
    return Status(ErrorCode::kProtocol, "protocol version " +
                                            std::to_string(header.protocol_version()) +
                                            " is not supported (this server speaks " +
                                            std::to_string(protocol::kProtocolVersion) + ")");
  }
  if (header.schema_version() > static_cast<std::uint32_t>(schema.version)) {
    return Status(ErrorCode::kSchemaIncompatible,
                  "the device's schema version " + std::to_string(header.schema_version()) +
                      " is newer than the server's version " + std::to_string(schema.version) +
                      " of schema '" + schema.name + "'");
  }
  if (header.device_id().empty()) {
    return Status(ErrorCode::kInvalidArgument, "the request header has no device id");
  }
  return Status::ok();
}

Result<auth::Grant> SyncServer::Impl::authenticate(const HttpRequest& request,
                                                   const v1::RequestHeader& header) {
  if (!authority) return auth::Grant::everything();
  LUMBUNG_ASSIGN_OR_RETURN(auth::Grant grant,
                           authority->authenticate(find_header(request.headers, "Authorization"),
                                                   header.device_id(), header.replaces_device()));
  grant.regions = regions.current();
  return grant;
}

protocol::RequestLimits SyncServer::Impl::request_limits_for(const ServerOptions& options,
                                                             const core::Schema& schema) {
  std::size_t widest = 0;
  for (const core::Table& table : schema.tables) widest = std::max(widest, table.columns.size());
  // Room for a newer schema version's columns: its device is to be told
  // SchemaIncompatible by the header check, not TooLarge.
  return {.max_objects = options.max_objects_per_request,
          .max_changes_per_push = options.max_changes_per_push,
          .max_cells_per_change =
              options.max_cells_per_change == 0 ? 2 * widest : options.max_cells_per_change};
}

Result<std::unique_ptr<SyncServer>> SyncServer::open(const ServerOptions& options) {
  if (options.data_dir.empty()) {
    return Status(ErrorCode::kInvalidArgument, "ServerOptions.data_dir is required");
  }
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
                           open_store(options.data_dir, options.store_url));
  // Without a schema of its own, the server serves the one the data
  // directory was last served with, or the built-in one.
  std::string schema_text = options.schema_text;
  std::string schema_source = options.schema_source;
  if (schema_text.empty()) {
    LUMBUNG_RETURN_IF_ERROR(store->read([&](ReadTransaction& txn) {
      LUMBUNG_ASSIGN_OR_RETURN(schema_text, txn.meta(kSchemaTextMetaKey));
      return Status::ok();
    }));
    schema_source = "the schema '" + options.data_dir + "' was served with";
  }
  if (schema_text.empty()) schema_text = core::builtin_schema_text();
  LUMBUNG_ASSIGN_OR_RETURN(core::Schema schema, db::load_schema(schema_text, schema_source));
  std::shared_ptr<Clock> clock = options.clock ? options.clock : system_clock();
  std::unique_ptr<auth::TokenAuthority> authority;
  if (!options.insecure_no_auth) {
    LUMBUNG_ASSIGN_OR_RETURN(
        std::unique_ptr<auth::TokenAuthority> opened,
        auth::TokenAuthority::open(options.data_dir, clock, options.store_url));
    authority = std::move(opened);
  }
  std::int64_t last_hlc = 0;
  std::int64_t last_seq = 0;
  std::string epoch;
  LUMBUNG_RETURN_IF_ERROR(
      store->read([&](ReadTransaction& txn) { return check_schema_identity(txn, schema); }));
  LUMBUNG_RETURN_IF_ERROR(store->adopt_schema(schema));
  LUMBUNG_RETURN_IF_ERROR(store->write([&](WriteTransaction& txn) {
    LUMBUNG_ASSIGN_OR_RETURN(const std::int64_t served_version, meta_int64(txn, "schema_version"));
    LUMBUNG_RETURN_IF_ERROR(record_served_schema(txn, schema, schema_text, served_version));
    LUMBUNG_RETURN_IF_ERROR(txn.set_meta("schema_name", schema.name));
    LUMBUNG_RETURN_IF_ERROR(txn.set_meta("schema_version", std::to_string(schema.version)));
    if (!options.schema_text.empty()) {
      LUMBUNG_RETURN_IF_ERROR(txn.set_meta(kSchemaTextMetaKey, options.schema_text));
    }
    LUMBUNG_ASSIGN_OR_RETURN(std::string current, current_epoch(txn));
    epoch = std::move(current);
    LUMBUNG_ASSIGN_OR_RETURN(std::int64_t hlc, meta_int64(txn, kHlcMetaKey));
    LUMBUNG_ASSIGN_OR_RETURN(std::int64_t seq, txn.last_seq());
    last_hlc = hlc;
    last_seq = seq;
    return Status::ok();
  }));
  auto impl =
      std::make_unique<Impl>(options, std::move(schema), std::move(clock), std::move(authority),
                             std::move(store), std::move(epoch), core::Hlc(last_hlc), last_seq);
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<db::CheckJudge> judge,
                           db::CheckJudge::open(impl->schema));
  impl->judge = std::move(judge);
  impl->schema_text = std::move(schema_text);
  LUMBUNG_RETURN_IF_ERROR(impl->store->read([&](ReadTransaction& txn) {
    LUMBUNG_ASSIGN_OR_RETURN(impl->schema_views, SchemaViews::load(txn, impl->schema));
    return Status::ok();
  }));
  impl->request_id_prefix = std::random_device{}();
  LUMBUNG_RETURN_IF_ERROR(impl->regions.load(*impl->store));
  if (impl->authority) impl->note_signing_key();
  if (is_postgresql_url(options.store_url)) {
    Impl* server = impl.get();
    LUMBUNG_ASSIGN_OR_RETURN(
        impl->feed,
        CommitFeed::open(
            options.store_url,
            {.on_commit = [server](const CommitNotice& notice) { server->remote_commit(notice); },
             .on_listening = [server] { return server->feed_listening(); }},
            options.logger.get()));
  }
  return std::unique_ptr<SyncServer>(new SyncServer(std::move(impl)));
}

SyncServer::SyncServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->poll_answerer = std::thread([impl = impl_.get()] { impl->answer_woken_polls(); });
}

HttpResponse SyncServer::error_response(const Status& status) {
  return protocol::error_response(status);
}

// Every responder is called exactly once, also for the long polls still
// waiting when the server goes away.
SyncServer::~SyncServer() { stop(); }

std::shared_ptr<RequestRecord> SyncServer::Impl::start_record(const HttpRequest& request,
                                                              std::string_view route) {
  auto record = std::make_shared<RequestRecord>();
  char id[17];
  std::snprintf(id, sizeof id, "%08x%08x", request_id_prefix, requests_started.fetch_add(1) + 1);
  record->id = id;
  record->route = route;
  record->started = std::chrono::steady_clock::now();
  record->bytes_in = request.body.size();
  return record;
}

void SyncServer::Impl::answered(const RequestRecord& record, HttpResponse& response) {
  response.headers.emplace_back(kRequestIdHeader, record.id);
  metrics.answered(record, response.status);
  const Logger* logger = options.logger.get();
  if (logger == nullptr) return;
  const LogLevel level = record.route == "/healthz" ? LogLevel::kDebug : request_level(response);
  if (logger->enabled(level)) logger->log(level, "request", request_fields(record, response));
}

void SyncServer::handle(HttpRequest request, Responder respond) {
  const std::string_view path = path_of(request);
  std::shared_ptr<RequestRecord> record = impl_->start_record(request, path);
  respond = [impl = impl_.get(), record, respond = std::move(respond)](HttpResponse response) {
    impl->answered(*record, response);
    respond(std::move(response));
  };
  if (impl_->stopped) {
    return respond(
        protocol::error_response(Status(ErrorCode::kUnavailable, "the server is stopping")));
  }
  if (std::optional<HttpResponse> refusal = unserved(request, path)) {
    return respond(std::move(*refusal));
  }
  if (path == "/healthz") return respond(health_ok());
  if (path == "/metrics") {
    if (impl_->authority) {
      const Result<auth::Role> role =
          impl_->authority->check_role(find_header(request.headers, "Authorization"));
      if (!role.is_ok()) return respond(protocol::error_response(role.status()));
      if (*role != auth::Role::kAdmin) {
        return respond(protocol::error_response(
            Status(ErrorCode::kForbidden, "the metrics are served to an admin's token only")));
      }
    }
    return respond(metrics());
  }
  if (impl_->authority) {
    // The requests an officer has in flight count from here to their answer.
    Result<std::string> officer =
        impl_->authority->check_token(find_header(request.headers, "Authorization"));
    if (!officer.is_ok()) return respond(protocol::error_response(officer.status()));
    record->officer = *officer;
    std::shared_ptr<OfficerRequests::Place> place = impl_->officer_requests->enter(*officer);
    if (!place) {
      return respond(
          over_officer_limit(*officer,
                             "has " + std::to_string(impl_->options.max_requests_per_officer) +
                                 " requests in flight, as many as this server allows (serve "
                                 "--max-requests-per-officer)",
                             1));
    }
    respond = [place, respond = std::move(respond)](HttpResponse response) {
      place->release();
      respond(std::move(response));
    };
  }
  if (path == "/v1/push") return impl_->handle_push(request, respond, record);
  if (path == "/v1/resolve") return impl_->handle_resolve(request, respond, record);
  if (path == "/v1/snapshot") return impl_->handle_snapshot(request, respond, record);
  impl_->handle_pull(request, std::move(respond), record);
}

std::optional<HttpResponse> SyncServer::admit(const HttpRequest& head) {
  if (impl_->stopped) return std::nullopt;  // handle() says so
  const std::string_view path = path_of(head);
  std::shared_ptr<RequestRecord> record = impl_->start_record(head, path);
  std::optional<HttpResponse> refusal = impl_->refuse_head(head, path, *record);
  if (refusal) impl_->answered(*record, *refusal);  // its body was never read
  return refusal;
}

std::optional<HttpResponse> SyncServer::Impl::refuse_head(const HttpRequest& head,
                                                          std::string_view path,
                                                          RequestRecord& record) {
  if (std::optional<HttpResponse> refusal = unserved(head, path)) return refusal;
  if (!authority || path == "/healthz" || path == "/metrics") return std::nullopt;
  const Result<std::string> officer =
      authority->check_token(find_header(head.headers, "Authorization"));
  if (!officer.is_ok()) return protocol::error_response(officer.status());
  record.officer = *officer;
  const bool push = path == "/v1/push";
  if (!push && path != "/v1/pull" && path != "/v1/snapshot") return std::nullopt;
  OfficerRate& rate = push ? push_rate : pull_rate;
  const std::uint32_t wait_seconds = rate.take(*officer, clock->now_ms());
  if (wait_seconds == 0) return std::nullopt;
  return over_officer_limit(
      *officer,
      push ? "pushes more often than " + std::to_string(options.max_pushes_per_officer_per_second) +
                 " times a second (serve --max-pushes-per-officer-per-second)"
           : "pulls more often than " + std::to_string(options.max_pulls_per_officer_per_second) +
                 " times a second (serve --max-pulls-per-officer-per-second)",
      wait_seconds);
}

void SyncServer::tick() {
  const std::int64_t now_ms = impl_->clock->now_ms();
  for (PullWaiter& waiter : impl_->long_polls.expired(now_ms)) {
    impl_->answer_pull(std::move(waiter), false);
  }
  if (impl_->authority && now_ms - impl_->signing_key_checked_ms >= kSigningKeyCheckMs) {
    impl_->signing_key_checked_ms = now_ms;
    impl_->note_signing_key();
  }
}

void SyncServer::Impl::remote_commit(const CommitNotice& notice) {
  // Its stamps, and those it received, come before this daemon's next ones
  // (a push also reads the HLC the store holds, in its transaction). A clock
  // further ahead than a device may be is not followed.
  const std::int64_t bound = (hlc.physical_now() + options.max_clock_skew.count() * 1000)
                             << core::Hlc::kLogicalBits;
  if (notice.hlc > hlc.last().packed() && notice.hlc < bound) hlc.receive(core::Hlc(notice.hlc));
  if (regions.table() != nullptr) {
    const std::optional<std::vector<std::string>>& rows = notice.changes.region_rows;
    const Status read = !rows           ? regions.load(*store)
                        : rows->empty() ? Status::ok()
                                        : regions.refresh(*store, *rows);
    if (!read.is_ok() && options.logger) {
      options.logger->log(LogLevel::kWarn, "regions_not_read",
                          {{"error", std::string(error_name(read.code()))}});
    }
  }
  long_polls.committed(notice.changes);
}

Status SyncServer::Impl::follow_stored_hlc(ReadTransaction& txn) {
  LUMBUNG_ASSIGN_OR_RETURN(const std::int64_t stored, meta_int64(txn, kHlcMetaKey));
  if (stored > hlc.last().packed()) hlc.receive(core::Hlc(stored));
  return Status::ok();
}

Status SyncServer::Impl::feed_listening() {
  CommittedChanges missed;
  missed.every_waiter = true;
  std::int64_t stored_hlc = 0;
  LUMBUNG_RETURN_IF_ERROR(store->read([&](ReadTransaction& txn) {
    LUMBUNG_ASSIGN_OR_RETURN(missed.seq, txn.last_seq());
    LUMBUNG_ASSIGN_OR_RETURN(stored_hlc, meta_int64(txn, kHlcMetaKey));
    return Status::ok();
  }));
  if (regions.table() != nullptr) LUMBUNG_RETURN_IF_ERROR(regions.load(*store));
  missed.region_rows.emplace();  // read above
  remote_commit({.changes = std::move(missed), .hlc = stored_hlc});
  return Status::ok();
}

void SyncServer::Impl::note_signing_key() {
  const Result<std::string> current = authority->current_key_id();
  if (!current.is_ok() || *current == signing_key) return;
  if (options.logger && !signing_key.empty()) {
    options.logger->log(LogLevel::kInfo, "signing_key",
                        {{"key_id", *current}, {"previous", signing_key}});
  }
  signing_key = *current;
}

std::string SyncServer::signing_key_id() const { return impl_->signing_key; }

void SyncServer::stop() {
  impl_->stopped = true;
  impl_->commits.stop();  // answers the pushes still queued
  // Tells the other daemons of the last commits, and hears no more of theirs.
  if (impl_->feed) impl_->feed->stop();
  for (PullWaiter& waiter : impl_->long_polls.stop()) impl_->answer_pull(std::move(waiter), false);
  // Its last woken waiters found the long polls stopped, and were answered.
  if (impl_->poll_answerer.joinable()) impl_->poll_answerer.join();
}

Result<std::string> SyncServer::dump_json(const std::optional<std::string>& scope) {
  const core::Schema& schema = impl_->schema;
  core::TableRows tables;
  // As the device's dump: every table of the schema, every column of a row.
  for (const core::Table& table : schema.tables) tables[table.name];
  LUMBUNG_RETURN_IF_ERROR(impl_->store->read([&](ReadTransaction& txn) {
    return txn.scan_rows(std::nullopt, scope, [&](const LiveRow& row) {
      const core::Table* table = schema.find_table(row.table);
      if (table == nullptr) return;  // kept by the store, no longer served
      Row& cells = tables[table->name][std::string(row.row_id)];
      for (std::size_t i = 0; i < row.columns.size(); ++i) {
        if (table->find_column(row.columns[i]) != nullptr) cells[row.columns[i]] = row.values[i];
      }
    });
  }));
  for (const core::Table& table : schema.tables) {
    for (auto& [row_id, row] : tables[table.name]) {
      for (const core::Column& column : table.columns) row.emplace(column.name, Value());
    }
  }
  return core::canonical_json(tables);
}

const core::Schema& SyncServer::schema() const { return impl_->schema; }

const std::string& SyncServer::schema_text() const { return impl_->schema_text; }

}  // namespace lumbung::server
