// SPDX-License-Identifier: MIT
// One booted-and-saved guest per VM shape, shared by the guest tests.
//
// A boot of the default guest costs minutes on a PVM host (the guest kernel
// is emulated, docs/PVM.md), while restoring its snapshot takes a
// second. Tests that need a running guest, not a boot, restore this
// snapshot instead of booting: the first caller boots the guest, waits for
// its shell, saves it with `vmm ctl snapshot` and powers it off; later
// callers (in any test process) reuse the file until the vmm binary or the
// guest image changes.
#ifndef TESTS_BOOTED_GUEST_H_
#define TESTS_BOOTED_GUEST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tests {

// `shape` is the `vmm run` arguments that fix the VM's shape (memory,
// vCPUs, devices), e.g. {"--memory", "1G", "--balloon-reporting=false"}.
// A restore must be started with the same shape. Returns the snapshot's
// path, or why no guest could be booted and saved.
absl::StatusOr<std::string> BootedGuestSnapshot(const std::vector<std::string>& shape);

// `vmm run` arguments for a VM of `shape`: {"run", shape..., extra...}.
std::vector<std::string> RunArgs(const std::vector<std::string>& shape, const std::vector<std::string>& extra);

// The `vmm run` arguments that restore that snapshot, with host-side flags
// (an API socket) in `extra`.
std::vector<std::string> RestoreArgs(const std::vector<std::string>& shape, const std::string& snapshot,
                                     const std::vector<std::string>& extra = {});

}  // namespace tests

#endif  // TESTS_BOOTED_GUEST_H_
