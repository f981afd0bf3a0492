/* id.lumbung.Native's sync calls: sync configurations with the app's Java
 * Transport, background syncs, and listeners. The C API calls back on its
 * sync thread, which jni_env() attaches to the JVM; every Java call made
 * there goes to a bridge (ListenerBridge, TransportBridge) that catches the
 * app's exceptions, and any left (out of memory) is cleared here: no Java
 * exception crosses into C. Each callback holds one global reference, deleted
 * by the free_userdata the C API runs after the last call. */
#include <stdlib.h>
#include <string.h>

#include "jni_support.h"

#define NATIVE(name) JNICALL Java_id_lumbung_Native_##name

static jobject new_global(JNIEnv* env, jobject object) { return (*env)->NewGlobalRef(env, object); }

static void delete_global(void* userdata) {
  JNIEnv* env = jni_env();
  if (env != NULL) (*env)->DeleteGlobalRef(env, (jobject)userdata);
}

/* Clears what a Java call left pending: C must not return with it. */
static bool failed(JNIEnv* env) {
  if (!(*env)->ExceptionCheck(env)) return false;
  (*env)->ExceptionClear(env);
  return true;
}

/* ------------------------------------------------------------ transport */

static jobjectArray request_headers(JNIEnv* env, const lumbung_http_request* request) {
  const size_t count = lumbung_http_request_header_count(request);
  jobjectArray headers = (*env)->NewObjectArray(env, (jsize)(2 * count), jni.string, NULL);
  for (size_t i = 0; headers != NULL && i < count; ++i) {
    jstring name = jni_string(env, lumbung_http_request_header_name(request, i));
    jstring value = jni_string(env, lumbung_http_request_header_value(request, i));
    (*env)->SetObjectArrayElement(env, headers, (jsize)(2 * i), name);
    (*env)->SetObjectArrayElement(env, headers, (jsize)(2 * i + 1), value);
    (*env)->DeleteLocalRef(env, name);
    (*env)->DeleteLocalRef(env, value);
  }
  return headers;
}

/* Fills `response` from TransportBridge.exchange's answer. */
static void fill_response(JNIEnv* env, jobjectArray answer, lumbung_http_response* response) {
  jobject first = (*env)->GetObjectArrayElement(env, answer, 0);
  const jint number = (*env)->CallIntMethod(env, first, jni.integer_value);
  (*env)->DeleteLocalRef(env, first);
  if ((*env)->ExceptionCheck(env)) return;
  if (number < 0) {
    jstring jmessage = (*env)->GetObjectArrayElement(env, answer, 1);
    char* message = jni_utf8(env, jmessage);
    lumbung_http_response_fail(response, (lumbung_code_e)-number,
                               message != NULL ? message : "the transport failed");
    free(message);
    (*env)->DeleteLocalRef(env, jmessage);
    return;
  }
  lumbung_http_response_set_status(response, number);
  jobjectArray headers = (*env)->GetObjectArrayElement(env, answer, 1);
  const jsize count = (*env)->GetArrayLength(env, headers);
  for (jsize i = 0; i + 1 < count; i += 2) {
    jstring jname = (*env)->GetObjectArrayElement(env, headers, i);
    jstring jvalue = (*env)->GetObjectArrayElement(env, headers, i + 1);
    char* name = jni_utf8(env, jname);
    char* value = name != NULL ? jni_utf8(env, jvalue) : NULL;
    if (value != NULL) lumbung_http_response_add_header(response, name, value);
    free(name);
    free(value);
    (*env)->DeleteLocalRef(env, jname);
    (*env)->DeleteLocalRef(env, jvalue);
  }
  (*env)->DeleteLocalRef(env, headers);
  jbyteArray body = (*env)->GetObjectArrayElement(env, answer, 2);
  const jsize size = (*env)->GetArrayLength(env, body);
  jbyte* bytes = (*env)->GetByteArrayElements(env, body, NULL);
  if (bytes != NULL) {
    lumbung_http_response_set_body(response, bytes, (size_t)size);
    (*env)->ReleaseByteArrayElements(env, body, bytes, JNI_ABORT);
  }
  (*env)->DeleteLocalRef(env, body);
}

/* Runs on the sync's thread. */
static void java_exchange(void* userdata, const lumbung_http_request* request,
                          lumbung_http_response* response) {
  JNIEnv* env = jni_env();
  if (env == NULL) {
    lumbung_http_response_fail(response, LUMBUNG_NETWORK, "cannot attach the thread to the JVM");
    return;
  }
  if ((*env)->PushLocalFrame(env, 16) != 0) {
    failed(env);
    lumbung_http_response_fail(response, LUMBUNG_NETWORK, "out of memory");
    return;
  }
  size_t size = 0;
  const void* data = lumbung_http_request_body(request, &size);
  jstring method = jni_string(env, lumbung_http_request_method(request));
  jstring path = jni_string(env, lumbung_http_request_path(request));
  jobjectArray headers = request_headers(env, request);
  jbyteArray body = (*env)->NewByteArray(env, (jsize)size);
  if (body != NULL) (*env)->SetByteArrayRegion(env, body, 0, (jsize)size, data);
  jobjectArray answer = NULL;
  if (!(*env)->ExceptionCheck(env)) {
    answer = (*env)->CallObjectMethod(env, (jobject)userdata, jni.transport_exchange, method, path,
                                      headers, body);
  }
  if (answer != NULL && !(*env)->ExceptionCheck(env)) fill_response(env, answer, response);
  if (failed(env)) lumbung_http_response_fail(response, LUMBUNG_NETWORK, "the transport failed");
  (*env)->PopLocalFrame(env, NULL);
}

/* ---------------------------------------------------------- sync config */

JNIEXPORT jlong NATIVE(syncConfigNew)(JNIEnv* env, jclass cls, jobject transport, jstring jtoken,
                                      jlong connect_ms, jlong request_ms, jint max_attempts,
                                      jlong backoff_initial_ms, jlong backoff_max_ms,
                                      jint push_batch, jint wait_seconds) {
  (void)cls;
  char* token = jni_utf8(env, jtoken);
  if (jtoken != NULL && token == NULL) return 0;
  lumbung_sync_config* config = lumbung_sync_config_new();
  if (token != NULL) lumbung_sync_config_set_token(config, token);
  free(token);
  if (transport != NULL) {
    lumbung_transport* native =
        lumbung_transport_new(java_exchange, new_global(env, transport), delete_global);
    lumbung_sync_config_set_transport(config, native);
    lumbung_transport_free(native); /* the config keeps it alive */
  }
  if (connect_ms >= 0) lumbung_sync_config_set_connect_timeout_ms(config, connect_ms);
  if (request_ms >= 0) lumbung_sync_config_set_request_timeout_ms(config, request_ms);
  if (max_attempts >= 0) lumbung_sync_config_set_max_attempts(config, max_attempts);
  if (backoff_initial_ms >= 0 && backoff_max_ms >= 0) {
    lumbung_sync_config_set_backoff_ms(config, backoff_initial_ms, backoff_max_ms);
  }
  if (push_batch >= 0) lumbung_sync_config_set_push_batch(config, push_batch);
  if (wait_seconds >= 0) lumbung_sync_config_set_wait_seconds(config, (uint32_t)wait_seconds);
  return JNI_HANDLE(config);
}

JNIEXPORT void NATIVE(syncConfigFree)(JNIEnv* env, jclass cls, jlong config) {
  (void)env;
  (void)cls;
  lumbung_sync_config_free(JNI_PTR(lumbung_sync_config, config));
}

/* ----------------------------------------------------- background syncs */

JNIEXPORT jlong NATIVE(syncStart)(JNIEnv* env, jclass cls, jlong db, jlong config) {
  (void)cls;
  lumbung_error error;
  lumbung_sync* sync =
      lumbung_db_sync_start(JNI_PTR(lumbung_db, db), JNI_PTR(lumbung_sync_config, config), &error);
  if (sync == NULL) jni_throw(env, &error);
  return JNI_HANDLE(sync);
}

JNIEXPORT void NATIVE(syncCancel)(JNIEnv* env, jclass cls, jlong sync) {
  (void)env;
  (void)cls;
  lumbung_sync_cancel(JNI_PTR(lumbung_sync, sync));
}

JNIEXPORT jboolean NATIVE(syncIsDone)(JNIEnv* env, jclass cls, jlong sync) {
  (void)env;
  (void)cls;
  return lumbung_sync_is_done(JNI_PTR(lumbung_sync, sync));
}

JNIEXPORT jlongArray NATIVE(syncWait)(JNIEnv* env, jclass cls, jlong sync) {
  (void)cls;
  lumbung_sync_summary summary;
  lumbung_error error;
  if (!lumbung_sync_wait(JNI_PTR(lumbung_sync, sync), &summary, &error)) {
    jni_throw(env, &error);
    return NULL;
  }
  const jlong fields[8] = {summary.pushed,     summary.applied,       summary.superseded,
                           summary.refused,    summary.pulled,        summary.conflicts,
                           summary.bytes_sent, summary.bytes_received};
  jlongArray result = (*env)->NewLongArray(env, 8);
  if (result != NULL) (*env)->SetLongArrayRegion(env, result, 0, 8, fields);
  return result;
}

JNIEXPORT void NATIVE(syncFree)(JNIEnv* env, jclass cls, jlong sync) {
  (void)env;
  (void)cls;
  lumbung_sync_free(JNI_PTR(lumbung_sync, sync));
}

/* ------------------------------------------------------------ listeners */

static void on_progress(void* userdata, lumbung_sync_phase_e phase, int64_t changes,
                        int64_t bytes_sent, int64_t bytes_received) {
  JNIEnv* env = jni_env();
  if (env == NULL) return;
  (*env)->CallVoidMethod(env, (jobject)userdata, jni.bridge_progress, (jint)phase, (jlong)changes,
                         (jlong)bytes_sent, (jlong)bytes_received);
  failed(env);
}

static void on_changed_rows(void* userdata, const char* table, const char* const* ids,
                            size_t count) {
  JNIEnv* env = jni_env();
  if (env == NULL) return;
  if ((*env)->PushLocalFrame(env, 8) != 0) {
    failed(env);
    return;
  }
  jstring jtable = jni_string(env, table);
  jobjectArray jids = (*env)->NewObjectArray(env, (jsize)count, jni.string, NULL);
  for (size_t i = 0; jids != NULL && i < count && !(*env)->ExceptionCheck(env); ++i) {
    jstring id = jni_string(env, ids[i]);
    (*env)->SetObjectArrayElement(env, jids, (jsize)i, id);
    (*env)->DeleteLocalRef(env, id);
  }
  if (!(*env)->ExceptionCheck(env)) {
    (*env)->CallVoidMethod(env, (jobject)userdata, jni.bridge_changed_rows, jtable, jids);
  }
  failed(env);
  (*env)->PopLocalFrame(env, NULL);
}

static void on_conflict(void* userdata, const lumbung_conflict* conflict) {
  JNIEnv* env = jni_env();
  if (env == NULL) return;
  if ((*env)->PushLocalFrame(env, 16) != 0) {
    failed(env);
    return;
  }
  jobjectArray fields = jni_conflict_fields(env, conflict);
  if (fields != NULL && !(*env)->ExceptionCheck(env)) {
    (*env)->CallVoidMethod(env, (jobject)userdata, jni.bridge_conflict, fields);
  }
  failed(env);
  (*env)->PopLocalFrame(env, NULL);
}

JNIEXPORT jlongArray NATIVE(listen)(JNIEnv* env, jclass cls, jlong db, jobject bridge) {
  (void)cls;
  lumbung_db* handle = JNI_PTR(lumbung_db, db);
  const jlong registrations[3] = {
      JNI_HANDLE(
          lumbung_db_on_progress(handle, on_progress, new_global(env, bridge), delete_global)),
      JNI_HANDLE(lumbung_db_on_changed_rows(handle, on_changed_rows, new_global(env, bridge),
                                            delete_global)),
      JNI_HANDLE(
          lumbung_db_on_conflict(handle, on_conflict, new_global(env, bridge), delete_global)),
  };
  jlongArray result = (*env)->NewLongArray(env, 3);
  if (result == NULL) {
    for (int i = 0; i < 3; ++i)
      lumbung_registration_free(JNI_PTR(lumbung_registration, registrations[i]));
    return NULL;
  }
  (*env)->SetLongArrayRegion(env, result, 0, 3, registrations);
  return result;
}

JNIEXPORT void NATIVE(registrationFree)(JNIEnv* env, jclass cls, jlong registration) {
  (void)env;
  (void)cls;
  lumbung_registration_free(JNI_PTR(lumbung_registration, registration));
}
