#include "vmm/acpi/tables.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace vmm::acpi {
namespace {

constexpr uint64_t kBase = 0xe0000;

uint64_t Le(const std::vector<uint8_t>& b, size_t offset, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{b[offset + i]} << (8 * i);
  return v;
}

uint8_t Sum(const std::vector<uint8_t>& b, size_t offset, size_t length) {
  uint8_t s = 0;
  for (size_t i = 0; i < length; ++i) s = static_cast<uint8_t>(s + b[offset + i]);
  return s;
}

AcpiConfig TwoCpusOneVirtio() {
  return AcpiConfig{.num_cpus = 2, .virtio_mmio = {{0xd0000000, 0x1000, 5}}, .pvpanic = true};
}

// Follows the pointers from the RSDP as the kernel does.
TEST(AcpiTables, PointersResolveAndChecksumsAreRight) {
  auto tables = BuildAcpiTables(TwoCpusOneVirtio(), kBase, 0x20000);
  ASSERT_TRUE(tables.ok()) << tables.status();
  const auto& b = tables->bytes;
  ASSERT_EQ(tables->rsdp_gpa, kBase);
  EXPECT_EQ(std::memcmp(b.data(), "RSD PTR ", 8), 0);
  EXPECT_EQ(Sum(b, 0, 20), 0);
  EXPECT_EQ(Sum(b, 0, 36), 0);
  size_t xsdt = Le(b, 24, 8) - kBase;
  ASSERT_LT(xsdt, b.size());
  EXPECT_EQ(std::memcmp(b.data() + xsdt, "XSDT", 4), 0);
  size_t xsdt_len = Le(b, xsdt + 4, 4);
  EXPECT_EQ(Sum(b, xsdt, xsdt_len), 0);
  ASSERT_EQ(xsdt_len, 36u + 16);
  size_t fadt = Le(b, xsdt + 36, 8) - kBase;
  size_t madt = Le(b, xsdt + 44, 8) - kBase;
  EXPECT_EQ(std::memcmp(b.data() + fadt, "FACP", 4), 0);
  EXPECT_EQ(Le(b, fadt + 4, 4), 276u);
  EXPECT_EQ(Sum(b, fadt, 276), 0);
  size_t dsdt = Le(b, fadt + 140, 8) - kBase;
  EXPECT_EQ(Le(b, fadt + 40, 4) - kBase, dsdt);
  EXPECT_EQ(std::memcmp(b.data() + dsdt, "DSDT", 4), 0);
  EXPECT_EQ(Sum(b, dsdt, Le(b, dsdt + 4, 4)), 0);
  size_t facs = Le(b, fadt + 132, 8) - kBase;
  EXPECT_EQ(std::memcmp(b.data() + facs, "FACS", 4), 0);
  EXPECT_EQ((kBase + facs) % 64, 0u);
  EXPECT_EQ(std::memcmp(b.data() + madt, "APIC", 4), 0);
  size_t madt_len = Le(b, madt + 4, 4);
  EXPECT_EQ(Sum(b, madt, madt_len), 0);
  // Count the local APIC entries.
  int lapics = 0;
  for (size_t at = madt + 44; at < madt + madt_len; at += b[at + 1]) {
    ASSERT_GT(b[at + 1], 0);
    if (b[at] == 0) ++lapics;
  }
  EXPECT_EQ(lapics, 2);
}

TEST(AcpiTables, RefusesWhenTooBigOrNoCpus) {
  EXPECT_FALSE(BuildAcpiTables(TwoCpusOneVirtio(), kBase, 256).ok());
  EXPECT_FALSE(BuildAcpiTables(AcpiConfig{.num_cpus = 0}, kBase, 0x20000).ok());
}

std::string RunCommand(const std::string& command, int* status) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), p)) > 0) out.append(buffer, n);
  *status = ::pclose(p);
  return out;
}

// iasl (acpica-tools) must disassemble every table and recompile the DSDT.
TEST(AcpiTables, IaslDisassemblesAndRecompiles) {
  if (std::system("command -v iasl >/dev/null 2>&1") != 0) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") FAIL() << "iasl missing (install acpica-tools)";
    GTEST_SKIP() << "iasl not installed";
  }
  auto tables = BuildAcpiTables(TwoCpusOneVirtio(), kBase, 0x20000);
  ASSERT_TRUE(tables.ok());
  std::string dir = ::testing::TempDir() + "/acpi_iasl";
  ::mkdir(dir.c_str(), 0755);
  const auto& b = tables->bytes;
  for (const auto& [name, offset] : tables->offsets) {
    if (name == "RSDP") continue;
    size_t length = Le(b, offset + 4, 4);
    std::ofstream(dir + "/" + name + ".aml", std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data() + offset), static_cast<std::streamsize>(length));
    int status = 0;
    std::string out = RunCommand("cd " + dir + " && iasl -d " + name + ".aml", &status);
    EXPECT_EQ(status, 0) << name << ":\n" << out;
    EXPECT_EQ(out.find("Error"), std::string::npos) << name << ":\n" << out;
  }
  std::ifstream dsl(dir + "/DSDT.dsl");
  std::stringstream text;
  text << dsl.rdbuf();
  for (const char* expected : {"LNRO0005", "PNP0501", "QEMU0001", "_S5_", "Memory32Fixed", "IRQNoFlags"}) {
    EXPECT_NE(text.str().find(expected), std::string::npos) << expected << "\n" << text.str();
  }
  int status = 0;
  std::string out = RunCommand("cd " + dir + " && iasl -p recompiled DSDT.dsl", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("0 Errors"), std::string::npos) << out;
}

}  // namespace
}  // namespace vmm::acpi
