/* Desmigratif on a phone, in C: what an Android (JNI) or iOS (Swift) app does
 * through Lumbung's C API, in the order it does it.
 *
 *   household_app REPLICA_PATH SERVER_URL TOKEN VILLAGE_ID
 *
 * Opens the officer's replica, registers a household and its members while
 * offline, syncs in the background with progress shown as it goes, then
 * lists the conflicts a supervisor has to look at. Exit 0 when all went well.
 *
 * The rules this follows (docs/bindings/c.md): every handle is freed by its
 * own free function; an error is read only when a call returned false/NULL;
 * callbacks run on the sync's thread, so they only note what happened (a real
 * app posts it to its UI thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lumbung.h"

static const char kNow[] = "2026-11-29T08:00:00Z";

static void report(const char* what, const lumbung_error* error) {
  fprintf(stderr, "%s failed: %s (%s)%s\n", what, error->message, lumbung_code_name(error->code),
          error->retry == LUMBUNG_RETRY_TRANSIENT ? "; try again later" : "");
}

/* The sync thread's news. A UI would post it to the main thread instead. */
static void show_progress(void* userdata, lumbung_sync_phase_e phase, int64_t changes,
                          int64_t bytes_sent, int64_t bytes_received) {
  static const char* const kPhases[] = {"", "sending", "receiving", "done"};
  (void)userdata;
  printf("  sync %s: %lld changes, %lld bytes out, %lld bytes in\n", kPhases[phase],
         (long long)changes, (long long)bytes_sent, (long long)bytes_received);
}

static void refresh_rows(void* userdata, const char* table, const char* const* ids, size_t count) {
  (void)userdata;
  (void)ids;
  printf("  %zu %s row(s) changed: refresh their screens\n", count, table);
}

/* Writes one member of the household; returns false on failure. */
static bool add_member(lumbung_db* db, const char* village, const char* household_id,
                       const char* name, const char* relation, const char* migrant_status) {
  lumbung_row* row = lumbung_row_new();
  lumbung_row_set_text(row, "village_id", village);
  lumbung_row_set_text(row, "household_id", household_id);
  lumbung_row_set_text(row, "full_name", name);
  lumbung_row_set_text(row, "relation", relation);
  if (migrant_status != NULL) lumbung_row_set_text(row, "migrant_status", migrant_status);
  lumbung_row_set_text(row, "created_by", "sri.wahyuni");
  lumbung_row_set_text(row, "created_at", kNow);
  lumbung_error error;
  char* id = lumbung_db_insert_new(db, "person", row, &error);
  lumbung_row_free(row);
  if (id == NULL) {
    report("adding a member", &error);
    return false;
  }
  printf("  member %s (%s): %s\n", name, relation, id);
  lumbung_string_free(id);
  return true;
}

/* Registers a household and its members; each write is kept for the next sync. */
static bool register_household(lumbung_db* db, const char* village) {
  lumbung_row* row = lumbung_row_new();
  lumbung_row_set_text(row, "village_id", village);
  lumbung_row_set_text(row, "head_name", "Sumarni");
  lumbung_row_set_text(row, "dusun", "Krajan");
  lumbung_row_set_real(row, "latitude", -8.1762);
  lumbung_row_set_real(row, "longitude", 113.6951);
  lumbung_row_set_text(row, "created_by", "sri.wahyuni");
  lumbung_row_set_text(row, "created_at", kNow);
  lumbung_error error;
  char* household_id = lumbung_db_insert_new(db, "household", row, &error);
  lumbung_row_free(row);
  if (household_id == NULL) {
    report("registering the household", &error);
    return false;
  }
  printf("household %s\n", household_id);
  const bool members = add_member(db, village, household_id, "Sumarni", "KEPALA", NULL) &&
                       add_member(db, village, household_id, "Warsih", "ANAK", "CALON");
  lumbung_string_free(household_id);
  return members;
}

/* Syncs in the background, as an app does so its UI stays responsive. */
static bool sync_in_background(lumbung_db* db) {
  lumbung_registration* progress = lumbung_db_on_progress(db, show_progress, NULL, NULL);
  lumbung_registration* changed = lumbung_db_on_changed_rows(db, refresh_rows, NULL, NULL);
  lumbung_error error;
  lumbung_sync* sync = lumbung_db_sync_start(db, NULL, &error);
  bool synced = sync != NULL;
  if (sync == NULL) report("starting the sync", &error);
  /* ... the app goes on; a Cancel button would call lumbung_sync_cancel ... */
  lumbung_sync_summary summary;
  if (sync != NULL) {
    synced = lumbung_sync_wait(sync, &summary, &error);
    if (synced) {
      printf("synced: %lld sent, %lld refused, %lld received, %lld conflicts\n",
             (long long)summary.pushed, (long long)summary.refused, (long long)summary.pulled,
             (long long)summary.conflicts);
    } else {
      report("the sync", &error);
    }
  }
  lumbung_sync_free(sync);
  lumbung_registration_free(progress);
  lumbung_registration_free(changed);
  return synced;
}

static void show_value(const char* label, const lumbung_value* value) {
  const char* text = lumbung_value_text(value, NULL, NULL);
  printf("    %s: %s\n", label, text != NULL ? text : "(not text)");
}

/* Lists what waits for a person: conflicts under review, refused changes. */
static bool show_conflicts(lumbung_db* db) {
  lumbung_error error;
  lumbung_conflict_list* conflicts = lumbung_db_conflicts(db, &error);
  if (conflicts == NULL) {
    report("reading the conflicts", &error);
    return false;
  }
  printf("%zu conflict(s)\n", lumbung_conflict_list_count(conflicts));
  for (size_t i = 0; i < lumbung_conflict_list_count(conflicts); ++i) {
    const lumbung_conflict* conflict = lumbung_conflict_list_at(conflicts, i);
    printf("  #%llu %s/%s.%s: %s (%s)\n", (unsigned long long)lumbung_conflict_id(conflict),
           lumbung_conflict_table(conflict), lumbung_conflict_row_id(conflict),
           lumbung_conflict_column(conflict), lumbung_conflict_outcome(conflict),
           lumbung_conflict_policy(conflict));
    show_value("on the server", lumbung_conflict_server_value(conflict));
    show_value("from the device", lumbung_conflict_device_value(conflict));
  }
  lumbung_conflict_list_free(conflicts);
  lumbung_refused_list* refused = lumbung_db_refused(db, &error);
  if (refused == NULL) {
    report("reading the refused changes", &error);
    return false;
  }
  for (size_t i = 0; i < lumbung_refused_list_count(refused); ++i) {
    printf("  refused: %s/%s: %s\n", lumbung_refused_list_table(refused, i),
           lumbung_refused_list_row_id(refused, i), lumbung_refused_list_message(refused, i));
  }
  lumbung_refused_list_free(refused);
  return true;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s REPLICA_PATH SERVER_URL TOKEN VILLAGE_ID\n", argv[0]);
    return 2;
  }
  printf("Lumbung %s (C API %d)\n", lumbung_version(), lumbung_api_version());
  lumbung_db_config* config = lumbung_db_config_new();
  lumbung_db_config_set_path(config, argv[1]);
  lumbung_db_config_set_server_url(config, argv[2]);
  lumbung_db_config_set_token(config, argv[3]);
  lumbung_error error;
  lumbung_db* db = lumbung_db_open(config, &error);
  lumbung_db_config_free(config);
  if (db == NULL) {
    report("opening the replica", &error);
    return 1;
  }
  const bool ok = register_household(db, argv[4]) && sync_in_background(db) && show_conflicts(db);
  lumbung_db_free(db);
  return ok ? 0 : 1;
}
