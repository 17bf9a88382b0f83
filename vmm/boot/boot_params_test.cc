// SPDX-License-Identifier: MIT
#include "vmm/boot/boot_params.h"

#include <asm/bootparam.h>
#include <gtest/gtest.h>

#include <cstring>

#include "vmm/boot/bzimage.h"
#include "vmm/boot/testing/test_images.h"

namespace vmm::boot {
namespace {

using testing::MakeGuestMemory;
using testing::Unpacked;

boot_params ReadParams(const memory::GuestMemory& mem) {
  auto params = mem.Read<boot_params>(memory::kBootParamsAddress);
  EXPECT_TRUE(params.ok()) << params.status();
  return params.ok() ? *params : boot_params{};
}

std::string ReadCmdline(const memory::GuestMemory& mem, size_t size) {
  std::string s(size, '\0');
  EXPECT_TRUE(
      mem.ReadBytes(memory::kCmdlineAddress, {reinterpret_cast<uint8_t*>(s.data()), size}).ok());
  return s;
}

BootParamsInput BasicInput(const memory::GuestMemory& mem) {
  std::vector<memory::RamRegion> ram;
  for (const auto& r : mem.Regions()) ram.push_back({r.gpa, r.size});
  return BootParamsInput{
      .cmdline = "console=ttyS0 quiet",
      .e820 = memory::E820Map(ram),
      .acpi_rsdp_addr = 0xe0000,
  };
}

TEST(BootParamsTest, SynthesizesHeaderForBareVmlinux) {
  memory::GuestMemory mem = MakeGuestMemory();
  BootParamsInput input = BasicInput(mem);
  input.initrd = InitrdPlacement{.gpa = 0x3f00000, .size = 0x12345};
  ASSERT_TRUE(WriteBootParams(mem, input).ok());

  boot_params p = ReadParams(mem);
  EXPECT_EQ(Unpacked(p.hdr.boot_flag), 0xaa55);
  EXPECT_EQ(Unpacked(p.hdr.header), 0x53726448u);
  EXPECT_EQ(Unpacked(p.hdr.version), kSyntheticBootProtocol);
  EXPECT_EQ(Unpacked(p.hdr.kernel_alignment), 0x1000000u);
  EXPECT_EQ(Unpacked(p.hdr.type_of_loader), 0xff);
  EXPECT_TRUE(p.hdr.loadflags & LOADED_HIGH);
  EXPECT_EQ(Unpacked(p.hdr.cmd_line_ptr), memory::kCmdlineAddress);
  EXPECT_EQ(Unpacked(p.ext_cmd_line_ptr), 0u);
  EXPECT_EQ(Unpacked(p.hdr.ramdisk_image), 0x3f00000u);
  EXPECT_EQ(Unpacked(p.hdr.ramdisk_size), 0x12345u);
  EXPECT_EQ(Unpacked(p.ext_ramdisk_image), 0u);
  EXPECT_EQ(Unpacked(p.acpi_rsdp_addr), 0xe0000u);
  ASSERT_EQ(Unpacked(p.e820_entries), input.e820.size());
  for (size_t i = 0; i < input.e820.size(); ++i) {
    EXPECT_EQ(Unpacked(p.e820_table[i].addr), input.e820[i].addr);
    EXPECT_EQ(Unpacked(p.e820_table[i].size), input.e820[i].size);
    EXPECT_EQ(Unpacked(p.e820_table[i].type), static_cast<uint32_t>(input.e820[i].type));
  }
  EXPECT_EQ(ReadCmdline(mem, input.cmdline.size() + 1), input.cmdline + '\0');
}

TEST(BootParamsTest, CopiesBzImageHeader) {
  memory::GuestMemory mem = MakeGuestMemory();
  std::vector<uint8_t> payload = {0x1f, 0x8b, 0, 0};
  std::vector<uint8_t> file = testing::BuildBzImage(payload, [](setup_header& h) {
    h.setup_data = 0x1234;  // junk a loader must not pass on
    h.ramdisk_image = 0x999;
  });
  auto image = ParseBzImage(file);
  ASSERT_TRUE(image.ok()) << image.status();
  BootParamsInput input = BasicInput(mem);
  input.setup_header = image->header_bytes;
  ASSERT_TRUE(WriteBootParams(mem, input).ok());

  boot_params p = ReadParams(mem);
  EXPECT_EQ(Unpacked(p.hdr.version), 0x020f);
  EXPECT_EQ(Unpacked(p.hdr.setup_sects), 4);
  EXPECT_EQ(Unpacked(p.hdr.initrd_addr_max), 0x7fffffffu);
  EXPECT_EQ(Unpacked(p.hdr.cmdline_size), 2047u);
  EXPECT_EQ(Unpacked(p.hdr.xloadflags), XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
  EXPECT_EQ(Unpacked(p.hdr.type_of_loader), 0xff);
  EXPECT_EQ(Unpacked(p.hdr.setup_data), 0u);
  EXPECT_EQ(Unpacked(p.hdr.ramdisk_image), 0u);
  EXPECT_EQ(Unpacked(p.hdr.ramdisk_size), 0u);
  // Nothing outside hdr came from the file.
  EXPECT_EQ(Unpacked(p.sentinel), 0);
}

TEST(BootParamsTest, RngSeedIsOneSetupDataEntry) {
  memory::GuestMemory mem = MakeGuestMemory();
  BootParamsInput input = BasicInput(mem);
  for (uint8_t i = 0; i < 32; ++i) input.rng_seed.push_back(static_cast<uint8_t>(0xa0 + i));
  ASSERT_TRUE(WriteBootParams(mem, input).ok());

  boot_params p = ReadParams(mem);
  ASSERT_EQ(Unpacked(p.hdr.setup_data), memory::kSetupDataAddress);
  auto next = mem.Read<uint64_t>(memory::kSetupDataAddress);
  auto type = mem.Read<uint32_t>(memory::kSetupDataAddress + 8);
  auto len = mem.Read<uint32_t>(memory::kSetupDataAddress + 12);
  ASSERT_TRUE(next.ok() && type.ok() && len.ok());
  EXPECT_EQ(*next, 0u);  // the end of the list
  EXPECT_EQ(*type, uint32_t{SETUP_RNG_SEED});
  ASSERT_EQ(*len, 32u);
  std::vector<uint8_t> data(32);
  ASSERT_TRUE(mem.ReadBytes(memory::kSetupDataAddress + 16, data).ok());
  EXPECT_EQ(data, input.rng_seed);
  // The entry does not reach into the command line's buffer or past its page.
  EXPECT_LE(memory::kCmdlineAddress + memory::kCmdlineMaxSize, memory::kSetupDataAddress);
  EXPECT_LE(16 + kMaxRngSeedBytes, memory::kPageSize);
}

TEST(BootParamsTest, NoSetupDataWithoutSeed) {
  memory::GuestMemory mem = MakeGuestMemory();
  ASSERT_TRUE(WriteBootParams(mem, BasicInput(mem)).ok());
  EXPECT_EQ(Unpacked(ReadParams(mem).hdr.setup_data), 0u);
}

TEST(BootParamsTest, RejectsOversizedRngSeed) {
  memory::GuestMemory mem = MakeGuestMemory();
  BootParamsInput input = BasicInput(mem);
  input.rng_seed.assign(kMaxRngSeedBytes + 1, 1);
  EXPECT_EQ(WriteBootParams(mem, input).code(), absl::StatusCode::kInvalidArgument);
}

TEST(BootParamsTest, HighInitrdUsesExtFields) {
  memory::GuestMemory mem = MakeGuestMemory();
  BootParamsInput input = BasicInput(mem);
  input.initrd = InitrdPlacement{.gpa = 0x123456000ull, .size = 0x100001000ull};
  ASSERT_TRUE(WriteBootParams(mem, input).ok());
  boot_params p = ReadParams(mem);
  EXPECT_EQ(Unpacked(p.hdr.ramdisk_image), 0x23456000u);
  EXPECT_EQ(Unpacked(p.ext_ramdisk_image), 1u);
  EXPECT_EQ(Unpacked(p.hdr.ramdisk_size), 0x1000u);
  EXPECT_EQ(Unpacked(p.ext_ramdisk_size), 1u);
}

TEST(BootParamsTest, CmdlineLimitedByKernelCmdlineSize) {
  memory::GuestMemory mem = MakeGuestMemory();
  auto image = ParseBzImage(testing::BuildBzImage(std::vector<uint8_t>{0x1f, 0x8b}));
  ASSERT_TRUE(image.ok());
  BootParamsInput input = BasicInput(mem);
  input.setup_header = image->header_bytes;
  input.cmdline = std::string(2047, 'a');
  EXPECT_TRUE(WriteBootParams(mem, input).ok());
  input.cmdline = std::string(2048, 'a');
  EXPECT_EQ(WriteBootParams(mem, input).code(), absl::StatusCode::kInvalidArgument);
}

TEST(BootParamsTest, CmdlineLimitedByBuffer) {
  memory::GuestMemory mem = MakeGuestMemory();
  BootParamsInput input = BasicInput(mem);
  input.cmdline = std::string(memory::kCmdlineMaxSize - 1, 'a');
  EXPECT_TRUE(WriteBootParams(mem, input).ok());
  input.cmdline = std::string(memory::kCmdlineMaxSize, 'a');
  EXPECT_FALSE(WriteBootParams(mem, input).ok());
}

TEST(BootParamsTest, RejectsNulInCmdline) {
  memory::GuestMemory mem = MakeGuestMemory();
  BootParamsInput input = BasicInput(mem);
  input.cmdline = std::string("a\0b", 3);
  EXPECT_FALSE(WriteBootParams(mem, input).ok());
}

TEST(BootParamsTest, RejectsTooManyE820Entries) {
  memory::GuestMemory mem = MakeGuestMemory();
  BootParamsInput input = BasicInput(mem);
  input.e820.assign(129, memory::E820Entry{0x100000, 0x1000, memory::E820Type::kRam});
  EXPECT_FALSE(WriteBootParams(mem, input).ok());
  input.e820.resize(128);
  ASSERT_TRUE(WriteBootParams(mem, input).ok());
  EXPECT_EQ(ReadParams(mem).e820_entries, 128);
}

}  // namespace
}  // namespace vmm::boot
