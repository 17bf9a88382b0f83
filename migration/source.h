// The two sides of a migration as the migrator sees them. vmm::Machine
// implements both; migration/ never includes vmm/ (ARCHITECTURE.md), and
// tests can drive the Sender/Receiver with plain memory.
#ifndef MIGRATION_SOURCE_H_
#define MIGRATION_SOURCE_H_

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "memory/guest_memory.h"

namespace migration {

using GpaRange = std::pair<memory::Gpa, uint64_t>;  // start, length in bytes

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
  // Pages the guest gave to the balloon (they read as zero).
  virtual std::vector<GpaRange> BalloonedRanges() = 0;

  // Free page hinting (VIRTIO_BALLOON_F_FREE_PAGE_HINT); CanHint() false
  // when the VM has no balloon or the driver did not negotiate it.
  virtual bool CanHint() = 0;
  // Asks the guest for a report under a command id it has not seen yet
  // (the device picks it: the guest ignores the id of its previous report,
  // which may come from another host).
  virtual absl::Status StartHinting() = 0;
  // Increases each time the guest finishes a report (sends STOP).
  virtual uint64_t HintReportsCompleted() = 0;
  virtual absl::Status StopHinting() = 0;
  virtual absl::Status DoneHinting() = 0;
  virtual std::vector<GpaRange> TakeHintedRanges() = 0;
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
