# The exported symbols of liblumbung.so must be exactly the names of
# lumbung.exports, and those exactly the functions lumbung.h declares.
# Usage: cmake -DLIBRARY=... -DEXPORTS=... -DHEADER=... -DNM=... -P check_exports.cmake
execute_process(COMMAND ${NM} -D --defined-only ${LIBRARY} OUTPUT_VARIABLE nm_out
                RESULT_VARIABLE nm_result)
if(NOT nm_result EQUAL 0)
  message(FATAL_ERROR "nm failed on ${LIBRARY}")
endif()
string(REGEX MATCHALL "[^\n]+" nm_lines "${nm_out}")
set(exported "")
foreach(line IN LISTS nm_lines)
  if(line MATCHES "^[0-9a-f]+ [A-Za-z] ([^ @]+)")
    list(APPEND exported ${CMAKE_MATCH_1})
  endif()
endforeach()
list(SORT exported)

file(STRINGS ${EXPORTS} listed REGEX "^lumbung_")
list(SORT listed)

file(READ ${HEADER} header_text)
string(REGEX MATCHALL "LUMBUNG_C_EXPORT[^;{]*[ *\n](lumbung_[a-z0-9_]+)\\(" declarations "${header_text}")
set(declared "")
foreach(declaration IN LISTS declarations)
  string(REGEX MATCH "(lumbung_[a-z0-9_]+)\\($" name "${declaration}")
  list(APPEND declared ${CMAKE_MATCH_1})
endforeach()
list(SORT declared)

if(NOT exported STREQUAL listed)
  message(FATAL_ERROR "liblumbung.so exports:\n  ${exported}\nbut lumbung.exports lists:\n  ${listed}")
endif()
if(NOT declared STREQUAL listed)
  message(FATAL_ERROR "lumbung.h declares:\n  ${declared}\nbut lumbung.exports lists:\n  ${listed}")
endif()
list(LENGTH listed count)
message(STATUS "liblumbung.so exports the ${count} functions of lumbung.h, and nothing else")
