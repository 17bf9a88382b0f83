#!/usr/bin/env python3
"""bench/balloon: inflate/deflate speed and host-side cost, against QEMU.

A 2 GiB guest (the default image), in two states: idle, and after a guest
program touched 1 GiB and freed it. In each, the balloon is inflated by
1 GiB and deflated back. Printed per step: wall time and MiB/s (guest-bound
here: PVM emulates the guest kernel's page allocation), and the host-side
cost the VMM controls: discard syscalls per GiB, VMM CPU time per GiB spent
serving the balloon, and the median/p99 service time of one inflate request
(notify seen -> used buffer returned). With qemu-system-x86_64 installed the
same guest and steps run on QEMU (QMP `balloon`, polling `query-balloon`;
its syscalls are counted with strace -c -f on the QEMU process) and the ratios
are printed. Finally the arithmetic: how long the stock driver would need
to inflate 3 GiB on hardware KVM at the measured service time.

--notify both runs the VMM twice, with queue notifications handled inline on
the vCPU (MMIO exit) and on a device thread woken by KVM_IOEVENTFD; rows
"vmm" and "vmm-t". us/req is the wall time per 256-PFN request as the guest
sees it; thread ms/GiB is the device thread's whole CPU time (wake-ups included).
"""
import argparse
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.path.join(ROOT, "guest-images", "out")
VMM = os.path.join(ROOT, "build", "vmm", "vmm")
MARKER = b"VMM-GUEST-READY"
GIB = 1 << 30


class Console:
    def __init__(self, proc):
        self.proc = proc
        self.buf = b""

    def wait_for(self, text, timeout):
        deadline = time.monotonic() + timeout
        while text not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return False
                self.buf += chunk
        self.buf = self.buf[self.buf.index(text) + len(text):]
        return True

    def run(self, command, timeout=600):
        tag = f"DONE{time.monotonic_ns()}"
        self.proc.stdin.write(f"{command}; echo {tag[:4]}\"\"{tag[4:]}\n".encode())
        self.proc.stdin.flush()
        return self.wait_for(tag.encode(), timeout)


def ctl(sock, *args):
    out = subprocess.run([VMM, "ctl", "--api", sock, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def notify_thread_cpu_ms(pid):
    """CPU time of the device thread (--virtio-notify=thread), or None."""
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        if name == "vmm-notify":
            fields = stat[stat.rindex(")") + 2:].split()
            return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    return None


def vmm_steps(memory, touch_mib, size_mib, notify):
    sock = tempfile.mktemp(prefix="bench-balloon-", suffix=".sock")
    proc = subprocess.Popen([VMM, "run", "--memory", memory, "--api-socket", sock,
                             "--balloon-reporting=false", f"--virtio-notify={notify}"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    con = Console(proc)
    results = []
    try:
        if not con.wait_for(MARKER, 600) or not con.run("true", 120):
            raise RuntimeError("guest did not boot")
        for state in ("idle", "touched"):
            if state == "touched" and not con.run(f"memtouch {touch_mib}", 900):
                raise RuntimeError("memtouch failed")
            for step, target in (("inflate", size_mib), ("deflate", 0)):
                before = ctl(sock, "balloon")["counters"]
                thread_before = notify_thread_cpu_ms(proc.pid)
                start = time.monotonic()
                ctl(sock, "balloon", f"{target}M")
                while ctl(sock, "balloon")["actual_mib"] != target:
                    time.sleep(0.05)
                wall = time.monotonic() - start
                after = ctl(sock, "balloon")["counters"]
                thread_after = notify_thread_cpu_ms(proc.pid)
                requests = after["requests"] - before["requests"]
                gib = size_mib / 1024
                results.append({
                    "vmm": "vmm" if notify == "inline" else "vmm-t", "state": state,
                    "us_per_request": wall * 1e6 / requests if requests else None,
                    "thread_cpu_ms_per_gib": (thread_after - thread_before) / gib
                    if thread_before is not None else None, "step": step, "wall_s": wall,
                    "mib_s": size_mib / wall,
                    "discards_per_gib": (after["discard_calls"] - before["discard_calls"]) / gib,
                    "cpu_ms_per_gib": (after["service_cpu_ns"] - before["service_cpu_ns"]) / 1e6 / gib,
                    "p50_us": after["service_p50_ns"] / 1000, "p99_us": after["service_p99_ns"] / 1000,
                })
        con.run("poweroff -f", 30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return results


def qmp(sock_path):
    s = socket.socket(socket.AF_UNIX)
    for _ in range(100):
        try:
            s.connect(sock_path)
            break
        except OSError:
            time.sleep(0.1)
    f = s.makefile("rw")
    f.readline()

    def cmd(name, **args):
        f.write(json.dumps({"execute": name, "arguments": args} if args else {"execute": name}) + "\n")
        f.flush()
        while True:
            msg = json.loads(f.readline())
            if "return" in msg or "error" in msg:
                return msg
    cmd("qmp_capabilities")
    return cmd


def thread_cpu_s(pid, exclude_prefix="CPU "):
    """CPU time of QEMU's threads other than its vCPU threads."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().startswith(exclude_prefix):
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return total


def qemu_steps(memory, touch_mib, size_mib, use_strace):
    qemu = shutil.which("qemu-system-x86_64")
    with open(os.path.join(IMAGE, "cmdline")) as f:
        cmdline = "console=ttyS0 " + f.read().strip()
    qsock = tempfile.mktemp(prefix="bench-qmp-", suffix=".sock")
    cpu = "host,-arch-capabilities,-kvm-pv-ipi,-kvm-pv-sched-yield,-kvm-pv-unhalt"
    # debug-threads names the vCPU threads "CPU n/KVM", so their (guest) time
    # can be left out of QEMU's host-side CPU figure.
    proc = subprocess.Popen([qemu, "-name", "bench,debug-threads=on", "-M", "microvm,acpi=on", "-accel", "kvm", "-cpu", cpu, "-m", memory,
                             "-nographic", "-nodefaults", "-no-user-config", "-serial", "stdio",
                             "-device", "virtio-balloon-device",
                             "-qmp", f"unix:{qsock},server=on,wait=off",
                             "-kernel", os.path.join(IMAGE, "vmlinux"),
                             "-initrd", os.path.join(IMAGE, "initramfs.cpio"), "-append", cmdline],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    con = Console(proc)
    results = []
    ram = int(memory.rstrip("GM")) * (1024 if memory.endswith("G") else 1)
    try:
        if not con.wait_for(MARKER, 600) or not con.run("true", 120):
            raise RuntimeError("QEMU guest did not boot")
        cmd = qmp(qsock)
        for state in ("idle", "touched"):
            if state == "touched" and not con.run(f"memtouch {touch_mib}", 900):
                raise RuntimeError("memtouch failed")
            for step, target in (("inflate", size_mib), ("deflate", 0)):
                strace = subprocess.Popen(["strace", "-c", "-f", "-e", "trace=madvise,fallocate",
                                           "-p", str(proc.pid), "-o", "/tmp/bench-strace.txt"],
                                          stderr=subprocess.DEVNULL) if use_strace and shutil.which("strace") else None
                time.sleep(0.5)
                cpu0 = thread_cpu_s(proc.pid)
                start = time.monotonic()
                cmd("balloon", value=(ram - target) * (1 << 20))
                while cmd("query-balloon")["return"]["actual"] != (ram - target) * (1 << 20):
                    time.sleep(0.05)
                wall = time.monotonic() - start
                cpu = thread_cpu_s(proc.pid) - cpu0
                calls = None
                if strace:
                    strace.terminate()
                    strace.wait()
                    with open("/tmp/bench-strace.txt") as f:
                        calls = sum(int(m.group(1)) for m in re.finditer(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)", f.read(), re.M))
                gib = size_mib / 1024
                results.append({"vmm": "qemu", "state": state, "step": step, "wall_s": wall,
                                "mib_s": size_mib / wall,
                                "discards_per_gib": None if calls is None else calls / gib,
                                "cpu_ms_per_gib": cpu * 1000 / gib, "p50_us": None, "p99_us": None})
        con.run("poweroff -f", 30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return results


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


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
    args = ap.parse_args()
    modes = [] if args.qemu_only else (["inline", "thread"] if args.notify == "both" else [args.notify])
    rows = []
    for mode in modes:
        rows += vmm_steps(args.memory, args.touch_mib, args.size_mib, mode)
    if not args.no_qemu and shutil.which("qemu-system-x86_64"):
        try:
            rows += qemu_steps(args.memory, args.touch_mib, args.size_mib, args.qemu_strace)
        except Exception as e:  # the peer failing must not hide our figures
            print(f"QEMU run failed: {e}")
    print(f"bench/balloon: {args.memory} guest, balloon {args.size_mib} MiB, touched state = "
          f"{args.touch_mib} MiB touched then freed")
    print(f"{'vmm':5} {'state':8} {'step':8} {'wall s':>8} {'MiB/s':>8} {'discards/GiB':>13} "
          f"{'CPU ms/GiB':>11} {'p50 us':>8} {'p99 us':>8} {'us/req':>8} {'thread ms/GiB':>14}")
    for r in rows:
        print(f"{r['vmm']:5} {r['state']:8} {r['step']:8} {r['wall_s']:8.2f} {r['mib_s']:8.1f} "
              f"{fmt(r['discards_per_gib'], '13.1f')} {fmt(r['cpu_ms_per_gib'], '11.2f')} "
              f"{fmt(r['p50_us'], '8.1f')} {fmt(r['p99_us'], '8.1f')} "
              f"{fmt(r.get('us_per_request'), '8.1f')} {fmt(r.get('thread_cpu_ms_per_gib'), '14.1f')}")
    ours = {(r["state"], r["step"]): r for r in rows if r["vmm"] == "vmm"}
    theirs = {(r["state"], r["step"]): r for r in rows if r["vmm"] == "qemu"}
    for key, r in ours.items():
        q = theirs.get(key)
        if q and q["cpu_ms_per_gib"] and r["cpu_ms_per_gib"] and not args.qemu_strace:
            print(f"ratio {key[0]} {key[1]}: host CPU per GiB qemu/vmm = {q['cpu_ms_per_gib'] / r['cpu_ms_per_gib']:.1f}x, "
                  f"wall qemu/vmm = {q['wall_s'] / r['wall_s']:.2f}")
    inflate = [r for r in ours.values() if r["step"] == "inflate"]
    if inflate:
        p50 = max(r["p50_us"] for r in inflate)
        requests = 3 * GIB // 4096 // 256
        print(f"arithmetic: 3 GiB = {requests} requests of 256 PFNs; at the median service time "
              f"{p50:.1f} us the host side needs {requests * p50 / 1000:.1f} ms "
              f"(goal: the whole inflate under 338 ms on hardware KVM, leaving "
              f"{338 - requests * p50 / 1000:.1f} ms for the guest driver)")


if __name__ == "__main__":
    main()
