// SPDX-License-Identifier: MIT
#include "vmm/seccomp/thread_filter.h"

#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "absl/base/internal/sysinfo.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "vmm/seccomp/seccomp_lists.h"
#include "vmm/seccomp/sigsys_report.h"

namespace vmm::seccomp {
namespace {

std::atomic<SeccompMode> g_mode{SeccompMode::kOff};

// Owns a libseccomp filter context.
class ScopedFilter {
 public:
  explicit ScopedFilter(scmp_filter_ctx ctx) : ctx_(ctx) {}
  ~ScopedFilter() {
    if (ctx_ != nullptr) seccomp_release(ctx_);
  }
  ScopedFilter(const ScopedFilter&) = delete;
  ScopedFilter& operator=(const ScopedFilter&) = delete;
  scmp_filter_ctx get() const { return ctx_; }

 private:
  scmp_filter_ctx ctx_;
};

absl::Status LibseccompError(int rc, const std::string& what) {
  return absl::ErrnoToStatus(-rc, absl::StrCat("seccomp: ", what));
}

std::string SyscallName(int nr) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
  std::string out = name != nullptr ? name : absl::StrCat("#", nr);
  std::free(name);
  return out;
}

// Every call outside the list traps into the SIGSYS handler, which ends
// the VMM (on) or reports and performs the call (log); so do calls of
// another architecture (int 0x80), which no list allows.
absl::StatusOr<std::unique_ptr<ScopedFilter>> BuildFilter(ThreadKind kind) {
  auto filter = std::make_unique<ScopedFilter>(seccomp_init(SCMP_ACT_TRAP));
  if (filter->get() == nullptr) return absl::InternalError("seccomp_init failed");
  if (int rc = seccomp_attr_set(filter->get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP); rc != 0) {
    return LibseccompError(rc, "bad-architecture action");
  }
  for (const SyscallRule& rule : AllowListFor(kind)) {
    int rc = seccomp_rule_add_exact_array(filter->get(), SCMP_ACT_ALLOW, rule.syscall,
                                          static_cast<unsigned>(rule.only_if.size()), rule.only_if.data());
    if (rc != 0 && rc != -EEXIST) {
      return LibseccompError(rc, absl::StrCat(ThreadKindName(kind), " list: ", SyscallName(rule.syscall)));
    }
  }
  for (const RefusedCall& refused : RefusedCallsFor(kind)) {
    if (int rc = seccomp_rule_add_exact(filter->get(), SCMP_ACT_ERRNO(refused.error), refused.syscall, 0); rc != 0) {
      return LibseccompError(rc, absl::StrCat(ThreadKindName(kind), " list: ", SyscallName(refused.syscall)));
    }
  }
  return filter;
}

// What the C and C++ runtimes read from files or ask the kernel on first
// use, done here while every call is still allowed, so that a confined
// thread's first use finds it known. Must run before the process starts
// any thread (see the scheduling parameters below).
void LoadWhatRuntimesLoadLazily() {
  // The local time zone: absl's (the logger's timestamps) and glibc's,
  // which its first gmtime_r/localtime_r reads from /etc/localtime (the
  // CMOS clock's gmtime_r runs on a vCPU thread).
  (void)absl::FormatTime(absl::Now(), absl::LocalTimeZone());
  ::tzset();
  // absl's CPU count (read from /sys at an absl::Mutex's first contention,
  // which may come on a vCPU thread) and its cycle clock's frequency, which
  // an absl::Mutex reads (from /sys, or measured with sleeps) the first time
  // a thread queues behind another waiter.
  (void)absl::base_internal::NumCPUs();
  (void)absl::base_internal::NominalCPUFrequency();
  // That queueing thread also reads its own scheduling priority
  // (pthread_getschedparam: sched_getparam and sched_getscheduler on a
  // thread's first call). glibc keeps what it read in the thread's
  // descriptor and a new thread copies its creator's, so asking once here,
  // before any thread exists, answers it for every thread of the VMM.
  int policy = 0;
  sched_param priority{};
  (void)::pthread_getschedparam(::pthread_self(), &policy, &priority);
  // glibc's malloc reads /sys/devices/system/cpu/online when a thread
  // would make the ninth arena, to cap their number: the same cap
  // (8 per CPU, glibc's own default) set here means it never reads it.
  ::mallopt(M_ARENA_MAX, 8 * std::max(1, ::get_nprocs()));
  // The name service configuration and modules (getaddrinfo, for
  // `migrate tcp:HOST:PORT`).
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (::getaddrinfo("localhost", "1", &hints, &result) == 0) ::freeaddrinfo(result);
}

}  // namespace

absl::Status PrepareSeccomp(SeccompMode mode) {
  if (mode != SeccompMode::kOff) {
    if (seccomp_api_get() < 1) {
      return absl::FailedPreconditionError(
          "this kernel cannot filter system calls (seccomp-bpf); run with --seccomp=off");
    }
    LoadWhatRuntimesLoadLazily();
    for (ThreadKind kind : kAllThreadKinds) RETURN_IF_ERROR(BuildFilter(kind).status());
    RETURN_IF_ERROR(InstallSigsysReport(mode));
  }
  g_mode.store(mode);
  return absl::OkStatus();
}

SeccompMode CurrentSeccompMode() { return g_mode.load(); }

absl::Status LoadThreadFilter(ThreadKind kind) {
  ASSIGN_OR_RETURN(std::unique_ptr<ScopedFilter> filter, BuildFilter(kind));
  SetReportedThreadKind(kind);
  // Without TSYNC the filter applies to this thread alone; libseccomp sets
  // no_new_privs first, which an unprivileged process needs.
  if (int rc = seccomp_load(filter->get()); rc != 0) {
    return LibseccompError(rc, absl::StrCat("cannot load the ", ThreadKindName(kind), " thread's filter"));
  }
  return absl::OkStatus();
}

void ConfineThisThread(ThreadKind kind) {
  if (g_mode.load() == SeccompMode::kOff) return;
  if (absl::Status st = LoadThreadFilter(kind); !st.ok()) {
    std::fprintf(stderr, "vmm: error: %s\n", std::string(st.message()).c_str());
    std::fflush(stderr);
    ::_exit(1);
  }
}

}  // namespace vmm::seccomp
