/* The C API driven from C11, as an app would, against a real lumbungd
 * (issue 6). Each case is one CTest test: `c_api_test CASE LUMBUNGD`.
 * Handles are all freed: LeakSanitizer, on in the sanitizer build, fails the
 * test for any left behind. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "lumbung.h"
#include "socket_transport.h"

static int failures = 0;

#define CHECK(condition)                                                            \
  do {                                                                              \
    if (!(condition)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      ++failures;                                                                   \
    }                                                                               \
  } while (0)

/* A call that must succeed; prints its error otherwise. */
#define CHECK_OK(call, error)                                                  \
  do {                                                                         \
    if (!(call)) {                                                             \
      fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call, \
              lumbung_code_name((error).code), (error).message);               \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

static const char kVillageA[] = "0190f1c2-7a00-7000-8000-00000000000a";
static const char kVillageB[] = "0190f1c2-7a00-7000-8000-00000000000b";

/* The test's world: a scratch directory and, when started, a daemon. */
typedef struct world {
  const char* lumbungd;
  const char* example; /* examples/desmigratif's household_app */
  char* dir;
  char data[1100];
  test_daemon daemon;
  bool running;
} world;

static bool world_start(world* w) {
  snprintf(w->data, sizeof w->data, "%s/server", w->dir);
  w->running = daemon_start(&w->daemon, w->lumbungd, w->data);
  return w->running;
}

static char* issue(world* w, const char* officer, const char* villages, const char* role) {
  char* token = daemon_token(w->lumbungd, w->data, officer, villages, role);
  CHECK(token != NULL);
  return token;
}

/* Opens (creating) the replica NAME.db of the world's directory. */
static lumbung_db* open_device(world* w, const char* name, const char* url, const char* token) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s.db", w->dir, name);
  lumbung_db_config* config = lumbung_db_config_new();
  lumbung_db_config_set_path(config, path);
  lumbung_db_config_set_device_id(config, name);
  if (url != NULL) lumbung_db_config_set_server_url(config, url);
  if (token != NULL) lumbung_db_config_set_token(config, token);
  lumbung_error error = {0};
  lumbung_db* db = lumbung_db_open(config, &error);
  lumbung_db_config_free(config);
  CHECK_OK(db != NULL, error);
  return db;
}

static lumbung_row* household(const char* id, const char* village) {
  lumbung_row* row = lumbung_row_new();
  lumbung_row_set_text(row, "id", id);
  lumbung_row_set_text(row, "village_id", village);
  lumbung_row_set_text(row, "created_by", "officer");
  lumbung_row_set_text(row, "created_at", "2026-11-29T08:00:00Z");
  return row;
}

static bool insert_household(lumbung_db* db, const char* id, const char* village) {
  lumbung_row* row = household(id, village);
  lumbung_error error = {0};
  const bool inserted = lumbung_db_insert(db, "household", row, &error);
  CHECK_OK(inserted, error);
  lumbung_row_free(row);
  return inserted;
}

static bool update_text(lumbung_db* db, const char* table, const char* id, const char* column,
                        const char* text) {
  lumbung_row* cells = lumbung_row_new();
  lumbung_row_set_text(cells, column, text);
  lumbung_error error = {0};
  const bool updated = lumbung_db_update(db, table, id, cells, &error);
  CHECK_OK(updated, error);
  lumbung_row_free(cells);
  return updated;
}

/* The text cell (a copy, free()), or NULL. */
static char* cell_text(lumbung_db* db, const char* table, const char* id, const char* column) {
  lumbung_error error = {0};
  lumbung_row* row = lumbung_db_get(db, table, id, &error);
  if (row == NULL) return NULL;
  const lumbung_value* value = lumbung_row_get(row, column, &error);
  const char* text = value != NULL ? lumbung_value_text(value, NULL, &error) : NULL;
  char* copy = text != NULL ? strdup(text) : NULL;
  lumbung_row_free(row);
  return copy;
}

static bool cell_is(lumbung_db* db, const char* table, const char* id, const char* column,
                    const char* expected) {
  char* text = cell_text(db, table, id, column);
  const bool same = text != NULL && strcmp(text, expected) == 0;
  if (!same) fprintf(stderr, "%s/%s.%s is '%s', not '%s'\n", table, id, column, text, expected);
  free(text);
  return same;
}

static bool sync_db(lumbung_db* db, const lumbung_sync_config* config,
                    lumbung_sync_summary* summary) {
  lumbung_error error = {0};
  const bool synced = lumbung_db_sync(db, config, summary, &error);
  CHECK_OK(synced, error);
  return synced;
}

/* ------------------------------------------------------------ the cases */

/* Versions, values and rows, local writes and reads, and their error paths. */
static void test_local(world* w) {
  CHECK(lumbung_api_version() == LUMBUNG_API_VERSION);
  CHECK(strlen(lumbung_version()) > 0);
  CHECK(strcmp(lumbung_code_name(LUMBUNG_TYPE_MISMATCH), "TypeMismatch") == 0);
  CHECK(strcmp(lumbung_code_name(999), "Unknown") == 0);
  lumbung_error error = {0};

  /* Values are typed: reading one as another type fails. */
  lumbung_value* number = lumbung_value_new_integer(42);
  int64_t integer = 0;
  double real = 0;
  CHECK(lumbung_value_integer(number, &integer, &error) && integer == 42);
  CHECK(!lumbung_value_real(number, &real, &error));
  CHECK(error.code == LUMBUNG_TYPE_MISMATCH && error.retry == LUMBUNG_RETRY_PERMANENT);
  CHECK(strstr(error.message, "integer") != NULL);
  CHECK(lumbung_value_text(number, NULL, &error) == NULL);
  lumbung_value_free(number);
  lumbung_value* empty = lumbung_value_new_blob(NULL, 0);
  size_t size = 99;
  CHECK(lumbung_value_blob(empty, &size, &error) != NULL && size == 0);
  CHECK(lumbung_value_type(empty) == LUMBUNG_TYPE_BLOB);
  lumbung_value_free(empty);

  /* Opening: a config needs a path; a key needs the encrypted build. */
  lumbung_db_config* config = lumbung_db_config_new();
  CHECK(lumbung_db_open(config, &error) == NULL && error.code == LUMBUNG_INVALID_ARGUMENT);
  char path[1200];
  snprintf(path, sizeof path, "%s/keyed.db", w->dir);
  lumbung_db_config_set_path(config, path);
  lumbung_db_config_set_key(config, "secret", 6);
  lumbung_db* keyed = lumbung_db_open(config, &error);
  if (lumbung_encryption_available()) {
    CHECK(keyed != NULL);
    lumbung_db_free(keyed);
    lumbung_db_config_set_key(config, "wrong!", 6);
    keyed = lumbung_db_open(config, &error);
    CHECK(keyed == NULL && error.code == LUMBUNG_ENCRYPTION);
  } else {
    CHECK(keyed == NULL && error.code == LUMBUNG_ENCRYPTION);
    CHECK(strstr(error.message, "no encryption") != NULL);
  }
  lumbung_db_free(keyed);
  lumbung_db_config_free(config);

  lumbung_db* db = open_device(w, "local", NULL, NULL);
  if (db == NULL) return;
  CHECK(insert_household(db, "h1", kVillageA));
  lumbung_row* row = lumbung_row_new();
  lumbung_row_set_text(row, "village_id", kVillageA);
  lumbung_row_set_text(row, "created_by", "officer");
  lumbung_row_set_text(row, "created_at", "2026-11-29T08:00:00Z");
  lumbung_row_set_real(row, "latitude", -7.25);
  lumbung_row_set_null(row, "notes");
  char* id = lumbung_db_insert_new(db, "household", row, &error);
  CHECK_OK(id != NULL, error);

  /* Errors name what is wrong. */
  CHECK(!lumbung_db_insert(db, "no_such_table", row, &error) && error.code == LUMBUNG_NOT_FOUND);
  lumbung_row_set_text(row, "latitude", "south");
  CHECK(!lumbung_db_update(db, "household", "h1", row, &error));
  CHECK(error.code == LUMBUNG_TYPE_MISMATCH);
  CHECK(lumbung_db_get(db, "household", "missing", &error) == NULL);
  CHECK(error.code == LUMBUNG_NOT_FOUND);
  CHECK(!lumbung_db_delete(db, "household", "missing", &error) && error.code == LUMBUNG_NOT_FOUND);
  lumbung_row_free(row);

  /* Reads: a row by id, with typed cells, and a query with parameters. */
  lumbung_row* got = id != NULL ? lumbung_db_get(db, "household", id, &error) : NULL;
  CHECK_OK(got != NULL, error);
  if (got != NULL) {
    const lumbung_value* latitude = lumbung_row_get(got, "latitude", &error);
    CHECK(latitude != NULL && lumbung_value_real(latitude, &real, &error) && real == -7.25);
    const lumbung_value* notes = lumbung_row_get(got, "notes", &error);
    CHECK(notes != NULL && lumbung_value_type(notes) == LUMBUNG_TYPE_NULL);
    CHECK(lumbung_row_get(got, "nope", &error) == NULL && error.code == LUMBUNG_NOT_FOUND);
    CHECK(strcmp(lumbung_row_column(got, 0), "created_at") == 0); /* name order */
    lumbung_row_free(got);
  }
  CHECK(update_text(db, "household", "h1", "notes", "first visit"));
  lumbung_row* cells = lumbung_row_new();
  lumbung_row_set_text(cells, "head_name", "Sumarni");
  CHECK(lumbung_db_put(db, "household", "h1", cells, &error));
  lumbung_row_free(cells);
  lumbung_value* village = lumbung_value_new_text(kVillageA);
  const lumbung_value* params[] = {village};
  lumbung_rows* rows = lumbung_db_query(
      db, "SELECT id, notes FROM household WHERE village_id = ?1 ORDER BY id", params, 1, &error);
  CHECK_OK(rows != NULL, error);
  if (rows != NULL) {
    CHECK(lumbung_rows_count(rows) == 2);
    CHECK(lumbung_row_size(lumbung_rows_at(rows, 0)) == 2);
    lumbung_rows_free(rows);
  }
  lumbung_value_free(village);
  CHECK(lumbung_db_query(db, "DELETE FROM household", NULL, 0, &error) == NULL);
  CHECK(cell_is(db, "household", "h1", "head_name", "Sumarni"));
  CHECK(lumbung_db_delete(db, "household", id != NULL ? id : "", &error));
  lumbung_string_free(id);

  /* What waits for the server. */
  lumbung_pending_list* pending = lumbung_db_pending(db, &error);
  CHECK_OK(pending != NULL, error);
  if (pending != NULL) {
    CHECK(lumbung_pending_list_count(pending) > 0);
    CHECK(strcmp(lumbung_pending_list_table(pending, 0), "household") == 0);
    CHECK(lumbung_pending_list_kind(pending, 0) == LUMBUNG_CHANGE_INSERT);
    lumbung_pending_list_free(pending);
  }
  lumbung_db_status* status = lumbung_db_get_status(db, &error);
  CHECK_OK(status != NULL, error);
  if (status != NULL) {
    CHECK(lumbung_db_status_pending(status) > 0);
    CHECK(lumbung_db_status_last_sync(status) == NULL);
    CHECK(strcmp(lumbung_db_status_device_id(status), "local") == 0);
    CHECK(lumbung_db_status_schema_version(status) >= 1);
    lumbung_db_status_free(status);
  }

  /* Without a server: a sync fails with a clear error. */
  CHECK(!lumbung_db_sync(db, NULL, NULL, &error) && error.code == LUMBUNG_INVALID_ARGUMENT);

  /* Closed: calls fail, close again and free still work. */
  lumbung_db_close(db);
  CHECK(lumbung_db_get(db, "household", "h1", &error) == NULL);
  CHECK(error.code == LUMBUNG_INVALID_ARGUMENT && strstr(error.message, "closed") != NULL);
  lumbung_db_close(db);
  lumbung_db_free(db);

  /* Freeing NULL does nothing. */
  lumbung_db_free(NULL);
  lumbung_row_free(NULL);
  lumbung_rows_free(NULL);
  lumbung_value_free(NULL);
  lumbung_string_free(NULL);
  lumbung_sync_free(NULL);
  lumbung_registration_free(NULL);
  lumbung_transport_free(NULL);
  lumbung_conflict_free(NULL);
  lumbung_conflict_list_free(NULL);
  lumbung_pending_list_free(NULL);
  lumbung_refused_list_free(NULL);
  lumbung_db_status_free(NULL);
  lumbung_db_config_free(NULL);
  lumbung_sync_config_free(NULL);
}

/* What a conflict callback saw. */
typedef struct conflict_seen {
  int count;
  int pending_review;
} conflict_seen;

static void on_conflict(void* userdata, const lumbung_conflict* conflict) {
  conflict_seen* seen = userdata;
  ++seen->count;
  if (strcmp(lumbung_conflict_outcome(conflict), "pending_review") == 0) ++seen->pending_review;
}

static lumbung_row* person(const char* id, const char* status) {
  lumbung_row* row = lumbung_row_new();
  lumbung_row_set_text(row, "id", id);
  lumbung_row_set_text(row, "village_id", kVillageA);
  lumbung_row_set_text(row, "full_name", "Warsih");
  lumbung_row_set_text(row, "migrant_status", status);
  lumbung_row_set_text(row, "created_by", "ani");
  lumbung_row_set_text(row, "created_at", "2026-11-29T08:00:00Z");
  return row;
}

/* The first conflict of `db` with `policy` (a copy of its id), or 0. */
static uint64_t find_conflict(lumbung_db* db, const char* policy, const char* server_text,
                              const char* device_text) {
  lumbung_error error = {0};
  lumbung_conflict_list* list = lumbung_db_conflicts(db, &error);
  CHECK_OK(list != NULL, error);
  uint64_t id = 0;
  for (size_t i = 0; list != NULL && i < lumbung_conflict_list_count(list); ++i) {
    const lumbung_conflict* conflict = lumbung_conflict_list_at(list, i);
    if (strcmp(lumbung_conflict_policy(conflict), policy) != 0) continue;
    id = lumbung_conflict_id(conflict);
    const char* server = lumbung_value_text(lumbung_conflict_server_value(conflict), NULL, &error);
    const char* device = lumbung_value_text(lumbung_conflict_device_value(conflict), NULL, &error);
    CHECK(server != NULL && strcmp(server, server_text) == 0);
    CHECK(device != NULL && strcmp(device, device_text) == 0);
    CHECK(strcmp(lumbung_conflict_table(conflict), "person") == 0);
    CHECK(strcmp(lumbung_conflict_row_id(conflict), "p1") == 0);
    CHECK(strcmp(lumbung_conflict_column(conflict), "migrant_status") == 0);
    CHECK(strcmp(lumbung_conflict_device_id(conflict), "budi") == 0);
    CHECK(strcmp(lumbung_conflict_server_device(conflict), "ani") == 0);
  }
  lumbung_conflict_list_free(list);
  return id;
}

/* Two officers edit one cell under manual review; the conflict reaches the
 * app and a supervisor resolves it for every device. */
static void test_conflicts(world* w) {
  if (!world_start(w)) {
    ++failures;
    return;
  }
  char* ani_token = issue(w, "ani", kVillageA, "officer");
  char* budi_token = issue(w, "budi", kVillageA, "officer");
  char* rina_token = issue(w, "rina", kVillageA, "supervisor");
  lumbung_db* ani = open_device(w, "ani", w->daemon.url, ani_token);
  lumbung_db* budi = open_device(w, "budi", w->daemon.url, budi_token);
  lumbung_db* rina = open_device(w, "rina", w->daemon.url, rina_token);
  lumbung_error error = {0};
  if (ani != NULL && budi != NULL && rina != NULL) {
    conflict_seen seen = {0, 0};
    lumbung_registration* registration = lumbung_db_on_conflict(budi, on_conflict, &seen, NULL);
    lumbung_row* row = person("p1", "CALON");
    CHECK_OK(lumbung_db_insert(ani, "person", row, &error), error);
    lumbung_row_free(row);
    lumbung_sync_summary summary;
    CHECK(sync_db(ani, NULL, &summary) && summary.pushed == 1 && summary.applied == 1);
    CHECK(sync_db(budi, NULL, &summary) && summary.pulled == 1);
    CHECK(update_text(ani, "person", "p1", "migrant_status", "AKTIF"));
    CHECK(update_text(budi, "person", "p1", "migrant_status", "PURNA"));
    CHECK(sync_db(ani, NULL, NULL));
    CHECK(sync_db(budi, NULL, &summary) && summary.conflicts >= 1);
    CHECK(seen.count >= 1 && seen.pending_review == 1);
    lumbung_registration_free(registration);
    CHECK(sync_db(rina, NULL, NULL));

    const uint64_t id = find_conflict(rina, "manual_review", "AKTIF", "PURNA");
    CHECK(id != 0);
    CHECK(lumbung_db_resolve_conflict(ani, id, LUMBUNG_RESOLVE_KEEP_SERVER, NULL, NULL, &error) ==
          NULL);
    CHECK(error.code == LUMBUNG_FORBIDDEN);
    CHECK(lumbung_db_resolve_conflict(rina, id, LUMBUNG_RESOLVE_VALUE, NULL, NULL, &error) == NULL);
    CHECK(error.code == LUMBUNG_INVALID_ARGUMENT);
    lumbung_value* chosen = lumbung_value_new_text("NON_PROSEDURAL");
    lumbung_conflict* resolved =
        lumbung_db_resolve_conflict(rina, id, LUMBUNG_RESOLVE_VALUE, chosen, NULL, &error);
    CHECK_OK(resolved != NULL, error);
    if (resolved != NULL) {
      CHECK(lumbung_conflict_id(resolved) == id);
      CHECK(strcmp(lumbung_conflict_outcome(resolved), "resolved_value") == 0);
      CHECK(strcmp(lumbung_conflict_resolved_by(resolved), "rina") == 0);
      const char* value =
          lumbung_value_text(lumbung_conflict_resolved_value(resolved), NULL, &error);
      CHECK(value != NULL && strcmp(value, "NON_PROSEDURAL") == 0);
      lumbung_conflict_free(resolved);
    }
    CHECK(lumbung_db_resolve_conflict(rina, id, LUMBUNG_RESOLVE_KEEP_SERVER, NULL, NULL, &error) ==
          NULL);
    CHECK(error.code == LUMBUNG_INVALID_ARGUMENT);
    lumbung_value_free(chosen);

    /* The resolution reaches every device with its next sync. */
    CHECK(sync_db(ani, NULL, NULL) && sync_db(budi, NULL, NULL));
    CHECK(cell_is(ani, "person", "p1", "migrant_status", "NON_PROSEDURAL"));
    CHECK(cell_is(budi, "person", "p1", "migrant_status", "NON_PROSEDURAL"));
    CHECK(seen.count >= 1); /* unregistered: budi's later syncs told it nothing */
  }
  lumbung_db_free(ani);
  lumbung_db_free(budi);
  lumbung_db_free(rina);
  free(ani_token);
  free(budi_token);
  free(rina_token);
}

/* Changes the server refuses are set aside, shown, and retried; a new token
 * lets them through. Bad URL and bad token fail clearly. */
static void test_refused(world* w) {
  if (!world_start(w)) {
    ++failures;
    return;
  }
  char* narrow = issue(w, "sri", kVillageA, "officer");
  char* wide = NULL;
  lumbung_db* sri = open_device(w, "sri", w->daemon.url, narrow);
  lumbung_error error = {0};
  if (sri != NULL) {
    CHECK(insert_household(sri, "h-a", kVillageA));
    CHECK(insert_household(sri, "h-b", kVillageB));
    lumbung_sync_summary summary;
    CHECK(sync_db(sri, NULL, &summary) && summary.refused == 1 && summary.applied == 1);
    lumbung_refused_list* refused = lumbung_db_refused(sri, &error);
    CHECK_OK(refused != NULL, error);
    if (refused != NULL) {
      CHECK(lumbung_refused_list_count(refused) == 1);
      CHECK(strcmp(lumbung_refused_list_row_id(refused, 0), "h-b") == 0);
      CHECK(strcmp(lumbung_refused_list_table(refused, 0), "household") == 0);
      CHECK(strcmp(lumbung_refused_list_reason(refused, 0), "out_of_scope") == 0);
      CHECK(strcmp(lumbung_refused_list_column(refused, 0), "") == 0);
      CHECK(strlen(lumbung_refused_list_message(refused, 0)) > 0);
      lumbung_refused_list_free(refused);
    }

    /* A bad token: the server's 401 comes back as its stable code. */
    lumbung_sync_config* config = lumbung_sync_config_new();
    lumbung_sync_config_set_token(config, "not-a-token");
    CHECK(!lumbung_db_sync(sri, config, NULL, &error));
    CHECK(error.code == LUMBUNG_TOKEN_MALFORMED && error.retry == LUMBUNG_RETRY_PERMANENT);
    lumbung_sync_config_free(config);

    /* The operator widens the grant (the token names villages: they are
     * added to the officer's grant on the server); retried, the change goes
     * through. */
    char villages[128];
    snprintf(villages, sizeof villages, "%s,%s", kVillageA, kVillageB);
    wide = issue(w, "sri", villages, "officer");
    CHECK_OK(lumbung_db_set_token(sri, wide, &error), error);
    CHECK_OK(lumbung_db_retry_refused(sri, &error), error);
    CHECK(sync_db(sri, NULL, &summary) && summary.refused == 0 && summary.applied == 1);
    lumbung_db_status* status = lumbung_db_get_status(sri, &error);
    CHECK_OK(status != NULL, error);
    if (status != NULL) {
      CHECK(lumbung_db_status_refused(status) == 0 && lumbung_db_status_pending(status) == 0);
      CHECK(lumbung_db_status_last_sync(status) != NULL);
      CHECK(strcmp(lumbung_db_status_server_url(status), w->daemon.url) == 0);
      lumbung_db_status_free(status);
    }
  }
  lumbung_db_free(sri);

  /* A malformed server URL, and a server that is not there. */
  lumbung_db* lost = open_device(w, "lost", "ftp://nowhere", narrow);
  if (lost != NULL) {
    CHECK(!lumbung_db_sync(lost, NULL, NULL, &error) && error.code == LUMBUNG_INVALID_ARGUMENT);
  }
  lumbung_db_free(lost);
  lumbung_db* offline = open_device(w, "offline", "http://127.0.0.1:1", narrow);
  if (offline != NULL) {
    lumbung_sync_config* once = lumbung_sync_config_new();
    lumbung_sync_config_set_max_attempts(once, 1);
    lumbung_sync_config_set_connect_timeout_ms(once, 2000);
    CHECK(!lumbung_db_sync(offline, once, NULL, &error) && error.code == LUMBUNG_NETWORK);
    CHECK(error.retry == LUMBUNG_RETRY_TRANSIENT);
    lumbung_sync_config_free(once);
  }
  lumbung_db_free(offline);
  free(narrow);
  free(wide);
}

/* What the background sync's callbacks saw; touched on the sync thread and
 * read after lumbung_sync_wait, which orders the two. */
typedef struct sync_news {
  int progress;
  lumbung_sync_phase_e last_phase;
  int changed_ids;
  int freed;
} sync_news;

static void on_progress(void* userdata, lumbung_sync_phase_e phase, int64_t changes,
                        int64_t bytes_sent, int64_t bytes_received) {
  sync_news* news = userdata;
  (void)changes;
  (void)bytes_sent;
  (void)bytes_received;
  ++news->progress;
  news->last_phase = phase;
}

static void on_changed_rows(void* userdata, const char* table, const char* const* ids,
                            size_t count) {
  sync_news* news = userdata;
  for (size_t i = 0; i < count; ++i) {
    if (strcmp(table, "household") == 0 && strncmp(ids[i], "bg-", 3) == 0) ++news->changed_ids;
  }
}

static void count_free(void* userdata) { ++((sync_news*)userdata)->freed; }

/* A transport that holds its first request until the test lets it go. */
typedef struct gate {
  socket_transport forward;
  pthread_mutex_t mu;
  pthread_cond_t changed;
  bool arrived;
  bool open;
  int freed;
} gate;

static void gated_exchange(void* userdata, const lumbung_http_request* request,
                           lumbung_http_response* response) {
  gate* g = userdata;
  pthread_mutex_lock(&g->mu);
  g->arrived = true;
  pthread_cond_broadcast(&g->changed);
  while (!g->open) pthread_cond_wait(&g->changed, &g->mu);
  pthread_mutex_unlock(&g->mu);
  socket_transport_exchange(&g->forward, request, response);
}

static void free_gate(void* userdata) { ++((gate*)userdata)->freed; }

/* Background syncs: callbacks on the sync thread while the app writes, then
 * a cancelled one; an app transport carries the requests. */
static void test_background(world* w) {
  if (!world_start(w)) {
    ++failures;
    return;
  }
  char* token_a = issue(w, "ani", kVillageA, "officer");
  char* token_b = issue(w, "budi", kVillageA, "officer");
  lumbung_db* ani = open_device(w, "ani", w->daemon.url, token_a);
  lumbung_db* budi = open_device(w, "budi", w->daemon.url, token_b);
  lumbung_error error = {0};
  if (ani != NULL && budi != NULL) {
    CHECK(insert_household(ani, "bg-1", kVillageA) && insert_household(ani, "bg-2", kVillageA));
    CHECK(sync_db(ani, NULL, NULL));

    sync_news news = {0, 0, 0, 0};
    lumbung_registration* progress = lumbung_db_on_progress(budi, on_progress, &news, count_free);
    lumbung_registration* changed =
        lumbung_db_on_changed_rows(budi, on_changed_rows, &news, count_free);
    lumbung_sync* sync = lumbung_db_sync_start(budi, NULL, &error);
    CHECK_OK(sync != NULL, error);
    CHECK(insert_household(budi, "written-meanwhile", kVillageA)); /* the app keeps writing */
    lumbung_sync_summary summary;
    CHECK_OK(lumbung_sync_wait(sync, &summary, &error), error);
    CHECK(lumbung_sync_is_done(sync));
    CHECK(summary.pulled >= 2); /* and budi's own write, if the sync took it */
    CHECK(news.progress >= 2 && news.last_phase == LUMBUNG_SYNC_DONE);
    CHECK(news.changed_ids == 2);
    CHECK(lumbung_sync_wait(sync, &summary, &error)); /* again: the same outcome */
    lumbung_sync_free(sync);
    lumbung_registration_free(progress);
    lumbung_registration_free(changed);
    CHECK(news.freed == 2);
    const int heard = news.progress;
    CHECK(sync_db(budi, NULL, NULL));
    CHECK(news.progress == heard); /* unregistered */

    /* Cancelled while its first request is in flight. */
    gate g = {.arrived = false, .open = false, .freed = 0};
    CHECK(socket_transport_init(&g.forward, w->daemon.url));
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.changed, NULL);
    lumbung_transport* transport = lumbung_transport_new(gated_exchange, &g, free_gate);
    lumbung_sync_config* config = lumbung_sync_config_new();
    lumbung_sync_config_set_transport(config, transport);
    lumbung_transport_free(transport); /* the config keeps it */
    CHECK(insert_household(budi, "bg-3", kVillageA));
    sync = lumbung_db_sync_start(budi, config, &error);
    lumbung_sync_config_free(config); /* the sync keeps it */
    CHECK_OK(sync != NULL, error);
    if (sync != NULL) {
      pthread_mutex_lock(&g.mu);
      while (!g.arrived) pthread_cond_wait(&g.changed, &g.mu);
      lumbung_sync_cancel(sync);
      g.open = true;
      pthread_cond_broadcast(&g.changed);
      pthread_mutex_unlock(&g.mu);
      CHECK(!lumbung_sync_wait(sync, NULL, &error) && error.code == LUMBUNG_CANCELLED);
      lumbung_sync_free(sync);
    }
    CHECK(g.freed == 1 && g.forward.exchanges == 1);
    pthread_cond_destroy(&g.changed);
    pthread_mutex_destroy(&g.mu);
    /* Nothing lost: the push the cancel cut short went through or goes now. */
    CHECK(sync_db(budi, NULL, NULL));
    CHECK(sync_db(ani, NULL, NULL));
    CHECK(cell_is(ani, "household", "bg-3", "created_by", "officer"));
  }
  lumbung_db_free(ani);
  lumbung_db_free(budi);
  free(token_a);
  free(token_b);
}

/* Every exchange through the app's own HTTP stack. */
static void test_transport(world* w) {
  if (!world_start(w)) {
    ++failures;
    return;
  }
  char* token = issue(w, "ani", kVillageA, "officer");
  /* No server URL in the file: the app's transport knows where to go. */
  lumbung_db* ani = open_device(w, "ani", NULL, token);
  lumbung_error error = {0};
  if (ani != NULL) {
    socket_transport forward;
    CHECK(socket_transport_init(&forward, w->daemon.url));
    lumbung_transport* transport = lumbung_transport_new(socket_transport_exchange, &forward, NULL);
    lumbung_sync_config* config = lumbung_sync_config_new();
    lumbung_sync_config_set_transport(config, transport);
    CHECK(insert_household(ani, "t-1", kVillageA));
    lumbung_sync_summary summary;
    CHECK(sync_db(ani, config, &summary) && summary.applied == 1);
    CHECK(forward.exchanges >= 2); /* a push and a pull */

    /* The app's failures come back as the sync's error. */
    forward.port = 1;
    lumbung_sync_config_set_max_attempts(config, 2);
    lumbung_sync_config_set_backoff_ms(config, 1, 1);
    CHECK(insert_household(ani, "t-2", kVillageA));
    CHECK(!lumbung_db_sync(ani, config, NULL, &error) && error.code == LUMBUNG_NETWORK);
    CHECK(strstr(error.message, "cannot connect") != NULL);
    lumbung_transport_free(transport);
    lumbung_sync_config_free(config);
  }
  lumbung_db_free(ani);
  free(token);
}

/* The example app registers a household on a phone and syncs it. */
static void test_example(world* w) {
  if (w->example == NULL || !world_start(w)) {
    ++failures;
    return;
  }
  char* token = issue(w, "sri", kVillageA, "officer");
  char path[1200];
  snprintf(path, sizeof path, "%s/phone.db", w->dir);
  char* argv[] = {(char*)w->example, path, w->daemon.url, token, (char*)kVillageA, NULL};
  CHECK(token != NULL && run_program(argv) == 0);
  char* office_token = issue(w, "office", kVillageA, "supervisor");
  lumbung_db* office = open_device(w, "office", w->daemon.url, office_token);
  lumbung_error error = {0};
  if (office != NULL && sync_db(office, NULL, NULL)) {
    lumbung_rows* rows = lumbung_db_query(
        office, "SELECT p.full_name FROM person p JOIN household h ON p.household_id = h.id", NULL,
        0, &error);
    CHECK_OK(rows != NULL, error);
    CHECK(rows != NULL && lumbung_rows_count(rows) == 2);
    lumbung_rows_free(rows);
  }
  lumbung_db_free(office);
  free(office_token);
  free(token);
}

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr,
            "usage: c_api_test local|conflicts|refused|background|transport|example LUMBUNGD "
            "[HOUSEHOLD_APP]\n");
    return 2;
  }
  world w = {.lumbungd = argv[2],
             .example = argc == 4 ? argv[3] : NULL,
             .dir = temp_dir_new(),
             .running = false};
  if (w.dir == NULL) return 2;
  const struct {
    const char* name;
    void (*run)(world*);
  } cases[] = {{"local", test_local},         {"conflicts", test_conflicts},
               {"refused", test_refused},     {"background", test_background},
               {"transport", test_transport}, {"example", test_example}};
  bool known = false;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    if (strcmp(argv[1], cases[i].name) == 0) {
      known = true;
      cases[i].run(&w);
    }
  }
  if (w.running) daemon_stop(&w.daemon);
  temp_dir_remove(w.dir);
  free(w.dir);
  if (!known) fprintf(stderr, "unknown case '%s'\n", argv[1]);
  return known && failures == 0 ? 0 : 1;
}
