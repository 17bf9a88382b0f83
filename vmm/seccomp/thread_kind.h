// SPDX-License-Identifier: MIT
// The kinds of thread the VMM runs, each confined by its own seccomp
// allow-list (seccomp_lists.cc). A thread started by a confined thread
// inherits its parent's filter (the kernel copies it at clone), so the
// helpers a thread starts (cpp-httplib's request workers, the migration's
// page-scan workers) run under their parent's list without installing one.
#ifndef VMM_SECCOMP_THREAD_KIND_H_
#define VMM_SECCOMP_THREAD_KIND_H_


namespace vmm::seccomp {

enum class ThreadKind {
  kVcpu,               // vcpu_runner.cc: KVM_RUN and the devices' exits
  kApiServer,          // api/api_server.cc: cpp-httplib's listener and its workers
  kMigrationSender,    // machine_migration.cc: the migration thread, its scan workers
  kMigrationReceiver,  // --incoming/--restore: parses the stream into the new VM
  kDeviceWorker,       // notify_worker.cc: ioeventfd-driven device work
  kBlockWorker,        // devices/block/block.cc: a disk's requests (one thread per --disk)
  kNetWorker,          // devices/net/net.cc: a NIC's frames both ways (one thread per --net)
  kProfilerTimer,      // guest_profiler.cc: --profile-guest's sampling clock
  kMain,               // machine.cc: the console, signals, --timeout, shutdown
};

inline constexpr ThreadKind kAllThreadKinds[] = {
    ThreadKind::kVcpu,         ThreadKind::kApiServer,     ThreadKind::kMigrationSender, ThreadKind::kMigrationReceiver,
    ThreadKind::kDeviceWorker, ThreadKind::kBlockWorker,   ThreadKind::kNetWorker,       ThreadKind::kProfilerTimer,
    ThreadKind::kMain};

// For messages: "vCPU", "API server", ...
const char* ThreadKindName(ThreadKind kind);

}  // namespace vmm::seccomp

#endif  // VMM_SECCOMP_THREAD_KIND_H_
