#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the VMM (build/vmm/vmm) and the default guest image (guest-images/out).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMM_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
guest-images/build.sh
