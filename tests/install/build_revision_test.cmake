# cmake -DSCRIPT=cmake/build_revision.cmake -DWORK=DIR -P build_revision_test.cmake:
# outside a git checkout the revision is "unknown", even inside some other
# git repository; and a second run with nothing changed leaves the generated
# file untouched, so that it recompiles nothing.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/tarball ${WORK}/repo/unpacked)
find_program(GIT git REQUIRED)
execute_process(COMMAND ${GIT} init -q ${WORK}/repo COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${GIT} -C ${WORK}/repo -c user.name=test -c user.email=test@localhost
                        commit -q --allow-empty -m "a commit to describe"
                COMMAND_ERROR_IS_FATAL ANY)

foreach(source ${WORK}/tarball ${WORK}/repo/unpacked)
  set(output ${WORK}/revision.cpp)
  file(REMOVE ${output})
  execute_process(COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${source} -DRELEASE=9.8.7
                          -DOUTPUT=${output} -P ${SCRIPT} COMMAND_ERROR_IS_FATAL ANY)
  file(READ ${output} text)
  if(NOT text MATCHES "build_revision\\(\\) { return \"unknown\"; }" OR
     NOT text MATCHES "build_release\\(\\) { return \"9.8.7\"; }")
    message(FATAL_ERROR "sources in ${source}: generated\n${text}")
  endif()
endforeach()

execute_process(COMMAND touch -d "2000-01-01" ${output} COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${WORK}/repo/unpacked -DRELEASE=9.8.7
                        -DOUTPUT=${output} -P ${SCRIPT} COMMAND_ERROR_IS_FATAL ANY)
file(TIMESTAMP ${output} after "%Y")
if(NOT after STREQUAL "2000")
  message(FATAL_ERROR "an unchanged revision rewrote ${output}")
endif()
file(REMOVE_RECURSE ${WORK})
