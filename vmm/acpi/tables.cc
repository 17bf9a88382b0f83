#include "vmm/acpi/tables.h"

#include <cstring>

#include "absl/strings/str_format.h"
#include "devices/pc_ports.h"
#include "memory/layout.h"
#include "vmm/acpi/aml.h"

namespace vmm::acpi {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr char kOemId[] = "VMMVMM";
constexpr char kOemTableId[] = "VMMTABLE";
constexpr size_t kHeaderSize = 36;

void PutLe(Bytes& b, size_t offset, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) b[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

uint8_t Checksum(const uint8_t* data, size_t length) {
  uint8_t sum = 0;
  for (size_t i = 0; i < length; ++i) sum = static_cast<uint8_t>(sum + data[i]);
  return static_cast<uint8_t>(-sum);
}

// A table with the standard 36-byte header; the checksum is filled in by
// Finish() once the body is complete.
Bytes Header(const char* signature, uint8_t revision, size_t total_length) {
  Bytes t(total_length, 0);
  std::memcpy(t.data(), signature, 4);
  PutLe(t, 4, total_length, 4);
  t[8] = revision;
  std::memcpy(t.data() + 10, kOemId, 6);
  std::memcpy(t.data() + 16, kOemTableId, 8);
  PutLe(t, 24, 1, 4);  // OEM revision
  std::memcpy(t.data() + 28, "VMMC", 4);  // creator ID
  PutLe(t, 32, 1, 4);  // creator revision
  return t;
}

void Finish(Bytes& table) {
  PutLe(table, 4, table.size(), 4);
  table[9] = 0;
  table[9] = Checksum(table.data(), table.size());
}

// Generic Address Structure (12 bytes) for a system I/O port block.
void PutIoGas(Bytes& t, size_t offset, uint16_t port, uint8_t bit_width, uint8_t access_size) {
  t[offset] = 1;  // system I/O space
  t[offset + 1] = bit_width;
  t[offset + 2] = 0;
  t[offset + 3] = access_size;
  PutLe(t, offset + 4, port, 8);
}

Bytes Facs() {
  Bytes t(64, 0);
  std::memcpy(t.data(), "FACS", 4);
  PutLe(t, 4, 64, 4);
  t[32] = 2;  // version
  return t;
}

Bytes Fadt(uint64_t dsdt, uint64_t facs) {
  Bytes t = Header("FACP", 6, 276);
  PutLe(t, 36, facs, 4);
  PutLe(t, 40, dsdt, 4);
  PutLe(t, 46, devices::kSciIrq, 2);
  // SMI_CMD stays 0: there is no SMM, ACPI mode is always on.
  PutLe(t, 56, devices::kPm1aEventPort, 4);
  PutLe(t, 64, devices::kPm1aControlPort, 4);
  t[88] = devices::kPm1aEventLength;
  t[89] = devices::kPm1aControlLength;
  // IAPC_BOOT_ARCH: no VGA (bit 2). No 8042 (bit 1 clear): the kernel then
  // skips the keyboard probe; the reset line still answers at 0x64.
  PutLe(t, 109, 1u << 2, 2);
  // Flags: WBINVD (0), power and sleep buttons are not fixed hardware (4, 5),
  // the reset register is supported (10).
  PutLe(t, 112, (1u << 0) | (1u << 4) | (1u << 5) | (1u << 10), 4);
  PutIoGas(t, 116, devices::kResetPort, 8, 1);
  t[128] = devices::kResetValue;
  t[131] = 1;  // FADT minor version (6.1)
  PutLe(t, 132, facs, 8);
  PutLe(t, 140, dsdt, 8);
  PutIoGas(t, 148, devices::kPm1aEventPort, devices::kPm1aEventLength * 8, 2);
  PutIoGas(t, 172, devices::kPm1aControlPort, devices::kPm1aControlLength * 8, 2);
  Finish(t);
  return t;
}

Bytes Madt(uint32_t num_cpus) {
  Bytes t = Header("APIC", 5, 44);
  PutLe(t, 36, memory::kLapicAddress, 4);
  PutLe(t, 40, 1, 4);  // PCAT_COMPAT: dual 8259s present
  auto add = [&t](std::initializer_list<uint8_t> entry) { t.insert(t.end(), entry); };
  for (uint32_t cpu = 0; cpu < num_cpus; ++cpu) {
    uint8_t id = static_cast<uint8_t>(cpu);
    add({0, 8, id, id, 1, 0, 0, 0});  // processor local APIC, enabled
  }
  Bytes ioapic{1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // IOAPIC id 0, GSI base 0
  PutLe(ioapic, 4, memory::kIoapicAddress, 4);
  t.insert(t.end(), ioapic.begin(), ioapic.end());
  // ISA IRQ 0 (the PIT) arrives on IOAPIC pin 2; conforming polarity/trigger.
  add({2, 10, 0, 0, 2, 0, 0, 0, 0, 0});
  // The SCI, level-triggered active-high as the in-kernel IOAPIC drives it.
  add({2, 10, 0, static_cast<uint8_t>(devices::kSciIrq), static_cast<uint8_t>(devices::kSciIrq), 0, 0, 0,
       0x0d, 0x00});
  add({4, 6, 0xff, 0, 0, 1});  // local APIC NMI on LINT1 of every processor
  Finish(t);
  return t;
}

Bytes Dsdt(const AcpiConfig& config) {
  Bytes aml = BuildDsdtAml(config);
  Bytes t = Header("DSDT", 2, kHeaderSize);
  t.insert(t.end(), aml.begin(), aml.end());
  Finish(t);
  return t;
}

Bytes Xsdt(const std::vector<uint64_t>& entries) {
  Bytes t = Header("XSDT", 1, kHeaderSize + 8 * entries.size());
  for (size_t i = 0; i < entries.size(); ++i) PutLe(t, kHeaderSize + 8 * i, entries[i], 8);
  Finish(t);
  return t;
}

Bytes Rsdp(uint64_t xsdt) {
  Bytes r(36, 0);
  std::memcpy(r.data(), "RSD PTR ", 8);
  std::memcpy(r.data() + 9, kOemId, 6);
  r[15] = 2;  // revision: ACPI 2.0+, XSDT
  PutLe(r, 20, 36, 4);
  PutLe(r, 24, xsdt, 8);
  r[8] = Checksum(r.data(), 20);
  r[32] = Checksum(r.data(), 36);
  return r;
}

}  // namespace

std::vector<uint8_t> BuildDsdtAml(const AcpiConfig& config) {
  using namespace aml;
  std::vector<Bytes> devices_aml;
  devices_aml.push_back(Device(
      "COM1", Concat({Name("_HID", EisaId("PNP0501")), Name("_UID", Integer(0)),
                      Name("_CRS", ResourceTemplate({IoPort(devices::kCom1Port, devices::kCom1PortCount),
                                                     IrqNoFlags(devices::kCom1Irq)}))})));
  for (size_t i = 0; i < config.virtio_mmio.size(); ++i) {
    const MmioDevice& d = config.virtio_mmio[i];
    devices_aml.push_back(Device(
        absl::StrFormat("VR%02X", i),
        Concat({Name("_HID", String("LNRO0005")), Name("_UID", Integer(i)),
                Name("_CRS", ResourceTemplate({Memory32Fixed(static_cast<uint32_t>(d.base),
                                                             static_cast<uint32_t>(d.size)),
                                               ExtendedInterrupt(d.irq, /*edge=*/true, false)}))})));
  }
  if (config.pvpanic) {
    devices_aml.push_back(Device(
        "PEVT", Concat({Name("_HID", String("QEMU0001")),
                        Name("_CRS", ResourceTemplate({IoPort(devices::kPvpanicPort, 1)}))})));
  }
  return Concat({
      // \_S5: SLP_TYPa/b for soft-off, what the PM1 control device expects.
      Name("\\_S5_", Package({Integer(devices::kS5SleepType), Integer(devices::kS5SleepType),
                              Integer(0), Integer(0)})),
      Scope("\\_SB_", Concat(devices_aml)),
  });
}

absl::StatusOr<AcpiTables> BuildAcpiTables(const AcpiConfig& config, uint64_t base_gpa,
                                           uint64_t max_size) {
  if (config.num_cpus == 0 || config.num_cpus > 255) {
    return absl::InvalidArgumentError("ACPI: vCPU count must be 1..255");
  }
  AcpiTables out{.base_gpa = base_gpa};
  Bytes& blob = out.bytes;
  auto place = [&](const std::string& name, const Bytes& table, size_t align) {
    while (blob.size() % align != 0) blob.push_back(0);
    size_t offset = blob.size();
    blob.insert(blob.end(), table.begin(), table.end());
    out.offsets.push_back({name, offset});
    return base_gpa + offset;
  };
  // Fixed order so the addresses are known before the pointing tables:
  // RSDP first (16-byte aligned at the start), then FACS (64-aligned).
  const size_t rsdp_size = 36;
  blob.resize(rsdp_size, 0);
  out.offsets.push_back({"RSDP", 0});
  uint64_t facs = place("FACS", Facs(), 64);
  uint64_t dsdt = place("DSDT", Dsdt(config), 8);
  uint64_t fadt = place("FACP", Fadt(dsdt, facs), 8);
  uint64_t madt = place("APIC", Madt(config.num_cpus), 8);
  uint64_t xsdt = place("XSDT", Xsdt({fadt, madt}), 8);
  Bytes rsdp = Rsdp(xsdt);
  std::copy(rsdp.begin(), rsdp.end(), blob.begin());
  out.rsdp_gpa = base_gpa;
  if (blob.size() > max_size) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("ACPI tables need %u bytes, only %u available", blob.size(), max_size));
  }
  return out;
}

}  // namespace vmm::acpi
