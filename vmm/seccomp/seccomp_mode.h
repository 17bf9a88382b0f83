// SPDX-License-Identifier: MIT
// --seccomp=on|log|off, and the default of this build.
#ifndef VMM_SECCOMP_SECCOMP_MODE_H_
#define VMM_SECCOMP_SECCOMP_MODE_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

// GCC defines __SANITIZE_ADDRESS__/__SANITIZE_THREAD__; clang answers
// __has_feature.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VMM_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define VMM_SANITIZER_BUILD 1
#endif
#endif

// ASan builds run LeakSanitizer at exit, which stops the process from a
// tracer task it starts with clone (no CLONE_THREAD) and ptrace: calls no
// thread's list allows, and that `log` cannot make from a signal handler
// (the VMM would die of SIGSYS at exit).
#if defined(__SANITIZE_ADDRESS__)
#define VMM_LEAK_CHECKED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VMM_LEAK_CHECKED_BUILD 1
#endif
#endif

namespace vmm::seccomp {

enum class SeccompMode {
  kOff,  // no filters
  kLog,  // filters; a forbidden call is reported on stderr and then made anyway
  kOn,   // filters; a forbidden call ends the VMM with exit status 1
};

absl::StatusOr<SeccompMode> ParseSeccompMode(absl::string_view text);
const char* SeccompModeName(SeccompMode mode);

// `on`, except in sanitizer builds: the ASan/TSan/UBSan runtimes make
// system calls of their own (shadow memory, reports, symbolising), at times
// no list can foresee, so there the default is `log`: nothing is killed and
// every call outside the lists still shows on stderr. ASan builds default to
// `off`, so that the leak check at exit can run (above); the filters are
// tested in the normal build.
SeccompMode DefaultSeccompMode();

}  // namespace vmm::seccomp

#endif  // VMM_SECCOMP_SECCOMP_MODE_H_
