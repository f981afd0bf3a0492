/* An app's use of the installed C API: create a replica, write a row, read it
 * back. Built by tests/install/install_test.sh against an installed prefix,
 * once through find_package(lumbung) and once through pkg-config. */
#include <lumbung.h>
#include <stdio.h>
#include <string.h>

#define VILLAGE "0190f1c2-7a00-7000-8000-000000000001"

static int fail(const char* what, const lumbung_error* error) {
  fprintf(stderr, "%s: %s (%s)\n", what, error->message, lumbung_code_name(error->code));
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s REPLICA_PATH\n", argv[0]);
    return 2;
  }
  if (lumbung_api_version() != LUMBUNG_API_VERSION) {
    fprintf(stderr, "header API %d, library API %d\n", LUMBUNG_API_VERSION, lumbung_api_version());
    return 1;
  }
  lumbung_error error;
  lumbung_db_config* config = lumbung_db_config_new();
  lumbung_db_config_set_path(config, argv[1]);
  lumbung_db* db = lumbung_db_open(config, &error);
  lumbung_db_config_free(config);
  if (db == NULL) return fail("open", &error);

  lumbung_row* row = lumbung_row_new();
  lumbung_row_set_text(row, "id", VILLAGE);
  lumbung_row_set_text(row, "village_id", VILLAGE);
  lumbung_row_set_text(row, "kode_wilayah", "3212140007");
  lumbung_row_set_text(row, "name", "Juntinyuat");
  lumbung_row_set_text(row, "kecamatan", "Juntinyuat");
  lumbung_row_set_text(row, "kabupaten", "Indramayu");
  lumbung_row_set_text(row, "provinsi", "Jawa Barat");
  lumbung_row_set_integer(row, "cohort_year", 2017);
  const bool inserted = lumbung_db_insert(db, "village", row, &error);
  lumbung_row_free(row);
  if (!inserted) return fail("insert", &error);

  lumbung_row* read = lumbung_db_get(db, "village", VILLAGE, &error);
  if (read == NULL) return fail("get", &error);
  const lumbung_value* name = lumbung_row_get(read, "name", &error);
  const char* text = name == NULL ? NULL : lumbung_value_text(name, NULL, &error);
  if (text == NULL) return fail("name", &error);
  printf("lumbung %s: village %s\n", lumbung_version(), text);
  lumbung_row_free(read);
  lumbung_db_free(db);
  return 0;
}
