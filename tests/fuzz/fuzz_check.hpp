// A check that holds in every build, NDEBUG included: a fuzz target's
// invariants must stop the fuzzer (and fail the corpus replay) when broken.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#define LUMBUNG_FUZZ_CHECK(condition, what)                                                 \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: check failed: %s: %s\n", __FILE__, __LINE__, #condition, \
                   std::string(what).c_str());                                              \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)
