// SPDX-License-Identifier: MIT
// virtio::VirtioDevice: the device half of a virtio device, independent of
// the transport. The transport (MmioTransport) owns the register file,
// feature negotiation and queue configuration; once the driver sets
// DRIVER_OK it hands the configured queues to the device through Activate()
// and from then on only forwards notifications, config accesses and resets.
//
// Threading: every method may be called from any vCPU thread, and devices
// add their own API for the VMM's control thread, so implementations lock
// internally. Lock order: transport lock -> device lock; a device never
// calls back into the transport while holding its own lock, except through
// the InterruptCallbacks, which take no transport lock.
#ifndef VIRTIO_VIRTIO_DEVICE_H_
#define VIRTIO_VIRTIO_DEVICE_H_

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "memory/guest_memory.h"
#include "state/migratable.h"
#include "virtio/queue.h"

namespace virtio {

// Raises the device's interrupt with the given reason; thread-safe.
using InterruptCallback = std::function<void()>;

struct ActivateArgs {
  memory::GuestMemory* mem;  // outlives the device's activation
  // One per queue_max_sizes() entry, in transport order; those the driver
  // did not set up are not ready(). Event-idx is already applied.
  std::vector<Queue> queues;
  uint64_t features;  // negotiated: offered AND accepted by the driver
  // Sets the used-buffer bit in the transport's interrupt status and
  // raises the interrupt. Call after Queue::NeedsInterrupt() says so.
  InterruptCallback signal_used;
};

// Migratable: Save/Load the device's own state (not the transport's). The
// transport calls Load after re-activating the device with the restored
// queues, so a device restores its ring indices into the queues it got.
class VirtioDevice : public state::Migratable {
 public:
  virtual ~VirtioDevice() = default;

  // VIRTIO_ID_* from <linux/virtio_ids.h>.
  virtual uint32_t device_type() const = 0;
  // Feature bits offered to the driver (VIRTIO_F_VERSION_1 included).
  virtual uint64_t device_features() const = 0;
  // The largest size of each queue the device can have; the vector's size
  // is the number of queues the transport exposes.
  virtual std::vector<uint16_t> queue_max_sizes() const = 0;

  // Device-specific configuration space; `offset` is relative to its start.
  // Out-of-range or read-only accesses are the device's to log and ignore
  // (reads of unknown bytes return zero).
  virtual void ReadConfig(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void WriteConfig(uint64_t offset, std::span<const uint8_t> data) = 0;

  // Called once per DRIVER_OK. An error puts the device in NEEDS_RESET.
  virtual absl::Status Activate(ActivateArgs args) = 0;
  // The driver notified queue `index`. An error means the device cannot go
  // on (a corrupt ring, a host failure); the transport sets NEEDS_RESET.
  virtual absl::Status ProcessQueue(uint16_t index) = 0;
  // Back to the pre-activation state: drops the queues; keeps host-side
  // settings such as a balloon target.
  virtual void Reset() = 0;

  // How the device announces a change of its configuration space; the
  // transport installs it (and clears it with an empty function when it goes
  // away). Devices without host-initiated config changes can ignore it.
  virtual void SetConfigChangeCallback(InterruptCallback callback) {}
};

}  // namespace virtio

#endif  // VIRTIO_VIRTIO_DEVICE_H_
