# Writes OUTPUT, a C++ file defining lumbung::core::builtin_schema_text() with
# the bytes of INPUT. Bytes are written as hex so no text can break the literal.
file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
file(WRITE ${OUTPUT} "// Generated from ${INPUT}; do not edit.\n"
  "#include \"core/schema.hpp\"\n"
  "namespace lumbung::core {\n"
  "namespace { constexpr char kText[] = {${bytes}}; }\n"
  "std::string_view builtin_schema_text() { return std::string_view(kText, sizeof(kText)); }\n"
  "}  // namespace lumbung::core\n")
