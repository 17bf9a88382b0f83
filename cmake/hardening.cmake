# SPDX-License-Identifier: MIT
# Warnings, hardening flags and sanitizer builds for every target (issue 15).
#
# VMM_WERROR turns warnings into errors. It is off by default so that a
# user's compiler or build type never stops the build; the project's own
# scripts (scripts/build.sh, scripts/test.sh) turn it on.
#
# VMM_SANITIZE builds everything with a sanitizer: "address" is ASan and
# UBSan together (a UBSan finding ends the process, as an ASan one does, so a
# test cannot pass over it), "thread" is TSan. Each needs its own build tree.

option(VMM_WERROR "Treat compiler warnings as errors" OFF)
set(VMM_SANITIZE "" CACHE STRING "Sanitizer build: empty, address (ASan+UBSan) or thread (TSan)")
set_property(CACHE VMM_SANITIZE PROPERTY STRINGS "" address thread)

add_compile_options(-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
if(VMM_WERROR)
  add_compile_options(-Werror)
endif()

add_compile_options(-fstack-protector-strong)

# glibc's fortified wrappers need optimisation (without it they are silently
# absent and glibc warns), so only the optimised build types get them. -U
# first: some toolchains define _FORTIFY_SOURCE already, and a second
# definition with another value is a warning. Under the sanitizers the
# wrappers would stand between ASan's interceptors and the calls they check
# more closely, so they are left out there.
if(VMM_SANITIZE STREQUAL "")
  add_compile_options("$<$<CONFIG:Release,RelWithDebInfo,MinSizeRel>:-U_FORTIFY_SOURCE;-D_FORTIFY_SOURCE=2>")
endif()

if(VMM_SANITIZE STREQUAL "address")
  set(vmm_sanitize_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_compile_options(${vmm_sanitize_flags})
  add_link_options(${vmm_sanitize_flags})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12's maybe-uninitialized analysis misfires under ASan's
    # instrumentation inside libstdc++ (<regex>'s std::function states). The
    # same sources still get the warning, as an error, in the normal build.
    add_compile_options(-Wno-maybe-uninitialized)
  elseif(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # A sanitizer report needs file and line only; full debug info makes
    # this, the largest build of the suite, slower to compile and link.
    # After the build type's -g, so it wins.
    add_compile_options(-gline-tables-only)
  endif()
elseif(VMM_SANITIZE STREQUAL "thread")
  set(vmm_sanitize_flags -fsanitize=thread -fno-omit-frame-pointer)
  # TSan does not model std::atomic_thread_fence and GCC warns about each
  # one; the virtqueue's fences order accesses to guest-shared memory, whose
  # other side (the guest) TSan never sees anyway.
  add_compile_options(${vmm_sanitize_flags} -Wno-tsan)
  add_link_options(${vmm_sanitize_flags})
elseif(NOT VMM_SANITIZE STREQUAL "")
  message(FATAL_ERROR "VMM_SANITIZE must be empty, 'address' or 'thread', not '${VMM_SANITIZE}'")
endif()

# Called once every target exists (at the end of the top-level
# CMakeLists.txt): a TSan build links cmake/tsan_absl_mutex.cc into every
# executable, so that TSan sees Debian's uninstrumented absl::Mutex (that
# file says how).
function(vmm_add_sanitizer_support)
  if(NOT VMM_SANITIZE STREQUAL "thread")
    return()
  endif()
  add_library(vmm_tsan_absl_mutex OBJECT ${PROJECT_SOURCE_DIR}/cmake/tsan_absl_mutex.cc)
  target_link_libraries(vmm_tsan_absl_mutex PUBLIC absl::synchronization ${CMAKE_DL_LIBS})
  vmm_executables_under(${PROJECT_SOURCE_DIR} executables)
  foreach(executable IN LISTS executables)
    # The property rather than target_link_libraries(), which would have to
    # match the plain or keyword form each target was first linked with.
    set_property(TARGET ${executable} APPEND PROPERTY LINK_LIBRARIES vmm_tsan_absl_mutex)
  endforeach()
endfunction()

function(vmm_executables_under directory result)
  set(found "")
  get_property(targets DIRECTORY ${directory} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "EXECUTABLE")
      list(APPEND found ${target})
    endif()
  endforeach()
  get_property(subdirectories DIRECTORY ${directory} PROPERTY SUBDIRECTORIES)
  foreach(subdirectory IN LISTS subdirectories)
    vmm_executables_under(${subdirectory} below)
    list(APPEND found ${below})
  endforeach()
  set(${result} ${found} PARENT_SCOPE)
endfunction()
