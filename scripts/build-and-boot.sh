#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's first command: install dependencies, build everything, and
# boot the default guest with its console on this terminal. Extra arguments
# go to `vmm run` (e.g. --memory 2G --cpus 2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
echo "Booting the default guest (Ctrl-A x quits; 'poweroff' in the guest ends it)..."
exec build/vmm/vmm run "$@"
