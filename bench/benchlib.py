# SPDX-License-Identifier: MIT
"""What every bench shares, so both VMMs are started, limited and measured
the same way: paths, the guest console, QMP, QEMU's command line, the host
CPU accounting, the memory overhead figures, start-up from exec, and the
guest-side downtime probe (guest-images/tools/tscgap.c).

CPU accounting (the same for both VMMs): the CPU time of every thread of
the VMM process, in nanoseconds (the process CPU clock, which keeps the
time of threads that ended; /proc/PID/task/TID/schedstat for each thread),
minus its vCPU threads (ours: "vcpuN", QEMU with debug-threads=on:
"CPU N/KVM"), over one window. What a vCPU thread spends is the guest
running; everything else (exits served in the VMM, device and I/O threads,
the API or QMP answering, KVM's own worker threads listed under the process)
is the VMM's cost. The benches' polling of the VMM (`vmm ctl` / QMP queries)
falls inside the window for both and is included.
"""
import contextlib
import json
import os
import re
import select
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.path.join(ROOT, "guest-images", "out")
VMM = os.path.join(ROOT, "build", "vmm", "vmm")
EXEC_STAMP = os.path.join(ROOT, "build", "bench", "exec_stamp")
HOST_TSC = os.path.join(ROOT, "build", "bench", "tscgap")
MARKER = b"VMM-GUEST-READY"
MIB = 1 << 20
GIB = 1 << 30
PVM = os.path.exists("/sys/module/kvm_pvm")
CPU_ACCOUNTING = ("host CPU = all threads of the VMM process minus its vCPU threads, ns from the process CPU "
                  "clock and per-thread schedstat, same window for both VMMs; the bench's polling of the "
                  "VMM is included for both")


def ram_mib(memory):
    return int(memory[:-1]) * (1024 if memory.upper().endswith("G") else 1)


class Console:
    """The guest's serial console on a process's stdin/stdout."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""

    def _read_until(self, text, timeout):
        """Reads the console into buf until it holds text; False on timeout or EOF."""
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
        return True

    def wait_for(self, text, timeout):
        if not self._read_until(text, timeout):
            return False
        self.buf = self.buf[self.buf.index(text) + len(text):]
        return True

    def run(self, command, timeout=600):
        """Runs a shell command; True once it has finished."""
        return self.output_of(command, timeout) is not None

    def output_of(self, command, timeout=600):
        """Runs a shell command and returns what it printed (None on timeout)."""
        tag = f"O{time.monotonic_ns()}"
        self.buf = b""
        self.proc.stdin.write(f"{command}; echo {tag[:3]}\"\"{tag[3:]}\n".encode())
        self.proc.stdin.flush()
        marker = tag.encode()
        if not self._read_until(marker, timeout):
            return None
        text = self.buf[:self.buf.index(marker)].decode(errors="replace")
        self.buf = self.buf[self.buf.index(marker) + len(marker):]
        # Drop the echoed command line.
        return text.split("\n", 1)[1] if "\n" in text else ""


def meminfo_mib(console, field):
    text = console.output_of("cat /proc/meminfo", 120) or ""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == field + ":":
            return int(parts[1]) / 1024
    raise RuntimeError(f"no {field} in the guest's /proc/meminfo")


def qmp(sock_path):
    s = socket.socket(socket.AF_UNIX)
    for _ in range(300):
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


def qemu_binary():
    return shutil.which("qemu-system-x86_64")


def pvm_kernel_options():
    """The options our VMM appends on PVM hosts (vmm/kvm/cpuid.h), so that
    QEMU's guest gets the same command line as ours."""
    with open(os.path.join(ROOT, "vmm", "kvm", "cpuid.h")) as f:
        match = re.search(r'kPvmKernelOptions =\s*"([^"]*)"', f.read())
    if not match:
        raise RuntimeError("kPvmKernelOptions not found in vmm/kvm/cpuid.h")
    return match.group(1)


def image_cmdline():
    with open(os.path.join(IMAGE, "cmdline")) as f:
        cmdline = "console=ttyS0 " + f.read().strip()
    return cmdline + " " + pvm_kernel_options() if PVM else cmdline


def qemu_argv(memory, balloon="reporting", qmp_sock=None, incoming=None, trace_first_run=False):
    """QEMU on the same image and the same terms as ours: microvm with ACPI,
    guest RAM on a shared memfd (ours is a memfd too), the CPU features our
    VMM hides on PVM hidden, one vCPU, the serial console on stdio.
    balloon: "reporting" (free page reporting on, as ours by default),
    "hint" (free page hinting on an iothread), "plain" (a balloon with
    neither), None (no balloon)."""
    cpu = "host,-arch-capabilities"  # this host's KVM refuses QEMU's write of that MSR
    if PVM:
        cpu += ",-kvm-pv-ipi,-kvm-pv-sched-yield,-kvm-pv-unhalt,-xsave,-popcnt,-smap,-erms,-fsrm,-cx16"
    argv = [qemu_binary(), "-name", "bench,debug-threads=on",  # names the vCPU threads "CPU N/KVM"
            "-M", "microvm,acpi=on,memory-backend=ram", "-accel", "kvm", "-cpu", cpu,
            "-object", f"memory-backend-memfd,id=ram,size={memory},share=on", "-m", memory, "-smp", "1",
            "-nographic", "-nodefaults", "-no-user-config", "-serial", "stdio",
            "-kernel", os.path.join(IMAGE, "vmlinux"), "-initrd", os.path.join(IMAGE, "initramfs.cpio"),
            "-append", image_cmdline()]
    if balloon == "reporting":
        argv += ["-device", "virtio-balloon-device,free-page-reporting=on"]
    elif balloon == "hint":
        argv += ["-object", "iothread,id=io1", "-device", "virtio-balloon-device,free-page-hint=on,iothread=io1"]
    elif balloon == "plain":
        argv += ["-device", "virtio-balloon-device,free-page-hint=off"]
    if qmp_sock:
        argv += ["-qmp", f"unix:{qmp_sock},server=on,wait=off"]
    if incoming:
        argv += ["-incoming", incoming]
    if trace_first_run:
        # Each vCPU ioctl logged with its time of day: the first KVM_RUN
        # (type 0xae80) is QEMU's start-up end. Used in separate runs only.
        argv += ["-msg", "timestamp=on", "-trace", "kvm_vcpu_ioctl"]
    return argv


# ---------------------------------------------------------------- CPU

def _is_vcpu(comm):
    return re.fullmatch(r"vcpu\d+", comm) is not None or re.fullmatch(r"CPU \d+/KVM", comm) is not None


def _threads(pid):
    """{tid: (comm, ns on CPU)} for the live threads of pid."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        out[int(tid)] = (comm, ns)
    return out


def process_cpu_ns(pid):
    """CPU time of every thread the process ever had (the process CPU clock)."""
    return time.clock_gettime_ns(((~pid) << 3) | 2)


class CpuMeter:
    """A VMM process's host CPU over a window (see the module comment).

    start() at the window's start, stop() at its end. For a process that
    may exit inside the window, follow() samples the vCPU threads every
    5 ms until stop(), and stop() is given the process's rusage from wait4:
    vCPU time in the last <= 5 ms before its vCPU threads ended then counts
    as the VMM's (the error is against the VMM)."""

    def __init__(self, pid, from_exec=False):
        self.pid = pid
        self.from_exec = from_exec
        self.vcpu_first = {}
        self.vcpu_last = {}
        self.total0 = 0
        self._stop = threading.Event()
        self._sampler = None

    def _sample_vcpus(self):
        for tid, (comm, ns) in _threads(self.pid).items():
            if _is_vcpu(comm):
                self.vcpu_first.setdefault(tid, 0 if self.from_exec else ns)
                self.vcpu_last[tid] = ns

    def start(self):
        """Opens the window now (from_exec: the window opened at exec, so
        every thread's time so far counts)."""
        if not self.from_exec:
            self.total0 = process_cpu_ns(self.pid)
        self._sample_vcpus()
        return self

    def follow(self):
        def loop():
            while not self._stop.wait(0.005):
                self._sample_vcpus()
        self._sampler = threading.Thread(target=loop, daemon=True)
        self._sampler.start()
        return self

    def stop(self, rusage=None):
        """{'vmm_ms': non-vCPU CPU, 'vcpu_ms': vCPU threads' CPU} over the window."""
        self._stop.set()
        if self._sampler:
            self._sampler.join()
        total = None
        if rusage is None:
            try:
                total = process_cpu_ns(self.pid)
                self._sample_vcpus()
            except OSError:
                pass
        if total is None:
            if rusage is None:
                return {"vmm_ms": None, "vcpu_ms": None}
            total = int((rusage.ru_utime + rusage.ru_stime) * 1e9)
        vcpu = sum(self.vcpu_last[t] - self.vcpu_first[t] for t in self.vcpu_last)
        return {"vmm_ms": (total - self.total0 - vcpu) / 1e6, "vcpu_ms": vcpu / 1e6}


def reap(proc, timeout=60):
    """Waits for a Popen child with wait4, keeping its rusage (Popen.wait
    would lose it). Returns (exit status, rusage) or (None, None)."""
    deadline = time.monotonic() + timeout
    while True:
        # Popen.kill() and poll() reap a child that has already ended (its
        # rusage is then lost): wait4 would fail with ECHILD.
        if proc.returncode is not None:
            return proc.returncode, None
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage
        if time.monotonic() > deadline:
            return None, None
        time.sleep(0.005)


def stop(proc):
    """Kills a Popen child that has not ended, and reaps it."""
    if proc.returncode is None:
        proc.kill()
        reap(proc, 30)


@contextlib.contextmanager
def booted_guest(label, argv, boot_timeout=1200):
    """Starts argv (a VMM on the default guest, its console on stdio) and
    waits for the guest's shell: yields (proc, Console). At the end of the
    block the guest powers off; a guest that does not boot, or a block that
    raises, has its VMM killed."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        con = Console(proc)
        if not con.wait_for(MARKER, boot_timeout) or not con.run("true", 120):
            raise RuntimeError(f"the {label} guest did not boot")
        yield proc, con
        proc.stdin.write(b"poweroff -f\n")
        proc.stdin.flush()
        reap(proc, 60)
    finally:
        stop(proc)


# ---------------------------------------------------------------- memory

def memory_overhead_kib(pid):
    """The VMM's memory besides guest RAM, from /proc/PID/smaps: every
    mapping except the guest-RAM memfd (ours "/memfd:guest-ram", QEMU's
    memory-backend-memfd "/memfd:ram"). RSS: resident; PSS: resident, shared
    pages counted by their share (shared libraries); private:
    Private_Clean + Private_Dirty (what this process alone holds)."""
    rss = pss = private = 0
    skip = False
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):
                    fields = line.split()
                    skip = len(fields) >= 6 and fields[5].startswith("/memfd:")
                    continue
                if skip:
                    continue
                if first == "Rss:":
                    rss += int(line.split()[1])
                elif first == "Pss:":
                    pss += int(line.split()[1])
                elif first in ("Private_Clean:", "Private_Dirty:"):
                    private += int(line.split()[1])
    except OSError:
        return None
    return {"rss_kib": rss, "pss_kib": pss, "private_kib": private}


# ---------------------------------------------------------------- start-up

def launch(argv, stamp_file, **popen_args):
    """Starts argv through exec_stamp, which writes its exec time first."""
    return subprocess.Popen([EXEC_STAMP, stamp_file] + argv, **popen_args)


def exec_stamp(stamp_file):
    """(CLOCK_MONOTONIC ns, CLOCK_REALTIME ns) written just before exec."""
    with open(stamp_file) as f:
        mono, real = f.read().split()
    return int(mono), int(real)


def vmm_first_run_ms(stderr_text, stamp_file):
    """Ours: exec -> the log line written just before vCPU 0's first KVM_RUN."""
    m = re.search(r"vCPU 0 enters the guest [0-9.]+ ms after process start \(CLOCK_MONOTONIC (\d+)\.(\d{9}) s\)",
                  stderr_text)
    if not m:
        return None
    return (int(m.group(1)) * 10**9 + int(m.group(2)) - exec_stamp(stamp_file)[0]) / 1e6


def qemu_first_run_ms(stderr_text, stamp_file):
    """QEMU (run with trace_first_run): exec -> its first KVM_RUN ioctl, from
    the trace line's time of day (microseconds)."""
    for m in re.finditer(r"^\d+@(\d+)\.(\d{6}):kvm_vcpu_ioctl cpu_index \d+, type 0x([0-9a-f]+)", stderr_text, re.M):
        if m.group(3) == "ae80":
            return ((int(m.group(1)) * 10**6 + int(m.group(2))) * 1000 - exec_stamp(stamp_file)[1]) / 1e6
    return None


def qemu_traced_first_run_ms(argv, timeout=120):
    """Exec -> the first KVM_RUN of a QEMU started with trace_first_run; the
    run is killed once it is seen."""
    stamp = tempfile.mktemp(prefix="bench-qemu-", suffix=".stamp")
    err = tempfile.TemporaryFile()
    proc = launch(argv, stamp, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
    found = None
    deadline = time.monotonic() + timeout
    while found is None and time.monotonic() < deadline:
        time.sleep(0.05)
        err.seek(0)
        found = qemu_first_run_ms(err.read().decode(errors="replace"), stamp)
    stop(proc)
    os.unlink(stamp)
    return found


# ---------------------------------------------------------------- downtime probe

def host_tsc():
    """The host's TSC, which a PVM guest's user-mode rdtsc also reads."""
    return int(subprocess.run([HOST_TSC, "now"], capture_output=True, text=True, check=True).stdout)


def probe_report(console, tsc_from, tsc_to):
    """The guest spinner's longest gap overlapping [tsc_from, tsc_to]:
    {'gap_ms', 'at_ms', 'over_1ms', 'next_ms', 'open'} or None."""
    text = console.output_of(f"tscgap report {tsc_from} {tsc_to}", 120) or ""
    m = re.search(r"max gap ([0-9.]+) ms at (-?[0-9.]+) ms, (\d+) gaps >= 1 ms, next ([0-9.]+) ms", text)
    if not m:
        return None
    return {"gap_ms": float(m.group(1)), "at_ms": float(m.group(2)), "over_1ms": int(m.group(3)),
            "next_ms": float(m.group(4)), "open": "open" in text}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec):
    """format(v, spec), or "n/a" at the same width when there is no figure."""
    if v is not None:
        return format(v, spec)
    width = re.match(r"\d*", spec).group()
    return "n/a".rjust(int(width)) if width else "n/a"
