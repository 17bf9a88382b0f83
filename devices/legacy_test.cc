// SPDX-License-Identifier: MIT
#include "devices/legacy.h"

#include <gtest/gtest.h>

#include <vector>

#include "devices/pc_ports.h"

namespace devices {
namespace {

struct RecordingEvents : VmEvents {
  void PowerOff() override { ++power_offs; }
  void Reset() override { ++resets; }
  void GuestPanicked() override { ++panics; }
  int power_offs = 0, resets = 0, panics = 0;
};

TEST(AcpiPm, SlpEnWithS5PowersOff) {
  RecordingEvents events;
  AcpiPm pm(events, kPm1aControlPort - kPm1aEventPort);
  uint64_t control = kPm1aControlPort - kPm1aEventPort;
  uint16_t other_state = (1 << 13) | (1 << 10);  // SLP_EN with S1's type
  pm.Write(control, {reinterpret_cast<uint8_t*>(&other_state), 2});
  EXPECT_EQ(events.power_offs, 0);
  uint16_t s5 = (1 << 13) | (kS5SleepType << 10);
  pm.Write(control, {reinterpret_cast<uint8_t*>(&s5), 2});
  EXPECT_EQ(events.power_offs, 1);
}

TEST(AcpiPm, ControlReportsSciEnabled) {
  RecordingEvents events;
  AcpiPm pm(events, 4);
  uint8_t v[2];
  pm.Read(4, v);
  EXPECT_EQ(v[0] & 1, 1);
}

// What the guest's ACPI driver does with the fixed power button: enable
// PWRBTN_EN, take the SCI, read PWRBTN_STS, clear it (write one).
TEST(AcpiPm, PowerButtonRaisesTheSciOnceEnabledUntilTheGuestClearsIt) {
  RecordingEvents events;
  std::vector<bool> sci;
  AcpiPm pm(events, 4, [&sci](bool level) { sci.push_back(level); });
  pm.PressPowerButton();  // not enabled yet: status set, no interrupt
  ASSERT_FALSE(sci.empty());
  EXPECT_FALSE(sci.back());
  uint8_t status[2];
  pm.Read(0, status);
  EXPECT_EQ(status[1] & 1, 1);  // PWRBTN_STS, bit 8
  uint16_t enable = 1 << 8;
  pm.Write(2, {reinterpret_cast<uint8_t*>(&enable), 2});
  EXPECT_TRUE(sci.back());
  pm.Write(0, {reinterpret_cast<uint8_t*>(&enable), 2});  // write-one-to-clear
  EXPECT_FALSE(sci.back());
  pm.Read(0, status);
  EXPECT_EQ(status[1] & 1, 0);
  pm.PressPowerButton();
  EXPECT_TRUE(sci.back());
  EXPECT_EQ(events.power_offs, 0);  // only the guest's SLP_EN powers off
}

TEST(I8042, ResetCommandResets) {
  RecordingEvents events;
  I8042 kbd(events);
  uint8_t cmd = 0xfe;
  kbd.Write(0, {&cmd, 1});  // data port: ignored
  EXPECT_EQ(events.resets, 0);
  kbd.Write(kI8042CommandPort - kI8042DataPort, {&cmd, 1});
  EXPECT_EQ(events.resets, 1);
}

TEST(ResetPort, ResetValueResets) {
  RecordingEvents events;
  ResetPort port(events);
  uint8_t v = 0x02;
  port.Write(0, {&v, 1});
  EXPECT_EQ(events.resets, 0);
  v = kResetValue;
  port.Write(0, {&v, 1});
  EXPECT_EQ(events.resets, 1);
}

TEST(Pvpanic, ReportsCapabilitiesAndPanics) {
  RecordingEvents events;
  Pvpanic p(events);
  uint8_t v = 0;
  p.Read(0, {&v, 1});
  EXPECT_EQ(v & 1, 1);
  v = 1;
  p.Write(0, {&v, 1});
  EXPECT_EQ(events.panics, 1);
}

TEST(Cmos, StatusRegistersSayBcdAndNoUpdate) {
  Cmos cmos;
  uint8_t index = 0x0a, value = 0;
  cmos.Write(0, {&index, 1});
  cmos.Read(1, {&value, 1});
  EXPECT_EQ(value & 0x80, 0);  // no update in progress
  index = 0x0b;
  cmos.Write(0, {&index, 1});
  cmos.Read(1, {&value, 1});
  EXPECT_EQ(value & 0x04, 0);  // BCD
  index = 0x00;
  cmos.Write(0, {&index, 1});
  cmos.Read(1, {&value, 1});
  EXPECT_LT(value & 0x0f, 10);
  EXPECT_LT(value >> 4, 6);
}

}  // namespace
}  // namespace devices
