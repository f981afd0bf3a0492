/* Lumbung's C API: the stable ABI that the Android (JNI) and iOS (Swift)
 * bindings, and any C program, stand on. docs/bindings/c.md explains its
 * conventions; in short:
 *
 * - Handles are opaque; functions are named lumbung_<object>_<verb>.
 * - A fallible function takes a last, nullable `lumbung_error* out_error`,
 *   filled only on failure; its return value (false, NULL) says it failed.
 * - The caller owns every non-const pointer it gets back and releases it with
 *   the type's one free function; freeing NULL does nothing. Const pointers
 *   are borrowed from the object they came from and live as long as it does.
 * - Strings are UTF-8 and NUL-terminated unless a size comes with them.
 * - Callbacks run on the thread named in their comment and must not block.
 *
 * Thread-safety: a lumbung_db may be used from several threads (its calls are
 * serialized); every other object belongs to one thread at a time.
 */
#ifndef LUMBUNG_H_
#define LUMBUNG_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bumped when the ABI changes; compare with lumbung_api_version(). */
#define LUMBUNG_API_VERSION 1

#if defined(__GNUC__) || defined(__clang__)
#define LUMBUNG_C_EXPORT __attribute__((visibility("default")))
#else
#define LUMBUNG_C_EXPORT
#endif

/* Nullability for Swift's importer: pointers are non-null unless marked
 * LUMBUNG_NULLABLE. Empty for compilers without the extension. */
#if defined(__clang__) && defined(__has_feature)
#if __has_feature(nullability)
#define LUMBUNG_HAVE_NULLABILITY 1
#endif
#endif
#if defined(LUMBUNG_HAVE_NULLABILITY)
#define LUMBUNG_NULLABLE _Nullable
#define LUMBUNG_NONNULL _Nonnull
/* One pragma a line. */
/* clang-format off */
#define LUMBUNG_ASSUME_NONNULL_BEGIN                                          \
  _Pragma("clang diagnostic push")                                           \
  _Pragma("clang diagnostic ignored \"-Wnullability-extension\"")            \
  _Pragma("clang assume_nonnull begin")
#define LUMBUNG_ASSUME_NONNULL_END \
  _Pragma("clang assume_nonnull end") _Pragma("clang diagnostic pop")
/* clang-format on */
#else
#define LUMBUNG_NULLABLE
#define LUMBUNG_NONNULL
#define LUMBUNG_ASSUME_NONNULL_BEGIN
#define LUMBUNG_ASSUME_NONNULL_END
#endif

/* The C++ side of the boundary never throws. */
#ifdef __cplusplus
#define LUMBUNG_NOEXCEPT noexcept
#else
#define LUMBUNG_NOEXCEPT
#endif

#ifdef __cplusplus
extern "C" {
#endif

LUMBUNG_ASSUME_NONNULL_BEGIN

/* ---------------------------------------------------------------- Errors */

/* Stable numbers, shared with the C++ API (engine/include/lumbung/
 * error_codes.inc) and the wire: never renumbered or reused. */
typedef enum lumbung_code_e {
  LUMBUNG_OK = 0,
  LUMBUNG_INVALID_ARGUMENT = 1,    /* a bad value, name or option from the caller */
  LUMBUNG_NOT_FOUND = 2,           /* a row, table, column or file that does not exist */
  LUMBUNG_SCHEMA_INVALID = 3,      /* a schema file that does not load */
  LUMBUNG_SCHEMA_INCOMPATIBLE = 4, /* a schema change that is not additive */
  LUMBUNG_CONSTRAINT = 5,          /* NOT NULL or CHECK violated */
  LUMBUNG_TYPE_MISMATCH = 6,       /* a value of the wrong storage class */
  LUMBUNG_NOT_A_REPLICA = 7,       /* the file is not a Lumbung replica */
  LUMBUNG_IO = 8,                  /* the disk failed a read or write */
  LUMBUNG_BUSY = 9,                /* another writer holds the database */
  LUMBUNG_CORRUPT = 10,            /* the file is damaged */
  LUMBUNG_NO_SPACE = 11,           /* the disk is full */
  LUMBUNG_ENCRYPTION = 12,         /* missing or wrong key, or no encryption built in */
  LUMBUNG_INTERNAL = 13,           /* a bug in Lumbung */
  LUMBUNG_NETWORK = 14,            /* the connection failed or broke */
  LUMBUNG_TIMEOUT = 15,            /* no answer in time; the outcome is unknown */
  LUMBUNG_PROTOCOL = 16,           /* a malformed or unexpected message */
  LUMBUNG_TOO_LARGE = 17,          /* a body over the size limit */
  LUMBUNG_UNAVAILABLE = 18,        /* the server is stopping or overloaded */
  LUMBUNG_CANCELLED = 19,          /* the caller cancelled the operation */
  LUMBUNG_STALE_BATCH = 20,        /* a push batch older than the last applied one */
  LUMBUNG_TOKEN_MISSING = 21,      /* the request carries no bearer token */
  LUMBUNG_TOKEN_MALFORMED = 22,    /* the token is not a Lumbung token */
  LUMBUNG_TOKEN_FORGED = 23,       /* bad signature, or signed by no key the server has */
  LUMBUNG_TOKEN_EXPIRED = 24,      /* the token's expiry has passed */
  LUMBUNG_TOKEN_REVOKED = 25,      /* the token was revoked */
  LUMBUNG_DEVICE_MISMATCH = 26,    /* the token is bound to another device or officer */
  LUMBUNG_FORBIDDEN = 27,          /* the token's role or villages do not allow this */
  LUMBUNG_TLS = 28                 /* TLS failed: certificate or pin refused */
} lumbung_code_e;

/* What the caller should do about an error. */
typedef enum lumbung_retry_e {
  LUMBUNG_RETRY_NONE = 0,      /* not an error */
  LUMBUNG_RETRY_TRANSIENT = 1, /* retry later, with backoff */
  LUMBUNG_RETRY_ABORT = 2,     /* retry the whole transaction now */
  LUMBUNG_RETRY_PERMANENT = 3  /* retrying will not help: the input or the state needs a fix */
} lumbung_retry_e;

/* Filled by a failing call. A plain value owned by the caller (on the stack,
 * say): it holds no pointer and needs no free. A longer message is cut. */
typedef struct lumbung_error {
  lumbung_code_e code;
  lumbung_retry_e retry;
  char message[512];
} lumbung_error;

/* The code's stable name, e.g. "TypeMismatch"; "Unknown" for a number that
 * is not a code. Static storage: never freed. */
LUMBUNG_C_EXPORT const char* lumbung_code_name(int code) LUMBUNG_NOEXCEPT;

/* --------------------------------------------------------------- Version */

/* LUMBUNG_API_VERSION of the library loaded at run time. */
LUMBUNG_C_EXPORT int lumbung_api_version(void) LUMBUNG_NOEXCEPT;
/* The library's version, e.g. "0.1.0". Static storage: never freed. */
LUMBUNG_C_EXPORT const char* lumbung_version(void) LUMBUNG_NOEXCEPT;
/* Whether this build can open encrypted replicas (SQLCipher). */
LUMBUNG_C_EXPORT bool lumbung_encryption_available(void) LUMBUNG_NOEXCEPT;

/* A string the library allocated (e.g. a new row id). NULL does nothing. */
LUMBUNG_C_EXPORT void lumbung_string_free(char* LUMBUNG_NULLABLE string) LUMBUNG_NOEXCEPT;

/* ---------------------------------------------------------------- Values */

/* One cell's content, typed like SQLite's storage classes. */
typedef struct lumbung_value lumbung_value;

typedef enum lumbung_type_e {
  LUMBUNG_TYPE_NULL = 0,
  LUMBUNG_TYPE_INTEGER = 1,
  LUMBUNG_TYPE_REAL = 2,
  LUMBUNG_TYPE_TEXT = 3,
  LUMBUNG_TYPE_BLOB = 4
} lumbung_type_e;

/* New values, freed by lumbung_value_free. Text and blobs are copied; a blob
 * of size 0 may pass NULL. These allocate and never fail otherwise. */
LUMBUNG_C_EXPORT lumbung_value* lumbung_value_new_null(void) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT lumbung_value* lumbung_value_new_integer(int64_t value) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT lumbung_value* lumbung_value_new_real(double value) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT lumbung_value* lumbung_value_new_text(const char* text) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT lumbung_value* lumbung_value_new_blob(const void* LUMBUNG_NULLABLE data,
                                                       size_t size) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_value_free(lumbung_value* LUMBUNG_NULLABLE value) LUMBUNG_NOEXCEPT;

LUMBUNG_C_EXPORT lumbung_type_e lumbung_value_type(const lumbung_value* value) LUMBUNG_NOEXCEPT;
/* The content, into *out. Returns false (LUMBUNG_TYPE_MISMATCH) when the
 * value is of another type: an integer is not read as a real, nor back. */
LUMBUNG_C_EXPORT bool lumbung_value_integer(const lumbung_value* value, int64_t* out,
                                            lumbung_error* LUMBUNG_NULLABLE out_error)
    LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT bool lumbung_value_real(const lumbung_value* value, double* out,
                                         lumbung_error* LUMBUNG_NULLABLE out_error)
    LUMBUNG_NOEXCEPT;
/* The text or the blob's bytes, borrowed from `value`; their size into
 * *out_size when given. NULL (LUMBUNG_TYPE_MISMATCH) for another type. Text
 * is NUL-terminated; an empty blob is a non-NULL pointer with size 0. */
LUMBUNG_C_EXPORT const char* LUMBUNG_NULLABLE
lumbung_value_text(const lumbung_value* value, size_t* LUMBUNG_NULLABLE out_size,
                   lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const void* LUMBUNG_NULLABLE
lumbung_value_blob(const lumbung_value* value, size_t* LUMBUNG_NULLABLE out_size,
                   lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;

/* ------------------------------------------------------------------ Rows */

/* A row: column name -> value, sorted by column name. */
typedef struct lumbung_row lumbung_row;

/* An empty row, freed by lumbung_row_free. */
LUMBUNG_C_EXPORT lumbung_row* lumbung_row_new(void) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_row_free(lumbung_row* LUMBUNG_NULLABLE row) LUMBUNG_NOEXCEPT;

/* Sets a cell (replacing any value of that column), copying `value`. */
LUMBUNG_C_EXPORT void lumbung_row_set(lumbung_row* row, const char* column,
                                      const lumbung_value* value) LUMBUNG_NOEXCEPT;
/* Shorthands for lumbung_row_set with a new value of each type. */
LUMBUNG_C_EXPORT void lumbung_row_set_null(lumbung_row* row, const char* column) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_row_set_integer(lumbung_row* row, const char* column,
                                              int64_t value) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_row_set_real(lumbung_row* row, const char* column,
                                           double value) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_row_set_text(lumbung_row* row, const char* column,
                                           const char* text) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_row_set_blob(lumbung_row* row, const char* column,
                                           const void* LUMBUNG_NULLABLE data,
                                           size_t size) LUMBUNG_NOEXCEPT;

LUMBUNG_C_EXPORT size_t lumbung_row_size(const lumbung_row* row) LUMBUNG_NOEXCEPT;
/* The name of the index-th column in name order. REQUIRES: index < size. */
LUMBUNG_C_EXPORT const char* lumbung_row_column(const lumbung_row* row,
                                                size_t index) LUMBUNG_NOEXCEPT;
/* The cell of `column`, borrowed from `row` until it changes or is freed;
 * NULL (LUMBUNG_NOT_FOUND) when the row has no such column. */
LUMBUNG_C_EXPORT const lumbung_value* LUMBUNG_NULLABLE
lumbung_row_get(const lumbung_row* row, const char* column,
                lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;

/* Rows a query returned, in its order. */
typedef struct lumbung_rows lumbung_rows;

LUMBUNG_C_EXPORT size_t lumbung_rows_count(const lumbung_rows* rows) LUMBUNG_NOEXCEPT;
/* Borrowed from `rows`. REQUIRES: index < count. */
LUMBUNG_C_EXPORT const lumbung_row* lumbung_rows_at(const lumbung_rows* rows,
                                                    size_t index) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_rows_free(lumbung_rows* LUMBUNG_NULLABLE rows) LUMBUNG_NOEXCEPT;

/* ------------------------------------------------------- HTTP hand-off */

/* One request the engine wants sent, borrowed for the transport call. */
typedef struct lumbung_http_request lumbung_http_request;
/* The answer the app's transport fills in. */
typedef struct lumbung_http_response lumbung_http_response;

/* "GET" or "POST", and the target relative to the server URL, e.g.
 * "/v1/push": the app prefixes its own base URL. */
LUMBUNG_C_EXPORT const char* lumbung_http_request_method(const lumbung_http_request* request)
    LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const char* lumbung_http_request_path(const lumbung_http_request* request)
    LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT size_t lumbung_http_request_header_count(const lumbung_http_request* request)
    LUMBUNG_NOEXCEPT;
/* REQUIRES: index < header_count. */
LUMBUNG_C_EXPORT const char* lumbung_http_request_header_name(const lumbung_http_request* request,
                                                              size_t index) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const char* lumbung_http_request_header_value(const lumbung_http_request* request,
                                                               size_t index) LUMBUNG_NOEXCEPT;
/* The body's bytes (compressed protobuf: send them untouched). */
LUMBUNG_C_EXPORT const void* lumbung_http_request_body(const lumbung_http_request* request,
                                                       size_t* out_size) LUMBUNG_NOEXCEPT;

/* The server's answer, whatever its status; the body is copied. */
LUMBUNG_C_EXPORT void lumbung_http_response_set_status(lumbung_http_response* response,
                                                       int status) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_http_response_add_header(lumbung_http_response* response,
                                                       const char* name,
                                                       const char* value) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_http_response_set_body(lumbung_http_response* response,
                                                     const void* LUMBUNG_NULLABLE data,
                                                     size_t size) LUMBUNG_NOEXCEPT;
/* No answer: `code` is LUMBUNG_NETWORK (no connection, or it broke) or
 * LUMBUNG_TIMEOUT (no complete answer in time); any other code is taken as
 * LUMBUNG_NETWORK. Overrides a status set before. */
LUMBUNG_C_EXPORT void lumbung_http_response_fail(lumbung_http_response* response,
                                                 lumbung_code_e code,
                                                 const char* message) LUMBUNG_NOEXCEPT;

/* The app's transport: sends `request` and fills `response` with a status or
 * a failure before it returns; one that does neither is taken as a network
 * failure. Runs on the syncing thread and blocks for the exchange (that is
 * its job), bounded by the app's own timeouts; it is called by one sync at a
 * time. Must not call back into Lumbung with the db that syncs. */
typedef void (*lumbung_transport_fn)(void* LUMBUNG_NULLABLE userdata,
                                     const lumbung_http_request* request,
                                     lumbung_http_response* response);

typedef struct lumbung_transport lumbung_transport;

/* A transport over `fn`, freed by lumbung_transport_free. free_userdata, when
 * given, runs once with userdata after the last call, on the thread that drops
 * the last reference (lumbung_transport_free or the end of a sync). */
LUMBUNG_C_EXPORT lumbung_transport* lumbung_transport_new(
    lumbung_transport_fn fn, void* LUMBUNG_NULLABLE userdata,
    void (*LUMBUNG_NULLABLE free_userdata)(void* LUMBUNG_NULLABLE)) LUMBUNG_NOEXCEPT;
/* Configurations and syncs that use the transport keep it alive. */
LUMBUNG_C_EXPORT void lumbung_transport_free(lumbung_transport* LUMBUNG_NULLABLE transport)
    LUMBUNG_NOEXCEPT;

/* ------------------------------------------------------- Configurations */

/* How to open a replica. */
typedef struct lumbung_db_config lumbung_db_config;

/* A configuration with every option at its default; freed by
 * lumbung_db_config_free. The path must be set before opening. */
LUMBUNG_C_EXPORT lumbung_db_config* lumbung_db_config_new(void) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_db_config_free(lumbung_db_config* LUMBUNG_NULLABLE config)
    LUMBUNG_NOEXCEPT;
/* The replica file, created when missing. REQUIRED. */
LUMBUNG_C_EXPORT void lumbung_db_config_set_path(lumbung_db_config* config,
                                                 const char* path) LUMBUNG_NOEXCEPT;
/* The schema (JSON text, docs/schema-format.md) and its name in messages.
 * Default: the built-in Desmigratif schema on create, and the file's own
 * schema on open; a newer version migrates the file additively. */
LUMBUNG_C_EXPORT void lumbung_db_config_set_schema(lumbung_db_config* config,
                                                   const char* schema_json,
                                                   const char* source_name) LUMBUNG_NOEXCEPT;
/* The encryption key's bytes. Default: none, no encryption. Opening with a
 * key fails with LUMBUNG_ENCRYPTION in a build without encryption
 * (lumbung_encryption_available). */
LUMBUNG_C_EXPORT void lumbung_db_config_set_key(lumbung_db_config* config, const void* key,
                                                size_t size) LUMBUNG_NOEXCEPT;
/* This device's id, used only when the file is created. Default: a new UUIDv7. */
LUMBUNG_C_EXPORT void lumbung_db_config_set_device_id(lumbung_db_config* config,
                                                      const char* device_id) LUMBUNG_NOEXCEPT;
/* The server ("http://host:port" or "https://..."), kept in the file, used
 * only when it is created. Default: none; a sync needs one, or a transport. */
LUMBUNG_C_EXPORT void lumbung_db_config_set_server_url(lumbung_db_config* config,
                                                       const char* url) LUMBUNG_NOEXCEPT;
/* The bearer token kept in the file when it is created. Default: none
 * (lumbung_db_set_token replaces it later). */
LUMBUNG_C_EXPORT void lumbung_db_config_set_token(lumbung_db_config* config,
                                                  const char* token) LUMBUNG_NOEXCEPT;
/* A PEM file of the CAs an https server must chain to. Default: the system's. */
LUMBUNG_C_EXPORT void lumbung_db_config_set_tls_ca_file(lumbung_db_config* config,
                                                        const char* path) LUMBUNG_NOEXCEPT;
/* Adds a pinned key of the server's certificate, "sha256/BASE64" as OkHttp
 * writes it. Default: no pinning. */
LUMBUNG_C_EXPORT void lumbung_db_config_add_tls_pinned_key(lumbung_db_config* config,
                                                           const char* pin) LUMBUNG_NOEXCEPT;

/* How to sync. */
typedef struct lumbung_sync_config lumbung_sync_config;

LUMBUNG_C_EXPORT lumbung_sync_config* lumbung_sync_config_new(void) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_sync_config_free(lumbung_sync_config* LUMBUNG_NULLABLE config)
    LUMBUNG_NOEXCEPT;
/* The app's transport, kept alive by the config. Default: NULL, Lumbung's
 * own HTTP client to the replica's server URL. */
LUMBUNG_C_EXPORT void lumbung_sync_config_set_transport(
    lumbung_sync_config* config, lumbung_transport* LUMBUNG_NULLABLE transport) LUMBUNG_NOEXCEPT;
/* Overrides the token kept in the replica file for this sync. Default: that token. */
LUMBUNG_C_EXPORT void lumbung_sync_config_set_token(lumbung_sync_config* config,
                                                    const char* token) LUMBUNG_NOEXCEPT;
/* Lumbung's HTTP client: connect (TCP and TLS) and whole-exchange timeouts.
 * Defaults: 10000 and 30000 ms. Ignored with an app transport. */
LUMBUNG_C_EXPORT void lumbung_sync_config_set_connect_timeout_ms(lumbung_sync_config* config,
                                                                 int64_t ms) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_sync_config_set_request_timeout_ms(lumbung_sync_config* config,
                                                                 int64_t ms) LUMBUNG_NOEXCEPT;
/* Attempts at a transient failure (default 6), with exponential backoff from
 * initial_ms (default 250) up to max_ms (default 15000) and full jitter. */
LUMBUNG_C_EXPORT void lumbung_sync_config_set_max_attempts(lumbung_sync_config* config,
                                                           int attempts) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_sync_config_set_backoff_ms(lumbung_sync_config* config,
                                                         int64_t initial_ms,
                                                         int64_t max_ms) LUMBUNG_NOEXCEPT;
/* Changes per push request. Default: 1000. */
LUMBUNG_C_EXPORT void lumbung_sync_config_set_push_batch(lumbung_sync_config* config,
                                                         int changes) LUMBUNG_NOEXCEPT;
/* Long poll: the last pull waits up to this long for new changes. Default: 0. */
LUMBUNG_C_EXPORT void lumbung_sync_config_set_wait_seconds(lumbung_sync_config* config,
                                                           uint32_t seconds) LUMBUNG_NOEXCEPT;

/* -------------------------------------------------------------- Replica */

/* An open replica: the device's local copy of the synced tables. */
typedef struct lumbung_db lumbung_db;

/* Opens or creates the replica `config` describes. Returns NULL on failure:
 * LUMBUNG_INVALID_ARGUMENT without a path, LUMBUNG_NOT_A_REPLICA,
 * LUMBUNG_ENCRYPTION (wrong key, or no encryption built in),
 * LUMBUNG_SCHEMA_INCOMPATIBLE. The caller frees the handle with
 * lumbung_db_free; `config` may be freed at once. */
LUMBUNG_C_EXPORT lumbung_db* LUMBUNG_NULLABLE lumbung_db_open(
    const lumbung_db_config* config, lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
/* Closes the file; later calls on `db` fail with LUMBUNG_INVALID_ARGUMENT.
 * Background syncs started from it run on to their end with their own
 * connection. Closing twice is harmless. */
LUMBUNG_C_EXPORT void lumbung_db_close(lumbung_db* db) LUMBUNG_NOEXCEPT;
/* Closes if still open, then frees. NULL does nothing. */
LUMBUNG_C_EXPORT void lumbung_db_free(lumbung_db* LUMBUNG_NULLABLE db) LUMBUNG_NOEXCEPT;

/* Writes. Each is one transaction, captured for the next sync. `row` is
 * borrowed for the call. Failures: LUMBUNG_NOT_FOUND (table, column, or the
 * row for update/delete), LUMBUNG_TYPE_MISMATCH, LUMBUNG_CONSTRAINT. */
/* Inserts a row; `row` must hold "id". */
LUMBUNG_C_EXPORT bool lumbung_db_insert(lumbung_db* db, const char* table, const lumbung_row* row,
                                        lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
/* Inserts a row under a new UUIDv7: the new id (free: lumbung_string_free). */
LUMBUNG_C_EXPORT char* LUMBUNG_NULLABLE
lumbung_db_insert_new(lumbung_db* db, const char* table, const lumbung_row* row,
                      lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
/* Updates the given cells of an existing row. */
LUMBUNG_C_EXPORT bool lumbung_db_update(lumbung_db* db, const char* table, const char* id,
                                        const lumbung_row* cells,
                                        lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
/* Inserts the row when `id` is new, otherwise updates the given cells. */
LUMBUNG_C_EXPORT bool lumbung_db_put(lumbung_db* db, const char* table, const char* id,
                                     const lumbung_row* cells,
                                     lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT bool lumbung_db_delete(lumbung_db* db, const char* table, const char* id,
                                        lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;

/* The row (free: lumbung_row_free), or NULL: LUMBUNG_NOT_FOUND when there is
 * no such row (or table). */
LUMBUNG_C_EXPORT lumbung_row* LUMBUNG_NULLABLE
lumbung_db_get(lumbung_db* db, const char* table, const char* id,
               lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
/* Runs a read-only SQL query with `param_count` parameters bound to ?1, ?2,
 * ... (`params` may be NULL when there are none). Returns the rows (free:
 * lumbung_rows_free), or NULL on failure (LUMBUNG_INVALID_ARGUMENT for a
 * bad or writing statement). */
LUMBUNG_C_EXPORT lumbung_rows* LUMBUNG_NULLABLE
lumbung_db_query(lumbung_db* db, const char* sql,
                 const lumbung_value* const LUMBUNG_NONNULL* LUMBUNG_NULLABLE params,
                 size_t param_count, lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;

/* ------------------------------------------------------------ Status */

typedef struct lumbung_db_status lumbung_db_status;

/* The replica's state (free: lumbung_db_status_free), or NULL on failure. */
LUMBUNG_C_EXPORT lumbung_db_status* LUMBUNG_NULLABLE
lumbung_db_get_status(lumbung_db* db, lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_db_status_free(lumbung_db_status* LUMBUNG_NULLABLE status)
    LUMBUNG_NOEXCEPT;
/* Changes captured and not yet acknowledged by the server. */
LUMBUNG_C_EXPORT int64_t lumbung_db_status_pending(const lumbung_db_status* status)
    LUMBUNG_NOEXCEPT;
/* Changes the server refused, set aside. */
LUMBUNG_C_EXPORT int64_t lumbung_db_status_refused(const lumbung_db_status* status)
    LUMBUNG_NOEXCEPT;
/* ISO-8601 UTC of the last successful sync; NULL before the first. */
LUMBUNG_C_EXPORT const char* LUMBUNG_NULLABLE
lumbung_db_status_last_sync(const lumbung_db_status* status) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const char* lumbung_db_status_device_id(const lumbung_db_status* status)
    LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const char* lumbung_db_status_server_url(const lumbung_db_status* status)
    LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT int lumbung_db_status_schema_version(const lumbung_db_status* status)
    LUMBUNG_NOEXCEPT;

/* Replaces the bearer token kept in the replica file, used by the next sync. */
LUMBUNG_C_EXPORT bool lumbung_db_set_token(
    lumbung_db* db, const char* token, lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;

/* ------------------------------------------- Pending and refused changes */

typedef enum lumbung_change_kind_e {
  LUMBUNG_CHANGE_INSERT = 1,
  LUMBUNG_CHANGE_UPDATE = 2,
  LUMBUNG_CHANGE_DELETE = 3
} lumbung_change_kind_e;

/* The captured changes not yet acknowledged, oldest first. */
typedef struct lumbung_pending_list lumbung_pending_list;

LUMBUNG_C_EXPORT lumbung_pending_list* LUMBUNG_NULLABLE
lumbung_db_pending(lumbung_db* db, lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_pending_list_free(lumbung_pending_list* LUMBUNG_NULLABLE list)
    LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT size_t lumbung_pending_list_count(const lumbung_pending_list* list)
    LUMBUNG_NOEXCEPT;
/* The index-th change's fields, borrowed from `list`. REQUIRES: index < count. */
LUMBUNG_C_EXPORT const char* lumbung_pending_list_table(const lumbung_pending_list* list,
                                                        size_t index) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const char* lumbung_pending_list_row_id(const lumbung_pending_list* list,
                                                         size_t index) LUMBUNG_NOEXCEPT;
/* The changed cell; "" for an insert or a delete. */
LUMBUNG_C_EXPORT const char* lumbung_pending_list_column(const lumbung_pending_list* list,
                                                         size_t index) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT lumbung_change_kind_e lumbung_pending_list_kind(const lumbung_pending_list* list,
                                                                 size_t index) LUMBUNG_NOEXCEPT;

/* Changes the server refused, set aside until retried. */
typedef struct lumbung_refused_list lumbung_refused_list;

LUMBUNG_C_EXPORT lumbung_refused_list* LUMBUNG_NULLABLE
lumbung_db_refused(lumbung_db* db, lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_refused_list_free(lumbung_refused_list* LUMBUNG_NULLABLE list)
    LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT size_t lumbung_refused_list_count(const lumbung_refused_list* list)
    LUMBUNG_NOEXCEPT;
/* The index-th change's fields, borrowed from `list`. REQUIRES: index < count. */
LUMBUNG_C_EXPORT const char* lumbung_refused_list_table(const lumbung_refused_list* list,
                                                        size_t index) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const char* lumbung_refused_list_row_id(const lumbung_refused_list* list,
                                                         size_t index) LUMBUNG_NOEXCEPT;
/* "" for a row insert or delete. */
LUMBUNG_C_EXPORT const char* lumbung_refused_list_column(const lumbung_refused_list* list,
                                                         size_t index) LUMBUNG_NOEXCEPT;
/* Stable: unknown_table, unknown_column, type_mismatch, constraint,
 * out_of_scope, ... */
LUMBUNG_C_EXPORT const char* lumbung_refused_list_reason(const lumbung_refused_list* list,
                                                         size_t index) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const char* lumbung_refused_list_message(const lumbung_refused_list* list,
                                                          size_t index) LUMBUNG_NOEXCEPT;
/* Queues the refused changes again, with their current values, for the next sync. */
LUMBUNG_C_EXPORT bool lumbung_db_retry_refused(
    lumbung_db* db, lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;

/* ------------------------------------------------------------ Conflicts */

/* A concurrent edit the server detected, with both sides and the outcome. */
typedef struct lumbung_conflict lumbung_conflict;

LUMBUNG_C_EXPORT uint64_t lumbung_conflict_id(const lumbung_conflict* conflict) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const char* lumbung_conflict_table(const lumbung_conflict* conflict)
    LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const char* lumbung_conflict_row_id(const lumbung_conflict* conflict)
    LUMBUNG_NOEXCEPT;
/* "" when a delete met an edit of the row. */
LUMBUNG_C_EXPORT const char* lumbung_conflict_column(const lumbung_conflict* conflict)
    LUMBUNG_NOEXCEPT;
/* last_writer_wins, server_wins, first_writer_wins, manual_review, delete_wins. */
LUMBUNG_C_EXPORT const char* lumbung_conflict_policy(const lumbung_conflict* conflict)
    LUMBUNG_NOEXCEPT;
/* server_kept, device_applied, pending_review; once resolved:
 * resolved_server, resolved_device, resolved_value. */
LUMBUNG_C_EXPORT const char* lumbung_conflict_outcome(const lumbung_conflict* conflict)
    LUMBUNG_NOEXCEPT;
/* The two sides, and the value a resolution wrote (NULL-typed until then);
 * borrowed from `conflict`. */
LUMBUNG_C_EXPORT const lumbung_value* lumbung_conflict_server_value(
    const lumbung_conflict* conflict) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const lumbung_value* lumbung_conflict_device_value(
    const lumbung_conflict* conflict) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const lumbung_value* lumbung_conflict_resolved_value(
    const lumbung_conflict* conflict) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const char* lumbung_conflict_server_device(const lumbung_conflict* conflict)
    LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT const char* lumbung_conflict_device_id(const lumbung_conflict* conflict)
    LUMBUNG_NOEXCEPT;
/* The reviewer's officer id; "" until resolved or without authentication. */
LUMBUNG_C_EXPORT const char* lumbung_conflict_resolved_by(const lumbung_conflict* conflict)
    LUMBUNG_NOEXCEPT;
/* Frees a conflict the caller owns (lumbung_db_resolve_conflict's). NULL does
 * nothing; never pass one borrowed from a list or a callback. */
LUMBUNG_C_EXPORT void lumbung_conflict_free(lumbung_conflict* LUMBUNG_NULLABLE conflict)
    LUMBUNG_NOEXCEPT;

/* Conflicts that touch this replica's data, oldest first. */
typedef struct lumbung_conflict_list lumbung_conflict_list;

LUMBUNG_C_EXPORT lumbung_conflict_list* LUMBUNG_NULLABLE
lumbung_db_conflicts(lumbung_db* db, lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT void lumbung_conflict_list_free(lumbung_conflict_list* LUMBUNG_NULLABLE list)
    LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT size_t lumbung_conflict_list_count(const lumbung_conflict_list* list)
    LUMBUNG_NOEXCEPT;
/* Borrowed from `list`. REQUIRES: index < count. */
LUMBUNG_C_EXPORT const lumbung_conflict* lumbung_conflict_list_at(const lumbung_conflict_list* list,
                                                                  size_t index) LUMBUNG_NOEXCEPT;

typedef enum lumbung_resolution_e {
  LUMBUNG_RESOLVE_KEEP_SERVER = 1, /* the conflict's server value */
  LUMBUNG_RESOLVE_KEEP_DEVICE = 2, /* the conflict's device value */
  LUMBUNG_RESOLVE_VALUE = 3        /* a new value for the cell */
} lumbung_resolution_e;

/* Settles the pending_review conflict `conflict_id` on the server, with the
 * transport, token and retries of `config` (NULL: the defaults) as a sync
 * uses them; blocks for the exchange. `value` is required for
 * LUMBUNG_RESOLVE_VALUE and ignored otherwise. Returns the resolved record
 * (free: lumbung_conflict_free), or NULL: LUMBUNG_NOT_FOUND for an unknown
 * id, LUMBUNG_FORBIDDEN for a token that may not resolve,
 * LUMBUNG_INVALID_ARGUMENT for a conflict already resolved. */
LUMBUNG_C_EXPORT lumbung_conflict* LUMBUNG_NULLABLE lumbung_db_resolve_conflict(
    lumbung_db* db, uint64_t conflict_id, lumbung_resolution_e resolution,
    const lumbung_value* LUMBUNG_NULLABLE value, const lumbung_sync_config* LUMBUNG_NULLABLE config,
    lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;

/* ------------------------------------------------------------------ Sync */

typedef enum lumbung_sync_phase_e {
  LUMBUNG_SYNC_PUSH = 1,
  LUMBUNG_SYNC_PULL = 2,
  LUMBUNG_SYNC_DONE = 3
} lumbung_sync_phase_e;

/* What a finished sync did. */
typedef struct lumbung_sync_summary {
  int64_t pushed;     /* changes sent and acknowledged */
  int64_t applied;    /* of those, merged into the server state */
  int64_t superseded; /* of those, outvoted by the merge rule */
  int64_t refused;    /* of those, refused and set aside */
  int64_t pulled;     /* rows received */
  int64_t conflicts;  /* conflicts received */
  int64_t bytes_sent; /* HTTP bodies as sent (compressed) */
  int64_t bytes_received;
} lumbung_sync_summary;

/* Pushes the pending changes, then pulls until caught up, on the calling
 * thread; the db's callbacks run on it too. Fills *out_summary (may be NULL)
 * and returns true, or false with the error after the last attempt
 * (LUMBUNG_NETWORK, LUMBUNG_TOKEN_*, LUMBUNG_FORBIDDEN, ...). Interrupted,
 * the next sync resumes with nothing lost. */
LUMBUNG_C_EXPORT bool lumbung_db_sync(lumbung_db* db,
                                      const lumbung_sync_config* LUMBUNG_NULLABLE config,
                                      lumbung_sync_summary* LUMBUNG_NULLABLE out_summary,
                                      lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;

/* A sync running in the background. */
typedef struct lumbung_sync lumbung_sync;

/* Starts a sync on a thread of its own with its own connection to the file,
 * so the app may keep writing meanwhile; the db's callbacks run on that
 * thread. `config` is copied. Returns the handle (free: lumbung_sync_free),
 * or NULL when the db is closed or the file cannot be opened again. */
LUMBUNG_C_EXPORT lumbung_sync* LUMBUNG_NULLABLE
lumbung_db_sync_start(lumbung_db* db, const lumbung_sync_config* LUMBUNG_NULLABLE config,
                      lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
/* Asks the sync to stop at its next step; it then ends with LUMBUNG_CANCELLED
 * unless it finished first. Any thread; returns at once. */
LUMBUNG_C_EXPORT void lumbung_sync_cancel(lumbung_sync* sync) LUMBUNG_NOEXCEPT;
/* Whether the sync has ended. Any thread. */
LUMBUNG_C_EXPORT bool lumbung_sync_is_done(const lumbung_sync* sync) LUMBUNG_NOEXCEPT;
/* Blocks until the sync ends, then reports as lumbung_db_sync does. May be
 * called again: it reports the same outcome. Never call it from a callback. */
LUMBUNG_C_EXPORT bool lumbung_sync_wait(lumbung_sync* sync,
                                        lumbung_sync_summary* LUMBUNG_NULLABLE out_summary,
                                        lumbung_error* LUMBUNG_NULLABLE out_error) LUMBUNG_NOEXCEPT;
/* Cancels the sync if it still runs, waits for its end, and frees it. NULL
 * does nothing. Never call it from a callback. */
LUMBUNG_C_EXPORT void lumbung_sync_free(lumbung_sync* LUMBUNG_NULLABLE sync) LUMBUNG_NOEXCEPT;

/* -------------------------------------------------------------- Callbacks */

/* Callbacks are registered on a db and called by each of its syncs, blocking
 * or background, on the syncing thread: they must return quickly and not
 * block (post the news to the app's own thread), and must not call back
 * into Lumbung with the syncing db. Every pointer they receive is borrowed
 * for the call. */

/* Progress: phase, changes pushed (PUSH) or pulled (PULL) so far, bytes. */
typedef void (*lumbung_progress_fn)(void* LUMBUNG_NULLABLE userdata, lumbung_sync_phase_e phase,
                                    int64_t changes, int64_t bytes_sent, int64_t bytes_received);
/* Rows of `table` that a pulled page wrote or deleted: refresh their views. */
typedef void (*lumbung_changed_rows_fn)(void* LUMBUNG_NULLABLE userdata, const char* table,
                                        const char* const LUMBUNG_NONNULL* LUMBUNG_NONNULL ids,
                                        size_t count);
/* A conflict the sync received. */
typedef void (*lumbung_conflict_fn)(void* LUMBUNG_NULLABLE userdata,
                                    const lumbung_conflict* conflict);

/* A registration; freeing it unregisters the callback. */
typedef struct lumbung_registration lumbung_registration;

/* Registers a callback. free_userdata, when given, runs once with userdata
 * after the last call, on the thread of lumbung_registration_free. Returns
 * the registration (free: lumbung_registration_free); it may outlive the db. */
LUMBUNG_C_EXPORT lumbung_registration* lumbung_db_on_progress(
    lumbung_db* db, lumbung_progress_fn fn, void* LUMBUNG_NULLABLE userdata,
    void (*LUMBUNG_NULLABLE free_userdata)(void* LUMBUNG_NULLABLE)) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT lumbung_registration* lumbung_db_on_changed_rows(
    lumbung_db* db, lumbung_changed_rows_fn fn, void* LUMBUNG_NULLABLE userdata,
    void (*LUMBUNG_NULLABLE free_userdata)(void* LUMBUNG_NULLABLE)) LUMBUNG_NOEXCEPT;
LUMBUNG_C_EXPORT lumbung_registration* lumbung_db_on_conflict(
    lumbung_db* db, lumbung_conflict_fn fn, void* LUMBUNG_NULLABLE userdata,
    void (*LUMBUNG_NULLABLE free_userdata)(void* LUMBUNG_NULLABLE)) LUMBUNG_NOEXCEPT;
/* Unregisters: waits for a call in progress, so no call runs after it
 * returns; then runs free_userdata. Never from the registration's own
 * callback (it would wait for itself). NULL does nothing. */
LUMBUNG_C_EXPORT void lumbung_registration_free(lumbung_registration* LUMBUNG_NULLABLE registration)
    LUMBUNG_NOEXCEPT;

LUMBUNG_ASSUME_NONNULL_END

#ifdef __cplusplus
}
#endif

#endif /* LUMBUNG_H_ */
