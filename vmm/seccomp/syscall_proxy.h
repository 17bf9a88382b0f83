// SPDX-License-Identifier: MIT
// --seccomp=log's way to let a forbidden call proceed: the SIGSYS handler
// cannot make the call itself (the filter would trap it again), so one of a
// few unconfined helper threads, started before any filter, makes it on the
// caller's behalf and hands back the result (several, so that one blocking
// call does not hold up the others). Calls act on the whole process (files,
// memory, sockets) the same from any thread; the few that act on the
// calling thread itself cannot be made elsewhere and are answered ENOSYS.
// Only the handler uses it; everything here is async-signal-safe (atomics
// and futex).
#ifndef VMM_SECCOMP_SYSCALL_PROXY_H_
#define VMM_SECCOMP_SYSCALL_PROXY_H_

#include "absl/status/status.h"

namespace vmm::seccomp {

// The helper threads' name: the only unconfined threads under `log`.
inline constexpr char kSyscallProxyThreadName[] = "vmm-log-proxy";

// Starts the helper threads (once; they live as long as the process, since
// any thread may need them until the end).
absl::Status StartSyscallProxy();

// False for the calls that act on the calling thread (clone, sigreturn,
// signal masks, ...).
bool CanProxy(long nr);

// Makes system call `nr` with `args` on a helper thread; returns the
// kernel's result (a negative errno on failure).
long ProxySyscall(long nr, const long args[6]);

}  // namespace vmm::seccomp

#endif  // VMM_SECCOMP_SYSCALL_PROXY_H_
