// SPDX-License-Identifier: MIT
#include "base/version.h"

#ifndef VMM_VERSION
#error "VMM_VERSION is set by base/CMakeLists.txt from project(VERSION)"
#endif
#ifndef VMM_GIT_COMMIT
#define VMM_GIT_COMMIT ""
#endif

namespace base {

std::string_view Version() { return VMM_VERSION; }

std::string_view GitCommit() { return VMM_GIT_COMMIT; }

std::string VersionLine() {
  std::string line = "vmm ";
  line += Version();
  if (!GitCommit().empty()) {
    line += " (git ";
    line += GitCommit();
    line += ")";
  }
  return line;
}

}  // namespace base
