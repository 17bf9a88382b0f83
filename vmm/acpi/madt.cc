// SPDX-License-Identifier: MIT
#include "vmm/acpi/madt.h"

#include "devices/pc_ports.h"
#include "memory/layout.h"

namespace vmm::acpi {
namespace {

// Interrupt controller structure types (ACPI 6.5 table 5.21).
constexpr uint8_t kLocalApic = 0;
constexpr uint8_t kIoApic = 1;
constexpr uint8_t kInterruptSourceOverride = 2;
constexpr uint8_t kLocalApicNmi = 4;

constexpr uint32_t kMadtPcatCompat = 1;  // dual 8259s present (KVM emulates them)
constexpr uint32_t kLocalApicEnabled = 1;
// MPS INTI flags: polarity in bits 0-1, trigger mode in bits 2-3.
constexpr uint16_t kIntiConforming = 0;
constexpr uint16_t kIntiActiveHigh = 0x1;
constexpr uint16_t kIntiLevel = 0x3 << 2;

void AddOverride(Bytes& t, uint8_t source_irq, uint32_t gsi, uint16_t flags) {
  t.push_back(kInterruptSourceOverride);
  t.push_back(10);
  t.push_back(0);  // bus: ISA
  t.push_back(source_irq);
  AppendLe(t, gsi, 4);
  AppendLe(t, flags, 2);
}

}  // namespace

Bytes BuildMadt(uint32_t num_cpus) {
  Bytes t = SdtHeader("APIC", 5, kSdtHeaderSize);
  AppendLe(t, memory::kLapicAddress, 4);
  AppendLe(t, kMadtPcatCompat, 4);
  for (uint32_t cpu = 0; cpu < num_cpus; ++cpu) {
    t.push_back(kLocalApic);
    t.push_back(8);
    t.push_back(static_cast<uint8_t>(cpu));  // ACPI processor UID
    t.push_back(static_cast<uint8_t>(cpu));  // APIC ID, as KVM assigns by vCPU index
    AppendLe(t, kLocalApicEnabled, 4);
  }
  t.push_back(kIoApic);
  t.push_back(12);
  t.push_back(0);  // IOAPIC ID
  t.push_back(0);  // reserved
  AppendLe(t, memory::kIoapicAddress, 4);
  AppendLe(t, 0, 4);  // GSI base
  // The PIT's ISA IRQ 0 is wired to IOAPIC pin 2, as on real chipsets and
  // in KVM's irq routing; polarity and trigger follow the ISA bus.
  AddOverride(t, 0, 2, kIntiConforming);
  // The SCI is level-triggered, active high as KVM's IOAPIC pin sees it
  // (ISA's default would be edge).
  AddOverride(t, devices::kSciIrq, devices::kSciIrq, kIntiActiveHigh | kIntiLevel);
  // LINT1 of every processor (UID 0xff) is the NMI input.
  t.push_back(kLocalApicNmi);
  t.push_back(6);
  t.push_back(0xff);
  AppendLe(t, kIntiConforming, 2);
  t.push_back(1);  // LINT1
  FinishSdt(t);
  return t;
}

}  // namespace vmm::acpi
