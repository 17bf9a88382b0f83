// SPDX-License-Identifier: MIT
// The allow-list of every thread kind: the one file to review for what a
// thread of the VMM may ask of the kernel. Everything not listed ends the
// VMM under --seccomp=on (or is reported under --seccomp=log), but for the
// few calls RefusedCallsFor answers with an error.
//
// How the lists were found, and how to extend them: each thread kind's
// work confined under --seccomp=log, with every report read (the SIGSYS
// handler names the kind, the call and its first arguments):
// vmm/seccomp/confined_workload_test.cc runs the API, migration, snapshot
// and device-worker work that way without KVM and fails on any report;
// tests/seccomp_guest_test.cc runs a real guest (balloon, migration,
// snapshot, restore) under `on`; `strace -f` of those runs cross-checks.
// The KVM requests come from vmm/kvm/ (what each thread's code paths
// call). Calls listed without a comment are the obvious ones for what that
// thread does; every other one says why it is there.
//
// What matters most: the vCPU threads run next to the guest's exits and
// the devices' parsers, so their list has no open, execve, socket, ptrace,
// clone or unrestricted ioctl; their ioctls are the KVM requests the exit
// handlers use.
#include "vmm/seccomp/seccomp_lists.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <initializer_list>

#include "vmm/kvm/kvm_uapi.h"
#include "vmm/seccomp/seccomp_mode.h"

namespace vmm::seccomp {
namespace {

using Rules = std::vector<SyscallRule>;

void Allow(Rules& rules, std::initializer_list<int> syscalls) {
  for (int nr : syscalls) rules.push_back({.syscall = nr, .only_if = {}});
}

// ioctl only with these request numbers (the second argument).
void AllowIoctls(Rules& rules, std::initializer_list<unsigned long> requests) {
  for (unsigned long request : requests) {
    rules.push_back({.syscall = SCMP_SYS(ioctl), .only_if = {SCMP_A1(SCMP_CMP_EQ, request)}});
  }
}

// What every thread needs from the C++ runtime and this VMM's own plumbing.
Rules ThreadRuntime() {
  Rules r;
  Allow(r, {
      SCMP_SYS(futex),  // absl::Mutex, std::thread::join, the log-mode proxy
      SCMP_SYS(write),  // the logger's lines on stderr (and the SIGSYS report)
      SCMP_SYS(munmap), SCMP_SYS(madvise), SCMP_SYS(brk), SCMP_SYS(mremap),  // malloc
      SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time),  // when the vDSO cannot answer
      SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(sched_yield),  // absl's waits and spins
      SCMP_SYS(getpid), SCMP_SYS(gettid),
      SCMP_SYS(rt_sigreturn),     // the end of any signal handler (the vCPU kick, SIGSYS)
      SCMP_SYS(rt_sigprocmask),   // glibc masks signals around thread start and exit
      SCMP_SYS(restart_syscall),  // a sleep interrupted by the kick signal
      SCMP_SYS(exit), SCMP_SYS(exit_group),
  });
  // Memory for malloc and thread stacks, never executable: no thread may
  // make new code.
  r.push_back({.syscall = SCMP_SYS(mmap), .only_if = {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)}});
  r.push_back({.syscall = SCMP_SYS(mprotect), .only_if = {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)}});
  // The SIGSYS report names a thread that inherited its filter by its name.
  r.push_back({.syscall = SCMP_SYS(prctl), .only_if = {SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)}});
  // This thread's own CPU set: glibc's CPU count (std::thread::
  // hardware_concurrency) falls back to it where openat is refused.
  r.push_back({.syscall = SCMP_SYS(sched_getaffinity), .only_if = {SCMP_A0(SCMP_CMP_EQ, 0)}});
#ifdef VMM_SANITIZER_BUILD
  // The ASan/TSan runtimes: an alternate signal stack per new thread,
  // limits and CPU sets read at thread start, /proc/self/maps and the
  // binary's path read for a report. (These builds default to `log`.)
  Allow(r, {SCMP_SYS(sigaltstack), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit), SCMP_SYS(sched_getaffinity),
            SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(close), SCMP_SYS(read)});
  r.push_back({.syscall = SCMP_SYS(openat),
               .only_if = {SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT | O_TRUNC | O_ACCMODE, O_RDONLY)}});
#endif
  return r;
}

// pthread_kill of a thread of this process only (the vCPU kick): tgkill's
// first argument is the target's process.
void AllowSignalsToThisProcess(Rules& r) {
  r.push_back({.syscall = SCMP_SYS(tgkill), .only_if = {SCMP_A0(SCMP_CMP_EQ, static_cast<uint64_t>(::getpid()))}});
}

// pthread_create: clone with CLONE_THREAD only (no new process), and what
// the new thread does before its function runs.
void AllowThreadCreation(Rules& r) {
  r.push_back({.syscall = SCMP_SYS(clone), .only_if = {SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)}});
  Allow(r, {SCMP_SYS(set_robust_list), SCMP_SYS(rseq)});
}

// The KVM requests that read a vCPU's and the VM's state and the dirty
// log: saving a VM for a migration or a snapshot.
void AllowKvmStateReads(Rules& r) {
  AllowIoctls(r, {KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_FPU, kKvmGetMsrs, KVM_GET_LAPIC, KVM_GET_VCPU_EVENTS,
                  KVM_GET_XCRS, kKvmGetXsave, KVM_GET_DEBUGREGS, KVM_GET_MP_STATE, KVM_GET_IRQCHIP, KVM_GET_PIT2,
                  KVM_GET_CLOCK, KVM_GET_DIRTY_LOG,
                  KVM_SET_USER_MEMORY_REGION,  // turns dirty logging on and off per slot
                  kKvmGetMsrIndexList,         // which MSRs a save carries (asked once)
                  KVM_CHECK_EXTENSION});
}

// A device interrupt: the serial port's line (KVM_IRQ_LINE) or a virtio
// device's irqfd (an eventfd write).
void AllowDeviceInterrupts(Rules& r) { AllowIoctls(r, {KVM_IRQ_LINE}); }

// Guest memory handed back by the balloon and free page reporting:
// GuestMemory::Discard punches holes in the memfd.
void AllowGuestMemoryDiscard(Rules& r) { Allow(r, {SCMP_SYS(fallocate)}); }

// The migration stream's and snapshot's writer and the pages it reads:
// guest RAM is read through the memfd on PVM hosts (pread), and while
// migrating on PVM the write tracker scans the host page tables.
void AllowMigrationSending(Rules& r) {
  Allow(r, {SCMP_SYS(writev), SCMP_SYS(pread64), SCMP_SYS(read), SCMP_SYS(poll), SCMP_SYS(close),
            SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(recvfrom),
            SCMP_SYS(lseek),         // SEEK_DATA/SEEK_HOLE: which RAM was ever populated
            SCMP_SYS(userfaultfd),   // memory/write_tracker.cc
            // The verified final pass's sample seed (std::random_device in
            // migration/write_check.h) on a CPU without RDRAND/RDSEED.
            SCMP_SYS(getrandom)});
  AllowKvmStateReads(r);
  AllowDeviceInterrupts(r);  // the balloon's hint command raises the config interrupt
  AllowIoctls(r, {UFFDIO_API, UFFDIO_REGISTER, UFFDIO_UNREGISTER, UFFDIO_WRITEPROTECT,
                  _IOWR('f', 16, char[96]),  // PAGEMAP_SCAN (memory/write_tracker.cc's layout)
                  // A new userfaultfd from /dev/userfaultfd, where the
                  // syscall is refused (an unprivileged VMM).
                  USERFAULTFD_IOC_NEW});
  // The write tracker opens /proc/self/pagemap (read-only) and, where the
  // userfaultfd syscall is refused to unprivileged users, /dev/userfaultfd
  // (read-write); never a new file.
  r.push_back({.syscall = SCMP_SYS(openat),
               .only_if = {SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT | O_TRUNC | O_ACCMODE, O_RDONLY)}});
  r.push_back({.syscall = SCMP_SYS(openat),
               .only_if = {SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT | O_TRUNC | O_ACCMODE, O_RDWR)}});
  AllowThreadCreation(r);  // the page-scan workers
  AllowSignalsToThisProcess(r);  // pausing the guest kicks the vCPUs
}

Rules VcpuList() {
  Rules r = ThreadRuntime();
  AllowIoctls(r, {KVM_RUN,
                  KVM_GET_REGS, KVM_GET_SREGS});  // --profile-guest's samples and the crash report
  AllowDeviceInterrupts(r);
  AllowGuestMemoryDiscard(r);
  AllowSignalsToThisProcess(r);  // the guest's power-off stops the other vCPUs
  return r;
}

Rules ApiServerList() {
  Rules r = ThreadRuntime();
  Allow(r, {SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(getpeername), SCMP_SYS(getsockname), SCMP_SYS(read), SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(poll),
            SCMP_SYS(select), SCMP_SYS(close), SCMP_SYS(shutdown), SCMP_SYS(fcntl),
            SCMP_SYS(setsockopt), SCMP_SYS(getsockopt)});
  AllowThreadCreation(r);  // cpp-httplib's worker pool, the migration thread
  // `migrate`: connecting to the destination happens on the API's thread,
  // so that "connection refused" is that call's answer. getaddrinfo
  // resolves the host there too: it reads /etc/hosts, asks DNS over UDP,
  // and to order several addresses it asks the kernel for this host's
  // addresses over netlink (NETLINK_ROUTE) and connects a UDP socket to
  // each candidate.
  for (int family : {AF_UNIX, AF_INET, AF_INET6}) {
    r.push_back({.syscall = SCMP_SYS(socket), .only_if = {SCMP_A0(SCMP_CMP_EQ, static_cast<uint64_t>(family))}});
  }
  r.push_back({.syscall = SCMP_SYS(socket),
               .only_if = {SCMP_A0(SCMP_CMP_EQ, AF_NETLINK), SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE)}});
  Allow(r, {SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(sendmmsg)});
  // A tls: migration's handshake runs here too: OpenSSL's random generator
  // (seeded at start-up) reseeds from getrandom now and then, and the
  // kernel's TLS offload is switched on with setsockopt (TCP_ULP, then
  // SOL_TLS keys; both already allowed above).
  Allow(r, {SCMP_SYS(getrandom)});
  // `snapshot` creates its file, writes it on this thread with the
  // migration sender's code, and removes it when the save failed; the
  // migration thread it starts inherits this list (and adds its own).
  Allow(r, {SCMP_SYS(openat), SCMP_SYS(unlink), SCMP_SYS(ftruncate), SCMP_SYS(fsync), SCMP_SYS(fdatasync)});
  // The snapshot is written to a temporary file beside the path and renamed
  // over it once complete (base/atomic_file.cc): the directory is opened
  // (openat, O_DIRECTORY) and fsynced, the path checked for a symbolic link
  // (newfstatat), the temporary file renamed (renameat) or, after a failed
  // save, removed (unlinkat); the channel writes through a duplicate of its
  // descriptor (fcntl F_DUPFD_CLOEXEC).
  Allow(r, {SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlinkat)});
  AllowMigrationSending(r);
  // `balloon SIZE` and the statistics request notify the guest;
  // `vm.shutdown` raises the SCI (the power button).
  AllowDeviceInterrupts(r);
  // GET /metrics reads the process's CPU time (and /proc/self/smaps_rollup,
  // with the openat above).
  Allow(r, {SCMP_SYS(getrusage)});
  // The migration thread started here loads its own filter on top of this
  // one. A further filter can only take calls away, never add any.
  r.push_back({.syscall = SCMP_SYS(prctl), .only_if = {SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS)}});
  r.push_back({.syscall = SCMP_SYS(prctl), .only_if = {SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)}});  // "vmm-migrate"
  r.push_back({.syscall = SCMP_SYS(seccomp),
               .only_if = {SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER), SCMP_A1(SCMP_CMP_EQ, 0)}});
  return r;
}

// A tls: channel whose record layer the kernel holds (kTLS) reads with
// recvmsg, to learn each record's type (an alert is not data), and
// OpenSSL sends its own alerts on such a socket as control messages
// (sendmsg). With OpenSSL's records, reads and writes are read and write.
void AllowKernelTls(Rules& r) { Allow(r, {SCMP_SYS(recvmsg), SCMP_SYS(sendmsg)}); }

Rules MigrationSenderList() {
  Rules r = ThreadRuntime();
  AllowMigrationSending(r);
  AllowKernelTls(r);
  Allow(r, {SCMP_SYS(shutdown)});
  return r;
}

Rules MigrationReceiverList() {
  Rules r = ThreadRuntime();
  Allow(r, {SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(recvfrom),
            SCMP_SYS(poll), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(sendto), SCMP_SYS(close),
            SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek)});  // writev: the round-sync and final answers
  AllowKernelTls(r);
  AllowGuestMemoryDiscard(r);  // zero pages and ballooned ranges arrive as holes
  AllowIoctls(r, {KVM_SET_REGS, KVM_SET_SREGS, KVM_SET_FPU, kKvmSetMsrs, KVM_SET_LAPIC, KVM_SET_VCPU_EVENTS,
                  KVM_SET_XCRS, kKvmSetXsave, KVM_SET_DEBUGREGS, KVM_SET_MP_STATE, KVM_SET_IRQCHIP,
                  KVM_SET_PIT2, KVM_SET_CLOCK});
  AllowDeviceInterrupts(r);  // devices restore their interrupt lines
  return r;
}

Rules DeviceWorkerList() {
  Rules r = ThreadRuntime();
  Allow(r, {SCMP_SYS(epoll_wait), SCMP_SYS(read)});  // the ioeventfds it drains
  AllowDeviceInterrupts(r);
  AllowGuestMemoryDiscard(r);
  return r;
}

// A disk's worker (devices/block/block.cc) on its image, opened and
// locked before the thread starts: it never opens, closes or maps a file.
Rules BlockWorkerList() {
  Rules r = ThreadRuntime();
  Allow(r, {
      SCMP_SYS(preadv),     // guest reads, straight into guest RAM
      SCMP_SYS(pwritev),    // guest writes, straight from guest RAM (and zeros where fallocate cannot)
      SCMP_SYS(fdatasync),  // the guest's flush
      SCMP_SYS(fallocate),  // discard (PUNCH_HOLE) and write-zeroes (ZERO_RANGE)
  });
  // Its used-buffer interrupt is an irqfd write (ThreadRuntime's write).
  return r;
}

// A NIC's worker (devices/net/net.cc) on its tap and its eventfd, both
// opened before the thread starts: it never opens, closes or maps a file.
Rules NetWorkerList() {
  Rules r = ThreadRuntime();
  Allow(r, {
      SCMP_SYS(poll), SCMP_SYS(ppoll),  // the tap and the notification eventfd (glibc's poll uses either)
      SCMP_SYS(read),                   // a frame from the tap (into the device's buffer), the eventfd's count
      SCMP_SYS(writev),                 // a frame to the tap: the checked header, then straight from guest RAM
  });
  // The tap's offloads follow the driver's features (TUN_F_* only).
  AllowIoctls(r, {TUNSETOFFLOAD});
  // Its used-buffer interrupt is an irqfd write (ThreadRuntime's write).
  return r;
}

Rules ProfilerTimerList() {
  Rules r = ThreadRuntime();
  AllowSignalsToThisProcess(r);  // the sampling signal to each vCPU
  return r;
}

Rules MainList() {
  Rules r = ThreadRuntime();
  Allow(r, {SCMP_SYS(epoll_wait), SCMP_SYS(epoll_ctl), SCMP_SYS(read), SCMP_SYS(close), SCMP_SYS(fstat),
            SCMP_SYS(newfstatat),  // glibc's fstat
            SCMP_SYS(getrusage),  // the resource line at exit
            SCMP_SYS(unlink),     // the API socket's file at exit
            SCMP_SYS(shutdown),   // stops a running migration at exit
            SCMP_SYS(lseek)});
  AllowIoctls(r, {TCSETS, TCGETS});  // the terminal's mode restored at exit
  // A VMM stopped while migrating on PVM ends the write tracker here.
  AllowIoctls(r, {UFFDIO_UNREGISTER});
  AllowDeviceInterrupts(r);          // console input raises the serial interrupt
  AllowSignalsToThisProcess(r);      // stopping the vCPUs
  // At exit the resource line reads /proc/self/smaps_rollup: read-only,
  // never a new file.
  r.push_back({.syscall = SCMP_SYS(openat),
               .only_if = {SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT | O_TRUNC | O_ACCMODE, O_RDONLY)}});
  return r;
}

}  // namespace

std::vector<RefusedCall> RefusedCallsFor(ThreadKind kind) {
  std::vector<RefusedCall> refused = {{.syscall = SCMP_SYS(clone3), .error = ENOSYS}};
  bool opens_files = false;
  for (const SyscallRule& rule : AllowListFor(kind)) opens_files |= rule.syscall == SCMP_SYS(openat);
  if (!opens_files) refused.push_back({.syscall = SCMP_SYS(openat), .error = EACCES});
  return refused;
}

std::vector<SyscallRule> AllowListFor(ThreadKind kind) {
  switch (kind) {
    case ThreadKind::kVcpu: return VcpuList();
    case ThreadKind::kApiServer: return ApiServerList();
    case ThreadKind::kMigrationSender: return MigrationSenderList();
    case ThreadKind::kMigrationReceiver: return MigrationReceiverList();
    case ThreadKind::kDeviceWorker: return DeviceWorkerList();
    case ThreadKind::kBlockWorker: return BlockWorkerList();
    case ThreadKind::kNetWorker: return NetWorkerList();
    case ThreadKind::kProfilerTimer: return ProfilerTimerList();
    case ThreadKind::kMain: return MainList();
  }
  return {};
}

const char* ThreadKindName(ThreadKind kind) {
  switch (kind) {
    case ThreadKind::kVcpu: return "vCPU";
    case ThreadKind::kApiServer: return "API server";
    case ThreadKind::kMigrationSender: return "migration sender";
    case ThreadKind::kMigrationReceiver: return "migration receiver";
    case ThreadKind::kDeviceWorker: return "device worker";
    case ThreadKind::kBlockWorker: return "disk worker";
    case ThreadKind::kNetWorker: return "NIC worker";
    case ThreadKind::kProfilerTimer: return "guest profiler timer";
    case ThreadKind::kMain: return "main";
  }
  return "unknown";
}

}  // namespace vmm::seccomp
