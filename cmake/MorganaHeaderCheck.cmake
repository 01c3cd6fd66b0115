# STYLE.md: every header compiles on its own. One generated .cc per public header (and
# the shared ABI header) that includes only it, compiled for the host; building
# everything builds this check.
file(GLOB_RECURSE MORGANA_PUBLIC_HEADERS CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/include/morgana/*.h ${PROJECT_SOURCE_DIR}/src/platform/abi/*.h)
set(header_check_sources "")
foreach(header IN LISTS MORGANA_PUBLIC_HEADERS)
  file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${header})
  string(MAKE_C_IDENTIFIER ${rel} id)
  set(source ${CMAKE_BINARY_DIR}/header_check/${id}.cc)
  file(CONFIGURE OUTPUT ${source} CONTENT "#include \"${header}\"  // must compile alone\n")
  list(APPEND header_check_sources ${source})
endforeach()
add_library(morgana_header_check OBJECT ${header_check_sources})
target_link_libraries(morgana_header_check PRIVATE morgana_host_flags)
