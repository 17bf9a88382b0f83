#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/restore: starting a guest from a snapshot instead of booting it,
against QEMU.

For each size (default 512M, 1G, 4G) the default guest is booted once,
saved to a file while idle at its shell (ours: `vmm ctl snapshot FILE`;
QEMU: QMP `migrate` to "exec:cat > FILE", max-bandwidth far above the disk,
the closest it has to a snapshot file), and powered off. Then it is
restored N times from that file (ours: `vmm run --restore FILE`; QEMU:
`-incoming "exec:cat FILE"`, the same terms as in bench/benchlib.py), each
started through build/bench/exec_stamp while the bench types a shell
command on its console (again while the console stays silent, see
answered()) until it is answered. Printed per VMM and size (medians):
  - exec -> first KVM_RUN (ours: its "vCPU 0 enters the guest" log line;
    QEMU: its kvm_vcpu_ioctl trace, in N separate runs, as in bench/boot),
  - exec -> the guest's answer to that command on the console,
  - host CPU over exec -> answer (all threads but the vCPU threads; the
    accounting in bench/benchlib.py),
  - the snapshot's size, and for ours the page records' split on reading
    it: reading the file, checking CRCs, writing guest memory.
The snapshot file is read from the page cache (it was just written).
"""
import argparse
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (CPU_ACCOUNTING, MARKER, MIB, VMM, Console, CpuMeter, exec_stamp, fmt, launch,  # noqa: E402
                      median, qemu_argv, qemu_binary, qemu_traced_first_run_ms, qmp, reap, stop, vmm_first_run_ms)
import results  # noqa: E402

QEMU_UNCAPPED = 100 << 30


def vmm_snapshot(memory, path):
    sock = tempfile.mktemp(prefix="bench-restore-", suffix=".sock")
    proc = subprocess.Popen([VMM, "run", "--memory", memory, "--api-socket", sock], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        con = Console(proc)
        if not con.wait_for(MARKER, 1200) or not con.run("true", 120):
            raise RuntimeError(f"vmm {memory} guest did not boot")
        r = subprocess.run([VMM, "ctl", "--api", sock, "snapshot", path, "--json"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"vmm ctl snapshot: {r.stderr.strip()}")
        con.run("poweroff -f", 30)
        reap(proc, 30)
    finally:
        stop(proc)
    return json.loads(r.stdout)["bytes_sent"] / MIB


def qemu_snapshot(memory, path):
    qsock = tempfile.mktemp(prefix="bench-restore-qmp-", suffix=".sock")
    proc = subprocess.Popen(qemu_argv(memory, qmp_sock=qsock), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        con = Console(proc)
        if not con.wait_for(MARKER, 1200) or not con.run("true", 120):
            raise RuntimeError(f"QEMU {memory} guest did not boot")
        cmd = qmp(qsock)
        cmd("migrate-set-parameters", **{"max-bandwidth": QEMU_UNCAPPED})
        r = cmd("migrate", uri=f"exec:cat > {path}")
        if "error" in r:
            raise RuntimeError(f"QEMU migrate to file: {r['error']}")
        while (info := cmd("query-migrate")["return"]).get("status") not in ("completed", "failed", "cancelled"):
            time.sleep(0.1)
        if info["status"] != "completed":
            raise RuntimeError(f"QEMU migrate to file: {info['status']}")
    finally:
        stop(proc)
    return os.path.getsize(path) / MIB


def answered(proc, timeout):
    """Types a command and waits for the guest's answer. Typed again while
    the console stays silent (20 ms before anything came back, 300 ms once
    it did): QEMU loads the UART's saved state after it may already have
    taken input, which the load then drops, whole or in part."""
    tag = f"R{time.monotonic_ns()}".encode()
    line = b"echo " + tag[:3] + b'""' + tag[3:] + b"\n"
    buf = b""
    deadline = time.monotonic() + timeout
    last = 0
    while tag not in buf and time.monotonic() < deadline:
        if time.monotonic() - last > (0.3 if buf else 0.02):
            proc.stdin.write(line)
            proc.stdin.flush()
            last = time.monotonic()
        r, _, _ = select.select([proc.stdout], [], [], 0.005)
        if r:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return False
            buf += chunk
            last = time.monotonic()
    return tag in buf


def restore_once(argv, first_run):
    """exec -> console answer, CPU over it, exec -> first KVM_RUN."""
    stamp = tempfile.mktemp(prefix="bench-restore-", suffix=".stamp")
    err = tempfile.TemporaryFile()
    proc = launch(argv, stamp, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    res = {"answer_ms": None, "cpu_ms": None, "first_run_ms": None}
    try:
        if answered(proc, 300):
            now = time.monotonic_ns()
            res["cpu_ms"] = CpuMeter(proc.pid, from_exec=True).start().stop()["vmm_ms"]
            res["answer_ms"] = (now - exec_stamp(stamp)[0]) / 1e6
            proc.stdin.write(b"poweroff -f\n")
            proc.stdin.flush()
            reap(proc, 30)
    finally:
        stop(proc)
    err.seek(0)
    text = err.read().decode(errors="replace")
    if first_run:
        res["first_run_ms"] = first_run(text, stamp)
    m = re.search(r"page records: ([0-9.]+) ms reading, ([0-9.]+) ms checking, ([0-9.]+) ms writing", text)
    res["split"] = tuple(float(x) for x in m.groups()) if m else None
    if res["answer_ms"] is None:
        res["stderr"] = text[-1500:]
    os.unlink(stamp)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="512M,1G,4G")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where the snapshot files go")
    results.add_arguments(ap)
    args = ap.parse_args()
    results.check_outputs(args, "bench/restore")
    with_qemu = not args.no_qemu and qemu_binary()
    if not args.no_qemu and not with_qemu:
        print("qemu-system-x86_64 is not installed (WITH_QEMU=1 scripts/install-deps.sh): no QEMU rows")
    rows = []
    for size in args.sizes.split(","):
        path = os.path.join(args.dir, f"bench-restore-{size}.snap")
        try:
            mib = vmm_snapshot(size, path)
            runs = [restore_once([VMM, "run", "--memory", size, "--restore", path], vmm_first_run_ms)
                    for _ in range(args.runs)]
            rows.append(("vmm", size, mib, runs))
        finally:
            if os.path.exists(path):
                os.unlink(path)
        if not with_qemu:
            continue
        qpath = os.path.join(args.dir, f"bench-restore-qemu-{size}.mig")
        try:
            mib = qemu_snapshot(size, qpath)
            argv = qemu_argv(size, incoming=f"exec:cat {qpath}")
            runs = [restore_once(argv, None) for _ in range(args.runs)]
            for r in runs:
                r["first_run_ms"] = qemu_traced_first_run_ms(qemu_argv(size, incoming=f"exec:cat {qpath}",
                                                                       trace_first_run=True))
            rows.append(("qemu", size, mib, runs))
        except Exception as e:  # the peer failing must not hide our figures
            print(f"QEMU {size} failed: {e}")
        finally:
            if os.path.exists(qpath):
                os.unlink(qpath)

    print(f"bench/restore: {args.runs} restores per size and VMM, the default image idle at its shell")
    print(f"  {CPU_ACCOUNTING}; window: exec -> console answer")
    print("  first KVM_RUN: ours from its log line, QEMU from its kvm_vcpu_ioctl trace (separate runs); "
          "QEMU's file is its migration stream (migrate to exec:cat)")
    print(f"{'vmm':5} {'size':>5} {'file MiB':>9} {'first KVM_RUN ms':>17} {'console answer ms':>18} "
          f"{'host CPU ms':>12}  page records read/check/write ms")
    for vmm, size, mib, runs in rows:
        failed = [r for r in runs if r["answer_ms"] is None]
        if failed:
            print(f"{vmm} {size}: {len(failed)} restores gave no console answer; stderr of one:\n{failed[0]['stderr']}")
        splits = [r["split"] for r in runs if r["split"]]
        split = "/".join(f"{median([s[i] for s in splits]):.0f}" for i in range(3)) if splits else "n/a"
        print(f"{vmm:5} {size:>5} {mib:9.1f} {fmt(median([r['first_run_ms'] for r in runs]), '17.1f')} "
              f"{fmt(median([r['answer_ms'] for r in runs]), '18.1f')} {fmt(median([r['cpu_ms'] for r in runs]), '12.1f')}"
              f"  {split}")
    results.write_outputs(args, "restore", [
        {"vmm": vmm, "size": size, "file_mib": mib, "runs": [{k: v for k, v in r.items() if k != "stderr"} for r in runs]}
        for vmm, size, mib, runs in rows])


if __name__ == "__main__":
    main()
