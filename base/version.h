// SPDX-License-Identifier: MIT
// The VMM's version, for `vmm --version` and the control API. The number is
// CMake's project(VERSION) and the commit is what git said when the build was
// configured; both reach the code only through base/version.cc's compile
// definitions, so bumping the version recompiles one file.
#ifndef BASE_VERSION_H_
#define BASE_VERSION_H_

#include <string>
#include <string_view>

namespace base {

// "MAJOR.MINOR.PATCH", as in the top-level CMakeLists.txt.
std::string_view Version();

// The short git commit the build was configured from, "" when the source
// was not a git checkout (a release tarball).
std::string_view GitCommit();

// What `vmm --version` prints: "vmm 0.1.0" or "vmm 0.1.0 (git 1a2b3c4)".
std::string VersionLine();

}  // namespace base

#endif  // BASE_VERSION_H_
