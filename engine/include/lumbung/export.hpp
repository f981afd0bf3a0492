// The one export macro: the library is built with -fvisibility=hidden, so only
// declarations marked LUMBUNG_EXPORT leave it.
#pragma once

#if defined(_WIN32)
#define LUMBUNG_EXPORT __declspec(dllexport)
#else
#define LUMBUNG_EXPORT __attribute__((visibility("default")))
#endif
