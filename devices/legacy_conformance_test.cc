// SPDX-License-Identifier: MIT
// The Migratable conformance suite (state/testing) for the legacy devices
// with state: the CMOS index register and the ACPI PM1 registers, driven
// through their ports.
#include <gtest/gtest.h>

#include <memory>

#include "devices/legacy.h"
#include "devices/pc_ports.h"
#include "state/testing/migratable_conformance.h"

namespace devices {
namespace {

struct CmosCase : state::testing::CaseDefaults {
  using Instance = Cmos;
  static std::unique_ptr<Cmos> Make() { return std::make_unique<Cmos>(); }
  static state::Migratable& Part(Cmos& cmos) { return cmos; }
  static void Select(Cmos& cmos, uint8_t index) { cmos.Write(0, {&index, 1}); }
  // Status register B with NMIs masked (bit 7).
  static void Change(Cmos& cmos) { Select(cmos, 0x8b); }
  static void ChangeAgain(Cmos& cmos) { Select(cmos, 0x0d); }
  // The index port reads back; the data port would read the wall clock for
  // most indices, so only the index is compared.
  static state::testing::Observed Observe(Cmos& cmos) {
    uint8_t index = 0;
    cmos.Read(0, {&index, 1});
    return {{"index", index}};
  }
};

struct CountingEvents : VmEvents {
  void PowerOff() override { ++power_offs; }
  void Reset() override { ++resets; }
  void GuestPanicked() override { ++panics; }
  int power_offs = 0, resets = 0, panics = 0;
};

struct AcpiPmCase : state::testing::CaseDefaults {
  static constexpr uint64_t kEnable = 2;
  static constexpr uint64_t kControl = kPm1aControlPort - kPm1aEventPort;
  struct Instance {
    CountingEvents events;
    AcpiPm pm{events, kControl};
    void Write16(uint64_t offset, uint16_t v) { pm.Write(offset, {reinterpret_cast<const uint8_t*>(&v), 2}); }
    uint16_t Read16(uint64_t offset) {
      uint16_t v = 0;
      pm.Read(offset, {reinterpret_cast<uint8_t*>(&v), 2});
      return v;
    }
  };
  static std::unique_ptr<Instance> Make() { return std::make_unique<Instance>(); }
  static state::Migratable& Part(Instance& i) { return i.pm; }
  // The status register only clears (write one to clear) and nothing here
  // sets it, so enable and control carry the change. SLP_TYP is S1's, with
  // no SLP_EN: nothing powers off.
  static void Change(Instance& i) {
    i.Write16(kEnable, 0x0121);
    i.Write16(kControl, 1 | (1 << 10));
  }
  static void ChangeAgain(Instance& i) {
    i.Write16(kEnable, 0x0001);
    i.Write16(kControl, 0);
  }
  static state::testing::Observed Observe(Instance& i) {
    return {{"status", i.Read16(0)},
            {"enable", i.Read16(kEnable)},
            {"control", i.Read16(kControl)},
            {"power_offs", static_cast<uint64_t>(i.events.power_offs)}};
  }
};

}  // namespace
}  // namespace devices

namespace state::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Cmos, MigratableConformance, devices::CmosCase);
INSTANTIATE_TYPED_TEST_SUITE_P(AcpiPm, MigratableConformance, devices::AcpiPmCase);
}  // namespace state::testing
