// SPDX-License-Identifier: MIT
// Small legacy PC devices the kernel probes or uses to end the VM:
// - I8042: only the reset line (0xfe to the command port); no keyboard.
// - ResetPort: the ACPI reset register (FADT RESET_REG, port 0xcf9).
// - AcpiPm: PM1a event (status/enable) and control blocks; SLP_EN with
//   the \_S5 sleep type powers the VM off. The fixed power button: a
//   press sets PWRBTN_STS, and the SCI is asserted while an enabled status
//   bit is set (level-triggered, as the MADT describes it).
// - Pvpanic: the QEMU-compatible panic port (ACPI _HID QEMU0001).
// - Cmos: the RTC registers, read-only wall-clock time in BCD, so the
//   kernel's probe answers at once.
#ifndef DEVICES_LEGACY_H_
#define DEVICES_LEGACY_H_

#include <atomic>
#include <cstdint>
#include <span>
#include <utility>

#include "devices/vm_events.h"
#include "state/migratable.h"
#include "memory/bus.h"

namespace devices {

class I8042 : public memory::BusDevice {
 public:
  explicit I8042(VmEvents& events) : events_(events) {}
  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  VmEvents& events_;
};

class ResetPort : public memory::BusDevice {
 public:
  explicit ResetPort(VmEvents& events) : events_(events) {}
  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  VmEvents& events_;
};

class AcpiPm : public memory::BusDevice, public state::Migratable {
 public:
  // The same object serves both blocks; `control_offset` is where the
  // control block starts relative to the event block.
  AcpiPm(VmEvents& events, uint64_t control_offset, IrqLine sci = {})
      : events_(events), control_offset_(control_offset), sci_(std::move(sci)) {}
  // The VMM's side of the power button (PUT /api/v1/vm.shutdown); any
  // thread.
  void PressPowerButton();
  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;
  absl::Status Save(state::StateWriter& out) override;
  absl::Status Load(const state::StateNode& in) override;

 private:
  // Asserts or releases the SCI from status & enable.
  void UpdateSci();

  VmEvents& events_;
  uint64_t control_offset_;
  IrqLine sci_;
  std::atomic<uint16_t> status_{0};
  std::atomic<uint16_t> enable_{0};
  std::atomic<uint16_t> control_{1};  // SCI_EN: the firmware left ACPI mode on
};

class Pvpanic : public memory::BusDevice {
 public:
  explicit Pvpanic(VmEvents& events) : events_(events) {}
  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  VmEvents& events_;
};

class Cmos : public memory::BusDevice, public state::Migratable {
 public:
  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;
  absl::Status Save(state::StateWriter& out) override;
  absl::Status Load(const state::StateNode& in) override;

 private:
  std::atomic<uint8_t> index_{0};
};

}  // namespace devices

#endif  // DEVICES_LEGACY_H_
