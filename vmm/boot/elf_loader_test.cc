// SPDX-License-Identifier: MIT
#include "vmm/boot/elf_loader.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>

#include "vmm/boot/testing/test_images.h"

namespace vmm::boot {
namespace {

using testing::BuildElf;
using testing::DefaultElfSpec;
using testing::ElfSpec;
using testing::MakeGuestMemory;

std::vector<uint8_t> ReadGuest(const memory::GuestMemory& mem, uint64_t gpa, size_t size) {
  std::vector<uint8_t> out(size);
  EXPECT_TRUE(mem.ReadBytes(gpa, out).ok());
  return out;
}

TEST(ElfLoaderTest, LoadsSegmentsAndZeroesBss) {
  memory::GuestMemory mem = MakeGuestMemory();
  ElfSpec spec = DefaultElfSpec();
  // Dirty the bss first: it must be cleared, not assumed zero.
  std::vector<uint8_t> junk(0x5000, 0xcc);
  ASSERT_TRUE(mem.WriteBytes(0x1200000, junk).ok());

  auto kernel = LoadElfKernel(BuildElf(spec), mem);
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  EXPECT_EQ(kernel->entry_64, 0x1000000u);
  ASSERT_TRUE(kernel->pvh_entry.has_value());
  EXPECT_EQ(*kernel->pvh_entry, 0x1000040u);
  EXPECT_EQ(kernel->load_start, 0x1000000u);
  EXPECT_EQ(kernel->load_end, 0x1205000u);
  EXPECT_FALSE(kernel->setup_header.has_value());

  EXPECT_TRUE(ReadGuest(mem, 0x1000000, 0x3000) == spec.segments[0].data);
  EXPECT_TRUE(ReadGuest(mem, 0x1200000, 0x800) == spec.segments[1].data);
  EXPECT_TRUE(ReadGuest(mem, 0x1200800, 0x4800) == std::vector<uint8_t>(0x4800, 0));
}

TEST(ElfLoaderTest, VirtualEntryIsTranslatedToPhysical) {
  memory::GuestMemory mem = MakeGuestMemory();
  ElfSpec spec = DefaultElfSpec();
  spec.entry = 0xffffffff81000200ull;
  auto kernel = LoadElfKernel(BuildElf(spec), mem);
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  EXPECT_EQ(kernel->entry_64, 0x1000200u);
}

TEST(ElfLoaderTest, EightBytePvhNoteIsRead) {
  memory::GuestMemory mem = MakeGuestMemory();
  ElfSpec spec = DefaultElfSpec();
  spec.pvh_desc_size = 8;
  auto kernel = LoadElfKernel(BuildElf(spec), mem);
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  EXPECT_EQ(kernel->pvh_entry, std::optional<uint64_t>(0x1000040));
}

TEST(ElfLoaderTest, NoPvhNoteMeansNoPvhEntry) {
  memory::GuestMemory mem = MakeGuestMemory();
  ElfSpec spec = DefaultElfSpec();
  spec.pvh_entry.reset();
  auto kernel = LoadElfKernel(BuildElf(spec), mem);
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  EXPECT_FALSE(kernel->pvh_entry.has_value());
}

TEST(ElfLoaderTest, EntryOutsideSegmentsIsRejected) {
  memory::GuestMemory mem = MakeGuestMemory();
  ElfSpec spec = DefaultElfSpec();
  spec.entry = 0x3000000;
  EXPECT_EQ(LoadElfKernel(BuildElf(spec), mem).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ElfLoaderTest, RejectsWrongMachineTypeAndClass) {
  memory::GuestMemory mem = MakeGuestMemory();
  ElfSpec spec = DefaultElfSpec();
  spec.machine = EM_AARCH64;
  EXPECT_FALSE(LoadElfKernel(BuildElf(spec), mem).ok());
  spec = DefaultElfSpec();
  spec.type = ET_DYN;
  EXPECT_FALSE(LoadElfKernel(BuildElf(spec), mem).ok());
  std::vector<uint8_t> elf = BuildElf(DefaultElfSpec());
  elf[EI_CLASS] = ELFCLASS32;
  EXPECT_FALSE(LoadElfKernel(elf, mem).ok());
  elf = BuildElf(DefaultElfSpec());
  elf[0] = 0;
  EXPECT_EQ(LoadElfKernel(elf, mem).status().message(), "not an ELF file (bad magic)");
}

TEST(ElfLoaderTest, RejectsSegmentOutsideGuestRam) {
  memory::GuestMemory mem = MakeGuestMemory();
  ElfSpec spec = DefaultElfSpec();
  spec.segments[1].paddr = 0x3fff000;  // 64 MiB RAM: bss runs past the end
  auto kernel = LoadElfKernel(BuildElf(spec), mem);
  EXPECT_EQ(kernel.status().code(), absl::StatusCode::kOutOfRange) << kernel.status();
}

TEST(ElfLoaderTest, RejectsSegmentBelowOneMiB) {
  memory::GuestMemory mem = MakeGuestMemory();
  ElfSpec spec = DefaultElfSpec();
  spec.segments[1].paddr = 0x7000;
  EXPECT_FALSE(LoadElfKernel(BuildElf(spec), mem).ok());
}

TEST(ElfLoaderTest, RejectsFileSizeAboveMemSize) {
  memory::GuestMemory mem = MakeGuestMemory();
  ElfSpec spec = DefaultElfSpec();
  spec.segments[0].memsz = 0x100;
  EXPECT_FALSE(LoadElfKernel(BuildElf(spec), mem).ok());
}

TEST(ElfLoaderTest, RejectsOverlappingSegments) {
  memory::GuestMemory mem = MakeGuestMemory();
  ElfSpec spec = DefaultElfSpec();
  spec.segments[1].paddr = 0x1002000;
  auto kernel = LoadElfKernel(BuildElf(spec), mem);
  EXPECT_NE(std::string(kernel.status().message()).find("overlap"), std::string::npos)
      << kernel.status();
}

TEST(ElfLoaderTest, RejectsWrappingSegment) {
  memory::GuestMemory mem = MakeGuestMemory();
  ElfSpec spec = DefaultElfSpec();
  spec.segments[1].paddr = 0xfffffffffffff000ull;
  spec.segments[1].memsz = 0x2000;
  EXPECT_FALSE(LoadElfKernel(BuildElf(spec), mem).ok());
}

TEST(ElfLoaderTest, RejectsSegmentBytesOutsideFile) {
  memory::GuestMemory mem = MakeGuestMemory();
  std::vector<uint8_t> elf = BuildElf(DefaultElfSpec());
  // Point the first PT_LOAD's file offset near 2^64.
  Elf64_Phdr ph;
  std::memcpy(&ph, elf.data() + sizeof(Elf64_Ehdr), sizeof(ph));
  ph.p_offset = 0xfffffffffffff000ull;
  std::memcpy(elf.data() + sizeof(Elf64_Ehdr), &ph, sizeof(ph));
  EXPECT_EQ(LoadElfKernel(elf, mem).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ElfLoaderTest, RejectsTruncatedFiles) {
  memory::GuestMemory mem = MakeGuestMemory();
  std::vector<uint8_t> elf = BuildElf(DefaultElfSpec());
  for (size_t size : {size_t{10}, sizeof(Elf64_Ehdr) + 8, size_t{0x1800}, elf.size() - 1}) {
    std::vector<uint8_t> cut(elf.begin(), elf.begin() + size);
    auto kernel = LoadElfKernel(cut, mem);
    EXPECT_EQ(kernel.status().code(), absl::StatusCode::kDataLoss)
        << size << ": " << kernel.status();
  }
}

TEST(ElfLoaderTest, NothingIsWrittenWhenALaterSegmentIsBad) {
  memory::GuestMemory mem = MakeGuestMemory();
  ElfSpec spec = DefaultElfSpec();
  spec.segments[1].paddr = 0x3fff000;
  ASSERT_FALSE(LoadElfKernel(BuildElf(spec), mem).ok());
  EXPECT_TRUE(ReadGuest(mem, 0x1000000, 0x3000) == std::vector<uint8_t>(0x3000, 0));
}

}  // namespace
}  // namespace vmm::boot
