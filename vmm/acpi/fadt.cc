// SPDX-License-Identifier: MIT
#include "vmm/acpi/fadt.h"

#include <cstring>

#include "devices/pc_ports.h"

namespace vmm::acpi {
namespace {

// IAPC_BOOT_ARCH bits (ACPI 6.5 table 5.11).
constexpr uint16_t kBootArchVgaNotPresent = 1 << 2;
// Deliberately clear:
// - LEGACY_DEVICES (bit 0): no ISA devices beyond those in the DSDT.
// - 8042 (bit 1): our i8042 only implements the reset line. With the bit
//   clear Linux marks the controller "firmware absent" and skips the
//   keyboard probe; reboot through 0x64/0xfe still works, it needs no driver.
// - CMOS RTC Not Present (bit 5): devices::Cmos answers the RTC registers,
//   so Linux may register rtc_cmos and read the wall clock from it.

// Fixed feature flags (ACPI 6.5 table 5.10).
constexpr uint32_t kFlagWbinvd = 1 << 0;
// Set: there is no fixed-hardware sleep button, so the OS does not enable
// its PM1 status bit. The power button is fixed hardware (clear bit 4,
// PWR_BUTTON): devices::AcpiPm raises PWRBTN_STS and the SCI, which is
// how PUT /api/v1/vm.shutdown asks the guest to power off.
constexpr uint32_t kFlagSleepButtonNotFixed = 1 << 5;
constexpr uint32_t kFlagResetRegSupported = 1 << 10;

// Byte offsets in the FADT (ACPI 6.5 table 5.9).
constexpr size_t kFirmwareCtrl = 36;
constexpr size_t kDsdt = 40;
constexpr size_t kSciInt = 46;
constexpr size_t kPm1aEvtBlk = 56;
constexpr size_t kPm1aCntBlk = 64;
constexpr size_t kPm1EvtLen = 88;
constexpr size_t kPm1CntLen = 89;
constexpr size_t kIapcBootArch = 109;
constexpr size_t kFlags = 112;
constexpr size_t kResetReg = 116;
constexpr size_t kResetValue = 128;
constexpr size_t kMinorVersion = 131;
constexpr size_t kXDsdt = 140;
constexpr size_t kXPm1aEvtBlk = 148;
constexpr size_t kXPm1aCntBlk = 172;

}  // namespace

Bytes BuildFacs() {
  // No checksum and no header beyond signature and length. The waking
  // vector stays 0: we offer no S3, only S5. ACPICA looks for the FACS
  // whenever the FADT is not hardware-reduced (global lock, waking vector)
  // and reports an error without one, so a full-hardware FADT gets one.
  Bytes t(kFacsSize, 0);
  std::memcpy(t.data(), "FACS", 4);
  PutLe(t, 4, kFacsSize, 4);
  t[32] = 2;  // version
  return t;
}

Bytes BuildFadt(uint64_t dsdt_gpa, uint64_t facs_gpa) {
  Bytes t = SdtHeader("FACP", 6, kFadtSize);
  // The spec allows only one of FIRMWARE_CTRL and X_FIRMWARE_CTRL to be
  // non-zero; the FACS is below 4 GiB, so the 32-bit field carries it.
  PutLe(t, kFirmwareCtrl, facs_gpa, 4);
  // The DSDT has no such rule; both fields point at it, the OS prefers X_.
  PutLe(t, kDsdt, dsdt_gpa, 4);
  PutLe(t, kXDsdt, dsdt_gpa, 8);
  PutLe(t, kSciInt, devices::kSciIrq, 2);
  // SMI_CMD stays 0: there is no SMM, so the platform is always in ACPI
  // mode and the OS never tries the ACPI_ENABLE handshake.
  // No PM timer (PM_TMR_LEN 0): kvm-clock and the TSC serve as clocks.
  // No GPE blocks: nothing raises general-purpose events.
  PutLe(t, kPm1aEvtBlk, devices::kPm1aEventPort, 4);
  PutLe(t, kPm1aCntBlk, devices::kPm1aControlPort, 4);
  t[kPm1EvtLen] = devices::kPm1aEventLength;
  t[kPm1CntLen] = devices::kPm1aControlLength;
  PutLe(t, kIapcBootArch, kBootArchVgaNotPresent, 2);
  PutLe(t, kFlags,
        kFlagWbinvd | kFlagSleepButtonNotFixed | kFlagResetRegSupported,
        4);
  PutSystemIoGas(t, kResetReg, devices::kResetPort, 8, AccessSize::kByte);
  t[kResetValue] = devices::kResetValue;
  t[kMinorVersion] = 1;  // FADT 6.1
  // The status/enable and control registers are 16 bits wide each.
  PutSystemIoGas(t, kXPm1aEvtBlk, devices::kPm1aEventPort, devices::kPm1aEventLength * 8,
                 AccessSize::kWord);
  PutSystemIoGas(t, kXPm1aCntBlk, devices::kPm1aControlPort, devices::kPm1aControlLength * 8,
                 AccessSize::kWord);
  FinishSdt(t);
  return t;
}

}  // namespace vmm::acpi
