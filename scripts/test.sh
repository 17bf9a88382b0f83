#!/usr/bin/env bash
# The README's second command: install dependencies, build everything and
# run every test (unit tests and tests that boot real guests).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -c /dev/kvm ]]; then
  if [[ -d /sys/module/kvm_pvm ]]; then
    echo "test: kvm_pvm is loaded but registered no /dev/kvm (kernel log: $(dmesg 2>/dev/null | grep -m1 'kvm-pvm' || echo 'no kvm-pvm line'))" >&2
  fi
  if [[ "${CI:-}" == "true" ]]; then
    echo "test: /dev/kvm is missing; guest tests cannot run (a failure under CI)" >&2
    exit 1
  fi
  echo "test: warning: /dev/kvm is missing; guest tests will fail" >&2
fi
scripts/build.sh
tests/fetch-stock-kernel.sh
ctest --test-dir build --output-on-failure -j1 "$@"
