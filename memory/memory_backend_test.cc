// SPDX-License-Identifier: MIT
#include "memory/memory_backend.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "memory/guest_memory.h"
#include "memory/testing/hugetlb_reservation.h"

namespace memory {
namespace {

TEST(MemoryBackend, ParsesTheThreeNamesAndRefusesOthersByName) {
  EXPECT_EQ(*ParseMemoryBackend("memfd"), MemoryBackend::kMemfd);
  EXPECT_EQ(*ParseMemoryBackend("thp"), MemoryBackend::kThp);
  EXPECT_EQ(*ParseMemoryBackend("hugetlb"), MemoryBackend::kHugetlb);
  for (const char* bad : {"", "THP", "hugetlbfs", "memfd ", "2M"}) {
    absl::StatusOr<MemoryBackend> b = ParseMemoryBackend(bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(b.status().message().find(std::string("'") + bad + "'"), std::string::npos) << b.status();
  }
  for (MemoryBackend b : {MemoryBackend::kMemfd, MemoryBackend::kThp, MemoryBackend::kHugetlb}) {
    EXPECT_EQ(*ParseMemoryBackend(MemoryBackendName(b)), b);
  }
}

TEST(MemoryBackend, HugeBackendsDiscardInTwoMegabytePages) {
  EXPECT_EQ(BackingPageSize(MemoryBackend::kMemfd), kPageSize);
  EXPECT_EQ(BackingPageSize(MemoryBackend::kThp), 2 * kMiB);
  EXPECT_EQ(BackingPageSize(MemoryBackend::kHugetlb), 2 * kMiB);
}

TEST(MemoryBackend, ThpSettingIsReadable) {
  const std::string setting = ShmemThpSetting();
  std::printf("shmem THP on this host: '%s' (huge pages for MADV_HUGEPAGE mappings: %s)\n", setting.c_str(),
              ShmemThpAllowsAdvisedHugePages(setting) ? "yes" : "no");
  EXPECT_FALSE(setting.empty());
  EXPECT_TRUE(ShmemThpAllowsAdvisedHugePages("advise"));
  EXPECT_FALSE(ShmemThpAllowsAdvisedHugePages("never"));
  EXPECT_FALSE(ShmemThpAllowsAdvisedHugePages("deny"));
}

TEST(MemoryBackend, HugeBackendsRefuseRegionsOffTwoMegabyteBoundaries) {
  for (MemoryBackend b : {MemoryBackend::kThp, MemoryBackend::kHugetlb}) {
    absl::StatusOr<GuestMemory> mem = GuestMemory::Create({{0, 3 * kMiB}}, b);
    ASSERT_FALSE(mem.ok());
    EXPECT_NE(mem.status().message().find("2 MiB"), std::string::npos) << mem.status();
    mem = GuestMemory::Create({{0, 2 * kMiB}, {5 * kMiB, 2 * kMiB}}, b);
    ASSERT_FALSE(mem.ok());
  }
  // 4 KiB granularity stays fine for memfd.
  EXPECT_TRUE(GuestMemory::Create({{0, 3 * kMiB}}, MemoryBackend::kMemfd).ok());
}

TEST(MemoryBackend, ThpMemoryWorksLikeMemfd) {
  absl::StatusOr<GuestMemory> mem = GuestMemory::Create({{0, 8 * kMiB}, {16 * kMiB, 8 * kMiB}}, MemoryBackend::kThp);
  ASSERT_TRUE(mem.ok()) << mem.status();
  EXPECT_EQ(mem->backend(), MemoryBackend::kThp);
  EXPECT_EQ(mem->backing_page_size(), 2 * kMiB);
  std::vector<uint8_t> data(256 * 1024, 0x33);  // large enough for the bulk path
  ASSERT_TRUE(mem->WriteBytes(16 * kMiB, data).ok());
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(mem->ReadBacking(16 * kMiB, back).ok());
  EXPECT_EQ(back, data);
  ASSERT_TRUE(mem->Discard(16 * kMiB, 2 * kMiB).ok());
  EXPECT_EQ(*mem->Read<uint8_t>(16 * kMiB + 100), 0);
}

// All hugetlb checks in one test: they change the host's huge page pool.
TEST(MemoryBackend, HugetlbBacksRamWithReservedPagesAndFreesWholeOnes) {
  constexpr uint64_t kPages = 8;
  HugetlbReservation reservation(kPages);
  if (!reservation.ok()) GTEST_SKIP() << "no hugetlb pages: " << reservation.why_not();

  {
    absl::StatusOr<GuestMemory> mem = GuestMemory::Create({{0, kPages * 2 * kMiB}}, MemoryBackend::kHugetlb);
    ASSERT_TRUE(mem.ok()) << mem.status();
    EXPECT_EQ(mem->backing_page_size(), 2 * kMiB);
    const uint64_t free_before = FreeHugetlbPages();
    // Bulk writes cannot use write() on hugetlbfs; they must still land.
    std::vector<uint8_t> data(2 * kMiB, 0x5a);
    ASSERT_TRUE(mem->WriteBytes(2 * kMiB, data).ok());
    ASSERT_TRUE(mem->WriteBacking(4 * kMiB, data).ok());
    EXPECT_EQ(FreeHugetlbPages(), free_before - 2);
    std::vector<uint8_t> back(data.size());
    ASSERT_TRUE(mem->ReadBacking(2 * kMiB, back).ok());
    EXPECT_EQ(back, data);
    // A 4 KiB discard inside a huge page zeroes it and frees nothing.
    ASSERT_TRUE(mem->Discard(2 * kMiB, kPageSize).ok());
    EXPECT_EQ(*mem->Read<uint8_t>(2 * kMiB + 10), 0);
    EXPECT_EQ(*mem->Read<uint8_t>(2 * kMiB + kPageSize), 0x5a);
    EXPECT_EQ(FreeHugetlbPages(), free_before - 2);
    // A whole one goes back to the host.
    ASSERT_TRUE(mem->Discard(4 * kMiB, 2 * kMiB).ok());
    EXPECT_EQ(FreeHugetlbPages(), free_before - 1);
    EXPECT_EQ(*mem->Read<uint8_t>(4 * kMiB + 10), 0);
  }

  // With none reserved, the error says so at creation.
  ASSERT_TRUE(reservation.SetTotal(0));
  absl::StatusOr<GuestMemory> none = GuestMemory::Create({{0, 4 * kMiB}}, MemoryBackend::kHugetlb);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(none.status().message().find("nr_hugepages"), std::string::npos) << none.status();
  std::printf("hugetlb with none reserved: %s\n", std::string(none.status().message()).c_str());
}

}  // namespace
}  // namespace memory
