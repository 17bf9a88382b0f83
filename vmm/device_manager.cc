// SPDX-License-Identifier: MIT
#include "vmm/device_manager.h"

#include <linux/virtio_mmio.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "devices/pc_ports.h"
#include "memory/layout.h"
#include "vmm/seccomp/thread_filter.h"

namespace vmm {
namespace {

// GSIs 0-4 are the PIT, the cascade and the COM1/2 lines; virtio devices
// take the ones after.
constexpr uint32_t kFirstVirtioGsi = 5;

std::string VirtioNodeName(uint64_t base) { return absl::StrFormat("virtio-mmio@%x", base); }

uint64_t VirtioWindowBase(size_t index) {
  return memory::kVirtioMmioBase + index * memory::kVirtioMmioWindowSize;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DeviceManager>> DeviceManager::Create(Vm& vm, memory::GuestMemory& mem,
                                                                     devices::VmEvents& events,
                                                                     Console& console,
                                                                     const DeviceConfig& config) {
  std::unique_ptr<DeviceManager> dm(new DeviceManager(vm, mem));
  dm->notify_mode_ = config.virtio_notify;
  RETURN_IF_ERROR(dm->AddLegacyDevices(events, console));

  // The virtio devices, one line each.
  if (config.balloon) {
    dm->balloon_ = std::make_shared<devices::Balloon>(
        mem, devices::BalloonOptions{.deflate_on_oom = config.balloon_deflate_on_oom,
                                     .reporting = config.balloon_reporting,
                                     .chunks = config.balloon_chunks});
    ASSIGN_OR_RETURN(dm->balloon_transport_, dm->AddVirtioDevice(dm->balloon_, "--balloon"));
    if (config.balloon_size > 0) {
      dm->balloon_->SetTargetPages(static_cast<uint32_t>(config.balloon_size / memory::kPageSize));
    }
  }
  // After the balloon, so a VM without disks keeps its windows and GSIs.
  for (const DiskConfig& disk : config.disks) {
    ASSIGN_OR_RETURN(std::shared_ptr<devices::Block> block,
                     devices::Block::Create(
                         {.path = disk.path,
                          .readonly = disk.readonly,
                          .defer_lock = config.defer_disk_locks,
                          .direct = disk.direct}));
    dm->disks_.push_back(block);
    RETURN_IF_ERROR(dm->AddVirtioDevice(std::move(block), "--disk").status());
  }
  // After the disks, so a VM without NICs keeps its windows and GSIs.
  for (size_t i = 0; i < config.nets.size(); ++i) {
    const NetConfig& nic = config.nets[i];
    ASSIGN_OR_RETURN(std::shared_ptr<devices::Net> net,
                     devices::Net::Create(nic.tap, {.mac = nic.mac.value_or(devices::GeneratedMacAddress(
                                                        static_cast<uint32_t>(i))),
                                                    .mac_given = nic.mac.has_value()}));
    dm->nets_.push_back(net);
    RETURN_IF_ERROR(dm->AddVirtioDevice(std::move(net), "--net").status());
  }
  return dm;
}

void DeviceManager::Register(std::string name, state::Migratable* part) {
  parts_.push_back({std::move(name), part});
}

absl::Status DeviceManager::AddLegacyDevices(devices::VmEvents& events, Console& console) {
  serial_ = std::make_shared<devices::Serial>(
      [this](bool level) {
        absl::Status st = vm_.SetIrqLine(devices::kCom1Irq, level);
        if (!st.ok()) LOG_ERROR("serial interrupt: %s", st.ToString());
      },
      [&console](uint8_t byte) { console.Output(byte); });
  RETURN_IF_ERROR(pio_bus_.Insert(devices::kCom1Port, devices::kCom1PortCount, serial_));
  RETURN_IF_ERROR(pio_bus_.Insert(devices::kI8042DataPort,
                                  devices::kI8042CommandPort - devices::kI8042DataPort + 1,
                                  std::make_shared<devices::I8042>(events)));
  RETURN_IF_ERROR(pio_bus_.Insert(devices::kResetPort, 1, std::make_shared<devices::ResetPort>(events)));
  RETURN_IF_ERROR(pio_bus_.Insert(devices::kPvpanicPort, 1, std::make_shared<devices::Pvpanic>(events)));
  cmos_ = std::make_shared<devices::Cmos>();
  RETURN_IF_ERROR(pio_bus_.Insert(devices::kCmosPort, 2, cmos_));
  uint64_t control_offset = devices::kPm1aControlPort - devices::kPm1aEventPort;
  pm_ = std::make_shared<devices::AcpiPm>(events, control_offset, [this](bool level) {
    absl::Status st = vm_.SetIrqLine(devices::kSciIrq, level);
    if (!st.ok()) LOG_ERROR("SCI interrupt: %s", st.ToString());
  });
  RETURN_IF_ERROR(pio_bus_.Insert(devices::kPm1aEventPort, control_offset + devices::kPm1aControlLength, pm_));
  Register("serial", serial_.get());
  Register("cmos", cmos_.get());
  Register("pm", pm_.get());
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<virtio::MmioTransport>> DeviceManager::AddVirtioDevice(
    std::shared_ptr<virtio::VirtioDevice> device, std::string flags) {
  const acpi::MmioDevice window{.base = VirtioWindowBase(virtio_.size()),
                                .size = memory::kVirtioMmioWindowSize,
                                .irq = kFirstVirtioGsi + static_cast<uint32_t>(virtio_.size())};
  ASSIGN_OR_RETURN(base::UniqueFd irqfd, vm_.CreateIrqfd(window.irq));
  int raw_irqfd = irqfd.get();
  irqfds_.push_back(std::move(irqfd));

  // Notifications: by default handled on the vCPU that wrote QueueNotify
  // (an MMIO exit). The alternative, --virtio-notify=thread, registers a
  // KVM_IOEVENTFD per queue and runs the device on a worker thread. A
  // balloon's guest waits for the used buffer after every 256 PFNs, so that
  // round trip is the inflate speed: inline saves the eventfd signal, the
  // thread wake-up and a cross-CPU handoff per request, while the exit
  // itself is paid in both modes (an ioeventfd write still traps into KVM;
  // only the trip out to user space is saved). bench/balloon --notify both
  // compares them: the wall time is the guest's page allocation in both,
  // and the device thread costs more host CPU per request, so inline stays
  // the default.
  auto transport = std::make_shared<virtio::MmioTransport>(mem_, device, [raw_irqfd] {
    uint64_t one = 1;
    ssize_t unused = ::write(raw_irqfd, &one, sizeof(one));
    (void)unused;
  });
  RETURN_IF_ERROR(mmio_bus_.Insert(window.base, window.size, transport));
  if (notify_mode_ == VirtioNotifyMode::kDeviceThread) {
    if (!notify_worker_) {
      ASSIGN_OR_RETURN(notify_worker_, NotifyWorker::Create());
    }
    const uint16_t queues = static_cast<uint16_t>(device->queue_max_sizes().size());
    for (uint16_t q = 0; q < queues; ++q) {
      ASSIGN_OR_RETURN(base::UniqueFd fd, vm_.CreateIoeventfd(window.base + VIRTIO_MMIO_QUEUE_NOTIFY, q));
      RETURN_IF_ERROR(notify_worker_->Add(std::move(fd), [raw = transport.get(), q] {
        const uint32_t value = q;
        raw->Write(VIRTIO_MMIO_QUEUE_NOTIFY, {reinterpret_cast<const uint8_t*>(&value), sizeof(value)});
      }));
    }
  }
  const std::string node = VirtioNodeName(window.base);
  virtio_.push_back({.window = window, .node = node, .flags = std::move(flags), .transport = transport});
  virtio_mmio_.push_back(window);
  Register(node, transport.get());
  return transport;
}

void DeviceManager::StartDeviceThread() {
  if (notify_worker_) notify_worker_->Start();
  for (const std::shared_ptr<devices::Block>& disk : disks_) {
    disk->StartWorker([] { seccomp::ConfineThisThread(seccomp::ThreadKind::kBlockWorker); });
  }
  for (const std::shared_ptr<devices::Net>& net : nets_) {
    net->StartWorker([] { seccomp::ConfineThisThread(seccomp::ThreadKind::kNetWorker); });
  }
}

absl::Status DeviceManager::LockDisks(absl::Duration wait) {
  const absl::Time deadline = absl::Now() + wait;
  for (const std::shared_ptr<devices::Block>& disk : disks_) {
    absl::Status locked;
    while (!(locked = disk->TakeLock()).ok() && locked.code() == absl::StatusCode::kFailedPrecondition &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    RETURN_IF_ERROR(locked);
  }
  return absl::OkStatus();
}

void DeviceManager::DrainDevices() {
  for (const std::shared_ptr<devices::Block>& disk : disks_) disk->Drain();
  for (const std::shared_ptr<devices::Net>& net : nets_) net->Drain();
}

void DeviceManager::ResumeDevices() {
  for (const std::shared_ptr<devices::Net>& net : nets_) net->Resume();
}

void DeviceManager::AnnounceNics() {
  for (const std::shared_ptr<devices::Net>& net : nets_) net->Announce();
}

absl::Status DeviceManager::SaveState(state::StateWriter& out) {
  out.BeginNode("devices");
  for (const Part& part : parts_) {
    out.BeginNode(part.name);
    RETURN_IF_ERROR(part.state->Save(out));
    out.EndNode();
  }
  out.EndNode();
  return absl::OkStatus();
}

absl::Status DeviceManager::LoadState(const state::StateReader& in) {
  ASSIGN_OR_RETURN(state::StateNode devices, in.Node("devices"));
  for (const Part& part : parts_) {
    ASSIGN_OR_RETURN(state::StateNode node, devices.Child(part.name));
    RETURN_IF_ERROR(part.state->Load(node));
  }
  // Last, after the interrupt controllers: the source writes hinting DONE
  // while paused, just before it saves its state (migration/FORMAT.md).
  for (const VirtioSlot& slot : virtio_) slot.transport->RaiseRestoredInterrupt();
  return absl::OkStatus();
}

void DeviceManager::SaveShape(state::StateWriter& out) const {
  for (const VirtioSlot& slot : virtio_) {
    out.BeginNode(slot.node);
    out.PutU32("irq", slot.window.irq);
    out.PutU32("device_type", slot.transport->device().device_type());
    out.PutU64("device_features", slot.transport->device().device_features());
    out.EndNode();
  }
}

absl::Status DeviceManager::CheckShape(const state::StateNode& theirs) const {
  for (const VirtioSlot& slot : virtio_) {
    const virtio::VirtioDevice& ours = slot.transport->device();
    absl::StatusOr<state::StateNode> dev = theirs.Child(slot.node);
    if (!dev.ok()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "VM shape mismatch: this VM has a virtio device at 0x%x that the source lacks (%s)", slot.window.base,
          slot.flags));
    }
    ASSIGN_OR_RETURN(uint64_t features, dev->U64("device_features"));
    ASSIGN_OR_RETURN(uint32_t type, dev->U32("device_type"));
    if (type != ours.device_type() || features != ours.device_features()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "VM shape mismatch: the virtio device at 0x%x differs (source type %u features 0x%x, here type %u "
          "features 0x%x); start this VM with the same %s-* flags",
          slot.window.base, type, features, ours.device_type(), ours.device_features(), slot.flags));
    }
  }
  const uint64_t next = VirtioWindowBase(virtio_.size());
  if (absl::StatusOr<state::StateNode> extra = theirs.Child(VirtioNodeName(next)); extra.ok()) {
    absl::StatusOr<uint32_t> type = extra->U32("device_type");
    return absl::FailedPreconditionError(absl::StrFormat(
        "VM shape mismatch: the source has a virtio device (type %d) at 0x%x that this VM lacks; start it with "
        "the source's device flags (e.g. without --balloon=false)",
        type.ok() ? static_cast<int>(*type) : -1, next));
  }
  return absl::OkStatus();
}

}  // namespace vmm
