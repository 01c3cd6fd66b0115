# Flags and helpers for code compiled into unikernel images (the `hvt` target).
# DESIGN.md §5: the system g++, freestanding, no exceptions or RTTI, static, linked at
# 1 MiB by cmake/guest.ld, with the header-only parts of libstdc++.
#
# Shared by the source tree (the top CMakeLists.txt includes it) and the installed SDK
# (MorganaConfig.cmake includes the installed copy). In the SDK the flags and libraries
# are imported targets under the same names, and the package sets
# MORGANA_LINKER_SCRIPT_DIR to where the linker scripts were installed.

if(NOT DEFINED MORGANA_LINKER_SCRIPT_DIR)
  set(MORGANA_LINKER_SCRIPT_DIR ${CMAKE_CURRENT_LIST_DIR})
endif()
set(MORGANA_GUEST_LINKER_SCRIPT ${MORGANA_LINKER_SCRIPT_DIR}/guest.ld)

if(NOT MORGANA_SDK)
  add_library(morgana_guest_flags INTERFACE)
  target_compile_options(morgana_guest_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fno-exceptions -fno-rtti -fno-threadsafe-statics>
    -ffreestanding -U_FORTIFY_SOURCE
    -mno-red-zone -fno-pic -fno-pie -mcmodel=small
    -fstack-protector-strong
    -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer
    -ffunction-sections -fdata-sections
    -fno-asynchronous-unwind-tables -fno-unwind-tables
    -fcf-protection=none -fno-stack-clash-protection
    -Wall -Wextra -Wno-missing-field-initializers)
  target_compile_definitions(morgana_guest_flags INTERFACE MORGANA_GUEST=1 MORGANA_TARGET_HVT=1)
  # Installed, only the public headers: the one internal header images need (the
  # manifest's ABI) is added to the manifest source alone (MorganaUnikernel.cmake).
  target_include_directories(morgana_guest_flags INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
    $<INSTALL_INTERFACE:include>)
  # An application project outside the tree gets the tree's language level from here.
  target_compile_features(morgana_guest_flags INTERFACE cxx_std_20)
endif()

# morgana_guest_library(NAME SOURCES...): a static library built with guest flags.
function(morgana_guest_library name)
  add_library(${name} STATIC ${ARGN})
  target_link_libraries(${name} PUBLIC morgana_guest_flags)
endfunction()

# morgana_guest_link(TARGET [PLATFORM lib] [LINKER_SCRIPT file]): links an image for one
# target (default: the hvt platform and cmake/guest.ld). Our objects come first, then the
# platform, the libraries every image may use, the runtime and the libstdc++/libgcc
# archives, in one rescanned group (the runtime and libstdc++ need each other).
function(morgana_guest_link target)
  cmake_parse_arguments(L "" "PLATFORM;LINKER_SCRIPT" "" ${ARGN})
  if(NOT L_PLATFORM)
    set(L_PLATFORM morgana_platform_hvt)
  endif()
  if(NOT L_LINKER_SCRIPT)
    set(L_LINKER_SCRIPT ${MORGANA_GUEST_LINKER_SCRIPT})
  endif()
  target_link_libraries(${target} PRIVATE morgana_guest_flags)
  target_link_options(${target} PRIVATE
    -nostdlib -static -no-pie
    -Wl,-T,${L_LINKER_SCRIPT}
    -Wl,--gc-sections -Wl,-z,noexecstack -Wl,--build-id=none -Wl,-z,norelro
    -Wl,--no-warn-rwx-segments)
  set_target_properties(${target} PROPERTIES LINK_DEPENDS ${L_LINKER_SCRIPT})
  target_link_libraries(${target} PRIVATE
    "$<LINK_GROUP:RESCAN,${L_PLATFORM},morgana_random,morgana_net,morgana_async,morgana_rt,stdc++,gcc>")
endfunction()
