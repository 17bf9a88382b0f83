#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Shows that a kernel build is moving without flooding the terminal: reads
# kbuild's output (make without -s prints one "  CC      path" line per
# step) on stdin, keeps all of it in LOG, and every INTERVAL seconds prints
# one line on stderr: the steps so far, how many of them compiled an
# object, the newest one and the time taken. A step that takes longer than
# INTERVAL (linking vmlinux) still gets its line. The last line gives the
# totals. Errors stay in LOG; build.sh prints its tail when make fails.
#
# Usage: make ... 2>&1 | make-progress.sh LOG [INTERVAL] [LABEL]
set -uo pipefail

LOG=${1:?usage: make-progress.sh LOG [INTERVAL] [LABEL]}
INTERVAL=${2:-10}
LABEL=${3:-kernel build}
[[ $INTERVAL =~ ^[1-9][0-9]*$ ]] || { echo "make-progress.sh: INTERVAL must be whole seconds, got '$INTERVAL'" >&2; exit 2; }
: >"$LOG" || exit 1

steps=0 compiled=0 last= partial= started=$SECONDS next=$((SECONDS + INTERVAL))

elapsed() {
	local s=$((SECONDS - started))
	if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}
report() { printf 'guest-images: %s: %d steps (%d objects compiled), %s so far, at %s\n' \
	"$LABEL" "$steps" "$compiled" "$(elapsed)" "${last:-the start}" >&2; }

while :; do
	if IFS= read -r -t "$INTERVAL" line; then
		line=$partial$line partial=
	elif (($? > 128)); then
		partial+=$line  # timed out: what came of the line so far waits for its end
		line=
	else
		partial+=$line  # the end of the input; a last line without its newline
		[[ -n $partial ]] && printf '%s\n' "$partial" >>"$LOG"
		break
	fi
	if [[ -n $line ]]; then
		printf '%s\n' "$line" >>"$LOG"
		# kbuild's short form: two spaces, the step in capitals, its target.
		if [[ $line =~ ^\ \ ([A-Z][A-Z0-9_]*)\ +([^ ].*)$ ]]; then
			steps=$((steps + 1))
			last="${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
			case ${BASH_REMATCH[1]} in
			CC | AS | CXX | HOSTCC | HOSTCXX) [[ ${BASH_REMATCH[2]} == *.o ]] && compiled=$((compiled + 1)) ;;
			esac
		fi
	fi
	if ((SECONDS >= next)); then
		report
		next=$((SECONDS + INTERVAL))
	fi
done
printf 'guest-images: %s: %d steps (%d objects compiled) in %s\n' "$LABEL" "$steps" "$compiled" "$(elapsed)" >&2
