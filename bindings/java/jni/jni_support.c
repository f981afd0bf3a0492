#include "jni_support.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

jni_classes jni;

static JavaVM* jvm;
/* Set on threads this layer attached, so that they detach when they end: a
 * thread that ends attached would leave its Java Thread behind. */
static pthread_key_t attached_key;

static void detach_thread(void* unused) {
  (void)unused;
  (*jvm)->DetachCurrentThread(jvm);
}

JNIEnv* jni_env(void) {
  JNIEnv* env = NULL;
  if ((*jvm)->GetEnv(jvm, (void**)&env, JNI_VERSION_1_6) == JNI_OK) return env;
  JavaVMAttachArgs args = {JNI_VERSION_1_6, (char*)"lumbung-sync", NULL};
  /* Android's jni.h takes JNIEnv**, the JDK's void**. */
  if ((*jvm)->AttachCurrentThreadAsDaemon(jvm, (void*)&env, &args) != JNI_OK) return NULL;
  pthread_setspecific(attached_key, jvm);
  return env;
}

static jclass global_class(JNIEnv* env, const char* name) {
  jclass local = (*env)->FindClass(env, name);
  if (local == NULL) return NULL;
  jclass global = (*env)->NewGlobalRef(env, local);
  (*env)->DeleteLocalRef(env, local);
  return global;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM* vm, void* reserved) {
  (void)reserved;
  jvm = vm;
  JNIEnv* env;
  if ((*vm)->GetEnv(vm, (void**)&env, JNI_VERSION_1_6) != JNI_OK) return JNI_ERR;
  if (pthread_key_create(&attached_key, detach_thread) != 0) return JNI_ERR;
  if (!(jni.string = global_class(env, "java/lang/String")) ||
      !(jni.object = global_class(env, "java/lang/Object")) ||
      !(jni.string_array = global_class(env, "[Ljava/lang/String;")) ||
      !(jni.object_array = global_class(env, "[Ljava/lang/Object;")) ||
      !(jni.long_class = global_class(env, "java/lang/Long")) ||
      !(jni.integer_class = global_class(env, "java/lang/Integer")) ||
      !(jni.double_class = global_class(env, "java/lang/Double")) ||
      !(jni.byte_array = global_class(env, "[B")) ||
      !(jni.exception = global_class(env, "id/lumbung/LumbungException")) ||
      !(jni.listener_bridge = global_class(env, "id/lumbung/ListenerBridge")) ||
      !(jni.transport_bridge = global_class(env, "id/lumbung/TransportBridge")))
    return JNI_ERR;
  jni.string_from_bytes = (*env)->GetMethodID(env, jni.string, "<init>", "([BLjava/lang/String;)V");
  jni.string_get_bytes = (*env)->GetMethodID(env, jni.string, "getBytes", "(Ljava/lang/String;)[B");
  jni.long_value_of =
      (*env)->GetStaticMethodID(env, jni.long_class, "valueOf", "(J)Ljava/lang/Long;");
  jni.long_value = (*env)->GetMethodID(env, jni.long_class, "longValue", "()J");
  jni.integer_value_of =
      (*env)->GetStaticMethodID(env, jni.integer_class, "valueOf", "(I)Ljava/lang/Integer;");
  jni.integer_value = (*env)->GetMethodID(env, jni.integer_class, "intValue", "()I");
  jni.double_value_of =
      (*env)->GetStaticMethodID(env, jni.double_class, "valueOf", "(D)Ljava/lang/Double;");
  jni.double_value = (*env)->GetMethodID(env, jni.double_class, "doubleValue", "()D");
  jni.exception_from_native = (*env)->GetStaticMethodID(
      env, jni.exception, "fromNative", "(IILjava/lang/String;)Lid/lumbung/LumbungException;");
  jni.bridge_progress = (*env)->GetMethodID(env, jni.listener_bridge, "progress", "(IJJJ)V");
  jni.bridge_changed_rows = (*env)->GetMethodID(env, jni.listener_bridge, "changedRows",
                                                "(Ljava/lang/String;[Ljava/lang/String;)V");
  jni.bridge_conflict =
      (*env)->GetMethodID(env, jni.listener_bridge, "conflict", "([Ljava/lang/Object;)V");
  jni.transport_exchange = (*env)->GetMethodID(
      env, jni.transport_bridge, "exchange",
      "(Ljava/lang/String;Ljava/lang/String;[Ljava/lang/String;[B)[Ljava/lang/Object;");
  if ((*env)->ExceptionCheck(env)) return JNI_ERR;
  jstring utf8 = (*env)->NewStringUTF(env, "UTF-8");
  if (utf8 == NULL) return JNI_ERR;
  jni.utf8 = (*env)->NewGlobalRef(env, utf8);
  (*env)->DeleteLocalRef(env, utf8);
  return JNI_VERSION_1_6;
}

/* JNI's own UTF functions use "modified UTF-8" (two-unit surrogates, a
 * two-byte NUL); Lumbung's strings are standard UTF-8, so convert in Java. */
char* jni_utf8(JNIEnv* env, jstring string) {
  if (string == NULL) return NULL;
  jbyteArray bytes = (*env)->CallObjectMethod(env, string, jni.string_get_bytes, jni.utf8);
  if ((*env)->ExceptionCheck(env) || bytes == NULL) return NULL;
  const jsize size = (*env)->GetArrayLength(env, bytes);
  char* utf8 = malloc((size_t)size + 1);
  if (utf8 != NULL) {
    (*env)->GetByteArrayRegion(env, bytes, 0, size, (jbyte*)utf8);
    utf8[size] = '\0';
  }
  (*env)->DeleteLocalRef(env, bytes);
  if (utf8 == NULL) (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/OutOfMemoryError"), "");
  return utf8;
}

char* jni_utf8_required(JNIEnv* env, jstring string, const char* what) {
  if (string == NULL) {
    jni_throw_invalid(env, what);
    return NULL;
  }
  return jni_utf8(env, string);
}

jstring jni_string(JNIEnv* env, const char* utf8) {
  if (utf8 == NULL) return NULL;
  const jsize size = (jsize)strlen(utf8);
  jbyteArray bytes = (*env)->NewByteArray(env, size);
  if (bytes == NULL) return NULL;
  (*env)->SetByteArrayRegion(env, bytes, 0, size, (const jbyte*)utf8);
  jstring string = (*env)->NewObject(env, jni.string, jni.string_from_bytes, bytes, jni.utf8);
  (*env)->DeleteLocalRef(env, bytes);
  return (*env)->ExceptionCheck(env) ? NULL : string;
}

static void throw_exception(JNIEnv* env, int code, int retry, const char* message) {
  jstring text = jni_string(env, message);
  if (text == NULL) return;
  jthrowable exception = (*env)->CallStaticObjectMethod(
      env, jni.exception, jni.exception_from_native, code, retry, text);
  if (!(*env)->ExceptionCheck(env) && exception != NULL) (*env)->Throw(env, exception);
}

void jni_throw(JNIEnv* env, const lumbung_error* error) {
  throw_exception(env, (int)error->code, (int)error->retry, error->message);
}

void jni_throw_invalid(JNIEnv* env, const char* message) {
  throw_exception(env, LUMBUNG_INVALID_ARGUMENT, LUMBUNG_RETRY_PERMANENT, message);
}

lumbung_value* jni_to_value(JNIEnv* env, jobject value) {
  if (value == NULL) return lumbung_value_new_null();
  if ((*env)->IsInstanceOf(env, value, jni.long_class)) {
    const jlong integer = (*env)->CallLongMethod(env, value, jni.long_value);
    return (*env)->ExceptionCheck(env) ? NULL : lumbung_value_new_integer(integer);
  }
  if ((*env)->IsInstanceOf(env, value, jni.double_class)) {
    const jdouble real = (*env)->CallDoubleMethod(env, value, jni.double_value);
    return (*env)->ExceptionCheck(env) ? NULL : lumbung_value_new_real(real);
  }
  if ((*env)->IsInstanceOf(env, value, jni.string)) {
    char* text = jni_utf8(env, value);
    if (text == NULL) return NULL;
    lumbung_value* result = lumbung_value_new_text(text);
    free(text);
    return result;
  }
  if ((*env)->IsInstanceOf(env, value, jni.byte_array)) {
    const jsize size = (*env)->GetArrayLength(env, value);
    jbyte* bytes = (*env)->GetByteArrayElements(env, value, NULL);
    if (bytes == NULL) return NULL;
    lumbung_value* result = lumbung_value_new_blob(bytes, (size_t)size);
    (*env)->ReleaseByteArrayElements(env, value, bytes, JNI_ABORT);
    return result;
  }
  jni_throw_invalid(env, "a value must be null, Long, Double, String or byte[]");
  return NULL;
}

jobject jni_from_value(JNIEnv* env, const lumbung_value* value) {
  size_t size = 0;
  switch (lumbung_value_type(value)) {
    case LUMBUNG_TYPE_INTEGER: {
      int64_t integer = 0;
      lumbung_value_integer(value, &integer, NULL);
      return jni_box_long(env, integer);
    }
    case LUMBUNG_TYPE_REAL: {
      double real = 0;
      lumbung_value_real(value, &real, NULL);
      jobject boxed =
          (*env)->CallStaticObjectMethod(env, jni.double_class, jni.double_value_of, real);
      return (*env)->ExceptionCheck(env) ? NULL : boxed;
    }
    case LUMBUNG_TYPE_TEXT:
      return jni_string(env, lumbung_value_text(value, NULL, NULL));
    case LUMBUNG_TYPE_BLOB: {
      const void* data = lumbung_value_blob(value, &size, NULL);
      jbyteArray bytes = (*env)->NewByteArray(env, (jsize)size);
      if (bytes != NULL) (*env)->SetByteArrayRegion(env, bytes, 0, (jsize)size, data);
      return bytes;
    }
    case LUMBUNG_TYPE_NULL:
      break;
  }
  return NULL;
}

lumbung_row* jni_to_row(JNIEnv* env, jobjectArray columns, jobjectArray values) {
  lumbung_row* row = lumbung_row_new();
  const jsize count = (*env)->GetArrayLength(env, columns);
  for (jsize i = 0; i < count; ++i) {
    jstring column = (*env)->GetObjectArrayElement(env, columns, i);
    jobject cell = (*env)->GetObjectArrayElement(env, values, i);
    char* name = jni_utf8(env, column);
    lumbung_value* value = name != NULL ? jni_to_value(env, cell) : NULL;
    if (value != NULL) lumbung_row_set(row, name, value);
    lumbung_value_free(value);
    free(name);
    (*env)->DeleteLocalRef(env, column);
    (*env)->DeleteLocalRef(env, cell);
    if (value == NULL) {
      lumbung_row_free(row);
      if (!(*env)->ExceptionCheck(env)) jni_throw_invalid(env, "a column needs a name");
      return NULL;
    }
  }
  return row;
}

jobjectArray jni_from_row(JNIEnv* env, const lumbung_row* row) {
  const jsize count = (jsize)lumbung_row_size(row);
  jobjectArray columns = (*env)->NewObjectArray(env, count, jni.string, NULL);
  jobjectArray values =
      columns != NULL ? (*env)->NewObjectArray(env, count, jni.object, NULL) : NULL;
  jobjectArray pair = values != NULL ? (*env)->NewObjectArray(env, 2, jni.object, NULL) : NULL;
  if (pair == NULL) return NULL;
  for (jsize i = 0; i < count && !(*env)->ExceptionCheck(env); ++i) {
    const char* name = lumbung_row_column(row, (size_t)i);
    jstring column = jni_string(env, name);
    jobject value = jni_from_value(env, lumbung_row_get(row, name, NULL));
    (*env)->SetObjectArrayElement(env, columns, i, column);
    (*env)->SetObjectArrayElement(env, values, i, value);
    (*env)->DeleteLocalRef(env, column);
    (*env)->DeleteLocalRef(env, value);
  }
  (*env)->SetObjectArrayElement(env, pair, 0, columns);
  (*env)->SetObjectArrayElement(env, pair, 1, values);
  (*env)->DeleteLocalRef(env, columns);
  (*env)->DeleteLocalRef(env, values);
  return pair;
}

jobject jni_box_long(JNIEnv* env, int64_t value) {
  jobject boxed =
      (*env)->CallStaticObjectMethod(env, jni.long_class, jni.long_value_of, (jlong)value);
  return (*env)->ExceptionCheck(env) ? NULL : boxed;
}

jobject jni_box_int(JNIEnv* env, int value) {
  jobject boxed =
      (*env)->CallStaticObjectMethod(env, jni.integer_class, jni.integer_value_of, (jint)value);
  return (*env)->ExceptionCheck(env) ? NULL : boxed;
}

jobjectArray jni_conflict_fields(JNIEnv* env, const lumbung_conflict* conflict) {
  jobject fields[12] = {
      jni_box_long(env, (int64_t)lumbung_conflict_id(conflict)),
      jni_string(env, lumbung_conflict_table(conflict)),
      jni_string(env, lumbung_conflict_row_id(conflict)),
      jni_string(env, lumbung_conflict_column(conflict)),
      jni_string(env, lumbung_conflict_policy(conflict)),
      jni_string(env, lumbung_conflict_outcome(conflict)),
      jni_from_value(env, lumbung_conflict_server_value(conflict)),
      jni_from_value(env, lumbung_conflict_device_value(conflict)),
      jni_from_value(env, lumbung_conflict_resolved_value(conflict)),
      jni_string(env, lumbung_conflict_server_device(conflict)),
      jni_string(env, lumbung_conflict_device_id(conflict)),
      jni_string(env, lumbung_conflict_resolved_by(conflict)),
  };
  jobjectArray array = (*env)->NewObjectArray(env, 12, jni.object, NULL);
  for (jsize i = 0; i < 12; ++i) {
    if (array != NULL) (*env)->SetObjectArrayElement(env, array, i, fields[i]);
    (*env)->DeleteLocalRef(env, fields[i]);
  }
  return array;
}
