# CPack: two Debian packages from the install components (cmake/install.cmake),
# `cpack --config build/CPackConfig.cmake -G DEB` (docs/operations.md):
#   lumbungd        the daemon and the system user `lumbung` it runs as
#   lumbung-device  what an app builds with: liblumbung.so.MAJOR, the C and C++
#                   headers, the static layers of lumbung::replica, the CMake
#                   package, lumbung.pc, and the `lumbung` CLI
# Under /usr; dependencies from dpkg-shlibdeps; executables and the shared
# library stripped (CMake leaves static libraries alone: their symbol table is
# all they have).
set(CPACK_PACKAGE_NAME lumbung)
set(CPACK_PACKAGE_VENDOR "Lumbung")
set(CPACK_PACKAGE_CONTACT "Lumbung maintainers <lumbung@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)

set(CPACK_COMPONENTS_ALL daemon cli library development)
set(CPACK_COMPONENT_DAEMON_GROUP daemon)
set(CPACK_COMPONENT_CLI_GROUP device)
set(CPACK_COMPONENT_LIBRARY_GROUP device)
set(CPACK_COMPONENT_DEVELOPMENT_GROUP device)

set(CPACK_DEBIAN_DAEMON_PACKAGE_NAME lumbungd)
set(CPACK_DEBIAN_DAEMON_DESCRIPTION
    "Lumbung merge daemon\n lumbungd serves Lumbung's sync protocol to offline-first devices\n from one data directory.")
set(CPACK_DEBIAN_DAEMON_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_DAEMON_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_LIST_DIR}/debian/lumbungd/postinst)
set(CPACK_DEBIAN_DAEMON_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_DEVICE_PACKAGE_NAME lumbung-device)
set(CPACK_DEBIAN_DEVICE_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVICE_DESCRIPTION
    "Lumbung device library, headers and CLI\n liblumbung (the C API of lumbung.h), the C++ API, find_package(lumbung)\n and lumbung.pc for apps, and the lumbung command-line tool.")

include(CPack)
