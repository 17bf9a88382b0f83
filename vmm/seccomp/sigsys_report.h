// SPDX-License-Identifier: MIT
// What happens when a confined thread makes a system call outside its
// list: the filter traps (SIGSYS) into a handler that knows the thread's
// kind and every system call's name (both recorded beforehand, since a
// signal handler may not allocate or take locks).
//   on:  one line on stderr naming the call and the thread kind, then the
//        process ends with exit status 1;
//   log: one line for the first such call per thread kind and system call,
//        then the call is made anyway by an unconfined helper thread
//        (syscall_proxy.h) and its result returned to the caller.
#ifndef VMM_SECCOMP_SIGSYS_REPORT_H_
#define VMM_SECCOMP_SIGSYS_REPORT_H_

#include "absl/status/status.h"
#include "vmm/seccomp/seccomp_mode.h"
#include "vmm/seccomp/thread_kind.h"

namespace vmm::seccomp {

// Process-wide, before any thread is confined.
absl::Status InstallSigsysReport(SeccompMode mode);

// The calling thread's kind, for its reports. Threads it starts later
// inherit its filter but not this (thread-local) record: they are named by
// their thread name, which the thread kinds that start helpers set
// (ThreadNameFor).
void SetReportedThreadKind(ThreadKind kind);

// The thread name a confined thread of `kind` takes, or nullptr where the
// thread keeps the name it has (vcpuN, vmm-notify: bench/ reads those).
const char* ThreadNameFor(ThreadKind kind);

}  // namespace vmm::seccomp

#endif  // VMM_SECCOMP_SIGSYS_REPORT_H_
