#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/disk: sequential throughput of the virtio-blk disk as the default
guest sees it, and each VMM's host CPU per GiB moved, ours against QEMU.

Boots the default guest with `vmm run --disk IMAGE` (a raw image file made
sparse in a temporary folder next to the system's temporary files, so
the host's page cache serves it: what is measured is the VMM's path, not
the host's disk) and runs busybox dd in the guest on /dev/vda, with
O_DIRECT in the guest (`iflag=direct` / `oflag=direct`: no guest page
cache, every block is a virtio request of bs bytes):
  - write: dd if=/dev/zero of=/dev/vda oflag=direct,
  - read:  dd if=/dev/vda of=/dev/null iflag=direct,
  - zero source alone: dd if=/dev/zero of=/dev/null, because on a PVM host
    the guest kernel filling dd's buffer from /dev/zero is emulated and is
    part of the write figure (shared/PLATFORM.md).
Then, with qemu-system-x86_64 installed, the same guest image and steps on
QEMU microvm (bench/benchlib.py's terms) with `-device virtio-blk-device` on
a fresh image of the same size (QEMU's default cache=writeback and
aio=threads: the host's page cache, as ours). --direct opens the image
with O_DIRECT on the host for both: ours `--disk IMAGE,direct`, QEMU's
cache=none (then the image lives on the temporary folder's file system,
which must take O_DIRECT: not tmpfs).
Printed per VMM and step (medians over --runs in one boot each): the
guest's own figure (the bytes dd moved over the time between two reads of
the guest's /proc/uptime around it) and the VMM's host CPU over the step
(all threads but the vCPU threads: bench/benchlib.py's accounting) per GiB;
then the ratio of QEMU's host CPU per GiB to ours.
"""
import argparse
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402
from benchlib import (CPU_ACCOUNTING, GIB, IMAGE, MIB, VMM, CpuMeter, booted_guest, fmt, median, qemu_argv,  # noqa: E402
                      qemu_binary)

# Debian's busybox dd prints no rate, so the guest times it with its own
# clock (/proc/uptime, 10 ms steps: each dd runs for seconds here).
TIMED = re.compile(r"(\d+)\+0 records out.*DD-TIMED ([0-9.]+) ([0-9.]+)", re.S)


def dd_step(con, pid, command, block_bytes, timeout):
    """Runs one dd in the guest: (guest MB/s, host CPU ms per GiB) or Nones."""
    meter = CpuMeter(pid).start()
    out = con.output_of(f"a=$(cut -d' ' -f1 /proc/uptime); {command} 2>&1; "
                        "echo DD-TIMED $a $(cut -d' ' -f1 /proc/uptime)", timeout)
    cpu = meter.stop()
    m = TIMED.search(out or "")
    if not m or float(m.group(3)) <= float(m.group(2)):
        print(f"  no figure from '{command}': {out!r}")
        return None, None
    moved = int(m.group(1)) * block_bytes
    mb_s = moved / MIB / (float(m.group(3)) - float(m.group(2)))
    per_gib = cpu["vmm_ms"] * GIB / moved if cpu["vmm_ms"] is not None else None
    return mb_s, per_gib


def measure(label, argv, steps, runs):
    """Boots `argv` (a VMM on the default guest with the disk as /dev/vda),
    runs each step `runs` times: {step: [(MB/s, ms/GiB), ...]}."""
    with booted_guest(label, argv) as (proc, con):
        return {name: [dd_step(con, proc.pid, cmd, bs_bytes, 600) for _ in range(runs)]
                for name, (cmd, bs_bytes) in steps.items()}


def fresh_image(path, size):
    if os.path.exists(path):
        os.unlink(path)
    with open(path, "wb") as f:
        f.truncate(size)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--memory", default="512M")
    ap.add_argument("--mib", type=int, default=128, help="MiB each dd moves (the image is twice that)")
    ap.add_argument("--bs", default="1M", help="dd's block size: the size of each virtio request")
    ap.add_argument("--direct", action="store_true", help="O_DIRECT on the host: ours ',direct', QEMU cache=none")
    ap.add_argument("--no-qemu", action="store_true", help="ours only")
    results.add_arguments(ap)
    args = ap.parse_args()
    results.check_outputs(args, "bench/disk")
    if not all(os.path.exists(p) for p in (VMM, os.path.join(IMAGE, "vmlinux"))):
        sys.exit("bench/disk: build first (cmake --build build; guest-images/build.sh)")
    bs_bytes = int(args.bs[:-1]) * {"K": 1 << 10, "M": MIB}[args.bs[-1].upper()] if args.bs[-1].isalpha() \
        else int(args.bs)
    count = args.mib * MIB // bs_bytes
    steps = {
        "write (O_DIRECT)": (f"dd if=/dev/zero of=/dev/vda bs={args.bs} count={count} oflag=direct", bs_bytes),
        "read (O_DIRECT)": (f"dd if=/dev/vda of=/dev/null bs={args.bs} count={count} iflag=direct", bs_bytes),
        "zero source alone": (f"dd if=/dev/zero of=/dev/null bs={args.bs} count={count}", bs_bytes),
    }

    measured = {}
    with tempfile.TemporaryDirectory(prefix="bench-disk-") as tmp:
        image = os.path.join(tmp, "disk.img")
        fresh_image(image, 2 * args.mib * MIB)
        measured["vmm"] = measure("vmm", [VMM, "run", "--memory", args.memory, "--disk",
                                          image + (",direct" if args.direct else "")], steps, args.runs)
        if not args.no_qemu and qemu_binary():
            fresh_image(image, 2 * args.mib * MIB)
            cache = "cache=none,aio=native" if args.direct else "cache=writeback,aio=threads"
            argv = qemu_argv(args.memory) + ["-drive", f"file={image},format=raw,if=none,id=vda,{cache}",
                                             "-device", "virtio-blk-device,drive=vda"]
            try:
                measured["qemu"] = measure("qemu", argv, steps, args.runs)
            except RuntimeError as e:
                print(f"QEMU run failed: {e}")
        elif not args.no_qemu:
            print("qemu-system-x86_64 is not installed (WITH_QEMU=1 scripts/install-deps.sh): no QEMU rows, no ratios")

    host_cache = "O_DIRECT on the host" if args.direct else "image in the host's page cache"
    print(f"bench/disk: {args.memory} guest, {args.mib} MiB per dd, bs={args.bs}, {args.runs} runs (medians); "
          f"{host_cache}")
    print(f"  {CPU_ACCOUNTING}")
    print(f"  {'vmm':5} {'step':20} {'guest MB/s':>11} {'host CPU ms/GiB':>16}")
    rows = []
    for vmm, by_step in measured.items():
        for name, rs in by_step.items():
            mb_s = median([r[0] for r in rs])
            per_gib = median([r[1] for r in rs]) if "alone" not in name else None
            print(f"  {vmm:5} {name:20} {fmt(mb_s, '11.1f')} {fmt(per_gib, '16.1f')}")
            rows.append({"vmm": vmm, "step": name, "guest_mb_s": mb_s, "host_cpu_ms_per_gib": per_gib,
                         "direct": args.direct,
                         "runs": [{"guest_mb_s": r[0], "host_cpu_ms_per_gib": r[1]} for r in rs]})
    ours = {r["step"]: r for r in rows if r["vmm"] == "vmm"}
    for q in (r for r in rows if r["vmm"] == "qemu"):
        o = ours.get(q["step"])
        if o and q["host_cpu_ms_per_gib"] and o["host_cpu_ms_per_gib"]:
            print(f"ratio {q['step']}: host CPU per GiB qemu/vmm = "
                  f"{q['host_cpu_ms_per_gib'] / o['host_cpu_ms_per_gib']:.2f}x, guest MB/s vmm/qemu = "
                  f"{fmt(o['guest_mb_s'] / q['guest_mb_s'] if o['guest_mb_s'] and q['guest_mb_s'] else None, '.2f')}")
    results.write_outputs(args, "disk", rows)


if __name__ == "__main__":
    main()
