#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages the project builds and tests with.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

PACKAGES=(
  # build
  g++ cmake make pkg-config
  linux-libc-dev libabsl-dev libfdt-dev libgtest-dev libgmock-dev libseccomp-dev
  zlib1g-dev liblzma-dev libzstd-dev liblz4-dev
  # guest image (guest-images/build.sh)
  linux-source-6.1 busybox-static flex bison bc libelf-dev libssl-dev cpio xz-utils
  nlohmann-json3-dev libcpp-httplib-dev libbrotli-dev
  # tests and benchmarks
  acpica-tools iproute2 python3 procps strace
  python3-matplotlib  # bench/*.py --plot, and bench_output_test draws its charts with it
  e2fsprogs  # tests/disk_guest_test.cc: mkfs.ext4 -d, debugfs
  openssl  # the command: certificates for tls: (migration_tls_guest_test, bench/migrate.py --tls)
  # packaging (cpack -G DEB: dpkg-shlibdeps finds the Depends, file finds the ELF files)
  dpkg-dev file
  # fuzzing (scripts/fuzz.sh): clang with libFuzzer and its sanitizer runtimes
  clang libfuzzer-14-dev libclang-rt-14-dev
)
# qemu-system-x86 is the benchmark peer (bench/); install it when asked.
if [[ "${WITH_QEMU:-0}" == 1 ]]; then PACKAGES+=(qemu-system-x86); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
