// SPDX-License-Identifier: MIT
// virtio::MmioTransport: the virtio-mmio register file (version 2, modern
// only; virtio 1.2, 4.2.2) in front of one VirtioDevice.
//
// Trust boundary: every register access comes from the guest. Accesses of
// the wrong width, to unknown offsets, or in the wrong device state are
// logged (rate-limited) and ignored; reads of them return zero. The
// transport always offers VIRTIO_F_VERSION_1 and refuses FEATURES_OK unless
// the driver accepted it and nothing that was not offered.
//
// Threading: vCPU threads and the VMM's control thread may call in at once;
// one absl::Mutex guards the register state. Interrupt status and the config
// generation are atomics so that a device can raise interrupts from inside
// ProcessQueue (which runs without the transport lock) or from the control
// thread without lock-order concerns.
#ifndef VIRTIO_MMIO_TRANSPORT_H_
#define VIRTIO_MMIO_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "memory/bus.h"
#include "memory/guest_memory.h"
#include "virtio/queue.h"
#include "virtio/virtio_device.h"

namespace virtio {

class MmioTransport : public memory::BusDevice, public state::Migratable {
 public:
  // 'virt' in little-endian ASCII.
  static constexpr uint32_t kMagic = 0x74726976;
  static constexpr uint32_t kVersion = 2;
  static constexpr uint32_t kVendorId = 0x4d4d5676;  // "vVMM", arbitrary
  // Size of the register window (registers + config space); the VMM maps
  // this many bytes (memory::kVirtioMmioWindowSize).
  static constexpr uint64_t kWindowSize = 0x1000;

  // `raise_irq` asserts the device's interrupt line (an irqfd write in the
  // VMM, a counter in tests); it must be callable from any thread. `mem`
  // must outlive the transport.
  MmioTransport(memory::GuestMemory& mem, std::shared_ptr<VirtioDevice> device,
                std::function<void()> raise_irq);
  ~MmioTransport() override;

  MmioTransport(const MmioTransport&) = delete;
  MmioTransport& operator=(const MmioTransport&) = delete;

  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

  // Sets the config-change interrupt bit, bumps ConfigGeneration and raises
  // the interrupt. Thread-safe; takes no lock.
  void NotifyConfigChange();

  // The register file and queue configuration, with the device's own state
  // in a child node "device". Load validates everything as if a driver had
  // written it, re-activates a live device with the restored queues and
  // raises no interrupt; on error the transport is left reset.
  absl::Status Save(state::StateWriter& out) override;
  absl::Status Load(const state::StateNode& in) override;
  // After every part of a restored VM is loaded (the interrupt controllers
  // included): raises the interrupt again if the saved interrupt status has
  // a bit the driver has not acknowledged. An interrupt raised just before
  // the source saved its state may still have been on its way into the
  // source's interrupt controller (irqfds inject asynchronously), so the
  // saved controller state can lack it; without this the driver would wait
  // for it forever. One the controller did save is then seen twice, which a
  // virtio-mmio driver takes as a spurious interrupt (status 0, ignored).
  void RaiseRestoredInterrupt();

  // For the VMM and tests.
  uint32_t status() const;
  uint64_t driver_features() const;
  uint32_t interrupt_status() const { return interrupt_status_.load(); }
  VirtioDevice& device() const { return *device_; }

 private:
  uint32_t ReadRegister(uint64_t offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns the queue to notify (ProcessQueue runs after the lock is
  // dropped), or -1.
  int WriteRegister(uint64_t offset, uint32_t value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ProcessNotify(uint16_t queue) ABSL_LOCKS_EXCLUDED(mu_);
  void WriteStatus(uint32_t value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ResetLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeviceError() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t OfferedFeatures() const;
  // The selected queue if it may be configured now, else nullptr (logged).
  Queue* ConfigurableQueue(const char* what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetQueueAddressHalf(uint64_t offset, uint32_t value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SignalUsed();

  memory::GuestMemory& mem_;
  const std::shared_ptr<VirtioDevice> device_;
  const std::function<void()> raise_irq_;

  mutable absl::Mutex mu_;
  uint32_t status_ ABSL_GUARDED_BY(mu_) = 0;
  // Activate() succeeded and no reset since: NEEDS_RESET alone does not
  // tell, since a failed activation sets it too.
  bool device_active_ ABSL_GUARDED_BY(mu_) = false;
  // Queues notified after FEATURES_OK but before DRIVER_OK (Linux's balloon
  // primes its stats queue that way); processed once the device is live.
  std::vector<uint16_t> early_notified_ ABSL_GUARDED_BY(mu_);
  std::vector<uint16_t> to_process_ ABSL_GUARDED_BY(mu_);
  uint32_t device_features_sel_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t driver_features_sel_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t driver_features_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t queue_sel_ ABSL_GUARDED_BY(mu_) = 0;
  // Queue configuration as written by the driver; copies go to the device
  // on DRIVER_OK, which then owns the ring indices.
  std::vector<Queue> queues_ ABSL_GUARDED_BY(mu_);

  std::atomic<uint32_t> interrupt_status_{0};
  std::atomic<uint32_t> config_generation_{0};
};

}  // namespace virtio

#endif  // VIRTIO_MMIO_TRANSPORT_H_
