#!/usr/bin/env python3
"""bench/migrate: live migration between two "hosts", against QEMU.

Two network namespaces joined by a veth pair (made and removed here) stand in
for two hosts. A guest (default image, 4 GiB) touches 2 GiB with a non-zero
pattern and frees it, then idles. Scenarios, chained on one boot per VMM so
each migration's source holds the freed pages populated, as a fresh source
would:

  idle-nohint  A -> B, free page hinting off: the freed memory goes over
  idle-hint    B -> A, hinting on: the guest reports the freed memory
  dirty        A -> B, hinting on, while a guest program rewrites 64 MiB at
               --dirty-mib-s MiB/s from user space (migcheck); the
               destination then verifies every page of it

(The order matters: after a hinted migration the freed pages are never
populated at the destination, so hinting off would look free afterwards.)

Printed per run: total time, downtime (source paused -> destination acked),
MiB sent and MiB seen on the veth link, rounds, pages skipped by reason, the
guest's used memory (guest RAM - MemFree before the move) and sent/used. QEMU
(when installed) runs the same image and steps: one boot with
`virtio-balloon-device,free-page-hint=off` (idle-nohint) and one with
`free-page-hint=on,iothread=...` (idle-hint, then dirty), downtime-limit set
to the same target; figures from `query-migrate`. Then the ratios and the
issue's goals (bytes <= 1.2x used; total time >= 4x better than QEMU without
hints and >= 1.5x better than QEMU with hints; downtime < 10 ms idle, < 50 ms
dirtying).

Guest boots and page faults are emulated on PVM (shared/PLATFORM.md), so use
smaller sizes for a quick run: --memory 1G --touch-mib 512.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from balloon import Console, MARKER, IMAGE, VMM, qmp  # noqa: E402

NS_A, NS_B = "vmmbench-a", "vmmbench-b"
IP_A, IP_B = "10.78.0.1", "10.78.0.2"
VETH_A, VETH_B = "vbench-a", "vbench-b"
MIB = 1 << 20
QEMU_CPU = "host,-arch-capabilities,-kvm-pv-ipi,-kvm-pv-sched-yield,-kvm-pv-unhalt"


def ram_mib(memory):
    return int(memory[:-1]) * (1024 if memory.endswith("G") else 1)


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def netns_up():
    netns_down()
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", VETH_A, "netns", NS_A, "type", "veth", "peer", "name", VETH_B, "netns", NS_B)
    for ns, dev, ip in ((NS_A, VETH_A, IP_A), (NS_B, VETH_B, IP_B)):
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def netns_down():
    for ns in (NS_A, NS_B):
        sh("ip", "netns", "del", ns, check=False)


def rx_bytes(ns, dev):
    return int(sh("ip", "netns", "exec", ns, "cat", f"/sys/class/net/{dev}/statistics/rx_bytes").stdout)


def link_of(ns):
    return (ns, VETH_A if ns == NS_A else VETH_B)


class Guest:
    """A VMM or QEMU process in a namespace, its console on pipes."""

    def __init__(self, ns, argv, log):
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=open(log, "w"))
        self.con = Console(self.proc)
        self.log = log

    def output_of(self, command, timeout=120):
        tag = f"O{time.monotonic_ns()}"
        self.proc.stdin.write(f"{command}; echo {tag[:3]}\"\"{tag[3:]}\n".encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        buf = b""
        import select
        while tag.encode() not in buf and time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
        return (self.con.buf + buf).decode(errors="replace")

    def used_mib(self, ram_mib):
        """RAM the guest is not holding free: its MemFree subtracted from the
        whole of guest RAM, so memory the kernel reserved (its own image,
        page tables set up at boot) counts as used, as it must be sent."""
        text = self.output_of("cat /proc/meminfo")
        fields = {}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields.setdefault(parts[0][:-1], int(parts[1]))
        return ram_mib - fields["MemFree"] / 1024

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def vmm_guest(ns, sock, memory, incoming=None, log="/tmp/bench-migrate.log"):
    argv = [VMM, "run", "--memory", memory, "--api-socket", sock, "--balloon-reporting=false"]
    if incoming:
        argv += ["--incoming", incoming]
    g = Guest(ns, argv, log)
    if incoming:
        deadline = time.monotonic() + 30
        while "waiting for the source" not in open(log).read():
            if time.monotonic() > deadline or g.proc.poll() is not None:
                raise RuntimeError("destination did not start: " + open(log).read()[-500:])
            time.sleep(0.05)
    return g


def vmm_migrate(src_sock, dest, hinting, downtime_ms, dest_ns):
    rx0 = rx_bytes(*link_of(dest_ns))
    r = subprocess.run([VMM, "ctl", "--api", src_sock, "migrate", dest, "--json",
                        f"--free-page-hinting={'true' if hinting else 'false'}", f"--downtime-ms={downtime_ms}"],
                       capture_output=True, text=True)
    out = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
    if r.returncode != 0 or out.get("state") != "completed":
        raise RuntimeError(f"vmm migration failed: {r.stderr.strip()} {out.get('error', '')}")
    wire = rx_bytes(*link_of(dest_ns)) - rx0
    sk = out["skipped_pages"]
    return {"total_ms": out["total_ms"], "downtime_ms": out["downtime_ms"], "sent_mib": out["bytes_sent"] / MIB,
            "wire_mib": wire / MIB, "rounds": out["rounds"],
            "skipped": f"{sk['zero']}/{sk['unpopulated']}/{sk['ballooned']}/{sk['hinted']}",
            "unlogged": out.get("unlogged_pages", 0), "rescan": out.get("paused_rescan", False),
            "bypassed": out.get("bypassed_pages", 0), "final_pages": out.get("final_pages", 0),
            "parts": out.get("downtime_parts_ms", {}),
            "hint_wait_ms": out.get("hint_wait_ms", 0), "hint_report": out.get("hint_report", ""),
            "check_ms": out.get("check_ms", 0)}


def run_vmm(args):
    rows = []
    socks = {n: tempfile.mktemp(prefix=f"bench-mig-{n}-", suffix=".sock") for n in ("a", "b", "a2", "b2")}
    guests = []
    try:
        a = vmm_guest(NS_A, socks["a"], args.memory, log="/tmp/bench-migrate-a.log")
        guests.append(a)
        if not a.con.wait_for(MARKER, 600):
            raise RuntimeError("vmm guest did not boot")
        a.output_of(f"memtouch {args.touch_mib}", 1800)
        used = a.used_mib(ram_mib(args.memory))
        plan = [("idle-nohint", False), ("idle-hint", True), ("dirty", True)]
        src, src_sock, src_ns = a, socks["a"], NS_A
        for i, (name, hinting) in enumerate(plan):
            if name not in args.scenarios:
                continue
            if name == "dirty":
                src.output_of(f"migcheck start 64 --dirty-mib-s {args.dirty_mib_s}", 600)
                used = src.used_mib(ram_mib(args.memory))
            dest_ns = NS_B if src_ns == NS_A else NS_A
            dest_ip = IP_B if dest_ns == NS_B else IP_A
            sock = socks["b" if i % 2 == 0 else "a2"] if i < 2 else socks["b2"]
            dest = vmm_guest(dest_ns, sock, args.memory, incoming=f"tcp:{dest_ip}:{7500 + i}",
                             log=f"/tmp/bench-migrate-{name}.log")
            guests.append(dest)
            row = vmm_migrate(src_sock, f"tcp:{dest_ip}:{7500 + i}", hinting, args.downtime_ms, dest_ns)
            src.proc.wait(timeout=30)
            check = dest.output_of("migcheck verify" if name == "dirty" else "echo alive", 300)
            row.update({"vmm": "vmm", "scenario": name, "used_mib": used,
                        "ok": ("migcheck: ok" in check) if name == "dirty" else ("alive" in check)})
            rows.append(row)
            src, src_sock, src_ns = dest, sock, dest_ns
        src.output_of("poweroff -f", 30)
    finally:
        for g in guests:
            g.stop()
    return rows


def qemu_argv(memory, hint, incoming=None, qsock=None):
    with open(os.path.join(IMAGE, "cmdline")) as f:
        cmdline = "console=ttyS0 " + f.read().strip()
    balloon = ["-object", "iothread,id=io1", "-device", "virtio-balloon-device,free-page-hint=on,iothread=io1"] \
        if hint else ["-device", "virtio-balloon-device,free-page-hint=off"]
    argv = [shutil.which("qemu-system-x86_64"), "-M", "microvm,acpi=on", "-accel", "kvm", "-cpu", QEMU_CPU,
            "-m", memory, "-nographic", "-nodefaults", "-no-user-config", "-serial", "stdio", *balloon,
            "-qmp", f"unix:{qsock},server=on,wait=off",
            "-kernel", os.path.join(IMAGE, "vmlinux"), "-initrd", os.path.join(IMAGE, "initramfs.cpio"),
            "-append", cmdline]
    if incoming:
        argv += ["-incoming", incoming]
    return argv


def qemu_migrate(qsock, uri, downtime_ms, dest_ns, max_bandwidth_mib_s):
    cmd = qmp(qsock)
    params = {"downtime-limit": int(downtime_ms)}
    if max_bandwidth_mib_s:
        params["max-bandwidth"] = int(max_bandwidth_mib_s * MIB)
    cmd("migrate-set-parameters", **params)
    # QEMU caps migration at max-bandwidth, 128 MiB/s unless set: the
    # figure is printed with its rows so the comparison says what it is.
    bandwidth = cmd("query-migrate-parameters")["return"].get("max-bandwidth", 0)
    rx0 = rx_bytes(*link_of(dest_ns))
    r = cmd("migrate", uri=uri)
    if "error" in r:
        raise RuntimeError(f"QEMU migrate: {r['error']}")
    while True:
        info = cmd("query-migrate")["return"]
        if info.get("status") in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.05)
    if info["status"] != "completed":
        raise RuntimeError(f"QEMU migration {info['status']}: {info.get('error-desc', '')}")
    ram = info.get("ram", {})
    return {"total_ms": info.get("total-time", 0), "downtime_ms": info.get("downtime", 0),
            "sent_mib": ram.get("transferred", 0) / MIB, "wire_mib": (rx_bytes(*link_of(dest_ns)) - rx0) / MIB,
            "rounds": ram.get("dirty-sync-count", 0), "skipped": f"dup {ram.get('duplicate', 0)}", "unlogged": None,
            "max_bandwidth_mib_s": bandwidth / MIB}


def run_qemu(args):
    rows = []
    for hint, plan in ((False, ["idle-nohint"]), (True, ["idle-hint", "dirty"])):
        plan = [p for p in plan if p in args.scenarios]
        if not plan:
            continue
        guests = []
        try:
            qa = tempfile.mktemp(prefix="bench-qmp-a-", suffix=".sock")
            src = Guest(NS_A, qemu_argv(args.memory, hint, qsock=qa), "/tmp/bench-migrate-qemu-a.log")
            guests.append(src)
            if not src.con.wait_for(MARKER, 600):
                raise RuntimeError("QEMU guest did not boot")
            src.output_of(f"memtouch {args.touch_mib}", 1800)
            src_sock, src_ns = qa, NS_A
            for i, name in enumerate(plan):
                if name == "dirty":
                    src.output_of(f"migcheck start 64 --dirty-mib-s {args.dirty_mib_s}", 600)
                used = src.used_mib(ram_mib(args.memory))
                dest_ns = NS_B if src_ns == NS_A else NS_A
                dest_ip = IP_B if dest_ns == NS_B else IP_A
                uri = f"tcp:{dest_ip}:{7600 + i + (10 if hint else 0)}"
                qd = tempfile.mktemp(prefix="bench-qmp-d-", suffix=".sock")
                dest = Guest(dest_ns, qemu_argv(args.memory, hint, incoming=uri, qsock=qd),
                             f"/tmp/bench-migrate-qemu-{name}.log")
                guests.append(dest)
                time.sleep(2)
                row = qemu_migrate(src_sock, uri, args.downtime_ms, dest_ns, args.qemu_max_bandwidth_mib_s)
                src.stop()
                check = dest.output_of("migcheck verify" if name == "dirty" else "echo alive", 300)
                row.update({"vmm": "qemu", "scenario": name, "used_mib": used,
                            "ok": ("migcheck: ok" in check) if name == "dirty" else ("alive" in check)})
                rows.append(row)
                src, src_sock, src_ns = dest, qd, dest_ns
        except Exception as e:  # the peer failing must not hide our figures
            print(f"QEMU run failed: {e}")
        finally:
            for g in guests:
                g.stop()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memory", default="4G")
    ap.add_argument("--touch-mib", type=int, default=2048)
    ap.add_argument("--dirty-mib-s", type=int, default=50)
    ap.add_argument("--downtime-ms", type=float, default=30)
    ap.add_argument("--scenarios", default="idle-nohint,idle-hint,dirty")
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--qemu-max-bandwidth-mib-s", type=float, default=0,
                    help="QEMU's max-bandwidth for the migration (default: QEMU's own, 128 MiB/s)")
    ap.add_argument("--qemu-only", action="store_true")
    args = ap.parse_args()
    args.scenarios = args.scenarios.split(",")
    netns_up()
    rows = []
    try:
        if not args.qemu_only:
            try:
                rows += run_vmm(args)
            except Exception as e:
                print(f"vmm run failed: {e}")
        if not args.no_qemu and shutil.which("qemu-system-x86_64"):
            rows += run_qemu(args)
        elif not args.no_qemu:
            print("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86): no QEMU rows, no ratios")
    finally:
        netns_down()
    print(f"bench/migrate: {args.memory} guest, {args.touch_mib} MiB touched and freed, "
          f"downtime target {args.downtime_ms} ms, dirty scenario at {args.dirty_mib_s} MiB/s")
    print(f"{'vmm':5} {'scenario':12} {'total ms':>9} {'down ms':>8} {'sent MiB':>9} {'veth MiB':>9} {'rounds':>6} "
          f"{'used MiB':>9} {'sent/used':>9} {'ok':>3}  skipped zero/unpop/balloon/hinted")
    for r in rows:
        print(f"{r['vmm']:5} {r['scenario']:12} {r['total_ms']:9.0f} {r['downtime_ms']:8.1f} {r['sent_mib']:9.1f} "
              f"{r['wire_mib']:9.1f} {r['rounds']:6} {r['used_mib']:9.0f} {r['sent_mib'] / r['used_mib']:9.2f} "
              f"{'yes' if r['ok'] else 'NO':>3}  {r['skipped']}"
              + (f" (unlogged {r['unlogged']})" if r.get("unlogged") else "")
              + (" (paused re-scan)" if r.get("rescan") else "")
              + (f" (bypassed {r['bypassed']})" if r.get("bypassed") else ""))
    for r in rows:
        if r.get("max_bandwidth_mib_s"):
            print(f"qemu {r['scenario']}: QEMU's max-bandwidth was {r['max_bandwidth_mib_s']:.0f} MiB/s")
    for r in rows:
        if r.get("parts"):
            print(f"vmm {r['scenario']} downtime parts (ms): "
                  + ", ".join(f"{k} {v:.1f}" for k, v in r["parts"].items())
                  + f"; {r['final_pages']} pages sent while paused"
                  + f"; hint wait {r['hint_wait_ms']:.0f} ms"
                  + (f" ({r['hint_report']})" if r.get("hint_report") else "")
                  + f", PVM checks {r['check_ms']:.0f} ms")
    ours = {r["scenario"]: r for r in rows if r["vmm"] == "vmm"}
    theirs = {r["scenario"]: r for r in rows if r["vmm"] == "qemu"}
    for name, r in ours.items():
        if name == "idle-nohint":
            # The baseline: the freed memory goes over, as it must without hints.
            print(f"baseline {name}: bytes sent {r['sent_mib']:.0f} MiB (used {r['used_mib']:.0f} MiB)")
        else:
            verdict = "PASS" if r["sent_mib"] <= 1.2 * r["used_mib"] else "FAIL"
            print(f"goal {name}: bytes sent {r['sent_mib']:.0f} MiB <= 1.2 x used {r['used_mib']:.0f} MiB: {verdict}")
        limit = 50 if name == "dirty" else 10
        print(f"goal {name}: downtime {r['downtime_ms']:.1f} ms < {limit} ms: "
              f"{'PASS' if r['downtime_ms'] < limit else 'FAIL'}")
        if name in theirs and r["total_ms"] > 0:
            print(f"ratio {name} (like for like): QEMU total time / ours = "
                  f"{theirs[name]['total_ms'] / r['total_ms']:.2f}x, bytes sent QEMU/ours = "
                  f"{theirs[name]['sent_mib'] / max(r['sent_mib'], 1e-9):.2f}x")
    # Total time against QEMU, for each of our modes: with hints our total
    # includes waiting for the guest's whole free page report (guest-bound,
    # see hint wait above); QEMU sends while the report comes in.
    for mine in ("idle-hint", "idle-nohint"):
        if mine not in ours:
            continue
        for peer, need in (("idle-nohint", 4), ("idle-hint", 1.5)):
            if peer in theirs:
                ratio = theirs[peer]["total_ms"] / max(ours[mine]["total_ms"], 1e-9)
                print(f"goal: QEMU {peer} total time / ours {mine} = {ratio:.2f}x (>= {need}x: "
                      f"{'PASS' if ratio >= need else 'FAIL'})")


if __name__ == "__main__":
    main()
