// SPDX-License-Identifier: MIT
#include "vmm/guest_page_walk.h"

#include <gtest/gtest.h>

#include "memory/layout.h"
#include "vmm/kvm/x86_cpu_setup.h"

namespace vmm {
namespace {

TEST(GuestPageWalk, TranslatesThroughBootTables) {
  auto mem = memory::GuestMemory::Create({{0, 64 * memory::kMiB}});
  ASSERT_TRUE(mem.ok());
  ASSERT_TRUE(WriteIdentityPageTables(*mem).ok());
  kvm_sregs s = LongModeSregs(kvm_sregs{});
  EXPECT_EQ(*TranslateGuestVirtual(*mem, s, 0x1234567), 0x1234567u);
  ASSERT_TRUE(mem->Write<uint32_t>(0x200000, 0xa20fc70f).ok());
  EXPECT_EQ(GuestBytesAt(*mem, s, 0x200000, 4), "0f c7 0f a2");
}

TEST(GuestPageWalk, UnmappedAddressIsAnError) {
  auto mem = memory::GuestMemory::Create({{0, 64 * memory::kMiB}});
  ASSERT_TRUE(mem.ok());
  ASSERT_TRUE(WriteIdentityPageTables(*mem).ok());
  kvm_sregs s = LongModeSregs(kvm_sregs{});
  EXPECT_FALSE(TranslateGuestVirtual(*mem, s, 0xffffffff81000000ull).ok());
  EXPECT_NE(GuestBytesAt(*mem, s, 0xffffffff81000000ull, 4).find("unreadable"), std::string::npos);
}

TEST(GuestPageWalk, PagingOffIsIdentity) {
  auto mem = memory::GuestMemory::Create({{0, 64 * memory::kMiB}});
  ASSERT_TRUE(mem.ok());
  EXPECT_EQ(*TranslateGuestVirtual(*mem, kvm_sregs{}, 0x5000), 0x5000u);
}

}  // namespace
}  // namespace vmm
