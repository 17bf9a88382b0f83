// SPDX-License-Identifier: MIT
#include "vmm/acpi/tables.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "devices/pc_ports.h"
#include "vmm/acpi/dsdt.h"
#include "vmm/acpi/fadt.h"
#include "vmm/acpi/madt.h"
#include "vmm/acpi/sdt.h"

namespace vmm::acpi {
namespace {

constexpr size_t kRsdpSize = 36;  // revision 2
constexpr uint64_t kRsdpAlignment = 16;
constexpr uint64_t kTableAlignment = 8;
constexpr uint64_t k4GiB = uint64_t{1} << 32;

Bytes BuildRsdp(uint64_t xsdt_gpa) {
  Bytes r(kRsdpSize, 0);
  std::memcpy(r.data(), "RSD PTR ", 8);
  std::memcpy(r.data() + 9, kOemId, 6);
  r[15] = 2;  // revision 2: the XSDT is used, the RSDT address stays 0
  PutLe(r, 20, kRsdpSize, 4);
  PutLe(r, 24, xsdt_gpa, 8);
  // The ACPI 1.0 checksum covers the first 20 bytes, the extended one all.
  r[8] = Checksum(r.data(), 20);
  r[32] = Checksum(r.data(), kRsdpSize);
  return r;
}

Bytes BuildXsdt(const std::vector<uint64_t>& table_gpas) {
  Bytes t = SdtHeader("XSDT", 1);
  for (uint64_t gpa : table_gpas) AppendLe(t, gpa, 8);
  FinishSdt(t);
  return t;
}

// Appends tables to the blob at aligned guest-physical addresses.
class BlobBuilder {
 public:
  explicit BlobBuilder(AcpiTables& out) : out_(out) {}

  // Aligns the guest-physical address, not the offset, so the alignment
  // holds for any 16-byte-aligned base.
  uint64_t Place(const char* signature, const Bytes& table, uint64_t alignment) {
    while ((out_.base_gpa + out_.bytes.size()) % alignment != 0) out_.bytes.push_back(0);
    size_t offset = out_.bytes.size();
    out_.bytes.insert(out_.bytes.end(), table.begin(), table.end());
    out_.tables.push_back({signature, offset, table.size()});
    return out_.base_gpa + offset;
  }

 private:
  AcpiTables& out_;
};

}  // namespace

absl::Status ValidateAcpiConfig(const AcpiConfig& config) {
  if (config.num_cpus == 0 || config.num_cpus > kMaxCpus) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ACPI: vCPU count %u is outside 1..%u", config.num_cpus, kMaxCpus));
  }
  if (config.virtio_mmio.size() > kMaxVirtioMmioDevices) {
    return absl::InvalidArgumentError(absl::StrFormat("ACPI: %u virtio-mmio devices, at most %u",
                                                      config.virtio_mmio.size(),
                                                      kMaxVirtioMmioDevices));
  }
  // IRQs the fixed devices own: the timer (ISA 0 and its pin 2), COM1, SCI.
  std::set<uint32_t> used{0, 2, devices::kCom1Irq, devices::kSciIrq};
  for (size_t i = 0; i < config.virtio_mmio.size(); ++i) {
    const MmioDevice& d = config.virtio_mmio[i];
    if (d.size == 0 || d.base >= k4GiB || d.size > k4GiB - d.base) {
      return absl::InvalidArgumentError(
          absl::StrFormat("ACPI: virtio-mmio %u window [%#x, +%#x) is empty or not below 4 GiB", i,
                          d.base, d.size));
    }
    if (d.irq >= kIoapicPins) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "ACPI: virtio-mmio %u IRQ %u is not an IOAPIC pin (0..%u)", i, d.irq, kIoapicPins - 1));
    }
    // Each descriptor says Exclusive; a shared pin would also lose edges.
    if (!used.insert(d.irq).second) {
      return absl::InvalidArgumentError(
          absl::StrFormat("ACPI: virtio-mmio %u IRQ %u is already in use", i, d.irq));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<AcpiTables> BuildAcpiTables(const AcpiConfig& config, uint64_t base_gpa,
                                           uint64_t max_size) {
  RETURN_IF_ERROR(ValidateAcpiConfig(config));
  if (base_gpa % kRsdpAlignment != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ACPI: base %#x is not %u-byte aligned", base_gpa, kRsdpAlignment));
  }
  AcpiTables out{.base_gpa = base_gpa};
  BlobBuilder blob(out);
  // The RSDP goes first so it sits at the aligned base; its XSDT pointer is
  // filled in last. Every other table is placed before the one that points
  // at it, so each address is known when needed.
  blob.Place("RSDP", Bytes(kRsdpSize, 0), kRsdpAlignment);
  uint64_t facs = blob.Place("FACS", BuildFacs(), kFacsAlignment);
  uint64_t dsdt = blob.Place("DSDT", BuildDsdt(config), kTableAlignment);
  uint64_t fadt = blob.Place("FACP", BuildFadt(dsdt, facs), kTableAlignment);
  uint64_t madt = blob.Place("APIC", BuildMadt(config.num_cpus), kTableAlignment);
  uint64_t xsdt = blob.Place("XSDT", BuildXsdt({fadt, madt}), kTableAlignment);
  Bytes rsdp = BuildRsdp(xsdt);
  std::copy(rsdp.begin(), rsdp.end(), out.bytes.begin());
  out.rsdp_gpa = base_gpa;

  if (out.bytes.size() > max_size) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "ACPI: the tables need %u bytes, only %u are available", out.bytes.size(), max_size));
  }
  if (base_gpa >= k4GiB || out.bytes.size() > k4GiB - base_gpa) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ACPI: tables at %#x do not end below 4 GiB", base_gpa));
  }
  return out;
}

std::vector<std::pair<std::string, std::vector<uint8_t>>> TablesForDump(const AcpiTables& tables) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> out;
  for (const TableLocation& t : tables.tables) {
    auto begin = tables.bytes.begin() + static_cast<std::ptrdiff_t>(t.offset);
    out.emplace_back(t.signature,
                     std::vector<uint8_t>(begin, begin + static_cast<std::ptrdiff_t>(t.length)));
  }
  return out;
}

}  // namespace vmm::acpi
