#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configures the checked build tree: clang, ASan+UBSan and libFuzzer's
# coverage instrumentation (CMake option VMM_FUZZ, cmake/fuzz.cmake). The
# sanitizer run of scripts/test.sh and scripts/fuzz.sh both build in it, so
# the suite compiles the project with the sanitizers once, not twice.
#
#   scripts/configure-checked.sh [BUILD_DIR]   (default build-checked)
#
# Prints the tree's path. Uses ccache when it is installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-checked}
mkdir -p "$build"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if ! cmake -S "$root" -B "$build" -DVMM_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >"$build/configure.log" 2>&1; then
  tail -n 30 "$build/configure.log" >&2
  echo "configure-checked: configuring $build failed (log: $build/configure.log)" >&2
  exit 1
fi
echo "$build"
