/* id.lumbung.Native's replica calls: open, write, read, status, changes,
 * conflicts. Each converts its arguments, calls the C API, and converts the
 * result or throws its error. */
#include <stdlib.h>

#include "jni_support.h"

#define NATIVE(name) JNICALL Java_id_lumbung_Native_##name

JNIEXPORT jstring NATIVE(version)(JNIEnv* env, jclass cls) {
  (void)cls;
  return jni_string(env, lumbung_version());
}

JNIEXPORT jboolean NATIVE(encryptionAvailable)(JNIEnv* env, jclass cls) {
  (void)env;
  (void)cls;
  return lumbung_encryption_available();
}

/* A string argument as UTF-8 for a setter, set only when given. */
#define SET_STRING(setter, config, jstr)    \
  do {                                      \
    char* utf8 = jni_utf8(env, jstr);       \
    if (utf8 != NULL) setter(config, utf8); \
    free(utf8);                             \
  } while (0)

JNIEXPORT jlong NATIVE(dbOpen)(JNIEnv* env, jclass cls, jstring path, jstring schema_json,
                               jstring schema_name, jbyteArray key, jstring device_id,
                               jstring server_url, jstring token, jstring tls_ca_file,
                               jobjectArray pinned_keys) {
  (void)cls;
  if (path == NULL) {
    jni_throw_invalid(env, "a path is required");
    return 0;
  }
  lumbung_db_config* config = lumbung_db_config_new();
  SET_STRING(lumbung_db_config_set_path, config, path);
  SET_STRING(lumbung_db_config_set_device_id, config, device_id);
  SET_STRING(lumbung_db_config_set_server_url, config, server_url);
  SET_STRING(lumbung_db_config_set_token, config, token);
  SET_STRING(lumbung_db_config_set_tls_ca_file, config, tls_ca_file);
  char* json = jni_utf8(env, schema_json);
  char* name = jni_utf8(env, schema_name);
  if (json != NULL) lumbung_db_config_set_schema(config, json, name != NULL ? name : "schema");
  free(json);
  free(name);
  if (key != NULL) {
    const jsize size = (*env)->GetArrayLength(env, key);
    jbyte* bytes = (*env)->GetByteArrayElements(env, key, NULL);
    if (bytes != NULL) {
      lumbung_db_config_set_key(config, bytes, (size_t)size);
      (*env)->ReleaseByteArrayElements(env, key, bytes, JNI_ABORT);
    }
  }
  const jsize pins = (*env)->GetArrayLength(env, pinned_keys);
  for (jsize i = 0; i < pins && !(*env)->ExceptionCheck(env); ++i) {
    jstring pin = (*env)->GetObjectArrayElement(env, pinned_keys, i);
    SET_STRING(lumbung_db_config_add_tls_pinned_key, config, pin);
    (*env)->DeleteLocalRef(env, pin);
  }
  lumbung_db* db = NULL;
  if (!(*env)->ExceptionCheck(env)) {
    lumbung_error error;
    db = lumbung_db_open(config, &error);
    if (db == NULL) jni_throw(env, &error);
  }
  lumbung_db_config_free(config);
  return JNI_HANDLE(db);
}

JNIEXPORT void NATIVE(dbFree)(JNIEnv* env, jclass cls, jlong db) {
  (void)env;
  (void)cls;
  lumbung_db_free(JNI_PTR(lumbung_db, db));
}

/* The kinds of row write, sharing their argument handling. */
typedef enum write_kind { WRITE_INSERT, WRITE_INSERT_NEW, WRITE_UPDATE, WRITE_PUT } write_kind;

static jstring write_row(JNIEnv* env, jlong db, write_kind kind, jstring jtable, jstring jid,
                         jobjectArray columns, jobjectArray values) {
  char* table = jni_utf8_required(env, jtable, "a table is required");
  const bool needs_id = kind == WRITE_UPDATE || kind == WRITE_PUT;
  char* id = table != NULL && needs_id ? jni_utf8_required(env, jid, "an id is required") : NULL;
  lumbung_row* row = !(*env)->ExceptionCheck(env) ? jni_to_row(env, columns, values) : NULL;
  jstring new_id = NULL;
  if (row != NULL) {
    lumbung_error error;
    bool written = false;
    lumbung_db* handle = JNI_PTR(lumbung_db, db);
    switch (kind) {
      case WRITE_INSERT:
        written = lumbung_db_insert(handle, table, row, &error);
        break;
      case WRITE_INSERT_NEW: {
        char* made = lumbung_db_insert_new(handle, table, row, &error);
        written = made != NULL;
        new_id = jni_string(env, made);
        lumbung_string_free(made);
        break;
      }
      case WRITE_UPDATE:
        written = lumbung_db_update(handle, table, id, row, &error);
        break;
      case WRITE_PUT:
        written = lumbung_db_put(handle, table, id, row, &error);
        break;
    }
    if (!written && !(*env)->ExceptionCheck(env)) jni_throw(env, &error);
  }
  lumbung_row_free(row);
  free(table);
  free(id);
  return new_id;
}

JNIEXPORT void NATIVE(insert)(JNIEnv* env, jclass cls, jlong db, jstring table,
                              jobjectArray columns, jobjectArray values) {
  (void)cls;
  write_row(env, db, WRITE_INSERT, table, NULL, columns, values);
}

JNIEXPORT jstring NATIVE(insertNew)(JNIEnv* env, jclass cls, jlong db, jstring table,
                                    jobjectArray columns, jobjectArray values) {
  (void)cls;
  return write_row(env, db, WRITE_INSERT_NEW, table, NULL, columns, values);
}

JNIEXPORT void NATIVE(update)(JNIEnv* env, jclass cls, jlong db, jstring table, jstring id,
                              jobjectArray columns, jobjectArray values) {
  (void)cls;
  write_row(env, db, WRITE_UPDATE, table, id, columns, values);
}

JNIEXPORT void NATIVE(put)(JNIEnv* env, jclass cls, jlong db, jstring table, jstring id,
                           jobjectArray columns, jobjectArray values) {
  (void)cls;
  write_row(env, db, WRITE_PUT, table, id, columns, values);
}

JNIEXPORT void NATIVE(delete)(JNIEnv* env, jclass cls, jlong db, jstring jtable, jstring jid) {
  (void)cls;
  char* table = jni_utf8_required(env, jtable, "a table is required");
  char* id = table != NULL ? jni_utf8_required(env, jid, "an id is required") : NULL;
  lumbung_error error;
  if (id != NULL && !lumbung_db_delete(JNI_PTR(lumbung_db, db), table, id, &error)) {
    jni_throw(env, &error);
  }
  free(table);
  free(id);
}

JNIEXPORT jobjectArray NATIVE(get)(JNIEnv* env, jclass cls, jlong db, jstring jtable, jstring jid) {
  (void)cls;
  char* table = jni_utf8_required(env, jtable, "a table is required");
  char* id = table != NULL ? jni_utf8_required(env, jid, "an id is required") : NULL;
  jobjectArray result = NULL;
  if (id != NULL) {
    lumbung_error error;
    lumbung_row* row = lumbung_db_get(JNI_PTR(lumbung_db, db), table, id, &error);
    if (row == NULL) {
      jni_throw(env, &error);
    } else {
      result = jni_from_row(env, row);
      lumbung_row_free(row);
    }
  }
  free(table);
  free(id);
  return result;
}

JNIEXPORT jobjectArray NATIVE(query)(JNIEnv* env, jclass cls, jlong db, jstring jsql,
                                     jobjectArray jparams) {
  (void)cls;
  char* sql = jni_utf8_required(env, jsql, "the SQL is required");
  if (sql == NULL) return NULL;
  const jsize count = (*env)->GetArrayLength(env, jparams);
  lumbung_value** params = calloc((size_t)count + 1, sizeof *params);
  jsize made = 0;
  while (params != NULL && made < count) {
    jobject param = (*env)->GetObjectArrayElement(env, jparams, made);
    params[made] = jni_to_value(env, param);
    (*env)->DeleteLocalRef(env, param);
    if (params[made] == NULL) break;
    ++made;
  }
  jobjectArray result = NULL;
  if (params != NULL && made == count) {
    lumbung_error error;
    lumbung_rows* rows = lumbung_db_query(
        JNI_PTR(lumbung_db, db), sql, (const lumbung_value* const*)params, (size_t)count, &error);
    if (rows == NULL) {
      jni_throw(env, &error);
    } else {
      const jsize n = (jsize)lumbung_rows_count(rows);
      result = (*env)->NewObjectArray(env, n, jni.object_array, NULL);
      for (jsize i = 0; result != NULL && i < n && !(*env)->ExceptionCheck(env); ++i) {
        jobjectArray row = jni_from_row(env, lumbung_rows_at(rows, (size_t)i));
        (*env)->SetObjectArrayElement(env, result, i, row);
        (*env)->DeleteLocalRef(env, row);
      }
      lumbung_rows_free(rows);
    }
  }
  for (jsize i = 0; params != NULL && i < made; ++i) lumbung_value_free(params[i]);
  free(params);
  free(sql);
  return result;
}

/* An Object[] of `count` local references, which it deletes. */
static jobjectArray object_array(JNIEnv* env, jobject* items, jsize count) {
  jobjectArray array = (*env)->NewObjectArray(env, count, jni.object, NULL);
  for (jsize i = 0; i < count; ++i) {
    if (array != NULL) (*env)->SetObjectArrayElement(env, array, i, items[i]);
    (*env)->DeleteLocalRef(env, items[i]);
  }
  return array;
}

JNIEXPORT jobjectArray NATIVE(status)(JNIEnv* env, jclass cls, jlong db) {
  (void)cls;
  lumbung_error error;
  lumbung_db_status* status = lumbung_db_get_status(JNI_PTR(lumbung_db, db), &error);
  if (status == NULL) {
    jni_throw(env, &error);
    return NULL;
  }
  jobject fields[6] = {
      jni_box_long(env, lumbung_db_status_pending(status)),
      jni_box_long(env, lumbung_db_status_refused(status)),
      jni_string(env, lumbung_db_status_last_sync(status)),
      jni_string(env, lumbung_db_status_device_id(status)),
      jni_string(env, lumbung_db_status_server_url(status)),
      jni_box_int(env, lumbung_db_status_schema_version(status)),
  };
  lumbung_db_status_free(status);
  return object_array(env, fields, 6);
}

JNIEXPORT void NATIVE(setToken)(JNIEnv* env, jclass cls, jlong db, jstring jtoken) {
  (void)cls;
  char* token = jni_utf8_required(env, jtoken, "a token is required");
  lumbung_error error;
  if (token != NULL && !lumbung_db_set_token(JNI_PTR(lumbung_db, db), token, &error)) {
    jni_throw(env, &error);
  }
  free(token);
}

JNIEXPORT jobjectArray NATIVE(pending)(JNIEnv* env, jclass cls, jlong db) {
  (void)cls;
  lumbung_error error;
  lumbung_pending_list* list = lumbung_db_pending(JNI_PTR(lumbung_db, db), &error);
  if (list == NULL) {
    jni_throw(env, &error);
    return NULL;
  }
  const jsize count = (jsize)lumbung_pending_list_count(list);
  jobjectArray result = (*env)->NewObjectArray(env, count, jni.object_array, NULL);
  for (jsize i = 0; result != NULL && i < count && !(*env)->ExceptionCheck(env); ++i) {
    jobject fields[4] = {
        jni_string(env, lumbung_pending_list_table(list, (size_t)i)),
        jni_string(env, lumbung_pending_list_row_id(list, (size_t)i)),
        jni_string(env, lumbung_pending_list_column(list, (size_t)i)),
        jni_box_int(env, (int)lumbung_pending_list_kind(list, (size_t)i)),
    };
    jobjectArray change = object_array(env, fields, 4);
    (*env)->SetObjectArrayElement(env, result, i, change);
    (*env)->DeleteLocalRef(env, change);
  }
  lumbung_pending_list_free(list);
  return result;
}

JNIEXPORT jobjectArray NATIVE(refused)(JNIEnv* env, jclass cls, jlong db) {
  (void)cls;
  lumbung_error error;
  lumbung_refused_list* list = lumbung_db_refused(JNI_PTR(lumbung_db, db), &error);
  if (list == NULL) {
    jni_throw(env, &error);
    return NULL;
  }
  const jsize count = (jsize)lumbung_refused_list_count(list);
  jobjectArray result = (*env)->NewObjectArray(env, count, jni.object_array, NULL);
  for (jsize i = 0; result != NULL && i < count && !(*env)->ExceptionCheck(env); ++i) {
    jobject fields[5] = {
        jni_string(env, lumbung_refused_list_table(list, (size_t)i)),
        jni_string(env, lumbung_refused_list_row_id(list, (size_t)i)),
        jni_string(env, lumbung_refused_list_column(list, (size_t)i)),
        jni_string(env, lumbung_refused_list_reason(list, (size_t)i)),
        jni_string(env, lumbung_refused_list_message(list, (size_t)i)),
    };
    jobjectArray change = object_array(env, fields, 5);
    (*env)->SetObjectArrayElement(env, result, i, change);
    (*env)->DeleteLocalRef(env, change);
  }
  lumbung_refused_list_free(list);
  return result;
}

JNIEXPORT void NATIVE(retryRefused)(JNIEnv* env, jclass cls, jlong db) {
  (void)cls;
  lumbung_error error;
  if (!lumbung_db_retry_refused(JNI_PTR(lumbung_db, db), &error)) jni_throw(env, &error);
}

JNIEXPORT jobjectArray NATIVE(conflicts)(JNIEnv* env, jclass cls, jlong db) {
  (void)cls;
  lumbung_error error;
  lumbung_conflict_list* list = lumbung_db_conflicts(JNI_PTR(lumbung_db, db), &error);
  if (list == NULL) {
    jni_throw(env, &error);
    return NULL;
  }
  const jsize count = (jsize)lumbung_conflict_list_count(list);
  jobjectArray result = (*env)->NewObjectArray(env, count, jni.object_array, NULL);
  for (jsize i = 0; result != NULL && i < count && !(*env)->ExceptionCheck(env); ++i) {
    jobjectArray fields = jni_conflict_fields(env, lumbung_conflict_list_at(list, (size_t)i));
    (*env)->SetObjectArrayElement(env, result, i, fields);
    (*env)->DeleteLocalRef(env, fields);
  }
  lumbung_conflict_list_free(list);
  return result;
}

JNIEXPORT jobjectArray NATIVE(resolveConflict)(JNIEnv* env, jclass cls, jlong db, jlong id,
                                               jint resolution, jobject jvalue, jlong config) {
  (void)cls;
  lumbung_value* value = NULL;
  if (resolution == LUMBUNG_RESOLVE_VALUE) {
    value = jni_to_value(env, jvalue);
    if (value == NULL) return NULL;
  }
  lumbung_error error;
  lumbung_conflict* resolved = lumbung_db_resolve_conflict(
      JNI_PTR(lumbung_db, db), (uint64_t)id, (lumbung_resolution_e)resolution, value,
      JNI_PTR(lumbung_sync_config, config), &error);
  lumbung_value_free(value);
  if (resolved == NULL) {
    jni_throw(env, &error);
    return NULL;
  }
  jobjectArray fields = jni_conflict_fields(env, resolved);
  lumbung_conflict_free(resolved);
  return fields;
}
