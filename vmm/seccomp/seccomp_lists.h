// SPDX-License-Identifier: MIT
// The seccomp allow-list of each thread kind, as data: which system calls,
// and for some of them which arguments. Kept apart from the code that
// installs them (thread_filter.h) so that a reviewer reads one file to know
// what each thread may do, and a unit test can check what it must not.
#ifndef VMM_SECCOMP_SECCOMP_LISTS_H_
#define VMM_SECCOMP_SECCOMP_LISTS_H_

#include <seccomp.h>

#include <vector>

#include "vmm/seccomp/thread_kind.h"

namespace vmm::seccomp {

// One allowed form of a system call: the call with every comparison in
// `only_if` true (empty: any arguments). Several rules for one call allow
// any of their forms.
struct SyscallRule {
  int syscall;  // SCMP_SYS(name)
  std::vector<scmp_arg_cmp> only_if;
};

std::vector<SyscallRule> AllowListFor(ThreadKind kind);

// A call a list answers with an error instead of the filter's action
// (which ends the VMM under `on`): calls the C runtime makes on its own and
// copes without.
struct RefusedCall {
  int syscall;  // SCMP_SYS(name)
  int error;    // the errno the caller sees
};

// Every list: clone3 answers ENOSYS (it passes its flags in memory, where a
// filter cannot see them, and glibc falls back to clone, whose flags the
// lists do check). The lists without openat answer it EACCES: glibc opens
// a file on first use from any thread (malloc reads
// /proc/sys/vm/overcommit_memory the first time a thread's heap shrinks),
// and takes a failed open as "not there"; no file is opened either way.
std::vector<RefusedCall> RefusedCallsFor(ThreadKind kind);

}  // namespace vmm::seccomp

#endif  // VMM_SECCOMP_SECCOMP_LISTS_H_
