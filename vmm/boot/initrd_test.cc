// SPDX-License-Identifier: MIT
#include "vmm/boot/initrd.h"

#include <gtest/gtest.h>

#include "vmm/boot/testing/test_images.h"

namespace vmm::boot {
namespace {

using testing::MakeGuestMemory;
using testing::TempDir;
using testing::TestData;

TEST(InitrdTest, PlacedHighestPageAlignedBelowLimit) {
  TempDir dir;
  std::vector<uint8_t> data = TestData(10000, 3);
  std::string path = dir.WriteFile("initrd", data);
  memory::GuestMemory mem = MakeGuestMemory(64ull << 20);
  auto placed = LoadInitrd(path, mem, kDefaultInitrdAddrMax, 0x1205000);
  ASSERT_TRUE(placed.ok()) << placed.status();
  EXPECT_EQ(placed->size, data.size());
  EXPECT_EQ(placed->gpa % memory::kPageSize, 0u);
  // End of the 64 MiB RAM, rounded down to a page for 10000 bytes.
  EXPECT_EQ(placed->gpa, (64ull << 20) - 3 * memory::kPageSize);
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(mem.ReadBytes(placed->gpa, back).ok());
  EXPECT_TRUE(back == data);
}

TEST(InitrdTest, HonoursInitrdAddrMax) {
  TempDir dir;
  std::string path = dir.WriteFile("initrd", TestData(4096));
  memory::GuestMemory mem = MakeGuestMemory(64ull << 20);
  auto placed = LoadInitrd(path, mem, 0x1ffffff, 0x1205000);
  ASSERT_TRUE(placed.ok()) << placed.status();
  EXPECT_EQ(placed->gpa, 0x2000000u - 4096);
}

TEST(InitrdTest, StaysBelowTheMmioHoleWithLargeRam) {
  TempDir dir;
  std::string path = dir.WriteFile("initrd", TestData(4096));
  memory::GuestMemory mem = MakeGuestMemory(4ull << 30);  // reserved lazily, never touched
  auto placed = LoadInitrd(path, mem, 0xffffffffull, 0x1205000);
  ASSERT_TRUE(placed.ok()) << placed.status();
  EXPECT_EQ(placed->gpa, memory::kMmioHoleStart - 4096);
}

TEST(InitrdTest, DoesNotFitAboveKernel) {
  TempDir dir;
  std::string path = dir.WriteFile("initrd", TestData(8ull << 20));
  memory::GuestMemory mem = MakeGuestMemory(32ull << 20);
  auto placed = LoadInitrd(path, mem, kDefaultInitrdAddrMax, 26ull << 20);
  EXPECT_EQ(placed.status().code(), absl::StatusCode::kResourceExhausted) << placed.status();
}

TEST(InitrdTest, MissingAndEmptyFiles) {
  TempDir dir;
  memory::GuestMemory mem = MakeGuestMemory();
  EXPECT_EQ(LoadInitrd(dir.path() + "/nope", mem, kDefaultInitrdAddrMax, 0x1200000).status().code(),
            absl::StatusCode::kNotFound);
  std::string empty = dir.WriteFile("empty", {});
  EXPECT_EQ(LoadInitrd(empty, mem, kDefaultInitrdAddrMax, 0x1200000).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadInitrd(dir.path(), mem, kDefaultInitrdAddrMax, 0x1200000).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(InitrdTest, AddrMaxFromHeader) {
  EXPECT_EQ(InitrdAddrMax(std::nullopt), kDefaultInitrdAddrMax);
  setup_header hdr{};
  hdr.version = 0x020f;
  hdr.initrd_addr_max = 0x7fffffff;
  std::vector<uint8_t> bytes(sizeof(hdr));
  std::memcpy(bytes.data(), &hdr, sizeof(hdr));
  EXPECT_EQ(InitrdAddrMax(bytes), 0x7fffffffu);
  hdr.version = 0x0202;
  std::memcpy(bytes.data(), &hdr, sizeof(hdr));
  EXPECT_EQ(InitrdAddrMax(bytes), kDefaultInitrdAddrMax);
}

}  // namespace
}  // namespace vmm::boot
