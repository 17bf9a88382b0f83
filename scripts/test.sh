#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's second command: install dependencies, build everything, run
# every test (unit tests and tests that boot real guests), then the
# sanitizer run and every fuzz target for 10 s. CI runs exactly this.
#
#   scripts/test.sh              the whole suite, the --sanitize run, then
#                                scripts/fuzz.sh 10 (VMM_CI_FUZZ_SECONDS)
#   scripts/test.sh CTEST_ARGS   the whole suite's build, tests chosen by these
#                                ctest arguments (-R REGEX, ...); no sanitizer run
#   scripts/test.sh --sanitize   only the sanitizer run: everything built with
#                                clang's ASan+UBSan in build-checked (the fuzz
#                                targets' tree), every unit test and one
#                                guest boot, balloon and migration test
#   scripts/test.sh --tsan       ThreadSanitizer: the unit-test binaries that run
#                                threads, built in build-tsan (not run by CI)
#   scripts/test.sh --unverified the guest tests labelled `unverified`: written
#                                on a host without /dev/kvm and never yet run
#                                against a real guest, so left out of the suite
#                                (and CI) until a session with KVM has run them
set -euo pipefail
cd "$(dirname "$0")/.."

# The guest tests of the sanitizer run: few, because each boots a guest, and
# what they add is the VMM's own code paths under ASan (devices, the balloon's
# discards, the migration sender and receiver), not more guest coverage.
ASAN_GUEST_TESTS='^(GuestTest\.DefaultGuestWithTwoCpusRunsCommandsAndPowersOff|BalloonGuestTest\.InflateGivesMemoryBackAndDeflateReturnsIt|MigrationGuestTest\..*|NetGuestTest\.GuestAndHostPingEachOtherAndFilesCrossBothWays)$'
# Every unit-test binary that starts threads (the notify worker, the write
# tracker, the migration sender and receiver, the API server, the pause
# barrier, the guest profiler, the net and block devices' workers) is one of
# TSAN_BINARIES below.
# The tests that load the real seccomp filters and check that nothing
# outside a thread's list is called: under ASan the sanitizer's own runtime
# makes calls no production thread makes (pipe2 to probe memory, ...), so
# they would fail on the instrumentation, not the VMM. They run in the
# normal suite.
SECCOMP_CONFINEMENT_TESTS='^(ThreadFilterDeathTest|ConfinedFirstUseTest|ConfinedWorkloadTest|SeccompListsTest)\.'
TSAN_BINARIES=(memory/memory_test migration/migration_test vmm/vmm_test vmm/api/api_test
  devices/net/net_test devices/block/block_test)

check_kvm() {
  if [[ ! -c /dev/kvm ]]; then
    if [[ -d /sys/module/kvm_pvm ]]; then
      kernel_log=$(dmesg 2>/dev/null || true)
      pvm_line=$(grep -m1 'kvm-pvm' <<<"$kernel_log" || echo 'no kvm-pvm line in the kernel log')
      echo "test: kvm_pvm is loaded but registered no /dev/kvm ($pvm_line)" >&2
    fi
    # Everything else still builds and runs, so the output shows what does
    # work; every test that needs a VM then fails under CI (a missing
    # /dev/kvm is a failure there, never a skip) and skips elsewhere.
    if [[ "${CI:-}" == "true" ]]; then
      echo "test: /dev/kvm is missing: every test that needs a VM will fail (a failure under CI)" >&2
    else
      echo "test: warning: /dev/kvm is missing: tests that need a VM will be skipped" >&2
    fi
  fi
}

# configure_sanitized DIR KIND: a build tree of everything with VMM_SANITIZE=KIND.
configure_sanitized() {
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMM_WERROR=ON -DVMM_SANITIZE="$2" >/dev/null
}

normal_suite() {
  scripts/build.sh
  # A failed download does not stop the suite: only the test that boots
  # Debian's stock kernel needs it (it fails under CI, skips elsewhere).
  if ! tests/fetch-stock-kernel.sh; then
    echo "test: warning: could not fetch Debian's stock kernel (network?):" \
      "GuestTest.StockDebianKernelBootsOrReportsTheEmulatorGap will $([[ ${CI:-} == true ]] && echo fail || echo skip)" >&2
  fi
  # Two at a time: each guest test keeps one core busy with its emulated guest
  # kernel, and these machines have two.
  ctest --test-dir build --output-on-failure -j2 -LE unverified "$@"
}

sanitize_run() {
  scripts/install-deps.sh
  guest-images/build.sh
  # The checked tree (clang, ASan+UBSan, coverage instrumentation) is the
  # fuzz run's too: built whole here, the fuzz stage only runs its targets.
  local build
  build=$(scripts/configure-checked.sh)
  cmake --build "$build" -j"$(nproc)"
  # A finding ends the process with a report: ASan's and UBSan's by default
  # here (-fno-sanitize-recover), LeakSanitizer's at exit.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  local start=$SECONDS
  ctest --test-dir "$build" --output-on-failure -j2 -LE 'unverified|guest' -E "$SECCOMP_CONFINEMENT_TESTS"
  ctest --test-dir "$build" --output-on-failure -j2 -R "$ASAN_GUEST_TESTS"
  echo "test: sanitizer run: tests took $((SECONDS - start)) s"
}

tsan_run() {
  scripts/install-deps.sh
  configure_sanitized build-tsan thread
  local targets=()
  for binary in "${TSAN_BINARIES[@]}"; do targets+=("$(basename "$binary")"); done
  cmake --build build-tsan -j"$(nproc)" --target "${targets[@]}"
  # halt_on_error: the first race fails the binary instead of being one
  # warning among the test output. scripts/tsan.supp: the copies into and
  # out of guest RAM, which the device tests share with a fake guest driver
  # (that file says why), and nothing else.
  export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}:suppressions=$PWD/scripts/tsan.supp"
  for binary in "${TSAN_BINARIES[@]}"; do
    echo "test: ThreadSanitizer: $binary"
    "build-tsan/$binary"
  done
}

case "${1:-}" in
  --sanitize)
    check_kvm
    sanitize_run
    ;;
  --tsan)
    tsan_run
    ;;
  --unverified)
    check_kvm
    scripts/build.sh
    ctest --test-dir build --output-on-failure -j2 -L unverified
    ;;
  "")
    check_kvm
    # Each stage runs even when one before it failed (a host without
    # /dev/kvm fails the guest tests, and the sanitizer and fuzz runs still
    # say what they found); the exit status is non-zero if any failed. Each
    # runs as its own job so that `set -e` holds inside it.
    failed=()
    stage() {
      local name=$1 start=$SECONDS
      shift
      "$@" &
      if ! wait $!; then failed+=("$name"); fi
      echo "test: stage '$name' took $((SECONDS - start)) s"
    }
    stage "unit and guest tests" normal_suite
    stage "sanitizer run" sanitize_run
    # Every fuzz target briefly, so a parser change that crashes one shows in
    # the next CI run (longer runs: scripts/fuzz.sh 600).
    stage "fuzz run" scripts/fuzz.sh "${VMM_CI_FUZZ_SECONDS:-10}"
    if ((${#failed[@]} > 0)); then
      printf 'test: FAILED: %s\n' "${failed[@]}" >&2
      exit 1
    fi
    ;;
  *)
    check_kvm
    normal_suite "$@"
    ;;
esac
