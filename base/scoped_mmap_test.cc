// SPDX-License-Identifier: MIT
#include "base/scoped_mmap.h"

#include <sys/mman.h>

#include <gtest/gtest.h>

namespace base {
namespace {

TEST(ScopedMmap, MapsAndMovesOwnership) {
  auto m = ScopedMmap::Map(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_TRUE(m.ok());
  m->data()[0] = 42;
  ScopedMmap moved = std::move(*m);
  EXPECT_EQ(m->data(), nullptr);
  EXPECT_EQ(moved.data()[0], 42);
  EXPECT_EQ(moved.size(), 4096u);
}

TEST(ScopedMmap, RejectsZeroLength) {
  EXPECT_FALSE(ScopedMmap::Map(0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS).ok());
}

}  // namespace
}  // namespace base
