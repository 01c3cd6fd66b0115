# morgana_kv_compiled(NAME DIR OUTPUT_VAR): content for kv::CompiledStore
# (include/morgana/storage/kv_compiled.h). At build time, cmake/MorganaKvGenerate.cmake
# writes a .cc defining `const morgana::kv::CompiledTable morgana_kv_<NAME>` with every
# file under DIR (bytes by .incbin, size, mtime, a strong ETag from SHA-256) and, for text
# files of 256 bytes or more, a `gzip -9n` variant "<file>.gz" when it saves at least 10%.
# The .cc's path is stored in OUTPUT_VAR: add it to the application's SOURCES.
set(MORGANA_KV_GENERATOR ${CMAKE_CURRENT_LIST_DIR}/MorganaKvGenerate.cmake)

function(morgana_kv_compiled name dir output_var)
  if(NOT name MATCHES "^[a-z0-9_]+$")
    message(FATAL_ERROR "morgana_kv_compiled: NAME '${name}' must match [a-z0-9_]+")
  endif()
  get_filename_component(dir ${dir} ABSOLUTE)
  file(GLOB_RECURSE files CONFIGURE_DEPENDS ${dir}/*)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/kv_${name}.cc)
  find_program(MORGANA_GZIP gzip)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DNAME=${name} -DDIR=${dir} -DOUT=${out}
            -DGZDIR=${CMAKE_CURRENT_BINARY_DIR}/kv_${name}_gz -DGZIP=${MORGANA_GZIP}
            -P ${MORGANA_KV_GENERATOR}
    DEPENDS ${files} ${MORGANA_KV_GENERATOR}
    COMMENT "Compiling ${dir} into the KV store ${name}"
    VERBATIM)
  set(${output_var} ${out} PARENT_SCOPE)
endfunction()
