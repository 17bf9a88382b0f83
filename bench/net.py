#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/net: each VMM's host CPU per million packets through virtio-net,
ours against QEMU, one direction at a time.

Makes a network namespace with a tap (vnet_hdr) at 10.0.88.1/24 and a
permanent neighbour entry for the guest's MAC, boots the default guest in
it with `vmm run --net tap=TAP,mac=MAC` (`ip netns exec`), and gives the
guest's eth0 10.0.88.2/24 from its shell (busybox ip), checked with a
ping. Then, --runs times each:
  - host to guest: a sender in the namespace sends --payload-byte UDP
    datagrams to the guest's address, paced at --rate per second for
    --seconds, to a port nothing listens on (the guest's kernel takes each
    one through the driver and drops it at UDP; its ICMP answers are rate
    limited). Counted: the datagrams the guest's eth0 received (its
    rx_packets, read after the window).
  - guest to host: busybox ping in the guest, as fast as it can send
    (-i 0.0001) for --seconds, with the namespace ignoring echo requests
    (net.ipv4.icmp_echo_ignore_all), so every packet goes one way.
    Counted: the frames the tap received (its rx_packets).
The window is the sending plus --drain seconds for what is queued; the
VMM's host CPU over it (all threads but the vCPU threads: bench/benchlib.py's
accounting) is divided by the packets counted. The guest console is not
used inside the host-to-guest window; the guest-to-host window holds the
one console line that starts and ends the ping.
Then, with qemu-system-x86_64 installed, the same guest image, addressing,
MAC and steps on QEMU microvm (bench/benchlib.py's terms) with
`-device virtio-net-device` on `-netdev tap` (vhost=off: the packets go
through QEMU's own threads as through ours), the same tap in the same
namespace. Printed per VMM and direction (medians): packets per second,
the VMM's host CPU ms per million packets, the vCPU ms per million packets
(the guest's side, for scale); then the ratio of QEMU's host CPU per
million packets to ours. An idle window of the same length (nothing sent)
gives each VMM's host CPU per second with no traffic: at the packet rates
an emulated guest reaches, that floor is part of every per-packet figure,
so the host CPU per second is printed for every row.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402
from benchlib import (CPU_ACCOUNTING, IMAGE, VMM, CpuMeter, booted_guest, fmt, median, qemu_argv,  # noqa: E402
                      qemu_binary)

TAP = "vmmb0"
HOST_IP = "10.0.88.1"
GUEST_IP = "10.0.88.2"
MAC = "52:54:00:12:34:58"
DISCARD_PORT = 9

# Run with `ip netns exec` so that it sends from inside the namespace:
# paced in 1 ms slices so that the sender does not take a core of its own
# from the VMM it measures.
SENDER = """
import socket, sys, time
ip, port, size, rate, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = bytes(size)
sent = dropped = 0
start = time.monotonic()
while True:
    now = time.monotonic() - start
    if now >= seconds:
        break
    due = min(int(now * rate) + 1, int(seconds * rate))
    while sent + dropped < due:
        try:
            s.sendto(payload, (ip, port))
            sent += 1
        except OSError:
            dropped += 1
    time.sleep(0.001)
print(sent, dropped)
"""


class HostNetwork:
    """The namespace and its tap, made before a VMM opens the tap and
    deleted with everything in it at the end."""

    def __init__(self):
        self.ns = f"vmmbench{os.getpid()}"

    def __enter__(self):
        self.sh(f"ip netns add {self.ns}")
        self.sh(f"ip -n {self.ns} link set lo up && ip -n {self.ns} tuntap add {TAP} mode tap vnet_hdr && "
                f"ip -n {self.ns} addr add {HOST_IP}/24 dev {TAP} && ip -n {self.ns} link set {TAP} up && "
                f"ip -n {self.ns} neigh replace {GUEST_IP} lladdr {MAC} dev {TAP} nud permanent")
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL)

    @staticmethod
    def sh(command):
        subprocess.run(command, shell=True, check=True)

    def exec_argv(self, argv):
        return ["ip", "netns", "exec", self.ns] + argv

    def ignore_echo(self, on):
        subprocess.run(self.exec_argv(["sysctl", "-qw", f"net.ipv4.icmp_echo_ignore_all={int(on)}"]), check=True)

    def tap_packets(self):
        """(rx, tx, tx dropped) of the tap: rx is what the guest sent."""
        out = subprocess.run(["ip", "-n", self.ns, "-s", "-j", "link", "show", TAP], check=True,
                             capture_output=True, text=True).stdout
        stats = json.loads(out)[0]["stats64"]
        return stats["rx"]["packets"], stats["tx"]["packets"], stats["tx"]["dropped"]


def guest_rx_packets(con):
    out = con.output_of("cat /sys/class/net/eth0/statistics/rx_packets", 120) or ""
    # The console may echo the command line more than once: the count is
    # the line that is a number alone.
    counts = [line.strip() for line in out.splitlines() if line.strip().isdigit()]
    if not counts:
        raise RuntimeError(f"no rx_packets from the guest's eth0: {out!r}")
    return int(counts[-1])


def host_to_guest(con, net, pid, args):
    """(packets the guest received, seconds, cpu dict)."""
    before = guest_rx_packets(con)
    meter = CpuMeter(pid).start()
    t0 = time.monotonic()
    sender = subprocess.run(net.exec_argv([sys.executable, "-c", SENDER, GUEST_IP, str(DISCARD_PORT),
                                           str(args.payload_bytes), str(args.rate), str(args.seconds)]),
                            capture_output=True, text=True, check=True)
    time.sleep(args.drain)
    cpu = meter.stop()
    seconds = time.monotonic() - t0
    received = guest_rx_packets(con) - before
    sent, refused = (int(v) for v in sender.stdout.split())
    if refused:
        print(f"  host to guest: the sender's socket refused {refused} of {sent + refused} datagrams")
    return received, seconds, cpu, sent


def guest_to_host(con, net, pid, args):
    """(frames the tap received, seconds, cpu dict)."""
    net.ignore_echo(True)
    try:
        before = net.tap_packets()[0]
        meter = CpuMeter(pid).start()
        t0 = time.monotonic()
        con.output_of(f"ping -q -i 0.0001 -s {args.payload_bytes} -w {args.seconds} {HOST_IP} >/dev/null 2>&1",
                      args.seconds + 120)
        time.sleep(args.drain)
        cpu = meter.stop()
        seconds = time.monotonic() - t0
        sent = net.tap_packets()[0] - before
    finally:
        net.ignore_echo(False)
    return sent, seconds, cpu, None


def idle(con, net, pid, args):
    """Nothing sent: the VMM's own cost per second over the same window,
    the floor under the per-packet figures at these rates."""
    meter = CpuMeter(pid).start()
    t0 = time.monotonic()
    time.sleep(args.seconds + args.drain)
    cpu = meter.stop()
    return 0, time.monotonic() - t0, cpu, None


def measure(label, argv, net, args):
    """Boots `argv` (a VMM on the default guest with its NIC on the tap),
    configures eth0, runs each direction `runs` times:
    {direction: [(packets, seconds, cpu, offered), ...]}."""
    with booted_guest(label, net.exec_argv(argv)) as (proc, con):
        mac = con.output_of("cat /sys/class/net/eth0/address", 120) or ""
        if MAC not in mac:
            raise RuntimeError(f"the {label} guest's eth0 has MAC {mac.strip()!r}, not {MAC}")
        ping = con.output_of(f"ip addr add {GUEST_IP}/24 dev eth0 && ip link set eth0 up && "
                             f"ping -c 2 -W 20 {HOST_IP}", 180) or ""
        if "2 packets received" not in ping:
            raise RuntimeError(f"the {label} guest cannot reach the host: {ping!r}")
        measured = {"idle": [], "host to guest": [], "guest to host": []}
        for _ in range(args.runs):
            measured["idle"].append(idle(con, net, proc.pid, args))
            measured["host to guest"].append(host_to_guest(con, net, proc.pid, args))
            measured["guest to host"].append(guest_to_host(con, net, proc.pid, args))
        return measured


def per_million(ms, packets):
    return ms * 1e6 / packets if ms is not None and packets else None


def quotient(a, b):
    return a / b if a is not None and b else None


def print_ratios(rows):
    """QEMU's host CPU against ours: per second idle, per million packets
    in each direction."""
    ours = {r["direction"]: r for r in rows if r["vmm"] == "vmm"}
    for theirs in (r for r in rows if r["vmm"] == "qemu" and r["direction"] in ours):
        mine = ours[theirs["direction"]]
        if theirs["direction"] == "idle":
            idle_ratio = quotient(theirs["host_cpu_ms_per_s"], mine["host_cpu_ms_per_s"])
            print("ratio idle: host CPU per second qemu/vmm = " +
                  (f"{idle_ratio:.2f}x" if idle_ratio is not None else "n/a (ours spent none)"))
        else:
            print(f"ratio {theirs['direction']}: host CPU per million packets qemu/vmm = "
                  f"{fmt(quotient(theirs['host_cpu_ms_per_mpkt'], mine['host_cpu_ms_per_mpkt']), '.2f')}x, "
                  f"packets/s vmm/qemu = {fmt(quotient(mine['packets_per_s'], theirs['packets_per_s']), '.2f')}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--memory", default="512M")
    ap.add_argument("--seconds", type=int, default=15, help="how long each direction sends, per run")
    ap.add_argument("--drain", type=float, default=1.0, help="seconds the window stays open after the sending")
    ap.add_argument("--rate", type=int, default=2000,
                    help="host to guest: datagrams per second offered (more than the guest takes here)")
    ap.add_argument("--payload-bytes", type=int, default=64, help="UDP payload / ICMP data bytes per packet")
    ap.add_argument("--no-qemu", action="store_true", help="ours only")
    results.add_arguments(ap)
    args = ap.parse_args()
    results.check_outputs(args, "bench/net")
    if os.geteuid() != 0:
        sys.exit("bench/net: needs root (a network namespace and a tap)")
    if not all(os.path.exists(p) for p in (VMM, os.path.join(IMAGE, "vmlinux"))):
        sys.exit("bench/net: build first (cmake --build build; guest-images/build.sh)")
    for flag, value in (("--runs", args.runs), ("--seconds", args.seconds), ("--rate", args.rate),
                        ("--payload-bytes", args.payload_bytes)):
        if value <= 0:
            sys.exit(f"bench/net: {flag} {value}: must be positive")

    measured = {}
    with HostNetwork() as net:
        measured["vmm"] = measure("vmm", [VMM, "run", "--memory", args.memory, "--net", f"tap={TAP},mac={MAC}"],
                                  net, args)
        if not args.no_qemu and qemu_binary():
            argv = qemu_argv(args.memory) + [
                "-netdev", f"tap,id=n0,ifname={TAP},vhost=off,script=no,downscript=no",
                "-device", f"virtio-net-device,netdev=n0,mac={MAC}"]
            try:
                measured["qemu"] = measure("qemu", argv, net, args)
            except RuntimeError as e:
                print(f"QEMU run failed: {e}")
        elif not args.no_qemu:
            print("qemu-system-x86_64 is not installed (WITH_QEMU=1 scripts/install-deps.sh): no QEMU rows, no ratios")

    print(f"bench/net: {args.memory} guest, {args.seconds} s per direction and run, {args.runs} runs (medians); "
          f"{args.payload_bytes}-byte payloads; host to guest: UDP offered at {args.rate}/s; "
          f"guest to host: busybox ping -i 0.0001, echo requests ignored")
    print(f"  {CPU_ACCOUNTING}")
    print(f"  {'vmm':5} {'direction':14} {'packets/s':>10} {'host CPU ms/Mpkt':>17} {'vCPU ms/Mpkt':>13} "
          f"{'host CPU ms/s':>14}")
    rows = []
    for vmm, by_direction in measured.items():
        for direction, rs in by_direction.items():
            runs = [{"packets": p, "seconds": s, "offered": offered,
                     "packets_per_s": p / s if s else None,
                     "host_cpu_ms_per_mpkt": per_million(cpu["vmm_ms"], p),
                     "vcpu_ms_per_mpkt": per_million(cpu["vcpu_ms"], p),
                     "host_cpu_ms_per_s": cpu["vmm_ms"] / s if cpu["vmm_ms"] is not None and s else None}
                    for p, s, cpu, offered in rs]
            row = {"vmm": vmm, "direction": direction, "payload_bytes": args.payload_bytes,
                   **{k: median([r[k] for r in runs]) for k in
                      ("packets_per_s", "host_cpu_ms_per_mpkt", "vcpu_ms_per_mpkt", "host_cpu_ms_per_s")},
                   "runs": runs}
            print(f"  {vmm:5} {direction:14} {fmt(row['packets_per_s'], '10.0f')} "
                  f"{fmt(row['host_cpu_ms_per_mpkt'], '17.0f')} {fmt(row['vcpu_ms_per_mpkt'], '13.0f')} "
                  f"{fmt(row['host_cpu_ms_per_s'], '14.2f')}")
            rows.append(row)
    print_ratios(rows)
    results.write_outputs(args, "net", rows)


if __name__ == "__main__":
    main()
