# SPDX-License-Identifier: MIT
# VMM_FUZZ: builds the libFuzzer targets in fuzz/ (scripts/fuzz.sh drives it).
# Such a tree is the sanitizer tree as well (VMM_SANITIZE=address: ASan and
# UBSan, a UBSan finding aborts, so that the fuzzer records it as a crash),
# with every project file compiled with libFuzzer's coverage instrumentation
# on top. The unit and guest tests build and run in it too (the sanitizer
# runtime carries do-nothing coverage callbacks for binaries without
# libFuzzer), so scripts/test.sh builds the whole tree once for both.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "VMM_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ "
                      "-DCMAKE_C_COMPILER=clang, not ${CMAKE_CXX_COMPILER_ID}")
endif()
if("${VMM_SANITIZE}" STREQUAL "")
  set(VMM_SANITIZE address CACHE STRING "Sanitizer build: empty, address (ASan+UBSan) or thread (TSan)" FORCE)
elseif(NOT "${VMM_SANITIZE}" STREQUAL "address")
  message(FATAL_ERROR "VMM_FUZZ builds with VMM_SANITIZE=address (ASan+UBSan), not '${VMM_SANITIZE}'")
endif()
add_compile_options(-fsanitize=fuzzer-no-link)
