#!/usr/bin/env python3
"""bench/boot: boot time and host-side cost of the VMM, against QEMU.

Boots the default guest image N times with `vmm run` and (when
qemu-system-x86_64 is installed) N times with QEMU (-M microvm,acpi=on
-accel kvm, the same kernel, initramfs, command line and CPU features hidden
the same way), and prints per VMM:
  - median time from process start to the guest's ready marker,
  - the VMM's own start-up (process start to the first KVM_RUN; vmm only,
    from its log line),
  - CPU time of the VMM process (user + system) for boot + poweroff,
  - RSS overhead: memory besides guest RAM (vmm: Pss_Anon + Pss_File from
    its exit log line, shared libraries included by their share; QEMU:
    VmRSS minus the guest RAM resident, read from smaps at the ready
    marker),
and the ratios vmm/QEMU. Guest-bound wall time is about equal for any VMM
here (PVM emulates the guest kernel, shared/PLATFORM.md); host-side cost is
what the VMM controls.
"""
import argparse
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.path.join(ROOT, "guest-images", "out")
VMM = os.path.join(ROOT, "build", "vmm", "vmm")
MARKER = b"VMM-GUEST-READY"
PVM = os.path.exists("/sys/module/kvm_pvm")
PVM_OPTIONS = "noxsave clearcpuid=cx16,popcnt,smap,erms,fsrm"


def image_cmdline():
    with open(os.path.join(IMAGE, "cmdline")) as f:
        return "console=ttyS0 " + f.read().strip()


def rss_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def boot_once(argv, timeout=300):
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out = b""
    ready = None
    rss_at_ready = 0
    shmem_at_ready = 0
    deadline = start + timeout
    waited = None  # (status, rusage) once reaped; Popen.poll() would lose the rusage
    while time.monotonic() < deadline and waited is None:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            chunk = os.read(proc.stdout.fileno(), 65536)
            out += chunk
            if ready is None and MARKER in out:
                ready = time.monotonic() - start
                time.sleep(0.5)  # let the shell settle
                rss_at_ready = rss_kib(proc.pid)
                shmem_at_ready = rss_kib(proc.pid, "RssShmem")
                proc.stdin.write(b"poweroff -f\n")
                proc.stdin.flush()
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            waited = (status, usage)
    if waited is None:
        proc.kill()
        _, status, usage = os.wait4(proc.pid, 0)
        waited = (status, usage)
    status, usage = waited
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    return {
        "ready_s": ready,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_kib": rss_at_ready,
        "shmem_kib": shmem_at_ready,
        "stderr": err,
        "status": os.waitstatus_to_exitcode(status),
    }


def vmm_run(memory):
    res = boot_once([VMM, "run", "--memory", memory])
    m = re.search(r"vCPU 0 enters the guest ([0-9.]+) ms", res["stderr"])
    res["startup_ms"] = float(m.group(1)) if m else None
    m = re.search(r"vmm_overhead_kib=(-?\d+)", res["stderr"])
    res["overhead_kib"] = int(m.group(1)) if m else None
    return res


def qemu_run(memory):
    qemu = shutil.which("qemu-system-x86_64")
    cmdline = image_cmdline() + (" " + PVM_OPTIONS if PVM else "")
    # -arch-capabilities: this host's KVM refuses QEMU's write of that MSR.
    cpu = "host,-arch-capabilities"
    if PVM:
        cpu += ",-kvm-pv-ipi,-kvm-pv-sched-yield,-kvm-pv-unhalt,-xsave,-popcnt,-smap,-erms,-fsrm,-cx16"
    res = boot_once([qemu, "-M", "microvm,acpi=on", "-accel", "kvm", "-cpu", cpu, "-m", memory,
                     "-smp", "1", "-nographic", "-nodefaults", "-no-user-config", "-serial", "stdio",
                     "-kernel", os.path.join(IMAGE, "vmlinux"),
                     "-initrd", os.path.join(IMAGE, "initramfs.cpio"), "-append", cmdline])
    res["startup_ms"] = None
    # QEMU's guest RAM is anonymous memory mixed with its own heap in RSS;
    # no overhead figure is derived for it (RSS at the ready marker is shown).
    res["overhead_kib"] = None
    return res


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, unit, digits=2):
    return "n/a" if v is None else f"{v:.{digits}f} {unit}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--memory", default="512M")
    ap.add_argument("--no-qemu", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(VMM) or not os.path.exists(os.path.join(IMAGE, "vmlinux")):
        sys.exit("bench/boot: build first (scripts/build.sh)")

    results = {"vmm": [vmm_run(args.memory) for _ in range(args.runs)]}
    if not args.no_qemu and shutil.which("qemu-system-x86_64"):
        results["qemu"] = [qemu_run(args.memory) for _ in range(args.runs)]
    elif not args.no_qemu:
        print("qemu-system-x86_64 not installed (WITH_QEMU=1 scripts/install-deps.sh): no ratios")

    summary = {}
    print(f"bench/boot: {args.runs} boots each, {args.memory} guest, default image"
          f"{' (PVM host)' if PVM else ''}")
    for name, runs in results.items():
        failed = [r for r in runs if r["ready_s"] is None]
        if failed:
            print(f"  {name}: {len(failed)} boots did not reach the ready marker; stderr of one:\n"
                  + failed[0]["stderr"][-2000:])
        s = {
            "ready_s": median([r["ready_s"] for r in runs]),
            "startup_ms": median([r["startup_ms"] for r in runs]),
            "cpu_s": median([r["cpu_s"] for r in runs]),
            "rss_mib": median([r["rss_kib"] / 1024 for r in runs]),
            "overhead_mib": median([None if r["overhead_kib"] is None else r["overhead_kib"] / 1024 for r in runs]),
        }
        summary[name] = s
        print(f"  {name:5s} ready {fmt(s['ready_s'], 's')}  start-up {fmt(s['startup_ms'], 'ms')}  "
              f"CPU {fmt(s['cpu_s'], 's')}  RSS at ready {fmt(s['rss_mib'], 'MiB', 1)}  "
              f"RSS overhead {fmt(s['overhead_mib'], 'MiB', 2)}")
    if "qemu" in summary:
        v, q = summary["vmm"], summary["qemu"]
        def ratio(key):
            return "n/a" if not v[key] or not q[key] else f"{v[key] / q[key]:.2f}"
        print(f"  ratio vmm/qemu: ready {ratio('ready_s')}  CPU {ratio('cpu_s')}  RSS {ratio('rss_mib')}")
    v = summary["vmm"]
    print("  goals: boot no slower than QEMU; start-up < 10 ms: "
          f"{'met' if v['startup_ms'] is not None and v['startup_ms'] < 10 else 'NOT met'}; "
          f"RSS overhead < 5 MiB: {'met' if v['overhead_mib'] is not None and v['overhead_mib'] < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
