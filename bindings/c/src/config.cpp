// Setters of the configuration handles; each option's default is in lumbung.h.
#include "config.hpp"

#include <chrono>

using namespace lumbung;

namespace {

HttpTransportOptions& http_options(lumbung_sync_config* config) {
  if (!config->options.http) config->options.http.emplace();
  return *config->options.http;
}

}  // namespace

extern "C" {

lumbung_db_config* lumbung_db_config_new(void) noexcept { return new lumbung_db_config(); }
void lumbung_db_config_free(lumbung_db_config* config) noexcept { delete config; }
void lumbung_db_config_set_path(lumbung_db_config* config, const char* path) noexcept {
  config->options.path = path;
}
void lumbung_db_config_set_schema(lumbung_db_config* config, const char* schema_json,
                                  const char* source_name) noexcept {
  config->options.schema_text = schema_json;
  config->options.schema_source = source_name;
}
void lumbung_db_config_set_key(lumbung_db_config* config, const void* key, size_t size) noexcept {
  config->options.key.assign(static_cast<const char*>(key), size);
}
void lumbung_db_config_set_device_id(lumbung_db_config* config, const char* device_id) noexcept {
  config->options.device_id = device_id;
}
void lumbung_db_config_set_server_url(lumbung_db_config* config, const char* url) noexcept {
  config->options.server_url = url;
}
void lumbung_db_config_set_token(lumbung_db_config* config, const char* token) noexcept {
  config->options.token = token;
}
void lumbung_db_config_set_tls_ca_file(lumbung_db_config* config, const char* path) noexcept {
  config->options.tls.ca_file = path;
}
void lumbung_db_config_add_tls_pinned_key(lumbung_db_config* config, const char* pin) noexcept {
  config->options.tls.pinned_keys.emplace_back(pin);
}

lumbung_sync_config* lumbung_sync_config_new(void) noexcept { return new lumbung_sync_config(); }
void lumbung_sync_config_free(lumbung_sync_config* config) noexcept { delete config; }
void lumbung_sync_config_set_transport(lumbung_sync_config* config,
                                       lumbung_transport* transport) noexcept {
  config->options.transport = transport == nullptr ? nullptr : transport->transport;
}
void lumbung_sync_config_set_token(lumbung_sync_config* config, const char* token) noexcept {
  config->options.token = token;
}
void lumbung_sync_config_set_connect_timeout_ms(lumbung_sync_config* config, int64_t ms) noexcept {
  http_options(config).connect_timeout = std::chrono::milliseconds(ms);
}
void lumbung_sync_config_set_request_timeout_ms(lumbung_sync_config* config, int64_t ms) noexcept {
  http_options(config).request_timeout = std::chrono::milliseconds(ms);
}
void lumbung_sync_config_set_max_attempts(lumbung_sync_config* config, int attempts) noexcept {
  config->options.max_attempts = attempts;
}
void lumbung_sync_config_set_backoff_ms(lumbung_sync_config* config, int64_t initial_ms,
                                        int64_t max_ms) noexcept {
  config->options.initial_backoff = std::chrono::milliseconds(initial_ms);
  config->options.max_backoff = std::chrono::milliseconds(max_ms);
}
void lumbung_sync_config_set_push_batch(lumbung_sync_config* config, int changes) noexcept {
  config->options.push_batch_changes = changes;
}
void lumbung_sync_config_set_wait_seconds(lumbung_sync_config* config, uint32_t seconds) noexcept {
  config->options.wait_seconds = seconds;
}

}  // extern "C"
