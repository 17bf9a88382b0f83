// SPDX-License-Identifier: MIT
// Fixed legacy addresses of the PC devices this VMM emulates. The ACPI
// tables (vmm/acpi) describe exactly these, so both sides read them here.
#ifndef DEVICES_PC_PORTS_H_
#define DEVICES_PC_PORTS_H_

#include <cstdint>

namespace devices {

inline constexpr uint16_t kCom1Port = 0x3f8;
inline constexpr uint16_t kCom1PortCount = 8;
inline constexpr uint32_t kCom1Irq = 4;

inline constexpr uint16_t kI8042DataPort = 0x60;
inline constexpr uint16_t kI8042CommandPort = 0x64;  // 0xfe written here resets the machine

inline constexpr uint16_t kCmosPort = 0x70;  // index 0x70, data 0x71
inline constexpr uint16_t kPvpanicPort = 0x505;

// ACPI fixed hardware (FADT): PM1a event block (status + enable, 2 bytes
// each) and PM1a control block (2 bytes).
inline constexpr uint16_t kPm1aEventPort = 0x600;
inline constexpr uint16_t kPm1aEventLength = 4;
inline constexpr uint16_t kPm1aControlPort = 0x604;
inline constexpr uint16_t kPm1aControlLength = 2;
inline constexpr uint32_t kSciIrq = 9;
// SLP_TYP value the DSDT's \_S5 package gives for soft-off; PM1 control
// writes SLP_TYP << 10 | SLP_EN (1 << 13).
inline constexpr uint16_t kS5SleepType = 5;
// ACPI reset register (FADT RESET_REG): writing kResetValue here reboots.
inline constexpr uint16_t kResetPort = 0xcf9;
inline constexpr uint8_t kResetValue = 0x06;

}  // namespace devices

#endif  // DEVICES_PC_PORTS_H_
