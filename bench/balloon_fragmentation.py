#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/balloon_fragmentation: what ten balloon cycles leave of the guest's
2 MiB blocks, with the range format and without.

The seeds of the range format wanted a balloon that keeps the guest's memory
in large blocks: the stock driver takes and gives back single 4 KiB pages
wherever the allocator finds them, so after many cycles the guest's free
memory is scattered. This bench boots the default guest (2 GiB unless
--memory), runs a workload in it that allocates and frees memory, and
inflates the balloon by --cycle-mib and deflates it back, --cycles times. It
then stops the workload, drops the guest's caches, and reads /proc/buddyinfo:
the free blocks of order 9 (2 MiB) or larger, counted in 2 MiB units. Rows:
"vmm" (the VMM offers VIRTIO_BALLOON_F_CHUNKS, the default guest's driver
inflates in blocks) and "vmm-4k" (--balloon-chunks=false, the stock path).
Goal: at least 4x more free 2 MiB blocks with chunks.

The workload (--workload):
- `files` (the default): the guest tool `fileload`. First --prefill-mib
  of 1 MiB files that stay (memory pressure: the balloon and the workload
  share what is left); then one fileload round beside each inflate and each
  deflate, the step ending when both have. A round writes --workload-mib in
  --file-kib files and deletes every other file of the round before and the
  rest of the one before that, so what it keeps outlives the cycles and is
  spread over the guest's memory. Both balloons get the same rounds,
  whatever their speed.
- `memtouch`: maps, touches and unmaps --workload-mib of anonymous memory in
  a loop in the background; all of it is free again when it stops, so the
  guest's allocator merges its free memory back whichever way the balloon
  took it, and the slower balloon sees more rounds.

With --memory-backend thp or hugetlb the VMM's own huge pages are counted
too, after the boot and after the cycles: for thp, the ShmemPmdMapped of the
VMM's smaps (2 MiB pages mapped whole); for hugetlb, the huge pages the VMM
holds. The balloon gives back only whole huge pages on these backends, so
the rest stay whole. (thp needs /sys/kernel/mm/transparent_hugepage/
shmem_enabled at advise or looser; the bench sets advise for its run, as
root, and puts the old value back.)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import MARKER, VMM, Console, reap, stop  # noqa: E402
import results  # noqa: E402

SHMEM_THP = "/sys/kernel/mm/transparent_hugepage/shmem_enabled"


def ctl(sock, *args):
    out = subprocess.run([VMM, "ctl", "--api", sock, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def resize(sock, mib, timeout=1800):
    ctl(sock, "balloon", f"{mib}M")
    deadline = time.monotonic() + timeout
    while ctl(sock, "balloon")["actual_mib"] != mib:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the balloon did not reach {mib} MiB in {timeout} s")
        time.sleep(0.2)


def free_2mib_blocks(buddyinfo):
    """Free memory in blocks of order >= 9, counted in 2 MiB units, summed
    over the zones of /proc/buddyinfo ("Node 0, zone DMA32 n0 n1 ...")."""
    total = 0
    for line in buddyinfo.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] != "Node":
            continue
        counts = [int(x) for x in fields[4:]]
        total += sum(n << (order - 9) for order, n in enumerate(counts) if order >= 9)
    return total


def vmm_huge_pages(pid, backend):
    """The VMM's huge pages in 2 MiB units: whole-mapped shmem THP, or hugetlb."""
    fields = {"thp": ("ShmemPmdMapped:", "FilePmdMapped:"), "hugetlb": ("Shared_Hugetlb:", "Private_Hugetlb:")}
    if backend not in fields:
        return None
    kib = 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if line.startswith(fields[backend]):
                kib += int(line.split()[1])
    return kib // 2048


def one_run(args, chunks):
    sock = tempfile.mktemp(prefix="bench-frag-", suffix=".sock")
    label = "vmm" if chunks else "vmm-4k"
    argv = [VMM, "run", "--memory", args.memory, "--api-socket", sock, "--balloon-reporting=false",
            f"--balloon-chunks={'true' if chunks else 'false'}", "--memory-backend", args.memory_backend]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    con = Console(proc)
    try:
        if not con.wait_for(MARKER, 900) or not con.run("true", 120):
            raise RuntimeError("guest did not boot")
        huge_after_boot = vmm_huge_pages(proc.pid, args.memory_backend)
        before = free_2mib_blocks(con.output_of("cat /proc/buddyinfo", 120) or "")
        # The workload: allocate and free memory while the balloon moves.
        if args.workload == "files":
            # Fill first (--prefill-mib, in 1 MiB files that stay), so that
            # the balloon and the workload share what is left; then one
            # fileload round runs beside each inflate and each deflate and
            # the step ends when both have, so both balloons see the same
            # work whatever their speed.
            con.run(f"mkdir -p /frag /fill", 60)
            if args.prefill_mib:
                con.run(f"fileload /fill {args.prefill_mib} 0 1024 >/dev/null", 3600)
        else:
            con.run(f"(while true; do memtouch {args.workload_mib} >/dev/null 2>&1; done) & echo $! > /tmp/wl", 60)
        start = time.monotonic()
        step = 0
        for cycle in range(args.cycles):
            for target in (args.cycle_mib, 0):
                if args.workload == "files":
                    con.run(f"fileload /frag {args.workload_mib} {step} {args.file_kib} >/dev/null & echo $! > /tmp/wl",
                            60)
                resize(sock, target)
                if args.workload == "files" and not con.run("wait $(cat /tmp/wl)", 3600):
                    raise RuntimeError(f"fileload round {step} did not end")
                step += 1
            print(f"  {label}: cycle {cycle + 1}/{args.cycles} done at {time.monotonic() - start:.0f} s", flush=True)
        wall = time.monotonic() - start
        if args.workload == "memtouch":
            con.run("kill $(cat /tmp/wl); sleep 1", 600)
        con.run("sync; echo 3 > /proc/sys/vm/drop_caches", 600)
        after_text = con.output_of("cat /proc/buddyinfo", 120) or ""
        # The shell may echo the command line again (a background job's
        # notice redraws it): the figure is the last line.
        du_lines = (con.output_of("du -sk /frag 2>/dev/null | cut -f1", 300) or "").split()
        held_kib = int(du_lines[-1]) if du_lines and du_lines[-1].isdigit() else 0
        after = free_2mib_blocks(after_text)
        huge_after_cycles = vmm_huge_pages(proc.pid, args.memory_backend)
        counters = ctl(sock, "balloon")["counters"]
        con.run("poweroff -f", 30)
        reap(proc, 30)
    finally:
        stop(proc)
    return {"vmm": label, "backend": args.memory_backend, "cycles": args.cycles, "cycle_mib": args.cycle_mib,
            "wall_s": wall, "free_2mib_before": before, "free_2mib_after": after,
            "vmm_huge_pages_after_boot": huge_after_boot, "vmm_huge_pages_after_cycles": huge_after_cycles,
            "workload_held_mib": held_kib // 1024, "discard_calls": counters["discard_calls"],
            "chunk_entries": counters["chunk_entries"],
            "buddyinfo_after": after_text.strip()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memory", default="2G")
    ap.add_argument("--cycles", type=int, default=10)
    ap.add_argument("--cycle-mib", type=int, default=512, help="balloon size of each cycle")
    ap.add_argument("--workload", choices=["files", "memtouch"], default="files",
                    help="what the guest does while the balloon cycles (see above)")
    ap.add_argument("--workload-mib", type=int, default=64, help="memory the guest workload allocates per round")
    ap.add_argument("--file-kib", type=int, default=256, help="size of the files the files workload writes")
    ap.add_argument("--prefill-mib", type=int, default=0, help="files workload: memory filled before the cycles")
    ap.add_argument("--memory-backend", choices=["memfd", "thp", "hugetlb"], default="memfd")
    ap.add_argument("--balloon-chunks", choices=["on", "off", "both"], default="both")
    results.add_arguments(ap)
    args = ap.parse_args()
    results.check_outputs(args, "bench/balloon_fragmentation")
    old_thp = None
    if args.memory_backend == "thp":
        with open(SHMEM_THP) as f:
            old_thp = f.read().split("[")[1].split("]")[0]
        with open(SHMEM_THP, "w") as f:
            f.write("advise")
    rows = []
    try:
        for chunks in {"on": [True], "off": [False], "both": [True, False]}[args.balloon_chunks]:
            rows.append(one_run(args, chunks))
    finally:
        if old_thp is not None:
            with open(SHMEM_THP, "w") as f:
                f.write(old_thp)
    print(f"bench/balloon_fragmentation: {args.memory} guest ({args.memory_backend}), {args.cycles} cycles of "
          f"{args.cycle_mib} MiB while the guest allocates and frees {args.workload_mib} MiB in a loop "
          f"({args.workload})")
    print("  free 2 MiB: the guest's free memory in blocks of order >= 9 (/proc/buddyinfo), in 2 MiB units; "
          "VMM huge pages: the VMM's whole 2 MiB pages (thp: ShmemPmdMapped, hugetlb: *_Hugetlb)")
    print(f"{'vmm':8} {'wall s':>8} {'free 2M before':>15} {'free 2M after':>14} {'VMM huge boot':>14} "
          f"{'VMM huge after':>15} {'held MiB':>9} {'discards':>9} {'entries':>8}")
    for r in rows:
        print(f"{r['vmm']:8} {r['wall_s']:8.1f} {r['free_2mib_before']:15} {r['free_2mib_after']:14} "
              f"{str(r['vmm_huge_pages_after_boot']):>14} {str(r['vmm_huge_pages_after_cycles']):>15} "
              f"{r['workload_held_mib']:9} {r['discard_calls']:9} {r['chunk_entries']:8}")
    for r in rows:
        print(f"{r['vmm']} /proc/buddyinfo after the cycles:\n  " + r["buddyinfo_after"].replace("\n", "\n  "))
    by = {r["vmm"]: r for r in rows}
    if "vmm" in by and "vmm-4k" in by:
        ours, stock = by["vmm"]["free_2mib_after"], by["vmm-4k"]["free_2mib_after"]
        ratio = f"{ours / stock:.1f}x" if stock else "inf (none left without chunks)"
        print(f"ratio: free 2 MiB blocks after the cycles, chunks/4k = {ratio} (goal: >= 4x)")
    results.write_outputs(args, "balloon_fragmentation", rows)


if __name__ == "__main__":
    main()
