#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/migrate: live migration between two "hosts", against QEMU.

Two network namespaces joined by a veth pair (made and removed here) stand in
for two hosts. A guest (default image, 4 GiB) touches 2 GiB with a non-zero
pattern and frees it, then runs `migcheck start 4 --still` (4 MiB under
known patterns, checked on request, nothing rewritten) and the downtime
probe (`tscgap start`, below). Scenarios, chained on one boot per VMM so each migration's
source holds the freed pages populated, as a fresh source would:

  idle-nohint  A -> B, free page hinting off: the freed memory goes over
  idle-hint    B -> A, hinting on: the guest reports the freed memory
  dirty        A -> B, hinting on, while migcheck rewrites 64 MiB at
               --dirty-mib-s MiB/s from user space

(The order matters: after a hinted migration the freed pages are never
populated at the destination, so hinting off would look free afterwards.)
After each move `migcheck verify` runs on the destination: every page of
the checker's memory arrived intact. A run whose
verification failed is printed as FAILED and gets no goal or ratio line.

Both VMMs get the same terms (bench/benchlib.py): guest RAM on a shared
memfd, the same image and CPU features, the same downtime target, no
bandwidth limit. QEMU's migration is capped at 128 MiB/s by default
(max-bandwidth); here it runs uncapped (max-bandwidth 100 GiB/s, far above
the link) and, as a separate row labelled "qemu-def", with its defaults.

Printed per run: total time (each VMM's own figure), downtime three ways
(each VMM's own: ours source paused -> destination acked, QEMU's
`downtime`, whole ms; and the same definition for both, from inside the
guest: the longest gap the tscgap spinner saw during the migration and in
its last 300 ms, where the pause starts (both benches see completion within
a 200 ms poll; the whole window also holds the guest's own migration work,
its free page report), next to the longest gap in a quiet 1 s window just
before it), MiB sent and seen
on the veth link, rounds, pages skipped by reason, the guest's used memory
(guest RAM - MemFree before the move) and sent/used, and each side's host
CPU (benchlib.py: all threads but the vCPU threads; source: the migrate
command to completion, destination: to 1 s after it). For ours also where
the downtime went, the hint wait and PVM checks, and the destination's split
of its page-record time: reading the socket (waiting for the source
included), checking CRCs, writing guest memory. Then ratios between the
same scenario on both VMMs and the goals (bytes <= 1.2x used; total time
>= 1.5x better than QEMU with hints, hinted; downtime < 10 ms idle, < 50 ms
dirtying; the guest-seen figure judged is the last 300 ms one).

--tls runs the vmm scenarios a second time over tls: (certificates made with
the openssl command, rows "vmm-tls", the record layer named: ktls or openssl)
and prints each scenario's tls/tcp total-time ratio against the goal of at
most 1.10x. Both vmm runs pass --insecure: the namespaces' plain tcp: link
is not loopback.

--seccomp-cost runs the vmm scenarios once more over tcp: with both VMMs at
--seccomp=off (rows "vmm-nosec") and prints each scenario's total time with
the filters (the default) against without them; goal: within 2%.

The probe keeps the guest's one vCPU busy in user mode (at nice 19) for the
whole run, for both VMMs; --no-probe leaves the guest idle and prints no
guest-side downtime. Guest boots and page faults are emulated on PVM
(docs/PVM.md), so use smaller sizes for a quick run: --memory 1G
--touch-mib 512.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (CPU_ACCOUNTING, HOST_TSC, MARKER, MIB, VMM, Console, CpuMeter, fmt, host_tsc,  # noqa: E402
                      meminfo_mib, probe_report, qemu_argv, qemu_binary, qmp, ram_mib, reap)
import plots  # noqa: E402
import results  # noqa: E402

NS_A, NS_B = "vmmbench-a", "vmmbench-b"
IP_A, IP_B = "10.78.0.1", "10.78.0.2"
VETH_A, VETH_B = "vbench-a", "vbench-b"
QEMU_UNCAPPED_MIB_S = 100 * 1024  # far above the veth link
SETTLE_S = 1.0
TAIL_MS = 300


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


def rx_bytes(ns):
    dev = VETH_A if ns == NS_A else VETH_B
    return int(sh("ip", "netns", "exec", ns, "cat", f"/sys/class/net/{dev}/statistics/rx_bytes").stdout)


class Guest:
    """A VMM or QEMU process in a namespace (`ip netns exec` execs it: same
    PID), its console on pipes."""

    def __init__(self, ns, argv, log):
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=open(log, "w"))
        self.con = Console(self.proc)
        self.log = log
        self.ns = ns

    def output_of(self, command, timeout=120):
        return self.con.output_of(command, timeout) or ""

    def used_mib(self, guest_mib):
        """RAM the guest is not holding free: MemFree subtracted from the
        whole of guest RAM, so memory the kernel reserved counts as used,
        as it must be sent."""
        return guest_mib - meminfo_mib(self.con, "MemFree")

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def reap(self, timeout=30):
        """Exit status and rusage once the process has ended by itself."""
        return reap(self.proc, timeout)

    def stop(self):
        if self.proc.returncode is None:
            self.proc.kill()
            reap(self.proc, 30)


def prepare(guest, args):
    """Touch and free, the checker and the probe; the used memory."""
    guest.output_of(f"memtouch {args.touch_mib}", 1800)
    out = guest.output_of("migcheck start 4 --still", 600)
    if "filled 4 MiB" not in out:
        raise RuntimeError(f"migcheck did not start: {out}")
    if args.probe:
        out = guest.output_of("tscgap start", 300)
        if "started" not in out:
            raise RuntimeError(f"tscgap did not start (guest image without it? guest-images/build.sh): {out}")


def start_dirtying(guest, args):
    guest.output_of("kill $(cat /tmp/migcheck.pid)", 60)
    out = guest.output_of(f"migcheck start 64 --dirty-mib-s {args.dirty_mib_s}", 600)
    if "filled 64 MiB" not in out:
        raise RuntimeError(f"migcheck did not start: {out}")


class Window:
    """Around one migration: the probe's quiet window before it, host TSC
    and CPU meters, the veth counter."""

    def __init__(self, args, src, dest):
        self.args, self.src, self.dest = args, src, dest

    def open(self):
        time.sleep(0.5)  # the last console command's tail
        self.quiet_tsc = host_tsc() if self.args.probe else None
        time.sleep(SETTLE_S)
        self.rx0 = rx_bytes(self.dest.ns)
        self.src_cpu = CpuMeter(self.src.proc.pid).start().follow()
        self.dest_cpu = CpuMeter(self.dest.proc.pid).start()
        self.tsc0 = host_tsc() if self.args.probe else None
        self.mono0 = time.monotonic()

    def close(self, src_rusage=None):
        """At completion: the row's link bytes, CPU and guest-side gap."""
        tsc1 = host_tsc() if self.args.probe else None
        elapsed_ms = (time.monotonic() - self.mono0) * 1e3
        row = {"wire_mib": (rx_bytes(self.dest.ns) - self.rx0) / MIB}
        src_cpu = self.src_cpu.stop(src_rusage)
        time.sleep(SETTLE_S)  # the spinner runs again and closes the pause's gap
        dest_cpu = self.dest_cpu.stop()
        row.update({"src_cpu_ms": src_cpu["vmm_ms"], "dest_cpu_ms": dest_cpu["vmm_ms"]})
        if self.args.probe:
            row["probe"] = probe_report(self.dest.con, self.tsc0, tsc1)
            row["probe_floor"] = probe_report(self.dest.con, self.quiet_tsc, self.tsc0)
            # Both benches see completion within a 200 ms poll of it, so the
            # pause starts in the window's tail; the whole window also holds
            # the guest's own migration work (its free page report).
            tail = int(max(0.0, 1 - TAIL_MS / max(elapsed_ms, 1e-9)) * (tsc1 - self.tsc0))
            row["probe_tail"] = probe_report(self.dest.con, self.tsc0 + tail, tsc1)
        return row

    def verify(self, row):
        out = self.dest.output_of("migcheck verify", 300)
        row["ok"] = "migcheck: ok" in out
        row["verify"] = out.strip().splitlines()[-1] if out.strip() else "no answer"


def make_tls_dir():
    """A CA and one certificate pair for each role, made with the openssl CLI
    (the layout of vmm run --tls-dir); both VMMs use the same directory."""
    d = tempfile.mkdtemp(prefix="bench-mig-tls-")
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
       "-subj", "/CN=bench migration CA", "-keyout", f"{d}/ca-key.pem", "-out", f"{d}/ca-cert.pem")
    ext = f"{d}/ext.cnf"
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:bench.vmm\nextendedKeyUsage=serverAuth,clientAuth\n")
    for role in ("server", "client"):
        sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-subj", f"/CN={role}.bench.vmm", "-keyout", f"{d}/{role}-key.pem", "-out", f"{d}/{role}.csr")
        sh("openssl", "x509", "-req", "-in", f"{d}/{role}.csr", "-CA", f"{d}/ca-cert.pem", "-CAkey", f"{d}/ca-key.pem",
           "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", f"{d}/{role}-cert.pem")
    return d


def vmm_guest(ns, sock, memory, incoming=None, log="/tmp/bench-migrate.log", tls_dir=None, seccomp="on"):
    # The namespaces' addresses are not loopback: plain tcp: needs --insecure.
    argv = [VMM, "run", "--memory", memory, "--api-socket", sock, "--balloon-reporting=false", "--insecure",
            f"--seccomp={seccomp}"]
    if tls_dir:
        argv += ["--tls-dir", tls_dir]
    if incoming:
        argv += ["--incoming", incoming]
    g = Guest(ns, argv, log)
    if incoming:
        deadline = time.monotonic() + 30
        while "waiting for the source" not in g.log_text():
            if time.monotonic() > deadline or g.proc.poll() is not None:
                raise RuntimeError("destination did not start: " + g.log_text()[-500:])
            time.sleep(0.05)
    return g


def receive_split(log_text):
    m = re.search(r"page records: ([0-9.]+) ms reading, ([0-9.]+) ms checking, ([0-9.]+) ms writing", log_text)
    return {"read": float(m.group(1)), "check": float(m.group(2)), "write": float(m.group(3))} if m else None


def vmm_migrate(window, src_sock, dest_uri, hinting, downtime_ms):
    window.open()
    r = subprocess.run([VMM, "ctl", "--api", src_sock, "migrate", dest_uri, "--json",
                        f"--free-page-hinting={'true' if hinting else 'false'}", f"--downtime-ms={downtime_ms}"],
                       capture_output=True, text=True)
    out = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
    if r.returncode != 0 or out.get("state") != "completed":
        raise RuntimeError(f"vmm migration failed: {r.stderr.strip()} {out.get('error', '')}")
    _, rusage = window.src.reap(30)  # the source exits once the destination has the guest
    row = window.close(rusage)
    sk = out["skipped_pages"]
    row.update({"total_ms": out["total_ms"], "downtime_ms": out["downtime_ms"], "sent_mib": out["bytes_sent"] / MIB,
                "rounds": out["rounds"],
                "skipped": f"{sk['zero']}/{sk['unpopulated']}/{sk['ballooned']}/{sk['hinted']}",
                "unlogged": out.get("unlogged_pages", 0), "rescan": out.get("paused_rescan", False),
                "bypassed": out.get("bypassed_pages", 0), "final_pages": out.get("final_pages", 0),
                "parts": out.get("downtime_parts_ms", {}),
                "hint_wait_ms": out.get("hint_wait_ms", 0), "hint_report": out.get("hint_report", ""),
                "check_ms": out.get("check_ms", 0), "receive": receive_split(window.dest.log_text()),
                "encryption": out.get("encryption", "none"), "round_history": out.get("round_history", [])})
    return row


def run_vmm(args, tls_dir=None, seccomp="on"):
    """The scenarios over tcp: (tls_dir None, rows labelled "vmm") or over tls:
    with the certificates in tls_dir (rows labelled "vmm-tls"); with seccomp
    "off", over tcp: with both VMMs unfiltered (rows labelled "vmm-nosec")."""
    rows = []
    scheme, label, port0 = ("tls", "vmm-tls", 7550) if tls_dir else ("tcp", "vmm", 7500)
    if seccomp != "on":
        label, port0 = "vmm-nosec", 7600
    socks = {n: tempfile.mktemp(prefix=f"bench-mig-{n}-", suffix=".sock") for n in ("a", "b", "a2", "b2")}
    guests = []
    try:
        a = vmm_guest(NS_A, socks["a"], args.memory, log=f"/tmp/bench-migrate-{label}-a.log", tls_dir=tls_dir, seccomp=seccomp)
        guests.append(a)
        if not a.con.wait_for(MARKER, 900):
            raise RuntimeError("vmm guest did not boot")
        prepare(a, args)
        plan = [("idle-nohint", False), ("idle-hint", True), ("dirty", True)]
        src, src_sock = a, socks["a"]
        for i, (name, hinting) in enumerate(plan):
            if name not in args.scenarios:
                continue
            if name == "dirty":
                start_dirtying(src, args)
            used = src.used_mib(ram_mib(args.memory))
            dest_ns = NS_B if src.ns == NS_A else NS_A
            dest_ip = IP_B if dest_ns == NS_B else IP_A
            sock = [socks["b"], socks["a2"], socks["b2"]][i]
            uri = f"{scheme}:{dest_ip}:{port0 + i}"
            dest = vmm_guest(dest_ns, sock, args.memory, incoming=uri, log=f"/tmp/bench-migrate-{label}-{name}.log",
                             tls_dir=tls_dir, seccomp=seccomp)
            guests.append(dest)
            window = Window(args, src, dest)
            row = vmm_migrate(window, src_sock, uri, hinting, args.downtime_ms)
            window.verify(row)
            row.update({"vmm": label, "scenario": name, "used_mib": used})
            rows.append(row)
            src, src_sock = dest, sock
        src.output_of("poweroff -f", 30)
    finally:
        for g in guests:
            g.stop()
    return rows


def qemu_migrate(window, qsock, uri, downtime_ms, max_bandwidth_mib_s):
    cmd = qmp(qsock)
    params = {"downtime-limit": int(downtime_ms)}
    if max_bandwidth_mib_s:
        params["max-bandwidth"] = int(max_bandwidth_mib_s * MIB)
    cmd("migrate-set-parameters", **params)
    bandwidth = cmd("query-migrate-parameters")["return"].get("max-bandwidth", 0)
    window.open()
    r = cmd("migrate", uri=uri)
    if "error" in r:
        raise RuntimeError(f"QEMU migrate: {r['error']}")
    samples = []  # QEMU reports no rounds: --plot rebuilds them from these
    while True:
        info = cmd("query-migrate")["return"]
        if info.get("status") in ("completed", "failed", "cancelled"):
            break
        samples.append(qemu_sample(info))
        time.sleep(0.2)  # as often as `vmm ctl migrate` asks ours
    if info["status"] != "completed":
        raise RuntimeError(f"QEMU migration {info['status']}: {info.get('error-desc', '')}")
    row = window.close()
    ram = info.get("ram", {})
    row.update({"total_ms": info.get("total-time", 0), "downtime_ms": info.get("downtime", 0),
                "sent_mib": ram.get("transferred", 0) / MIB, "rounds": ram.get("dirty-sync-count", 0),
                "skipped": f"dup {ram.get('duplicate', 0)}", "max_bandwidth_mib_s": bandwidth / MIB,
                "round_history": plots.qemu_rounds(samples, qemu_sample(info))})
    return row


def qemu_sample(info):
    ram = info.get("ram", {})
    return {"syncs": ram.get("dirty-sync-count", 0), "transferred": ram.get("transferred", 0),
            "remaining": ram.get("remaining", 0)}


def run_qemu(args, label, max_bandwidth_mib_s):
    rows = []
    for hint, plan in ((False, ["idle-nohint"]), (True, ["idle-hint", "dirty"])):
        plan = [p for p in plan if p in args.scenarios]
        if not plan:
            continue
        guests = []
        try:
            qa = tempfile.mktemp(prefix="bench-qmp-a-", suffix=".sock")
            balloon = "hint" if hint else "plain"
            src = Guest(NS_A, qemu_argv(args.memory, balloon, qmp_sock=qa), f"/tmp/bench-migrate-{label}-a.log")
            guests.append(src)
            if not src.con.wait_for(MARKER, 900):
                raise RuntimeError("QEMU guest did not boot")
            prepare(src, args)
            src_sock = qa
            for i, name in enumerate(plan):
                if name == "dirty":
                    start_dirtying(src, args)
                used = src.used_mib(ram_mib(args.memory))
                dest_ns = NS_B if src.ns == NS_A else NS_A
                dest_ip = IP_B if dest_ns == NS_B else IP_A
                uri = f"tcp:{dest_ip}:{7600 + i + (10 if hint else 0)}"
                qd = tempfile.mktemp(prefix="bench-qmp-d-", suffix=".sock")
                dest = Guest(dest_ns, qemu_argv(args.memory, balloon, incoming=uri, qmp_sock=qd),
                             f"/tmp/bench-migrate-{label}-{name}.log")
                guests.append(dest)
                qmp(qd)("query-status")  # listening once QMP answers
                window = Window(args, src, dest)
                row = qemu_migrate(window, src_sock, uri, args.downtime_ms, max_bandwidth_mib_s)
                src.stop()
                window.verify(row)
                row.update({"vmm": label, "scenario": name, "used_mib": used})
                rows.append(row)
                src, src_sock = dest, qd
        except Exception as e:  # the peer failing must not hide our figures
            print(f"QEMU ({label}) run failed: {e}")
        finally:
            for g in guests:
                g.stop()
    return rows


def probe_text(row):
    """guest-seen gaps: whole window / its last TAIL_MS (quiet window)."""
    parts = []
    for key in ("probe", "probe_tail", "probe_floor"):
        p = row.get(key)
        parts.append("n/a" if not p else f"{p['gap_ms']:.1f}{'*' if p['open'] else ''}")
    return f"{parts[0]}/{parts[1]} ({parts[2]})"


def report(args, rows):
    print(f"bench/migrate: {args.memory} guest, {args.touch_mib} MiB touched and freed, "
          f"downtime target {args.downtime_ms} ms, dirty scenario at {args.dirty_mib_s} MiB/s")
    print(f"  {CPU_ACCOUNTING}; source: migrate command -> completion, destination: -> completion + {SETTLE_S:.0f} s")
    print("  downtime: 'own' is each VMM's figure (ours: source paused -> destination acked; QEMU: its "
          "`downtime`, whole ms); 'guest' is the longest gap the guest's TSC spinner saw during the migration / "
          f"in its last {TAIL_MS} ms, where the pause starts (the whole window also holds the guest's own migration "
          f"work, its free page report), and in brackets the longest in a quiet {SETTLE_S:.0f} s window before it "
          "(*: the spinner had not run again when asked)"
          + ("" if args.probe else " (--no-probe: not measured)"))
    print("  rows: vmm = ours; qemu = QEMU with max-bandwidth far above the link; "
          "qemu-def = QEMU defaults (128 MiB/s cap)")
    print(f"{'vmm':8} {'scenario':12} {'total ms':>9} {'own down':>9} {'guest all/tail (quiet)':>24} {'sent MiB':>9} "
          f"{'veth MiB':>9} {'rounds':>6} {'used MiB':>9} {'sent/used':>9} {'src CPU':>8} {'dst CPU':>8} "
          f"{'verified':>9}  skipped zero/unpop/balloon/hinted")
    for r in rows:
        print(f"{r['vmm']:8} {r['scenario']:12} {r['total_ms']:9.0f} {r['downtime_ms']:9.1f} {probe_text(r):>24} "
              f"{r['sent_mib']:9.1f} {r['wire_mib']:9.1f} {r['rounds']:6} {r['used_mib']:9.0f} "
              f"{r['sent_mib'] / r['used_mib']:9.2f} {fmt(r['src_cpu_ms'], '8.0f')} {fmt(r['dest_cpu_ms'], '8.0f')} "
              f"{'yes' if r['ok'] else 'FAILED':>9}  {r['skipped']}"
              + (f" (unlogged {r['unlogged']})" if r.get("unlogged") else "")
              + (" (paused re-scan)" if r.get("rescan") else "")
              + (f" (bypassed {r['bypassed']})" if r.get("bypassed") else ""))
    for r in rows:
        if not r["ok"]:
            print(f"{r['vmm']} {r['scenario']}: verification FAILED on the destination: {r['verify']}")
        if r.get("max_bandwidth_mib_s"):
            print(f"{r['vmm']} {r['scenario']}: QEMU's max-bandwidth was {r['max_bandwidth_mib_s']:.0f} MiB/s")
    for r in rows:
        if r["vmm"] != "vmm":
            continue
        parts = r["parts"]
        print(f"vmm {r['scenario']} downtime parts (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
              + f" (sum {sum(parts.values()):.1f} of {r['downtime_ms']:.1f})"
              + f"; {r['final_pages']} pages sent while paused; hint wait {r['hint_wait_ms']:.0f} ms"
              + (f" ({r['hint_report']})" if r.get("hint_report") else "")
              + f", PVM checks {r['check_ms']:.0f} ms")
        if r.get("receive"):
            s = r["receive"]
            print(f"vmm {r['scenario']} destination page records: reading {s['read']:.0f} ms (waiting for the "
                  f"source included), checking {s['check']:.0f} ms, writing guest memory {s['write']:.0f} ms "
                  f"({r['sent_mib']:.0f} MiB: {r['sent_mib'] / max(s['write'], 1e-9) * 1000:.0f} MiB/s written)")
    ours = {r["scenario"]: r for r in rows if r["vmm"] == "vmm"}
    for name, r in ours.items():
        if not r["ok"]:
            print(f"goal {name}: not judged, the run's verification failed")
            continue
        if name == "idle-nohint":
            print(f"baseline {name}: bytes sent {r['sent_mib']:.0f} MiB (used {r['used_mib']:.0f} MiB)")
        else:
            verdict = "PASS" if r["sent_mib"] <= 1.2 * r["used_mib"] else "FAIL"
            print(f"goal {name}: bytes sent {r['sent_mib']:.0f} MiB <= 1.2 x used {r['used_mib']:.0f} MiB: {verdict}")
        limit = 50 if name == "dirty" else 10
        guest = r.get("probe_tail")
        print(f"goal {name}: downtime < {limit} ms: own {r['downtime_ms']:.1f} ms "
              f"{'PASS' if r['downtime_ms'] < limit else 'FAIL'}"
              + (f", guest-seen (last {TAIL_MS} ms) {guest['gap_ms']:.1f} ms "
                 f"{'PASS' if guest['gap_ms'] < limit else 'FAIL'}"
                 if guest else ""))
    report_tls(rows, ours)
    report_seccomp(rows, ours)
    for label, title in (("qemu", "QEMU uncapped"), ("qemu-def", "QEMU defaults, 128 MiB/s cap")):
        theirs = {r["scenario"]: r for r in rows if r["vmm"] == label}
        for name, r in ours.items():
            q = theirs.get(name)
            if not q:
                continue
            if not (r["ok"] and q["ok"]):
                print(f"ratio {name} vs {title}: not computed, a verification failed")
                continue
            line = (f"ratio {name} vs {title} (same scenario): total time QEMU/ours = "
                    f"{q['total_ms'] / max(r['total_ms'], 1e-9):.2f}x, bytes sent QEMU/ours = "
                    f"{q['sent_mib'] / max(r['sent_mib'], 1e-9):.2f}x")
            print(line + cpu_ratio(q, r, "QEMU/ours"))
            if name == "idle-hint" and label == "qemu":
                ratio = q["total_ms"] / max(r["total_ms"], 1e-9)
                print(f"goal: QEMU idle-hint total time / ours idle-hint = {ratio:.2f}x "
                      f"(>= 1.5x: {'PASS' if ratio >= 1.5 else 'FAIL'})")


def cpu_ratio(num, den, what):
    if not (num.get("src_cpu_ms") and den.get("src_cpu_ms")):
        return ""
    return f", source host CPU {what} = {num['src_cpu_ms'] / den['src_cpu_ms']:.2f}x"


def report_against(pairs, name, what, goal):
    """Prints, for each (scenario, variant row, baseline row), the variant's
    total-time ratio `what` to the baseline, both downtimes and the source
    CPU ratio; a pair with a row missing or failed says so instead. `goal`
    (its text, a test of the ratio) gives PASS or FAIL."""
    goal_text, meets = goal
    for scenario, v, b in pairs:
        if v is None or b is None or not v["ok"] or not b["ok"]:
            print(f"{name} {scenario}: no ratio (a run is missing or a verification failed)")
            continue
        ratio = v["total_ms"] / max(b["total_ms"], 1e-9)
        layer = f" (record layer: {v['encryption']})" if v.get("encryption") else ""
        print(f"{name} {scenario}{layer}: total time {what} = {ratio:.3f}x "
              f"({'PASS' if meets(ratio) else 'FAIL'} for {goal_text}), downtime {v['downtime_ms']:.1f} vs "
              f"{b['downtime_ms']:.1f} ms" + cpu_ratio(v, b, what))


def report_seccomp(rows, filtered):
    """--seccomp-cost: each scenario with the filters (the default) against
    the same one without them (rows vmm-nosec)."""
    pairs = [(u["scenario"], filtered.get(u["scenario"]), u) for u in rows if u["vmm"] == "vmm-nosec"]
    report_against(pairs, "seccomp", "filtered/unfiltered", ("within 2% either way", lambda x: 0.98 <= x <= 1.02))


def report_tls(rows, plain):
    """--tls: each scenario's cost over tls: against the same one over tcp:."""
    pairs = [(t["scenario"], t, plain.get(t["scenario"])) for t in rows if t["vmm"] == "vmm-tls"]
    report_against(pairs, "tls", "tls/tcp", ("<= 1.10x", lambda x: x <= 1.10))


def run_reported(what, run):
    """A run of ours that fails prints why and its traceback, and gives no
    rows: the figures of the other runs still print."""
    try:
        return run()
    except Exception as e:
        print(f"{what} failed: {e}")
        traceback.print_exc()
        return []


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memory", default="4G")
    ap.add_argument("--touch-mib", type=int, default=2048)
    ap.add_argument("--dirty-mib-s", type=int, default=50)
    ap.add_argument("--downtime-ms", type=float, default=30)
    ap.add_argument("--scenarios", default="idle-nohint,idle-hint,dirty")
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--qemu-only", action="store_true")
    ap.add_argument("--qemu-rows", default="uncapped,defaults",
                    help="which QEMU rows to run: uncapped (max-bandwidth far above the link), "
                         "defaults (QEMU's own 128 MiB/s cap)")
    ap.add_argument("--qemu-max-bandwidth-mib-s", type=float, default=QEMU_UNCAPPED_MIB_S,
                    help="QEMU's max-bandwidth in the 'qemu' row (default: 100 GiB/s, far above the link)")
    ap.add_argument("--seccomp-cost", action="store_true",
                    help="also run the vmm scenarios over tcp: with --seccomp=off on both VMMs (rows vmm-nosec) and "
                         "print each scenario's filtered/unfiltered total-time ratio")
    ap.add_argument("--tls", action="store_true",
                    help="also run the vmm scenarios over tls: (certificates made with openssl), after the tcp: "
                         "ones, and print the tls/tcp total-time ratios")
    ap.add_argument("--no-probe", dest="probe", action="store_false",
                    help="no guest-side downtime probe (the guest's vCPU then idles)")
    results.add_arguments(ap, plot_help="draw a PNG chart: per scenario, MiB sent and MiB dirty per round, the "
                                        "downtime marked, ours beside QEMU's")
    args = ap.parse_args()
    results.check_outputs(args, "bench/migrate")
    args.scenarios = args.scenarios.split(",")
    # Checked before any guest boots: a missing binary used to surface only
    # after the first guest had booted and touched its memory (minutes).
    needed = ([] if args.qemu_only else [VMM]) + ([HOST_TSC] if args.probe else [])
    missing = [path for path in needed if not os.access(path, os.X_OK)]
    if missing:
        sys.exit(f"bench/migrate: {', '.join(missing)} not built: cmake --build build (or --no-probe)")
    netns_up()
    rows = []
    try:
        if not args.qemu_only:
            rows += run_reported("vmm run", lambda: run_vmm(args))
            if args.tls:
                rows += run_reported("vmm tls run", lambda: run_vmm(args, make_tls_dir()))
            if args.seccomp_cost:
                rows += run_reported("vmm run without seccomp", lambda: run_vmm(args, seccomp="off"))
        if not args.no_qemu and qemu_binary():
            qemu_rows = args.qemu_rows.split(",")
            if "uncapped" in qemu_rows:
                rows += run_qemu(args, "qemu", args.qemu_max_bandwidth_mib_s)
            if "defaults" in qemu_rows:
                rows += run_qemu(args, "qemu-def", 0)
        elif not args.no_qemu:
            print("qemu-system-x86_64 is not installed (WITH_QEMU=1 scripts/install-deps.sh): no QEMU rows, no ratios")
    finally:
        netns_down()
    report(args, rows)
    results.write_outputs(args, "migrate", rows, plots.migration)


if __name__ == "__main__":
    main()
