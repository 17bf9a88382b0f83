#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tests guest-images/make-progress.sh, the filter guest-images/build.sh puts
# the kernel build through, without building a kernel: a recorded kbuild
# log (guest-images/testdata/kernel-build.log, the start of a real build)
# and a tiny make run that is slow on purpose and fails at its end.
# Usage: check-make-progress.sh SOURCE_DIR
set -uo pipefail

SRC=${1:?usage: check-make-progress.sh SOURCE_DIR}
FILTER=$SRC/guest-images/make-progress.sh
RECORDED=$SRC/guest-images/testdata/kernel-build.log
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# 1. The recorded log: kept whole, and the totals are the log's own counts.
"$FILTER" "$TMP/log" 5 "kernel build" <"$RECORDED" 2>"$TMP/err" || fail "the filter failed on the recorded log"
cmp -s "$RECORDED" "$TMP/log" || fail "the kept log differs from what came in"
steps=$(grep -cE '^  [A-Z][A-Z0-9_]* +[^ ]' "$RECORDED")
compiled=$(grep -cE '^  (CC|AS|CXX|HOSTCC|HOSTCXX) +[^ ].*\.o$' "$RECORDED")
((steps > 50 && compiled > 10)) || fail "the recorded log has too few steps to test with ($steps, $compiled)"
want="guest-images: kernel build: $steps steps ($compiled objects compiled) in "
last=$(tail -n 1 "$TMP/err")
[[ $last == "$want"* ]] || fail "last line: '$last', expected it to start with '$want'"

# 2. A slow make that fails: periodic lines while it runs (also while one
# step outlasts the interval), make's status through the pipe as build.sh
# sees it, its error kept in the log.
cat >"$TMP/Makefile" <<'MAKE'
all: c.o
a.o:
	@echo "  CC      a.o"
b.o: a.o
	@echo "  CC      b.o"; echo "b.c:1: warning: something"; sleep 2
c.o: b.o
	@echo "  LD      c.o"; sleep 2; echo "c: error: it broke" >&2; exit 1
MAKE
if make -s -C "$TMP" --no-print-directory 2>&1 | "$FILTER" "$TMP/make.log" 1 "tiny build" 2>"$TMP/make.err"; then
	fail "a failing make went through the filter as a success"
fi
grep -q '^c: error: it broke$' "$TMP/make.log" || fail "make's error is not in the log"
grep -q 'warning: something' "$TMP/make.log" || fail "make's warning is not in the log"
grep -q 'warning\|error' "$TMP/make.err" && fail "make's own lines reached the terminal: $(cat "$TMP/make.err")"
periodic=$(grep -c 'so far, at ' "$TMP/make.err")
((periodic >= 2)) || fail "expected a progress line each second of a 4 s build, got $periodic: $(cat "$TMP/make.err")"
grep -q 'so far, at LD c.o$' "$TMP/make.err" || fail "no progress line while the last step ran: $(cat "$TMP/make.err")"
grep -q '^guest-images: tiny build: 3 steps (2 objects compiled) in ' "$TMP/make.err" ||
	fail "wrong totals: $(tail -n 1 "$TMP/make.err")"

# 3. A bad interval is refused, naming it.
if echo | "$FILTER" "$TMP/x.log" 0.5 2>"$TMP/bad.err"; then fail "interval 0.5 accepted"; fi
grep -q "got '0.5'" "$TMP/bad.err" || fail "the error does not name the interval: $(cat "$TMP/bad.err")"

((failures == 0)) && echo "make-progress: all checks passed"
exit $((failures > 0))
