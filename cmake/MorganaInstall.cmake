# `make install` (cmake --install): the SDK an application outside the tree builds
# against (docs/guide.md, "An application outside the tree"). Included last by the top
# CMakeLists.txt, so every target below exists. Layout under the prefix:
#   bin/morgana, bin/morgana-hvt           the command (SDK mode) and the monitor
#   include/morgana/                       public headers
#   include/morgana/internal/platform/abi/ the ABI header generated manifests include
#   lib/morgana/                           guest, virtio and host libraries, linker scripts
#   lib/cmake/Morgana/                     the CMake package: imported targets under the
#                                          tree's names, morgana_unikernel() and friends
#   share/morgana/                         the application skeleton, the virtio runner
# The command, the package and the data name neither the source nor the build tree (only
# debug information does), so the prefix can be chosen at install time
# (`cmake --install build --prefix DIR`) and moved afterwards.
include(CMakePackageConfigHelpers)

set(MORGANA_INSTALL_BINDIR bin)
set(MORGANA_INSTALL_INCLUDEDIR include)
set(MORGANA_INSTALL_INTERNAL_INCLUDEDIR include/morgana/internal)
set(MORGANA_INSTALL_LIBDIR lib/morgana)
set(MORGANA_INSTALL_CMAKEDIR lib/cmake/Morgana)
set(MORGANA_INSTALL_DATADIR share/morgana)

# Every static library defined under src/ goes in: the guest libraries images link, their
# host twins (`<lib>_host`) unix executables link, and what those depend on. Collected
# rather than listed, so a library added to src/ is in the SDK without editing this file.
function(_morgana_collect_libraries dir out_var)
  set(found "")
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "STATIC_LIBRARY")
      list(APPEND found ${target})
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(subdir IN LISTS subdirs)
    _morgana_collect_libraries(${subdir} below)
    list(APPEND found ${below})
  endforeach()
  set(${out_var} ${found} PARENT_SCOPE)
endfunction()
_morgana_collect_libraries(${PROJECT_SOURCE_DIR}/src MORGANA_SDK_LIBRARIES)

# morgana_unikernel's LIBS take a guest library and its host twin: the SDK must have both.
foreach(lib morgana_dns morgana_http morgana_kv)
  if(NOT lib IN_LIST MORGANA_SDK_LIBRARIES OR NOT ${lib}_host IN_LIST MORGANA_SDK_LIBRARIES)
    message(FATAL_ERROR "MorganaInstall: ${lib} or ${lib}_host is not a library under src/")
  endif()
endforeach()

# No namespace: imported, the targets keep the names morgana_unikernel(), morgana_guest_link
# and applications' LIBS use in the tree.
install(TARGETS morgana_guest_flags morgana_host_flags ${MORGANA_SDK_LIBRARIES}
  EXPORT MorganaTargets
  ARCHIVE DESTINATION ${MORGANA_INSTALL_LIBDIR})
install(EXPORT MorganaTargets DESTINATION ${MORGANA_INSTALL_CMAKEDIR})

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/morgana DESTINATION ${MORGANA_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/src/platform/abi/hvt_abi.h
  DESTINATION ${MORGANA_INSTALL_INTERNAL_INCLUDEDIR}/platform/abi)
install(FILES ${MORGANA_GUEST_LINKER_SCRIPT} ${MORGANA_VIRTIO_LINKER_SCRIPT}
  DESTINATION ${MORGANA_INSTALL_LIBDIR})

# The package: the config and the same function files the tree includes.
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/MorganaConfig.cmake.in
  ${CMAKE_BINARY_DIR}/sdk/MorganaConfig.cmake
  INSTALL_DESTINATION ${MORGANA_INSTALL_CMAKEDIR}
  PATH_VARS MORGANA_INSTALL_LIBDIR MORGANA_INSTALL_INTERNAL_INCLUDEDIR)
# Before 1.0 a minor version may change the ABI between the libraries and the headers.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/sdk/MorganaConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_BINARY_DIR}/sdk/MorganaConfig.cmake
  ${CMAKE_BINARY_DIR}/sdk/MorganaConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/MorganaGuest.cmake
  ${PROJECT_SOURCE_DIR}/cmake/MorganaUnikernel.cmake
  ${PROJECT_SOURCE_DIR}/cmake/MorganaVirtio.cmake
  ${PROJECT_SOURCE_DIR}/cmake/MorganaKv.cmake
  ${PROJECT_SOURCE_DIR}/cmake/MorganaKvGenerate.cmake
  DESTINATION ${MORGANA_INSTALL_CMAKEDIR})

# The command in SDK mode: it finds the prefix from its own path at run time.
set(MORGANA_COMMAND_MODE sdk)
set(MORGANA_TREE_SOURCE_DIR "")
set(MORGANA_TREE_BUILD_DIR "")
configure_file(${PROJECT_SOURCE_DIR}/tools/morgana.in ${CMAKE_BINARY_DIR}/sdk/morgana @ONLY)
install(PROGRAMS ${CMAKE_BINARY_DIR}/sdk/morgana DESTINATION ${MORGANA_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/tools/morgana-virtio.sh DESTINATION ${MORGANA_INSTALL_DATADIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/tools/skeleton DESTINATION ${MORGANA_INSTALL_DATADIR})
# bin/morgana-hvt: tender/CMakeLists.txt installs it with its target.
