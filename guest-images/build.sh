#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the project's default guest into guest-images/out/:
#   vmlinux          uncompressed ELF kernel (has the PVH note; preferred entry)
#   bzImage          the same kernel, LZ4-compressed payload
#   initramfs.cpio   uncompressed newc cpio: busybox, /init, test tools
#   cmdline          kernel options the guest needs besides console=ttyS0
# See README.md next to this script. Usage: guest-images/build.sh [--force]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/out
CACHE=$HERE/cache
KSRC_TAR=/usr/src/linux-source-6.1.tar.xz
KDIR=$CACHE/linux-source-6.1
JOBS=${JOBS:-$(nproc)}
FORCE=0
[[ ${1:-} == --force ]] && FORCE=1

# Options the guest kernel needs on the command line (besides console=ttyS0)
# on every host. The PVM-only ones are added by the VMM on PVM hosts
# (vmm/kvm/cpuid.h, kPvmKernelOptions); see README.md.
CMDLINE="quiet"

log() { printf 'guest-images: %s\n' "$*" >&2; }
# The stages below, numbered, each with the time since the build began, so a
# long one (extracting, the kernel build) is never silence.
STAGES=5
stage() { log "[$1/$STAGES] $2 (at $((SECONDS - START)) s)"; }
# Seconds between progress lines of the long stages.
PROGRESS_SECONDS=${PROGRESS_SECONDS:-10}
die() { printf 'guest-images: ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- packages
need=()
pkg_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }
[[ -f $KSRC_TAR ]] || need+=(linux-source-6.1)
pkg_installed busybox-static || need+=(busybox-static)
for t in make:make gcc:gcc flex:flex bison:bison bc:bc cpio:cpio lz4:lz4 xz:xz-utils \
         perl:perl patch:patch sha256sum:coreutils; do
	command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
done
[[ -f /usr/include/gelf.h ]] || need+=(libelf-dev)
[[ -f /usr/include/openssl/opensslv.h ]] || need+=(libssl-dev)
[[ -f /usr/lib/x86_64-linux-gnu/libc.a ]] || need+=(libc6-dev)
if ((${#need[@]})); then
	log "installing: ${need[*]}"
	SUDO=
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null || die "need root (or sudo) to install: ${need[*]}"
		SUDO=sudo
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
		$SUDO apt-get update >/dev/null
		$SUDO apt-get install -y --no-install-recommends "${need[@]}"
	}
fi
BUSYBOX=/bin/busybox
[[ -x $BUSYBOX ]] || die "$BUSYBOX missing after installing busybox-static"
# The applets README.md promises for the disk and the network.
APPLETS=" $("$BUSYBOX" --list | tr '\n' ' ') "
for a in mount umount ip ifconfig ping sync; do
	[[ $APPLETS == *" $a "* ]] || die "$BUSYBOX has no '$a' applet"
done

# ---------------------------------------------------------------- cache key
KPKG=$(dpkg-query -W -f='${Version}' linux-source-6.1)
BBPKG=$(dpkg-query -W -f='${Version}' busybox-static)
shopt -s nullglob
PATCHES=("$HERE"/patches/*.patch)
INPUTS=("$HERE/build.sh" "$HERE/kernel.config" "${PATCHES[@]}" "$HERE"/init/* "$HERE"/tools/*)
KEY=$( { for f in "${INPUTS[@]}"; do echo "== ${f#"$HERE"/}"; cat "$f"; done
         echo "linux-source-6.1 $KPKG"; echo "busybox-static $BBPKG"
         echo "gcc $(gcc -dumpfullversion)"; } | sha256sum | cut -d' ' -f1)
if ((!FORCE)) && [[ -f $OUT/.key && $(cat "$OUT/.key") == "$KEY" ]] &&
   [[ -f $OUT/vmlinux && -f $OUT/bzImage && -f $OUT/initramfs.cpio && -f $OUT/cmdline ]]; then
	echo "guest image up to date"
	exit 0
fi
START=$SECONDS
mkdir -p "$OUT" "$CACHE"
rm -f "$OUT/.key"

# ---------------------------------------------------------------- kernel tree
if [[ ! -f $KDIR/.pkgver || $(cat "$KDIR/.pkgver") != "$KPKG" ]]; then
	stage 1 "extracting linux-source-6.1 $KPKG into $KDIR (~1.3 GiB; a line per 200 MiB)"
	rm -rf "$KDIR" "$CACHE/applied"
	# tar's checkpoints (every 20480 records of 10 KiB), its "tar: " prefix
	# taken off our own lines only (tar prints nothing else on stdout).
	tar -C "$CACHE" -xf "$KSRC_TAR" --checkpoint=20480 \
		--checkpoint-action=echo='guest-images: extracting: %{}T' 2>&1 |
		sed -u 's/^tar: guest-images:/guest-images:/' >&2
	[[ -d $KDIR ]] || die "$KSRC_TAR did not contain linux-source-6.1/"
	echo "$KPKG" >"$KDIR/.pkgver"
else
	stage 1 "kernel source: linux-source-6.1 $KPKG, extracted earlier"
fi

# Patches: the tree keeps copies of what is applied in cache/applied/. When the
# set changes, revert the old ones (newest first) and apply the new ones, so
# only the touched files are recompiled.
patchset_id() { for f in "$@"; do basename "$f"; cat "$f"; done | sha256sum | cut -d' ' -f1; }
APPLIED=("$CACHE"/applied/*.patch)
if [[ $(patchset_id "${APPLIED[@]}") == $(patchset_id "${PATCHES[@]}") ]]; then
	stage 2 "patches: the ${#PATCHES[@]} in patches/ are applied already"
else
	stage 2 "patches: reverting ${#APPLIED[@]}, applying ${#PATCHES[@]}"
	for ((i = ${#APPLIED[@]} - 1; i >= 0; i--)); do
		log "reverting $(basename "${APPLIED[i]}")"
		patch -d "$KDIR" -p1 -R -s --no-backup-if-mismatch <"${APPLIED[i]}" ||
			die "cannot revert ${APPLIED[i]}; delete $CACHE and rerun"
		rm -f "${APPLIED[i]}"
	done
	mkdir -p "$CACHE/applied"
	for p in "${PATCHES[@]}"; do
		log "applying $(basename "$p")"
		patch -d "$KDIR" -p1 -N -s --no-backup-if-mismatch <"$p" || die "patch $p failed"
		cp "$p" "$CACHE/applied/"
	done
fi

# ---------------------------------------------------------------- kernel config
CONFIG_LOG=$CACHE/kernel-config.log
stage 3 "configuring: tinyconfig + kernel.config, then checking every line of it (log: $CONFIG_LOG)"
KMAKE=(make -C "$KDIR" ARCH=x86_64 KBUILD_BUILD_USER=vmm KBUILD_BUILD_HOST=guest-images
       "KBUILD_BUILD_TIMESTAMP=$(date -u -d @0)")
: >"$CONFIG_LOG"
# A line as each step starts, so the terminal shows which one is running;
# their output goes to the log, whose tail is shown when one fails.
config_step() {
	log "configuring: $1 (at $((SECONDS - START)) s)"
	"${@:2}" >>"$CONFIG_LOG" 2>&1 || { tail -n 20 "$CONFIG_LOG" >&2; die "$1 failed (log: $CONFIG_LOG)"; }
}
config_step "make tinyconfig (compiles the kconfig tools the first time)" "${KMAKE[@]}" tinyconfig
config_step "merging kernel.config into it" \
	bash -c 'cd "$1" && scripts/kconfig/merge_config.sh -m .config "$2"' merge "$KDIR" "$HERE/kernel.config"
config_step "make olddefconfig" "${KMAKE[@]}" olddefconfig
log "configuring: checking each of kernel.config's $(grep -c '^CONFIG_\|^# CONFIG_' "$HERE/kernel.config") options (at $((SECONDS - START)) s)"
bad=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=*)
		grep -qxF -- "$line" "$KDIR/.config" || {
			log "config: asked for '$line', got '$(grep -E "^(# )?${line%%=*}[= ]" "$KDIR/.config" || echo unset)'"
			bad=1
		} ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }; opt=${opt%% *}
		! grep -q "^$opt=" "$KDIR/.config" || {
			log "config: asked for $opt off, got '$(grep "^$opt=" "$KDIR/.config")'"
			bad=1
		} ;;
	esac
done <"$HERE/kernel.config"
((bad == 0)) || die "kernel config does not match kernel.config (dependencies?)"

# ---------------------------------------------------------------- kernel build
stage 4 "building the kernel: make -j$JOBS vmlinux bzImage (from scratch ~4 min on 2 cores; a line every $PROGRESS_SECONDS s; full log: $CACHE/kernel-build.log)"
if ! "${KMAKE[@]}" -j"$JOBS" vmlinux bzImage 2>&1 |
	"$HERE/make-progress.sh" "$CACHE/kernel-build.log" "$PROGRESS_SECONDS" "kernel build"; then
	tail -n 40 "$CACHE/kernel-build.log" >&2
	die "kernel build failed (full log: $CACHE/kernel-build.log)"
fi
cp "$KDIR/vmlinux" "$OUT/vmlinux.tmp" && mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
cp "$KDIR/arch/x86/boot/bzImage" "$OUT/bzImage.tmp" && mv "$OUT/bzImage.tmp" "$OUT/bzImage"

# ---------------------------------------------------------------- initramfs
stage 5 "building the initramfs: /init, the tools, busybox"
STAGE=$CACHE/initramfs
rm -rf "$STAGE" && mkdir -p "$STAGE/bin"
gcc -static -O2 -Wall -o "$STAGE/init" "$HERE/init/init.c"
for src in "$HERE"/tools/*.c; do
	gcc -static -O2 -Wall -o "$STAGE/bin/$(basename "$src" .c)" "$src"
done
GEN=$CACHE/gen_init_cpio
gcc -O2 -o "$GEN" "$KDIR/usr/gen_init_cpio.c"
LIST=$CACHE/initramfs.list
{
	for d in bin sbin usr usr/bin usr/sbin dev proc sys tmp root etc mnt; do
		echo "dir /$d 0755 0 0"
	done
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "file /init $STAGE/init 0755 0 0"
	echo "file /bin/busybox $BUSYBOX 0755 0 0"
	for t in "$STAGE"/bin/*; do echo "file /bin/$(basename "$t") $t 0755 0 0"; done
	for a in $("$BUSYBOX" --list-full); do
		[[ $a == bin/busybox || -e $STAGE/$a ]] && continue
		[[ $a == linuxrc || $a == sbin/init ]] && continue  # /init is ours
		echo "slink /$a /bin/busybox 0777 0 0"
	done
} >"$LIST"
"$GEN" -t 0 "$LIST" >"$OUT/initramfs.cpio.tmp"
mv "$OUT/initramfs.cpio.tmp" "$OUT/initramfs.cpio"

echo "$CMDLINE" >"$OUT/cmdline"
echo "$KEY" >"$OUT/.key"
log "done in $((SECONDS - START)) s: $(cd "$OUT" && ls -s --block-size=K vmlinux bzImage initramfs.cpio | tr '\n' ' ')"
