// SPDX-License-Identifier: MIT
// bench/seccomp_cost: what each thread kind's seccomp filter adds to one
// system call. The guest-level benches (bench/balloon.py --seccomp both,
// bench/migrate.py --seccomp-cost) compare whole runs, whose noise on these
// hosts is far above the filters' cost; this times the filter alone.
//
// For each thread kind a fresh thread makes the call that kind makes most
// (the vCPU's KVM_RUN ioctl, the sender's writev, the receiver's read, a
// disk worker's preadv, ...) on a descriptor that is not open, so the
// kernel's own work is a table lookup and EBADF; it times a batch of them
// before and after loading that kind's filter (ConfineThisThread), several
// times over, and prints the medians in ns per call and their difference.
// Multiplied by the calls an operation makes (e.g. `perf stat -e
// raw_syscalls:sys_enter` on bench/migrate_pipeline), the difference is
// the filters' share of that operation.
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "vmm/seccomp/thread_filter.h"
#include "vmm/seccomp/thread_kind.h"

namespace {

using vmm::seccomp::ThreadKind;

constexpr int kCallsPerBatch = 20000;
constexpr int kBatches = 15;

struct HotCall {
  ThreadKind kind;
  const char* call;
  std::function<void()> make;
};

double NowNs() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

// Median ns per call over kBatches batches.
double TimeCalls(const std::function<void()>& make) {
  std::vector<double> per_call;
  for (int b = 0; b < kBatches; ++b) {
    const double start = NowNs();
    for (int i = 0; i < kCallsPerBatch; ++i) make();
    per_call.push_back((NowNs() - start) / kCallsPerBatch);
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

// Where each call's result goes (glibc marks them warn_unused_result).
volatile long sink;

std::vector<HotCall> HotCalls() {
  static char byte;
  static iovec iov{&byte, 1};
  return {
      {ThreadKind::kVcpu, "ioctl(KVM_RUN)", [] { sink = ::ioctl(-1, KVM_RUN, 0); }},
      {ThreadKind::kMigrationSender, "writev", [] { sink = ::writev(-1, &iov, 1); }},
      {ThreadKind::kMigrationReceiver, "read", [] { sink = ::read(-1, &byte, 1); }},
      {ThreadKind::kBlockWorker, "preadv", [] { sink = ::preadv(-1, &iov, 1, 0); }},
      {ThreadKind::kNetWorker, "writev", [] { sink = ::writev(-1, &iov, 1); }},
      {ThreadKind::kDeviceWorker, "read", [] { sink = ::read(-1, &byte, 1); }},
  };
}

}  // namespace

int main() {
  if (absl::Status st = vmm::seccomp::PrepareSeccomp(vmm::seccomp::SeccompMode::kOn); !st.ok()) {
    std::fprintf(stderr, "seccomp_cost: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::printf("bench/seccomp_cost: %d batches of %d calls on a closed descriptor (EBADF), median ns per call\n",
              kBatches, kCallsPerBatch);
  std::printf("%-20s %-16s %10s %10s %10s\n", "thread kind", "call", "unfiltered", "filtered", "filter");
  for (const HotCall& hot : HotCalls()) {
    double unfiltered = 0, filtered = 0;
    // A thread per kind: a filter, once loaded, stays with its thread.
    std::thread measuring([&] {
      unfiltered = TimeCalls(hot.make);
      vmm::seccomp::ConfineThisThread(hot.kind);
      filtered = TimeCalls(hot.make);
    });
    measuring.join();
    std::printf("%-20s %-16s %10.1f %10.1f %+10.1f\n", vmm::seccomp::ThreadKindName(hot.kind), hot.call, unfiltered,
                filtered, filtered - unfiltered);
  }
  return 0;
}
