# SPDX-License-Identifier: MIT
# VMM_FUZZ: builds the libFuzzer targets in fuzz/ (scripts/fuzz.sh drives it).
# Every project library is compiled with coverage instrumentation for
# libFuzzer plus ASan and UBSan; UBSan findings abort so that the fuzzer
# records them as crashes instead of printing and going on.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "VMM_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ "
                      "-DCMAKE_C_COMPILER=clang, not ${CMAKE_CXX_COMPILER_ID}")
endif()
set(VMM_FUZZ_SANITIZERS address,undefined)
add_compile_options(-fsanitize=fuzzer-no-link,${VMM_FUZZ_SANITIZERS} -fno-sanitize-recover=all
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=${VMM_FUZZ_SANITIZERS} -fno-sanitize-recover=all)
