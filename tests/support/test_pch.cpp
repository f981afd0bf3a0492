// Empty on purpose: the target test_pch exists to build the precompiled header
// that the Catch2 test executables reuse (tests/CMakeLists.txt).
