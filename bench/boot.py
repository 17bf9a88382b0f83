#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/boot: boot time and host-side cost of the VMM, against QEMU.

Boots the default guest image N times with `vmm run` and (when
qemu-system-x86_64 is installed) N times with QEMU on the same terms
(bench/benchlib.py: microvm with ACPI, RAM on a shared memfd, a balloon
with free page reporting as ours has by default, the same kernel,
initramfs, command line and hidden CPU features, one vCPU). Both are
started through build/bench/exec_stamp, which records the time just before
exec. Printed per VMM (medians):
  - ready: exec -> the guest's ready marker on the console,
  - start-up: exec -> the first KVM_RUN (dynamic loading included). Ours:
    its "vCPU 0 enters the guest" log line, which carries CLOCK_MONOTONIC.
    QEMU: N more runs with `-trace kvm_vcpu_ioctl -msg timestamp=on`, its
    first KVM_RUN ioctl's time of day (microseconds), the run then killed,
  - host CPU, exec -> ready: all threads but the vCPU threads (the
    accounting in benchlib.py), and the vCPU threads' own (the guest),
  - memory overhead at the ready marker: RSS, PSS and private memory of
    every mapping except the guest-RAM memfd,
and the ratios vmm/QEMU. Guest-bound wall time is about equal for any VMM
here (PVM emulates the guest kernel, docs/PVM.md); host-side cost is
what the VMM controls.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (CPU_ACCOUNTING, EXEC_STAMP, IMAGE, MARKER, PVM, VMM, Console, CpuMeter,  # noqa: E402
                      exec_stamp, fmt, launch, median, memory_overhead_kib, qemu_argv, qemu_binary,
                      qemu_traced_first_run_ms, reap, vmm_first_run_ms)
import results  # noqa: E402


def boot_once(argv, first_run, timeout=600):
    stamp = tempfile.mktemp(prefix="bench-boot-", suffix=".stamp")
    err = tempfile.TemporaryFile()
    proc = launch(argv, stamp, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    con = Console(proc)
    res = {"ready_s": None, "cpu": {"vmm_ms": None, "vcpu_ms": None}, "mem": None}
    try:
        if con.wait_for(MARKER, timeout):
            now = time.monotonic_ns()
            res["cpu"] = CpuMeter(proc.pid, from_exec=True).start().stop()
            res["ready_s"] = (now - exec_stamp(stamp)[0]) / 1e9
            time.sleep(0.5)  # let the shell settle
            res["mem"] = memory_overhead_kib(proc.pid)
            proc.stdin.write(b"poweroff -f\n")
            proc.stdin.flush()
        status, _ = reap(proc, 60)
        if status is None:
            proc.kill()
            reap(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            reap(proc)
    err.seek(0)
    res["stderr"] = err.read().decode(errors="replace")
    res["startup_ms"] = first_run(res["stderr"], stamp) if first_run else None
    os.unlink(stamp)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--memory", default="512M")
    ap.add_argument("--no-qemu", action="store_true")
    results.add_arguments(ap)
    args = ap.parse_args()
    results.check_outputs(args, "bench/boot")
    if not all(os.path.exists(p) for p in (VMM, EXEC_STAMP, os.path.join(IMAGE, "vmlinux"))):
        sys.exit("bench/boot: build first (cmake --build build; guest-images/build.sh)")

    runs = {"vmm": [boot_once([VMM, "run", "--memory", args.memory], vmm_first_run_ms) for _ in range(args.runs)]}
    if not args.no_qemu and qemu_binary():
        runs["qemu"] = [boot_once(qemu_argv(args.memory), None) for _ in range(args.runs)]
        for r in runs["qemu"]:
            r["startup_ms"] = qemu_traced_first_run_ms(qemu_argv(args.memory, trace_first_run=True))
    elif not args.no_qemu:
        print("qemu-system-x86_64 not installed (WITH_QEMU=1 scripts/install-deps.sh): no ratios")

    print(f"bench/boot: {args.runs} boots each, {args.memory} guest, default image{' (PVM host)' if PVM else ''}")
    print(f"  {CPU_ACCOUNTING}; window: exec -> ready marker")
    print("  start-up: exec -> first KVM_RUN (ours: its log line's CLOCK_MONOTONIC; QEMU: its kvm_vcpu_ioctl trace, "
          "separate runs); memory: every mapping but the guest-RAM memfd, at the ready marker")
    print(f"  {'vmm':5} {'ready s':>8} {'start-up ms':>12} {'host CPU ms':>12} {'vCPU ms':>9} "
          f"{'RSS MiB':>8} {'PSS MiB':>8} {'private MiB':>12}")
    summary = {}
    for name, rs in runs.items():
        failed = [r for r in rs if r["ready_s"] is None]
        if failed:
            print(f"  {name}: {len(failed)} boots did not reach the ready marker; stderr of one:\n"
                  + failed[0]["stderr"][-2000:])
        ok = [r for r in rs if r["ready_s"] is not None]
        s = {"ready_s": median([r["ready_s"] for r in ok]),
             "startup_ms": median([r["startup_ms"] for r in rs]),
             "cpu_ms": median([r["cpu"]["vmm_ms"] for r in ok]),
             "vcpu_ms": median([r["cpu"]["vcpu_ms"] for r in ok])}
        for key in ("rss", "pss", "private"):
            s[key] = median([r["mem"][key + "_kib"] / 1024 for r in ok if r["mem"]])
        summary[name] = s
        print(f"  {name:5} {fmt(s['ready_s'], '8.2f')} {fmt(s['startup_ms'], '12.2f')} {fmt(s['cpu_ms'], '12.1f')} "
              f"{fmt(s['vcpu_ms'], '9.0f')} {fmt(s['rss'], '8.2f')} {fmt(s['pss'], '8.2f')} "
              f"{fmt(s['private'], '12.2f')}")
    if "qemu" in summary:
        v, q = summary["vmm"], summary["qemu"]

        def ratio(key):
            return "n/a" if not v[key] or not q[key] else f"{v[key] / q[key]:.2f}"
        print(f"  ratio vmm/qemu: ready {ratio('ready_s')}  start-up {ratio('startup_ms')}  host CPU {ratio('cpu_ms')}  "
              f"RSS {ratio('rss')}  PSS {ratio('pss')}  private {ratio('private')}")
    v = summary["vmm"]
    met = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    print("  goals: boot no slower than QEMU; start-up (exec -> first KVM_RUN) < 10 ms: "
          f"{met(v['startup_ms'] is not None and v['startup_ms'] < 10)}; memory overhead < 5 MiB: "
          f"PSS {met(v['pss'] is not None and v['pss'] < 5)}, RSS {met(v['rss'] is not None and v['rss'] < 5)}, "
          f"private {met(v['private'] is not None and v['private'] < 5)}")
    # One row per boot (stderr left out: it is for reading a failure above).
    rows = [{"vmm": name, "run": i, **{k: v for k, v in r.items() if k != "stderr"}}
            for name, rs in runs.items() for i, r in enumerate(rs)]
    results.write_outputs(args, "boot", rows, medians=summary)


if __name__ == "__main__":
    main()
