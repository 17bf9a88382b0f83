// SPDX-License-Identifier: MIT
#include "vmm/seccomp/seccomp_mode.h"

#include "absl/strings/str_cat.h"

namespace vmm::seccomp {

absl::StatusOr<SeccompMode> ParseSeccompMode(absl::string_view text) {
  if (text == "on") return SeccompMode::kOn;
  if (text == "log") return SeccompMode::kLog;
  if (text == "off") return SeccompMode::kOff;
  return absl::InvalidArgumentError(absl::StrCat("--seccomp must be 'on', 'log' or 'off', not '", text, "'"));
}

const char* SeccompModeName(SeccompMode mode) {
  switch (mode) {
    case SeccompMode::kOff: return "off";
    case SeccompMode::kLog: return "log";
    case SeccompMode::kOn: return "on";
  }
  return "?";
}

SeccompMode DefaultSeccompMode() {
#if defined(VMM_LEAK_CHECKED_BUILD)
  return SeccompMode::kOff;
#elif defined(VMM_SANITIZER_BUILD) || defined(VMM_SECCOMP_DEFAULT_LOG)
  return SeccompMode::kLog;
#else
  return SeccompMode::kOn;
#endif
}

}  // namespace vmm::seccomp
