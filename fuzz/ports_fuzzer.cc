// SPDX-License-Identifier: MIT
// Fuzzes the port I/O devices a guest reaches through the PIO bus: the
// 16550 UART (with host input queued in between), CMOS/RTC, the ACPI PM1
// registers, the i8042 reset line, the reset port and pvpanic. The input is
// a guest script (devices/testing/guest_scripts.h, shared with the
// save-what-loads property test): accesses of any width at any offset of
// each device's window. After it, each stateful device's saved state must
// load into a fresh one (fuzz::CheckSaveLoad).
#include <cstdint>

#include "devices/testing/guest_scripts.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  devices::testing::ByteSource in({data, size});
  devices::testing::PortDevices ports;
  devices::testing::RunPortScript(in, ports);
  devices::testing::PortDevices fresh;
  fuzz::CheckSaveLoad(*ports.serial, *fresh.serial, "serial");
  fuzz::CheckSaveLoad(*ports.cmos, *fresh.cmos, "cmos");
  fuzz::CheckSaveLoad(*ports.pm, *fresh.pm, "acpi pm");
  return 0;
}
