// SPDX-License-Identifier: MIT
// Cross-checks the tables with ACPICA's own tools: `iasl -d` must
// disassemble every table without errors, and the disassembled DSDT must
// compile back; acpiexec must load them and evaluate \_S5_ and _CRS
// objects. Both come from acpica-tools; without it the test skips,
// except in CI (CI=true), where a silently skipped check would hide bugs.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "memory/layout.h"
#include "vmm/acpi/tables.h"

namespace vmm::acpi {
namespace {

struct CommandResult {
  int exit_status = -1;
  std::string output;  // stdout and stderr
};

CommandResult RunShell(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  return result;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class IaslTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v iasl >/dev/null 2>&1") != 0) {
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") {
        FAIL() << "iasl is missing; install acpica-tools";
      }
      GTEST_SKIP() << "iasl is not installed (acpica-tools)";
    }
    // A fresh directory per run: other builds may run this test at once.
    std::string pattern = ::testing::TempDir() + "/acpi_iasl_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }

  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_);
  }

  // Writes each table to <signature>.aml and disassembles it. The RSDP is
  // written but not disassembled: iasl 20200925 rejects it as a file
  // ("does not contain a valid ACPI table"); tables_test.cc checks it.
  void DisassembleAll(const AcpiTables& tables) {
    for (const auto& [signature, bytes] : TablesForDump(tables)) {
      std::string file = signature + ".aml";
      std::ofstream(dir_ / file, std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()),
                 static_cast<std::streamsize>(bytes.size()));
      if (signature == "RSDP") continue;
      CommandResult r = RunShell("cd '" + dir_.string() + "' && iasl -d " + file);
      EXPECT_EQ(r.exit_status, 0) << signature << ":\n" << r.output;
      // ACPICA reports a bad checksum or length as a "Firmware Warning".
      EXPECT_EQ(r.output.find("Error"), std::string::npos) << signature << ":\n" << r.output;
      EXPECT_EQ(r.output.find("Warning"), std::string::npos) << signature << ":\n" << r.output;
      EXPECT_TRUE(std::filesystem::exists(dir_ / (signature + ".dsl"))) << signature << ":\n"
                                                                        << r.output;
    }
  }

  std::filesystem::path dir_;
};

AcpiConfig FullConfig() {
  return AcpiConfig{.num_cpus = 4,
                    .virtio_mmio = {{memory::kVirtioMmioBase, 0x1000, 5},
                                    {memory::kVirtioMmioBase + 0x1000, 0x1000, 6},
                                    {memory::kVirtioMmioBase + 0x2000, 0x1000, 7}},
                    .pvpanic = true};
}

TEST_F(IaslTest, DisassemblesEveryTable) {
  auto tables = BuildAcpiTables(FullConfig(), memory::kBiosRomStart, 0x20000);
  ASSERT_TRUE(tables.ok()) << tables.status();
  DisassembleAll(*tables);
  // The decoded text flags bad checksums and out-of-range fields inline.
  for (const char* name : {"FACP", "APIC", "XSDT", "DSDT"}) {
    std::string dsl = ReadFile(dir_ / (std::string(name) + ".dsl"));
    EXPECT_NE(dsl.find("Signature"), std::string::npos) << name;
    EXPECT_EQ(dsl.find("Incorrect checksum"), std::string::npos) << name << "\n" << dsl;
    EXPECT_EQ(dsl.find("Invalid"), std::string::npos) << name << "\n" << dsl;
  }
  std::string madt = ReadFile(dir_ / "APIC.dsl");
  EXPECT_NE(madt.find("Local Apic ID : 03"), std::string::npos) << madt;
}

TEST_F(IaslTest, DsdtRoundTripsThroughTheCompiler) {
  auto tables = BuildAcpiTables(FullConfig(), memory::kBiosRomStart, 0x20000);
  ASSERT_TRUE(tables.ok()) << tables.status();
  DisassembleAll(*tables);
  std::string dsl = ReadFile(dir_ / "DSDT.dsl");
  for (const char* expected :
       {"LNRO0005", "PNP0501", "QEMU0001", "_S5_", "Memory32Fixed", "IRQNoFlags",
        "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive"}) {
    EXPECT_NE(dsl.find(expected), std::string::npos) << expected << "\n" << dsl;
  }
  CommandResult r = RunShell("cd '" + dir_.string() + "' && iasl -p recompiled DSDT.dsl");
  EXPECT_EQ(r.exit_status, 0) << r.output;
  EXPECT_NE(r.output.find(" 0 Errors"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" 0 Warnings"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "recompiled.aml")) << r.output;
}

// acpiexec (also acpica-tools) loads the tables into ACPICA's interpreter,
// the same code Linux runs, and evaluates objects as the kernel would.
TEST_F(IaslTest, AcpicaLoadsTheTablesAndEvaluatesObjects) {
  if (std::system("command -v acpiexec >/dev/null 2>&1") != 0) GTEST_SKIP() << "no acpiexec";
  auto tables = BuildAcpiTables(FullConfig(), memory::kBiosRomStart, 0x20000);
  ASSERT_TRUE(tables.ok()) << tables.status();
  for (const auto& [signature, bytes] : TablesForDump(*tables)) {
    std::ofstream(dir_ / (signature + ".aml"), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  }
  CommandResult r = RunShell(
      "cd '" + dir_.string() +
      "' && acpiexec -b 'Evaluate \\_S5_; Evaluate \\_SB.VR02._HID; Evaluate \\_SB.VR02._CRS; "
      "Evaluate \\_SB.PEVT._CRS' FACP.aml FACS.aml DSDT.aml APIC.aml");
  EXPECT_EQ(r.exit_status, 0) << r.output;
  for (const char* bad : {"ACPI Error", "ACPI Warning", "Firmware Warning", "AE_NOT_FOUND"}) {
    EXPECT_EQ(r.output.find(bad), std::string::npos) << bad << "\n" << r.output;
  }
  // \_S5_ = {5, 0, 0, 0}; VR02 = LNRO0005 at 0xd0002000 with GSI 7; pvpanic
  // at I/O 0x505.
  for (const char* expected : {"[Integer] = 0000000000000005", "LNRO0005",
                               "86 09 00 01 00 20 00 D0 00 10 00 00 89 06 00 03",
                               "01 07 00 00 00 79 00", "47 01 05 05 05 05 01 01 79 00"}) {
    EXPECT_NE(r.output.find(expected), std::string::npos) << expected << "\n" << r.output;
  }
}

}  // namespace
}  // namespace vmm::acpi
