// SPDX-License-Identifier: MIT
#include "vmm/acpi/tables.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "devices/pc_ports.h"
#include "memory/layout.h"
#include "vmm/acpi/sdt.h"

namespace vmm::acpi {
namespace {

constexpr uint64_t kBase = memory::kBiosRomStart;
constexpr uint64_t kMaxSize = memory::kBiosRomEnd - memory::kBiosRomStart;

uint8_t Sum(const Bytes& b, size_t offset, size_t length) {
  uint8_t s = 0;
  for (size_t i = 0; i < length; ++i) s = static_cast<uint8_t>(s + b[offset + i]);
  return s;
}

AcpiConfig TwoCpusTwoVirtio() {
  return AcpiConfig{.num_cpus = 2,
                    .virtio_mmio = {{memory::kVirtioMmioBase, 0x1000, 5},
                                    {memory::kVirtioMmioBase + 0x1000, 0x1000, 6}},
                    .pvpanic = true};
}

// Offset in the blob of a guest-physical pointer, checked to lie inside it.
size_t Resolve(const AcpiTables& t, uint64_t gpa, size_t length) {
  EXPECT_GE(gpa, t.base_gpa);
  EXPECT_LE(gpa - t.base_gpa + length, t.bytes.size());
  return gpa - t.base_gpa;
}

// An SDT at `offset` with `signature`, a length inside the blob and a sum of 0.
size_t CheckSdt(const AcpiTables& t, size_t offset, const char* signature) {
  const Bytes& b = t.bytes;
  EXPECT_EQ(std::memcmp(b.data() + offset, signature, 4), 0) << signature;
  size_t length = GetLe(b, offset + 4, 4);
  EXPECT_GE(length, kSdtHeaderSize);
  EXPECT_LE(offset + length, b.size()) << signature;
  EXPECT_EQ(Sum(b, offset, length), 0) << signature;
  return length;
}

struct Walk {
  size_t xsdt, fadt, madt, dsdt, facs;
};

// Follows the pointers from the RSDP as the kernel does.
Walk WalkFromRsdp(const AcpiTables& t) {
  const Bytes& b = t.bytes;
  size_t rsdp = Resolve(t, t.rsdp_gpa, 36);
  Walk w{};
  w.xsdt = Resolve(t, GetLe(b, rsdp + 24, 8), kSdtHeaderSize);
  size_t xsdt_length = CheckSdt(t, w.xsdt, "XSDT");
  EXPECT_EQ(xsdt_length, kSdtHeaderSize + 16);
  w.fadt = Resolve(t, GetLe(b, w.xsdt + 36, 8), 276);
  w.madt = Resolve(t, GetLe(b, w.xsdt + 44, 8), kSdtHeaderSize);
  w.dsdt = Resolve(t, GetLe(b, w.fadt + 140, 8), kSdtHeaderSize);
  w.facs = Resolve(t, GetLe(b, w.fadt + 36, 4), 64);
  return w;
}

TEST(AcpiTables, RsdpIsFirstAlignedAndChecksummed) {
  auto t = BuildAcpiTables(TwoCpusTwoVirtio(), kBase, kMaxSize);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->base_gpa, kBase);
  EXPECT_EQ(t->rsdp_gpa, kBase);
  EXPECT_EQ(t->rsdp_gpa % 16, 0u);
  const Bytes& b = t->bytes;
  EXPECT_EQ(std::memcmp(b.data(), "RSD PTR ", 8), 0);
  EXPECT_EQ(b[15], 2);              // revision
  EXPECT_EQ(GetLe(b, 16, 4), 0u);   // no RSDT
  EXPECT_EQ(GetLe(b, 20, 4), 36u);  // length
  EXPECT_EQ(Sum(b, 0, 20), 0);
  EXPECT_EQ(Sum(b, 0, 36), 0);
}

TEST(AcpiTables, PointersResolveInsideTheBlobAndChecksumsAreZero) {
  auto t = BuildAcpiTables(TwoCpusTwoVirtio(), kBase, kMaxSize);
  ASSERT_TRUE(t.ok()) << t.status();
  Walk w = WalkFromRsdp(*t);
  EXPECT_EQ(CheckSdt(*t, w.fadt, "FACP"), 276u);
  CheckSdt(*t, w.madt, "APIC");
  CheckSdt(*t, w.dsdt, "DSDT");
  EXPECT_EQ(std::memcmp(t->bytes.data() + w.facs, "FACS", 4), 0);
  EXPECT_EQ((kBase + w.facs) % 64, 0u);
  // The 32-bit DSDT field agrees with X_DSDT; X_FIRMWARE_CTRL stays 0
  // because FIRMWARE_CTRL is set.
  EXPECT_EQ(GetLe(t->bytes, w.fadt + 40, 4), kBase + w.dsdt);
  EXPECT_EQ(GetLe(t->bytes, w.fadt + 132, 8), 0u);
}

TEST(AcpiTables, EveryListedTableChecksumsToZero) {
  auto t = BuildAcpiTables(TwoCpusTwoVirtio(), kBase, kMaxSize);
  ASSERT_TRUE(t.ok()) << t.status();
  std::map<std::string, Bytes> dump;
  for (auto& [name, bytes] : TablesForDump(*t)) dump[name] = bytes;
  ASSERT_EQ(dump.size(), 6u);
  for (const char* name : {"XSDT", "FACP", "APIC", "DSDT"}) {
    const Bytes& table = dump[name];
    EXPECT_EQ(GetLe(table, 4, 4), table.size()) << name;
    EXPECT_EQ(Sum(table, 0, table.size()), 0) << name;
  }
  EXPECT_EQ(dump["RSDP"].size(), 36u);
  EXPECT_EQ(dump["FACS"].size(), 64u);
}

TEST(AcpiTables, FadtDescribesThePcPorts) {
  auto t = BuildAcpiTables(TwoCpusTwoVirtio(), kBase, kMaxSize);
  ASSERT_TRUE(t.ok()) << t.status();
  const Bytes& b = t->bytes;
  size_t f = WalkFromRsdp(*t).fadt;
  EXPECT_EQ(b[f + 8], 6);  // revision
  EXPECT_EQ(GetLe(b, f + 46, 2), devices::kSciIrq);
  EXPECT_EQ(GetLe(b, f + 48, 4), 0u);  // SMI_CMD: always in ACPI mode
  EXPECT_EQ(GetLe(b, f + 56, 4), devices::kPm1aEventPort);
  EXPECT_EQ(GetLe(b, f + 64, 4), devices::kPm1aControlPort);
  EXPECT_EQ(GetLe(b, f + 76, 4), 0u);  // no PM timer
  EXPECT_EQ(b[f + 88], devices::kPm1aEventLength);
  EXPECT_EQ(b[f + 89], devices::kPm1aControlLength);
  EXPECT_EQ(b[f + 91], 0);
  uint16_t boot_arch = GetLe(b, f + 109, 2);
  EXPECT_EQ(boot_arch & (1 << 1), 0);  // no 8042
  EXPECT_NE(boot_arch & (1 << 2), 0);  // no VGA
  EXPECT_EQ(boot_arch & (1 << 5), 0);  // the CMOS RTC is present
  uint32_t flags = GetLe(b, f + 112, 4);
  EXPECT_NE(flags & (1 << 10), 0u);  // RESET_REG_SUP
  EXPECT_EQ(flags & (1 << 4), 0u);   // a fixed power button (vm.shutdown presses it)
  EXPECT_EQ(flags & (1 << 20), 0u);  // not HW_REDUCED_ACPI
  EXPECT_EQ(b[f + 116], 1);          // reset register in system I/O
  EXPECT_EQ(GetLe(b, f + 120, 8), devices::kResetPort);
  EXPECT_EQ(b[f + 128], devices::kResetValue);
  EXPECT_EQ(b[f + 148], 1);  // X_PM1a_EVT_BLK in system I/O
  EXPECT_EQ(b[f + 149], devices::kPm1aEventLength * 8);
  EXPECT_EQ(GetLe(b, f + 152, 8), devices::kPm1aEventPort);
  EXPECT_EQ(b[f + 172], 1);  // X_PM1a_CNT_BLK
  EXPECT_EQ(b[f + 173], devices::kPm1aControlLength * 8);
  EXPECT_EQ(GetLe(b, f + 176, 8), devices::kPm1aControlPort);
}

// MADT entries by type, in order.
std::vector<std::pair<uint8_t, Bytes>> MadtEntries(const AcpiTables& t) {
  const Bytes& b = t.bytes;
  size_t madt = WalkFromRsdp(t).madt;
  size_t length = GetLe(b, madt + 4, 4);
  std::vector<std::pair<uint8_t, Bytes>> entries;
  for (size_t at = madt + 44; at < madt + length;) {
    uint8_t entry_length = b[at + 1];
    if (entry_length < 2 || at + entry_length > madt + length) {
      ADD_FAILURE() << "bad MADT entry at " << at;
      break;
    }
    entries.push_back({b[at], Bytes(b.begin() + at, b.begin() + at + entry_length)});
    at += entry_length;
  }
  return entries;
}

TEST(AcpiTables, MadtHasOneEnabledLocalApicPerCpu) {
  for (uint32_t cpus : {1u, 2u, 8u, 255u}) {
    auto t = BuildAcpiTables(AcpiConfig{.num_cpus = cpus}, kBase, kMaxSize);
    ASSERT_TRUE(t.ok()) << t.status();
    size_t madt = WalkFromRsdp(*t).madt;
    EXPECT_EQ(GetLe(t->bytes, madt + 36, 4), memory::kLapicAddress);
    EXPECT_EQ(GetLe(t->bytes, madt + 40, 4), 1u);  // PCAT_COMPAT
    uint32_t index = 0;
    for (const auto& [type, entry] : MadtEntries(*t)) {
      if (type != 0) continue;
      ASSERT_EQ(entry.size(), 8u);
      EXPECT_EQ(entry[2], index);         // UID
      EXPECT_EQ(entry[3], index);         // APIC ID
      EXPECT_EQ(GetLe(entry, 4, 4), 1u);  // enabled
      ++index;
    }
    EXPECT_EQ(index, cpus);
  }
}

TEST(AcpiTables, MadtDescribesIoapicOverridesAndNmi) {
  auto t = BuildAcpiTables(TwoCpusTwoVirtio(), kBase, kMaxSize);
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<Bytes> ioapics, overrides, nmis;
  for (const auto& [type, entry] : MadtEntries(*t)) {
    if (type == 1) ioapics.push_back(entry);
    if (type == 2) overrides.push_back(entry);
    if (type == 4) nmis.push_back(entry);
  }
  ASSERT_EQ(ioapics.size(), 1u);
  EXPECT_EQ(ioapics[0][2], 0);  // IOAPIC ID
  EXPECT_EQ(GetLe(ioapics[0], 4, 4), memory::kIoapicAddress);
  EXPECT_EQ(GetLe(ioapics[0], 8, 4), 0u);  // GSI base
  ASSERT_EQ(overrides.size(), 2u);
  EXPECT_EQ(overrides[0], Bytes({2, 10, 0, 0, 2, 0, 0, 0, 0x00, 0x00}));
  EXPECT_EQ(overrides[1], Bytes({2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0x00}));
  ASSERT_EQ(nmis.size(), 1u);
  EXPECT_EQ(nmis[0], Bytes({4, 6, 0xff, 0, 0, 1}));
}

bool Contains(const Bytes& haystack, const std::string& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

TEST(AcpiTables, DsdtNamesEveryDevice) {
  auto t = BuildAcpiTables(TwoCpusTwoVirtio(), kBase, kMaxSize);
  ASSERT_TRUE(t.ok()) << t.status();
  size_t dsdt = WalkFromRsdp(*t).dsdt;
  Bytes table(t->bytes.begin() + dsdt, t->bytes.begin() + dsdt + GetLe(t->bytes, dsdt + 4, 4));
  for (const char* name : {"_S5_", "COM1", "VR00", "VR01", "PEVT", "LNRO0005", "QEMU0001"}) {
    EXPECT_TRUE(Contains(table, name)) << name;
  }
  auto without = BuildAcpiTables(AcpiConfig{.num_cpus = 1, .pvpanic = false}, kBase, kMaxSize);
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(Contains(without->bytes, "QEMU0001"));
  EXPECT_FALSE(Contains(without->bytes, "LNRO0005"));
}

TEST(AcpiTables, ManyVirtioDevicesGetDistinctNames) {
  AcpiConfig config{.num_cpus = 1};
  // IRQs must be distinct pins, so only a few devices fit; names go in hex.
  for (uint32_t irq : {5u, 6u, 7u, 10u, 11u, 12u, 13u, 14u, 15u, 16u, 17u, 18u}) {
    config.virtio_mmio.push_back({memory::kVirtioMmioBase + 0x1000 * irq, 0x1000, irq});
  }
  auto t = BuildAcpiTables(config, kBase, kMaxSize);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(Contains(t->bytes, "VR0B"));
}

TEST(AcpiTables, RefusesWhenTheBlobExceedsMaxSize) {
  auto fits = BuildAcpiTables(TwoCpusTwoVirtio(), kBase, kMaxSize);
  ASSERT_TRUE(fits.ok());
  size_t size = fits->bytes.size();
  EXPECT_TRUE(BuildAcpiTables(TwoCpusTwoVirtio(), kBase, size).ok());
  auto too_big = BuildAcpiTables(TwoCpusTwoVirtio(), kBase, size - 1);
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(BuildAcpiTables(AcpiConfig{.num_cpus = 255}, kBase, 1024).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(AcpiTables, RefusesInvalidConfigs) {
  auto invalid = [](const AcpiConfig& c, uint64_t base = kBase) {
    return BuildAcpiTables(c, base, kMaxSize).status().code() == absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(invalid(AcpiConfig{.num_cpus = 0}));
  EXPECT_TRUE(invalid(AcpiConfig{.num_cpus = 256}));
  EXPECT_TRUE(invalid(AcpiConfig{.virtio_mmio = {{0x100000000, 0x1000, 5}}}));  // above 4 GiB
  EXPECT_TRUE(invalid(AcpiConfig{.virtio_mmio = {{0xfffff000, 0x2000, 5}}}));   // crosses 4 GiB
  EXPECT_TRUE(invalid(AcpiConfig{.virtio_mmio = {{0xd0000000, 0, 5}}}));        // empty
  EXPECT_TRUE(invalid(AcpiConfig{.virtio_mmio = {{0xd0000000, 0x1000, 24}}}));  // no such pin
  EXPECT_TRUE(invalid(AcpiConfig{.virtio_mmio = {{0xd0000000, 0x1000, devices::kCom1Irq}}}));
  EXPECT_TRUE(invalid(AcpiConfig{.virtio_mmio = {{0xd0000000, 0x1000, devices::kSciIrq}}}));
  EXPECT_TRUE(
      invalid(AcpiConfig{.virtio_mmio = {{0xd0000000, 0x1000, 5}, {0xd0001000, 0x1000, 5}}}));
  EXPECT_TRUE(invalid(AcpiConfig{}, kBase + 8));   // RSDP misaligned
  EXPECT_TRUE(invalid(AcpiConfig{}, 0xfffffff0));  // does not end below 4 GiB
  AcpiConfig too_many;
  too_many.virtio_mmio.resize(kMaxVirtioMmioDevices + 1, {0xd0000000, 0x1000, 5});
  EXPECT_TRUE(invalid(too_many));
}

TEST(AcpiTables, FacsIsAlignedForAnyRsdpAlignedBase) {
  for (uint64_t base : {kBase, kBase + 16, kBase + 48}) {
    auto t = BuildAcpiTables(AcpiConfig{}, base, kMaxSize);
    ASSERT_TRUE(t.ok()) << t.status();
    Walk w = WalkFromRsdp(*t);
    EXPECT_EQ((base + w.facs) % 64, 0u) << base;
  }
}

}  // namespace
}  // namespace vmm::acpi
