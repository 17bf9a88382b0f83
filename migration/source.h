// SPDX-License-Identifier: MIT
// The two sides of a migration as the migrator sees them. vmm::Machine
// implements both; migration/ never includes vmm/ (ARCHITECTURE.md), and
// tests can drive the Sender/Receiver with plain memory.
#ifndef MIGRATION_SOURCE_H_
#define MIGRATION_SOURCE_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "memory/guest_memory.h"
#include "memory/page_hints.h"

namespace migration {

class MigrationSource {
 public:
  virtual ~MigrationSource() = default;
  virtual memory::GuestMemory& memory() = 0;
  // A state tree describing what the destination must match (RAM layout,
  // vCPU count, devices and their features).
  virtual absl::StatusOr<std::vector<uint8_t>> SaveShape() = 0;
  // KVM's dirty log on every RAM slot plus the VMM's own write tracking.
  virtual absl::Status SetDirtyLogging(bool on) = 0;
  // Pages of RAM region `region` written since the previous call (or since
  // logging began), bit p = page p of the region; clears them.
  virtual absl::StatusOr<std::vector<uint64_t>> TakeDirtyPages(size_t region) = 0;
  // Stops every vCPU and all device work / lets them go on.
  virtual void PauseGuest() = 0;
  virtual void ResumeGuest() = 0;
  // Every vCPU's and device's state; only while paused.
  virtual absl::StatusOr<std::vector<uint8_t>> SaveState() = 0;
  // What the guest says about its free memory (ballooned pages, free page
  // hinting); nullptr when the VM has no balloon.
  virtual memory::PageHints* page_hints() = 0;
};

class MigrationTarget {
 public:
  virtual ~MigrationTarget() = default;
  virtual memory::GuestMemory& memory() = 0;
  // Compares the source's shape with this VM's; the error names the first
  // difference and what to change.
  virtual absl::Status CheckShape(std::span<const uint8_t> shape_tree) = 0;
  virtual absl::Status LoadState(std::span<const uint8_t> state_tree) = 0;
};

}  // namespace migration

#endif  // MIGRATION_SOURCE_H_
