#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/balloon: inflate/deflate speed and host-side cost, against QEMU.

A 2 GiB guest (the default image), in two states: idle, and after a guest
program touched 1 GiB and freed it. In each, the balloon is inflated by
1 GiB and deflated back; the bench asks the VMM for the balloon's size every
50 ms until it is reached (`vmm ctl balloon` / QMP `query-balloon`). Printed
per step: wall time and MiB/s (guest-bound here: PVM emulates the guest
kernel's page allocation), discard syscalls per GiB, and host CPU per GiB,
measured the same way for both VMMs (bench/benchlib.py: every thread of
the process but its vCPU threads, in ns, over the step; the bench's 50 ms
polls are included for both). Ours also reports, as a separate figure, the
CPU time spent inside the balloon's request handler (`service_cpu_ns`:
notify seen -> used buffer returned) and the median/p99 service time of one
inflate request. With qemu-system-x86_64 installed the same guest and steps
run on QEMU (bench/benchlib.py: the same image and terms, RAM on a shared
memfd; its syscalls counted with strace -c -f when --qemu-strace is given)
and the ratios are printed. Finally the arithmetic: how long the stock
driver would need to inflate 3 GiB on hardware KVM at the measured service
time.

--seccomp both runs each VMM row with and without its seccomp filters
(rows ending in "-nosec") and prints the filters' cost per request.

--notify both runs the VMM twice, with queue notifications handled inline on
the vCPU (MMIO exit) and on a device thread woken by KVM_IOEVENTFD; rows
"vmm" and "vmm-t". us/req is the wall time per 256-PFN request as the guest
sees it; thread ms/GiB is the device thread's own CPU time (wake-ups included).

--balloon-chunks on|off|both picks whether the VMM offers the range format
(VIRTIO_BALLOON_F_CHUNKS, devices/balloon/CHUNKS.md), which the default
guest's driver (guest-images/patches/0008-balloon-chunks.patch) then uses
to inflate in blocks of up to 2 MiB; rows without it end in "-4k" (the
stock 4 KiB path, as QEMU gets). entries/req: range entries per request.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (CPU_ACCOUNTING, GIB, MARKER, VMM, Console, CpuMeter, fmt, qemu_argv, qemu_binary,  # noqa: E402
                      qmp, ram_mib, reap, stop)
import plots  # noqa: E402
import results  # noqa: E402


def ctl(sock, *args):
    out = subprocess.run([VMM, "ctl", "--api", sock, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def notify_thread_ns(pid):
    """CPU time of the device thread (--virtio-notify=thread), or None."""
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as f:
                if f.read().strip() != "vmm-notify":
                    continue
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                return int(f.read().split()[0])
        except OSError:
            continue
    return None


def vmm_steps(memory, touch_mib, size_mib, notify, chunks, seccomp="on"):
    sock = tempfile.mktemp(prefix="bench-balloon-", suffix=".sock")
    label = ("vmm" if notify == "inline" else "vmm-t") + ("" if chunks else "-4k") + ("" if seccomp == "on" else "-nosec")
    proc = subprocess.Popen([VMM, "run", "--memory", memory, "--api-socket", sock,
                             "--balloon-reporting=false", f"--virtio-notify={notify}",
                             f"--balloon-chunks={'true' if chunks else 'false'}", f"--seccomp={seccomp}"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    con = Console(proc)
    results = []
    try:
        if not con.wait_for(MARKER, 900) or not con.run("true", 120):
            raise RuntimeError("guest did not boot")
        for state in ("idle", "touched"):
            if state == "touched" and not con.run(f"memtouch {touch_mib}", 1800):
                raise RuntimeError("memtouch failed")
            for step, target in (("inflate", size_mib), ("deflate", 0)):
                before = ctl(sock, "balloon")["counters"]
                thread_before = notify_thread_ns(proc.pid)
                meter = CpuMeter(proc.pid).start()
                start = time.monotonic()
                ctl(sock, "balloon", f"{target}M")
                polls = 0
                progress = [(0.0, size_mib - target)]  # (seconds, MiB in the balloon), for --plot
                while (actual := ctl(sock, "balloon")["actual_mib"]) != target:
                    progress.append((time.monotonic() - start, actual))
                    polls += 1
                    time.sleep(0.05)
                wall = time.monotonic() - start
                progress.append((wall, target))
                cpu = meter.stop()
                after = ctl(sock, "balloon")["counters"]
                thread_after = notify_thread_ns(proc.pid)
                requests = after["requests"] - before["requests"]
                gib = size_mib / 1024
                results.append({
                    "vmm": label, "state": state, "step": step,
                    "wall_s": wall, "mib_s": size_mib / wall, "polls": polls,
                    "us_per_request": wall * 1e6 / requests if requests else None,
                    "entries_per_request": (after["chunk_entries"] - before["chunk_entries"]) / requests
                    if requests else None,
                    "thread_cpu_ms_per_gib": (thread_after - thread_before) / 1e6 / gib
                    if thread_before is not None else None,
                    "discards_per_gib": (after["discard_calls"] - before["discard_calls"]) / gib,
                    "cpu_ms_per_gib": cpu["vmm_ms"] / gib,
                    "handler_ms_per_gib": (after["service_cpu_ns"] - before["service_cpu_ns"]) / 1e6 / gib,
                    "p50_us": after["service_p50_ns"] / 1000, "p99_us": after["service_p99_ns"] / 1000,
                    "progress": progress,
                })
        con.run("poweroff -f", 30)
        reap(proc, 30)
    finally:
        stop(proc)
    return results


def qemu_steps(memory, touch_mib, size_mib, use_strace):
    qsock = tempfile.mktemp(prefix="bench-qmp-", suffix=".sock")
    proc = subprocess.Popen(qemu_argv(memory, "plain", qmp_sock=qsock),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    con = Console(proc)
    results = []
    ram = ram_mib(memory)
    try:
        if not con.wait_for(MARKER, 900) or not con.run("true", 120):
            raise RuntimeError("QEMU guest did not boot")
        cmd = qmp(qsock)
        for state in ("idle", "touched"):
            if state == "touched" and not con.run(f"memtouch {touch_mib}", 1800):
                raise RuntimeError("memtouch failed")
            for step, target in (("inflate", size_mib), ("deflate", 0)):
                strace = subprocess.Popen(["strace", "-c", "-f", "-e", "trace=madvise,fallocate",
                                           "-p", str(proc.pid), "-o", "/tmp/bench-strace.txt"],
                                          stderr=subprocess.DEVNULL) if use_strace and shutil.which("strace") else None
                time.sleep(0.5)
                meter = CpuMeter(proc.pid).start()
                start = time.monotonic()
                cmd("balloon", value=(ram - target) * (1 << 20))
                polls = 0
                progress = [(0.0, size_mib - target)]
                while (actual := cmd("query-balloon")["return"]["actual"]) != (ram - target) * (1 << 20):
                    progress.append((time.monotonic() - start, ram - actual / (1 << 20)))
                    polls += 1
                    time.sleep(0.05)
                wall = time.monotonic() - start
                progress.append((wall, target))
                cpu = meter.stop()
                calls = None
                if strace:
                    strace.terminate()
                    strace.wait()
                    with open("/tmp/bench-strace.txt") as f:
                        calls = sum(int(m.group(1)) for m in re.finditer(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)", f.read(), re.M))
                gib = size_mib / 1024
                results.append({"vmm": "qemu", "state": state, "step": step, "wall_s": wall,
                                "mib_s": size_mib / wall, "polls": polls,
                                "discards_per_gib": None if calls is None else calls / gib,
                                "cpu_ms_per_gib": cpu["vmm_ms"] / gib, "handler_ms_per_gib": None,
                                "p50_us": None, "p99_us": None, "progress": progress})
        con.run("poweroff -f", 30)
        reap(proc, 30)
    finally:
        stop(proc)
    return results


def report_seccomp(rows):
    """--seccomp both: each filtered row against the same step unfiltered."""
    unfiltered = {(r["vmm"][:-len("-nosec")], r["state"], r["step"]): r for r in rows if r["vmm"].endswith("-nosec")}
    for r in rows:
        u = unfiltered.get((r["vmm"], r["state"], r["step"]))
        if not u:
            continue
        parts = []
        for key, name in (("p50_us", "service p50"), ("us_per_request", "us/req"), ("cpu_ms_per_gib", "CPU/GiB")):
            if r.get(key) and u.get(key):
                parts.append(f"{name} {r[key] / u[key]:.3f}x")
        print(f"seccomp {r['vmm']} {r['state']} {r['step']}: filtered/unfiltered " + ", ".join(parts) +
              " (goal: within 2% either way)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memory", default="2G")
    ap.add_argument("--touch-mib", type=int, default=1024)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--notify", choices=["inline", "thread", "both"], default="inline",
                    help="vmm's --virtio-notify mode(s) to run; 'both' compares them")
    ap.add_argument("--qemu-only", action="store_true", help="skip the vmm run (QEMU figures only)")
    ap.add_argument("--qemu-strace", action="store_true",
                    help="count QEMU's madvise/fallocate calls with strace -c; its ptrace overhead "
                         "then inflates QEMU's CPU figures, so CPU ratios are not printed")
    ap.add_argument("--balloon-chunks", choices=["on", "off", "both"], default="on",
                    help="whether the VMM offers the range format (VIRTIO_BALLOON_F_CHUNKS); "
                         "'both' runs with and without it")
    ap.add_argument("--seccomp", choices=["on", "off", "both"], default="on",
                    help="the VMM's --seccomp; 'both' runs it with and without its filters (rows ending in "
                         "-nosec) and prints what the filters cost per request")
    results.add_arguments(ap, plot_help="draw a PNG chart of the balloon's size over time in each step, "
                                        "one line per VMM and guest state")
    args = ap.parse_args()
    results.check_outputs(args, "bench/balloon")
    modes = [] if args.qemu_only else (["inline", "thread"] if args.notify == "both" else [args.notify])
    chunk_modes = {"on": [True], "off": [False], "both": [True, False]}[args.balloon_chunks]
    seccomp_modes = {"on": ["on"], "off": ["off"], "both": ["on", "off"]}[args.seccomp]
    rows = []
    for mode in modes:
        for chunks in chunk_modes:
            for seccomp in seccomp_modes:
                rows += vmm_steps(args.memory, args.touch_mib, args.size_mib, mode, chunks, seccomp)
    if not args.no_qemu and qemu_binary():
        try:
            rows += qemu_steps(args.memory, args.touch_mib, args.size_mib, args.qemu_strace)
        except Exception as e:  # the peer failing must not hide our figures
            print(f"QEMU run failed: {e}")
    elif not args.no_qemu:
        print("qemu-system-x86_64 is not installed (WITH_QEMU=1 scripts/install-deps.sh): no QEMU rows, no ratios")
    print(f"bench/balloon: {args.memory} guest, balloon {args.size_mib} MiB, touched state = "
          f"{args.touch_mib} MiB touched then freed")
    print(f"  {CPU_ACCOUNTING}; window: one step, request -> size reached (polled every 50 ms)")
    print("  CPU ms/GiB: that accounting; handler ms/GiB, p50/p99: ours only, CPU inside the balloon's request "
          "handler and one inflate request's service time (notify seen -> used buffer returned)")
    print(f"{'vmm':8} {'state':8} {'step':8} {'wall s':>8} {'MiB/s':>8} {'polls':>6} {'discards/GiB':>13} "
          f"{'CPU ms/GiB':>11} {'handler ms/GiB':>15} {'p50 us':>8} {'p99 us':>8} {'us/req':>8} {'thread ms/GiB':>14} "
          f"{'entries/req':>12}")
    for r in rows:
        print(f"{r['vmm']:8} {r['state']:8} {r['step']:8} {r['wall_s']:8.2f} {r['mib_s']:8.1f} {r['polls']:6} "
              f"{fmt(r['discards_per_gib'], '13.1f')} {fmt(r['cpu_ms_per_gib'], '11.2f')} "
              f"{fmt(r['handler_ms_per_gib'], '15.2f')} {fmt(r['p50_us'], '8.1f')} {fmt(r['p99_us'], '8.1f')} "
              f"{fmt(r.get('us_per_request'), '8.1f')} {fmt(r.get('thread_cpu_ms_per_gib'), '14.1f')} "
              f"{fmt(r.get('entries_per_request'), '12.1f')}")
    theirs = {(r["state"], r["step"]): r for r in rows if r["vmm"] == "qemu"}
    for r in (r for r in rows if r["vmm"] in ("vmm", "vmm-4k")):
        q = theirs.get((r["state"], r["step"]))
        if q and q["cpu_ms_per_gib"] and r["cpu_ms_per_gib"] and not args.qemu_strace:
            print(f"ratio {r['vmm']} {r['state']} {r['step']}: host CPU per GiB qemu/{r['vmm']} = "
                  f"{q['cpu_ms_per_gib'] / r['cpu_ms_per_gib']:.1f}x, wall qemu/{r['vmm']} = {q['wall_s'] / r['wall_s']:.2f}")
    report_seccomp(rows)
    # The arithmetic is the stock driver's: 256-PFN requests (rows without chunks).
    inflate = [r for r in rows if r["vmm"] == "vmm-4k" and r["step"] == "inflate"]
    if inflate:
        p50 = max(r["p50_us"] for r in inflate)
        requests = 3 * GIB // 4096 // 256
        print(f"arithmetic: 3 GiB = {requests} requests of 256 PFNs; at the median service time "
              f"{p50:.1f} us the host side needs {requests * p50 / 1000:.1f} ms "
              f"(goal: the whole inflate under 338 ms on hardware KVM, leaving "
              f"{338 - requests * p50 / 1000:.1f} ms for the guest driver)")
    # The range format's projection: what the host side costs per GiB, as
    # measured here, is what hardware KVM would pay too (the guest's share
    # there is not emulated and not measured here).
    chunked = [r for r in rows if r["vmm"] == "vmm" and r["step"] == "inflate"]
    if chunked:
        worst = max(r["cpu_ms_per_gib"] for r in chunked)
        print(f"arithmetic (range format): the VMM's host CPU is at most {worst:.1f} ms per GiB inflated, so "
              f"3 GiB costs the host {3 * worst:.1f} ms (the goal's 338 ms is for the whole inflate)")
    results.write_outputs(args, "balloon", rows, plots.balloon)


if __name__ == "__main__":
    main()
