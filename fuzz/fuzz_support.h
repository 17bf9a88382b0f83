// SPDX-License-Identifier: MIT
// Helpers shared by the libFuzzer targets in this folder (VMM_FUZZ builds
// only). Each target turns its input into calls on one parser of untrusted
// bytes; these helpers give it a small guest RAM, quiet logging and the
// device invariant every device target checks: whatever the guest did,
// the device's saved state loads into a fresh device.
#ifndef FUZZ_FUZZ_SUPPORT_H_
#define FUZZ_FUZZ_SUPPORT_H_

#include <cstdint>
#include <span>
#include <vector>

#include "base/unique_fd.h"
#include "devices/testing/guest_scripts.h"
#include "memory/guest_memory.h"
#include "state/migratable.h"

namespace fuzz {

// Every target gets this library's LLVMFuzzerInitialize, which turns
// logging down to errors: guest mistakes are what the fuzzers feed in, and
// logging each one would make the runs slow and their output useless.
void QuietLogs();

// A memfd holding `bytes`, read from offset 0: a file as the VMM opens one
// (a snapshot, a kernel image).
base::UniqueFd MemfdWith(std::span<const uint8_t> bytes);

// Guest RAM in two regions with a hole between them, so that ranges that
// cross a region's end are exercised: the guest scripts' layout
// (devices/testing/guest_scripts.h).
using devices::testing::kHighRamBase;
using devices::testing::kHighRamSize;
using devices::testing::kLowRamSize;
std::vector<memory::RamRegion> SmallLayout();
memory::GuestMemory SmallMemory();
// One SmallMemory for the whole run, zeroed on each call: a fresh memfd per
// input would cost a page fault per touched page, and faults are what is
// slow on a PVM host (docs/PVM.md).
memory::GuestMemory& ZeroedSharedMemory();

// Saves `part` under a node and loads that node into `fresh`; aborts (a
// crash the fuzzer records) naming `what` and the status when the load is
// refused: a device must never hold a value its own Load refuses, or the
// VM it is in cannot migrate.
void CheckSaveLoad(state::Migratable& part, state::Migratable& fresh, const char* what);

}  // namespace fuzz

#endif  // FUZZ_FUZZ_SUPPORT_H_
