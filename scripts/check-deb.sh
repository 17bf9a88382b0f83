#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the .deb from a configured and built tree (cpack -G DEB), unpacks it
# into a scratch root (dpkg-deb -x) and checks it as a user would meet it:
# the unpacked binary runs and names its version, the man page, the bash
# completion and the systemd unit are where Debian looks for them, and the
# Depends found by dpkg-shlibdeps name the libraries the binary links, each
# one installed here. Run by CTest (deb_test):
#   scripts/check-deb.sh BUILD_DIR VERSION
set -euo pipefail
BUILD=$1
VERSION=$2
scratch=$(mktemp -d "${TMPDIR:-/tmp}/vmm-deb.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
fail() { echo "check-deb: $*" >&2; exit 1; }

if ! cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$scratch/out" >"$scratch/cpack.log" 2>&1; then
  cat "$scratch/cpack.log" >&2
  fail "cpack -G DEB failed"
fi
debs=("$scratch"/out/vmm_*.deb)
[[ -f ${debs[0]} ]] || fail "cpack wrote no vmm_*.deb: $(ls "$scratch/out")"
deb=${debs[0]}
echo "check-deb: $(basename "$deb"), $(stat -c %s "$deb") bytes"

[[ $(dpkg-deb -f "$deb" Package) == vmm ]] || fail "Package is '$(dpkg-deb -f "$deb" Package)'"
[[ $(dpkg-deb -f "$deb" Version) == "$VERSION" ]] || fail "Version is '$(dpkg-deb -f "$deb" Version)', expected $VERSION"
depends=$(dpkg-deb -f "$deb" Depends)
echo "check-deb: Depends: $depends"
# Shared libraries the binary certainly links: glibc and Abseil.
[[ $depends == *libc6* && $depends == *libabsl* ]] || fail "Depends lacks libc6 or libabsl (shlibdeps did not run?)"
IFS=',' read -ra dependencies <<<"$depends"
for dependency in "${dependencies[@]}"; do
  name=$(awk '{print $1}' <<<"$dependency")
  dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed" ||
    fail "dependency $name is not installed here, so the package could not be"
done

root="$scratch/root"
dpkg-deb -x "$deb" "$root"
for file in usr/bin/vmm usr/share/man/man1/vmm.1 usr/share/bash-completion/completions/vmm \
            usr/lib/systemd/system/vmm@.service usr/share/doc/vmm/LICENSE usr/share/doc/vmm/examples/vm.json; do
  [[ -f $root/$file ]] || fail "$file is missing from the package (it has: $(cd "$root" && find . -type f | tr '\n' ' '))"
done
if ldd "$root/usr/bin/vmm" | grep -q 'not found'; then
  fail "the packaged binary misses libraries: $(ldd "$root/usr/bin/vmm" | grep 'not found')"
fi
version_line=$("$root/usr/bin/vmm" --version) || fail "the packaged vmm --version failed"
[[ $version_line == "vmm $VERSION"* ]] || fail "the packaged vmm --version printed '$version_line'"
grep -q '^_vmm()' "$root/usr/share/bash-completion/completions/vmm" || fail "the completion defines no _vmm"
grep -q '^ExecStart=vmm run --config /etc/vmm/%i.json --api-socket /run/vmm/%i.sock' \
  "$root/usr/lib/systemd/system/vmm@.service" ||
  fail "the unit does not start vmm with its socket under /run/vmm"
grep -q "^\.TH VMM 1 .*vmm $VERSION" "$root/usr/share/man/man1/vmm.1" || fail "the man page does not name version $VERSION"
echo "check-deb: ok: $version_line runs from the unpacked package"
