#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fetches Debian's stock cloud kernel (a bzImage) for the test that boots it,
# into tests/stock-kernel/vmlinuz (git-ignored). Unpacked, never installed.
# Cached: does nothing when the kernel is already there.
set -euo pipefail
cd "$(dirname "$0")"
out=stock-kernel
if [[ -s $out/vmlinuz ]]; then exit 0; fi
mkdir -p $out/tmp
cd $out/tmp
apt-get download linux-image-cloud-amd64 >/dev/null 2>&1 || {
  (apt-get update -q >/dev/null 2>&1 || sudo apt-get update -q >/dev/null) && apt-get download linux-image-cloud-amd64 >/dev/null
}
meta=$(ls linux-image-cloud-amd64_*.deb | head -n1)
# The meta package depends on the versioned image package.
image=$(dpkg-deb -f "$meta" Depends | tr ',' '\n' | grep -o 'linux-image-[0-9][^ ]*-cloud-amd64' | head -n1)
apt-get download "$image" >/dev/null
dpkg-deb -x "$(ls "${image}"_*.deb | head -n1)" root
cp root/boot/vmlinuz-* ../vmlinuz
cd .. && rm -rf tmp
echo "stock kernel: $(pwd)/vmlinuz ($image)"
