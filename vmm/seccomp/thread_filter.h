// SPDX-License-Identifier: MIT
// Installs the seccomp filter of one thread kind on the calling thread
// only (seccomp_load without TSYNC): each thread kind keeps its own list,
// and threads the confined thread starts afterwards inherit it.
//
// Order: PrepareSeccomp once, on the main thread after set-up and before
// any thread is started; then each thread calls ConfineThisThread when its
// own set-up is done (files, sockets and memory opened), before it runs
// anything driven by the guest, the network or a client.
#ifndef VMM_SECCOMP_THREAD_FILTER_H_
#define VMM_SECCOMP_THREAD_FILTER_H_

#include "absl/status/status.h"
#include "vmm/seccomp/seccomp_mode.h"
#include "vmm/seccomp/thread_kind.h"

namespace vmm::seccomp {

// Process-wide: remembers the mode, installs the SIGSYS handler that
// reports forbidden calls (sigsys_report.h), and checks that every list
// compiles into a filter, so a problem shows before any thread runs.
// Until it is called, ConfineThisThread does nothing (mode off).
absl::Status PrepareSeccomp(SeccompMode mode);
SeccompMode CurrentSeccompMode();

// Loads `kind`'s filter on the calling thread. Off: does nothing. A thread
// that cannot be confined must not run unconfined: it ends the VMM with
// one line on stderr and exit status 1.
void ConfineThisThread(ThreadKind kind);

// ConfineThisThread's work, with the error returned (for tests).
absl::Status LoadThreadFilter(ThreadKind kind);

}  // namespace vmm::seccomp

#endif  // VMM_SECCOMP_THREAD_FILTER_H_
