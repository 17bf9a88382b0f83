// SPDX-License-Identifier: MIT
// DeviceManager: the VM's devices and how the guest reaches them. The PC's
// legacy devices sit on the port I/O bus at their fixed ports
// (devices/pc_ports.h); each virtio device gets the next virtio-mmio window
// on the MMIO bus and the next GSI, with an irqfd for its interrupt and, in
// --virtio-notify=thread mode, an ioeventfd per queue served by the device
// thread (NotifyWorker).
//
// Every stateful part is registered under its node name ("serial", "cmos",
// "pm", "virtio-mmio@<base>"), so saving, loading and checking the VM's
// shape are loops over the registry, in registration order (which is the
// order of the saved state tree, migration/FORMAT.md). A new virtio device
// is its own folder plus one AddVirtioDevice line in Create().
//
// Trust boundary: the devices face the guest (each checks its own
// registers); LoadState and CheckShape read a state tree from a stream or
// file, which the parts validate as they load it.
#ifndef VMM_DEVICE_MANAGER_H_
#define VMM_DEVICE_MANAGER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "devices/balloon/balloon.h"
#include "devices/block/block.h"
#include "devices/legacy.h"
#include "devices/net/mac_address.h"
#include "devices/net/net.h"
#include "devices/serial.h"
#include "devices/vm_events.h"
#include "memory/bus.h"
#include "memory/guest_memory.h"
#include "state/migratable.h"
#include "state/state_tree.h"
#include "virtio/mmio_transport.h"
#include "virtio/virtio_device.h"
#include "vmm/acpi/acpi_config.h"
#include "vmm/console.h"
#include "vmm/kvm/vm.h"
#include "vmm/notify_worker.h"

namespace vmm {

// Where virtio queue notifications are handled.
enum class VirtioNotifyMode { kInline, kDeviceThread };

// One --disk: a raw image, read-write unless readonly, through the host's
// page cache unless direct (O_DIRECT).
struct DiskConfig {
  std::string path;
  bool readonly = false;
  bool direct = false;
};

// One --net: a tap device, and the guest NIC's MAC (generated when not
// given).
struct NetConfig {
  std::string tap;
  std::optional<devices::MacAddress> mac;
};

struct DeviceConfig {
  bool balloon = true;
  uint64_t balloon_size = 0;  // bytes taken from the guest at boot
  bool balloon_deflate_on_oom = false;
  bool balloon_reporting = true;  // VIRTIO_BALLOON_F_REPORTING
  bool balloon_chunks = true;     // the range format (devices/balloon/CHUNKS.md)
  VirtioNotifyMode virtio_notify = VirtioNotifyMode::kInline;
  // In order: the first is the guest's /dev/vda.
  std::vector<DiskConfig> disks;
  // A migration or restore destination: the images are opened unlocked and
  // LockDisks locks them once the guest is handed over.
  bool defer_disk_locks = false;
  // In order: the first is the guest's eth0.
  std::vector<NetConfig> nets;
};

class DeviceManager {
 public:
  // `vm`, `mem`, `events` and `console` must outlive the manager.
  static absl::StatusOr<std::unique_ptr<DeviceManager>> Create(Vm& vm, memory::GuestMemory& mem,
                                                               devices::VmEvents& events, Console& console,
                                                               const DeviceConfig& config);

  DeviceManager(const DeviceManager&) = delete;
  DeviceManager& operator=(const DeviceManager&) = delete;

  memory::Bus& pio_bus() { return pio_bus_; }
  memory::Bus& mmio_bus() { return mmio_bus_; }
  devices::Serial& serial() { return *serial_; }
  devices::AcpiPm& pm() { return *pm_; }
  // For the ACPI tables and --mmio-cmdline.
  const std::vector<acpi::MmioDevice>& virtio_mmio_devices() const { return virtio_mmio_; }
  // Null without --balloon.
  const std::shared_ptr<devices::Balloon>& balloon() const { return balloon_; }
  const std::shared_ptr<virtio::MmioTransport>& balloon_transport() const { return balloon_transport_; }
  // The --virtio-notify=thread worker, or null; paused with the vCPUs.
  NotifyWorker* device_thread() const { return notify_worker_.get(); }
  // Starts the notify worker and every disk's and NIC's worker, each
  // confined to its seccomp list.
  void StartDeviceThread();
  // Once the vCPUs and the device thread are paused: waits until every
  // disk has served the requests the guest made before the pause, and
  // every NIC has sent what the guest offered and stopped receiving.
  void DrainDevices();
  // When the VM runs again: the NICs receive again.
  void ResumeDevices();
  // After a restore or an incoming migration: every NIC announces its MAC
  // from its new place (devices/net/announce.h).
  void AnnounceNics();
  // Takes every disk's image lock (deferred by defer_disk_locks), retrying
  // for up to `wait` while the source VMM, which holds them until it exits,
  // goes away. The error names the image still in use.
  absl::Status LockDisks(absl::Duration wait);
  const std::vector<std::shared_ptr<devices::Block>>& disks() const { return disks_; }
  const std::vector<std::shared_ptr<devices::Net>>& nets() const { return nets_; }

  // Writes the "devices" node: one child per registered part.
  absl::Status SaveState(state::StateWriter& out);
  // Loads every registered part from the "devices" node, then re-raises the
  // interrupts the transports had pending (after the interrupt controllers
  // are loaded: the caller loads those first).
  absl::Status LoadState(const state::StateReader& in);
  // Inside the caller's "shape" node: one node per virtio device with its
  // interrupt, type and offered features.
  void SaveShape(state::StateWriter& out) const;
  // Fails when the source's virtio devices differ from these.
  absl::Status CheckShape(const state::StateNode& theirs) const;

 private:
  DeviceManager(Vm& vm, memory::GuestMemory& mem) : vm_(vm), mem_(mem) {}
  absl::Status AddLegacyDevices(devices::VmEvents& events, Console& console);
  // Puts `device` behind the next virtio-mmio window and GSI and registers
  // it. `flags` are the command-line flags that give a VM this device,
  // named in shape-mismatch errors.
  absl::StatusOr<std::shared_ptr<virtio::MmioTransport>> AddVirtioDevice(
      std::shared_ptr<virtio::VirtioDevice> device, std::string flags);
  void Register(std::string name, state::Migratable* part);

  struct Part {
    std::string name;  // its node below "devices"
    state::Migratable* state;
  };
  struct VirtioSlot {
    acpi::MmioDevice window;
    std::string node;  // "virtio-mmio@<base>", in the state and the shape
    std::string flags;
    std::shared_ptr<virtio::MmioTransport> transport;
  };

  Vm& vm_;
  memory::GuestMemory& mem_;
  VirtioNotifyMode notify_mode_ = VirtioNotifyMode::kInline;
  memory::Bus pio_bus_{"port I/O"};
  memory::Bus mmio_bus_{"MMIO"};
  std::shared_ptr<devices::Serial> serial_;
  std::shared_ptr<devices::Cmos> cmos_;
  std::shared_ptr<devices::AcpiPm> pm_;
  std::shared_ptr<devices::Balloon> balloon_;
  std::shared_ptr<virtio::MmioTransport> balloon_transport_;
  std::vector<std::shared_ptr<devices::Block>> disks_;
  std::vector<std::shared_ptr<devices::Net>> nets_;
  std::vector<VirtioSlot> virtio_;
  std::vector<acpi::MmioDevice> virtio_mmio_;
  std::vector<Part> parts_;
  std::vector<base::UniqueFd> irqfds_;
  // kDeviceThread only; declared after the transports it calls into, so it
  // stops first.
  std::unique_ptr<NotifyWorker> notify_worker_;
};

}  // namespace vmm

#endif  // VMM_DEVICE_MANAGER_H_
