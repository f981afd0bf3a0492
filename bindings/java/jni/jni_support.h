/* What the JNI layer's files share: classes looked up once, the JVM for
 * threads the C API calls back on, UTF-8 strings both ways, values, rows and
 * errors. Plain C11 over jni.h and lumbung.h; nothing Android lacks. */
#ifndef LUMBUNG_BINDINGS_JAVA_JNI_SUPPORT_H_
#define LUMBUNG_BINDINGS_JAVA_JNI_SUPPORT_H_

#include <jni.h>

#include "lumbung.h"

typedef struct jni_classes {
  jclass string, object, string_array, object_array, long_class, integer_class, double_class,
      byte_array, exception, listener_bridge, transport_bridge;
  jmethodID string_from_bytes, string_get_bytes, long_value_of, long_value, integer_value_of,
      integer_value, double_value_of, double_value, exception_from_native, bridge_progress,
      bridge_changed_rows, bridge_conflict, transport_exchange;
  jstring utf8; /* "UTF-8", the charset name */
} jni_classes;

extern jni_classes jni;

/* The calling thread's JNIEnv, attaching a thread the C API created (as a
 * daemon; it detaches when the thread ends). NULL if the JVM refuses. */
JNIEnv* jni_env(void);

/* A Java string as standard UTF-8 (free()), or NULL with an exception
 * pending. NULL for NULL. */
char* jni_utf8(JNIEnv* env, jstring string);
/* As jni_utf8, but NULL for NULL throws INVALID_ARGUMENT naming `what`. */
char* jni_utf8_required(JNIEnv* env, jstring string, const char* what);
/* UTF-8 as a Java string (a local reference); NULL for NULL or on failure. */
jstring jni_string(JNIEnv* env, const char* utf8);

/* Throws the LumbungException of `error`. */
void jni_throw(JNIEnv* env, const lumbung_error* error);
/* Throws LumbungException INVALID_ARGUMENT with `message`. */
void jni_throw_invalid(JNIEnv* env, const char* message);

/* A Java value (null, Long, Double, String, byte[]) as a new lumbung_value,
 * or NULL with an exception pending. */
lumbung_value* jni_to_value(JNIEnv* env, jobject value);
/* A lumbung_value as a Java value (a local reference; NULL for SQL NULL). */
jobject jni_from_value(JNIEnv* env, const lumbung_value* value);

/* Parallel column and value arrays as a new lumbung_row, or NULL with an
 * exception pending. */
lumbung_row* jni_to_row(JNIEnv* env, jobjectArray columns, jobjectArray values);
/* A row as {String[] columns, Object[] values}. */
jobjectArray jni_from_row(JNIEnv* env, const lumbung_row* row);

/* A boxed Long or Integer (a local reference), or NULL with an exception pending. */
jobject jni_box_long(JNIEnv* env, int64_t value);
jobject jni_box_int(JNIEnv* env, int value);

/* The fields of a conflict, in the order of id.lumbung.Conflict's. */
jobjectArray jni_conflict_fields(JNIEnv* env, const lumbung_conflict* conflict);

/* Java long handles and C pointers. */
#define JNI_PTR(type, handle) ((type*)(intptr_t)(handle))
#define JNI_HANDLE(pointer) ((jlong)(intptr_t)(pointer))

#endif
