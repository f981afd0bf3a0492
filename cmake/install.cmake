# What `cmake --install` puts under the prefix (docs/operations.md, "Install";
# docs/decisions/0026-build-types-install-packages.md):
#   bin/lumbungd, bin/lumbung                     the daemon and the device CLI
#   LIBDIR/liblumbung.so.VERSION (soname .so.MAJOR) the C API (lumbung::c)
#   include/lumbung.h, include/lumbung/*.hpp|.inc  the C API and the public C++ API
#   LIBDIR/liblumbung_*.a                          the static layers of lumbung::replica
#   LIBDIR/cmake/lumbung/                          find_package(lumbung)
#   LIBDIR/pkgconfig/lumbung.pc                    pkg-config: the C API
# Components, for packages: daemon, cli, library (the .so.MAJOR and its
# versioned file) and development (the rest).
include(CMakePackageConfigHelpers)

set(LUMBUNG_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/lumbung)

# The generated protobuf headers are for the layers' .cpp files only; what is
# installed names no build directory. (Here rather than in proto/, whose
# target keeps its build-tree include path as it was.)
foreach(property INTERFACE_INCLUDE_DIRECTORIES INTERFACE_SYSTEM_INCLUDE_DIRECTORIES)
  set_property(TARGET lumbung_proto PROPERTY ${property}
                                             $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/proto>)
endforeach()

install(TARGETS lumbungd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT daemon)
# The service and the configuration its package installs once in /etc/lumbungd
# (cmake/debian/lumbungd/postinst).
install(FILES ${PROJECT_SOURCE_DIR}/cmake/debian/lumbungd/lumbungd.service
        DESTINATION lib/systemd/system COMPONENT daemon)
install(FILES ${PROJECT_SOURCE_DIR}/cmake/debian/lumbungd/lumbungd.toml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lumbungd COMPONENT daemon)
install(TARGETS lumbung_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)

# lumbung::c, the shared library, and lumbung::replica with the static
# libraries it links (each a layer of engine/CMakeLists.txt) and the
# interface target that picks SQLite or SQLCipher.
set(LUMBUNG_REPLICA_LAYERS lumbung_core lumbung_db lumbung_protocol lumbung_proto
                           lumbung_zstd_file lumbung_net_tls lumbung_net_client lumbung_sqlite)
install(TARGETS lumbung_c
        EXPORT lumbung-targets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT library
                NAMELINK_COMPONENT development
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development)
install(TARGETS lumbung_replica ${LUMBUNG_REPLICA_LAYERS}
        EXPORT lumbung-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development)
install(FILES ${PROJECT_SOURCE_DIR}/bindings/c/lumbung.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/engine/include/lumbung
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.inc")

install(EXPORT lumbung-targets NAMESPACE lumbung:: FILE lumbung-targets.cmake
        DESTINATION ${LUMBUNG_CMAKE_DIR} COMPONENT development)
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/lumbungConfig.cmake.in ${PROJECT_BINARY_DIR}/lumbungConfig.cmake
  INSTALL_DESTINATION ${LUMBUNG_CMAKE_DIR})
# Until 1.0, a minor release may change the API: only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lumbungConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lumbungConfig.cmake
              ${PROJECT_BINARY_DIR}/lumbungConfigVersion.cmake
        DESTINATION ${LUMBUNG_CMAKE_DIR} COMPONENT development)

if(IS_ABSOLUTE ${CMAKE_INSTALL_LIBDIR})
  set(lumbung_pc_destination ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
else()
  set(lumbung_pc_destination "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endif()
# lumbung.pc names the prefix it is installed under, which `cmake --install
# --prefix` or CPack's staging may choose: written at install time, into a
# directory named after the destination, so that two installs at once (the
# tests) do not share the file.
install(CODE "
  set(LUMBUNG_PC_VERSION \"${PROJECT_VERSION}\")
  set(LUMBUNG_PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(LUMBUNG_PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  foreach(dir LIBDIR INCLUDEDIR)
    if(NOT IS_ABSOLUTE \"\${LUMBUNG_PC_\${dir}}\")
      set(LUMBUNG_PC_\${dir} \"\\\${prefix}/\${LUMBUNG_PC_\${dir}}\")
    endif()
  endforeach()
  string(SHA256 lumbung_pc_tag \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}\")
  set(lumbung_pc_dir \"${PROJECT_BINARY_DIR}/pkgconfig-\${lumbung_pc_tag}\")
  configure_file(\"${CMAKE_CURRENT_LIST_DIR}/lumbung.pc.in\" \"\${lumbung_pc_dir}/lumbung.pc\" @ONLY)
  file(INSTALL DESTINATION \"${lumbung_pc_destination}\"
       TYPE FILE FILES \"\${lumbung_pc_dir}/lumbung.pc\")
  file(REMOVE_RECURSE \"\${lumbung_pc_dir}\")" COMPONENT development)
