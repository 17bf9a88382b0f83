#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets (fuzz/, CMake option VMM_FUZZ) with clang in
# the checked tree (scripts/configure-checked.sh: build-checked/) and runs
# each for SECONDS_EACH seconds on a scratch copy of its seed corpus
# (fuzz/corpus/<target>/; the committed corpus never grows).
# Prints one line per target (executions, exec/s, coverage) and exits
# non-zero naming the target and the saved crashing input if any target
# crashes, leaks, runs out of memory or times out.
#
#   scripts/fuzz.sh [SECONDS_EACH] [TARGET...]   (default 20 s, all targets)
#
# Targets run one after another; the build uses every core. Environment:
# VMM_FUZZ_BUILD (build folder), VMM_FUZZ_JOBS (build parallelism).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-20}
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || (( seconds < 1 )); then
  echo "fuzz: SECONDS_EACH must be a whole number of seconds (at least 1), not '$seconds'" >&2
  exit 2
fi
build=${VMM_FUZZ_BUILD:-$root/build-checked}
jobs=${VMM_FUZZ_JOBS:-$(nproc)}
"$root/scripts/configure-checked.sh" "$build" >/dev/null
if ! cmake --build "$build" --target fuzzers -j "$jobs" >"$build/build.log" 2>&1; then
  grep -E 'error|Error' "$build/build.log" | head -n 30 >&2 || tail -n 30 "$build/build.log" >&2
  echo "fuzz: building the fuzz targets failed (log: $build/build.log)" >&2
  exit 1
fi

targets=("$@")
if (( ${#targets[@]} == 0 )); then
  for dir in "$root"/fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
crashes="$build/crashes"
failed=()
for target in "${targets[@]}"; do
  binary="$build/fuzz/${target}_fuzzer"
  if [[ ! -x "$binary" || ! -d "$root/fuzz/corpus/$target" ]]; then
    echo "fuzz: no target '$target' (fuzz/${target}_fuzzer.cc and fuzz/corpus/$target/)" >&2
    exit 2
  fi
  work="$scratch/$target"
  mkdir -p "$work/artifacts"
  cp -r "$root/fuzz/corpus/$target" "$work/corpus"
  log="$build/$target.log"
  rc=0
  # -timeout: one input that runs this long is a hang. -rss_limit_mb: a
  # parser must not need this much memory for any input.
  UBSAN_OPTIONS=print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS} "$binary" "$work/corpus" -max_total_time="$seconds" -print_final_stats=1 -timeout=30 \
    -rss_limit_mb=2560 -artifact_prefix="$work/artifacts/" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
  printf '%-18s %10s execs %7s exec/s  %s\n' "$target" "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}"
  if (( rc != 0 )); then
    mkdir -p "$crashes"
    saved=()
    for artifact in "$work"/artifacts/*; do
      [[ -e "$artifact" ]] || continue
      cp "$artifact" "$crashes/$target-$(basename "$artifact")"
      saved+=("$crashes/$target-$(basename "$artifact")")
    done
    grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|fuzz: ' "$log" >&2 || true
    echo "fuzz: $target failed (exit $rc); input: ${saved[*]:-none saved}; log: $log" >&2
    failed+=("$target")
  fi
done
if (( ${#failed[@]} > 0 )); then
  echo "fuzz: failing targets: ${failed[*]}" >&2
  exit 1
fi
