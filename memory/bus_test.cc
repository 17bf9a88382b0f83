// SPDX-License-Identifier: MIT
#include "memory/bus.h"

#include <gtest/gtest.h>

#include <vector>

namespace memory {
namespace {

class RecordingDevice : public BusDevice {
 public:
  void Read(uint64_t offset, std::span<uint8_t> data) override {
    last_read = offset;
    for (auto& b : data) b = 0x5a;
  }
  void Write(uint64_t offset, std::span<const uint8_t> data) override {
    last_write = offset;
    written.assign(data.begin(), data.end());
  }
  uint64_t last_read = ~0ull, last_write = ~0ull;
  std::vector<uint8_t> written;
};

TEST(Bus, DispatchesWithOffsets) {
  Bus bus("test");
  auto dev = std::make_shared<RecordingDevice>();
  ASSERT_TRUE(bus.Insert(0x3f8, 8, dev).ok());
  uint8_t value = 7;
  EXPECT_TRUE(bus.Write(0x3fb, {&value, 1}));
  EXPECT_EQ(dev->last_write, 3u);
  uint8_t out[2];
  EXPECT_TRUE(bus.Read(0x3fe, out));
  EXPECT_EQ(dev->last_read, 6u);
  EXPECT_EQ(out[1], 0x5a);
}

TEST(Bus, UnmappedReadsAllOnes) {
  Bus bus("test");
  uint8_t out[4] = {};
  EXPECT_FALSE(bus.Read(0x1234, out));
  EXPECT_EQ(out[0], 0xff);
  EXPECT_FALSE(bus.Write(0x1234, out));
}

TEST(Bus, AccessCrossingTheEndIsNotDispatched) {
  Bus bus("test");
  auto dev = std::make_shared<RecordingDevice>();
  ASSERT_TRUE(bus.Insert(0x100, 4, dev).ok());
  uint8_t out[4];
  EXPECT_FALSE(bus.Read(0x102, out));
  EXPECT_EQ(dev->last_read, ~0ull);
}

TEST(Bus, RejectsEmptyOverflowingAndOverlapping) {
  Bus bus("test");
  auto dev = std::make_shared<RecordingDevice>();
  EXPECT_FALSE(bus.Insert(0x100, 0, dev).ok());
  EXPECT_FALSE(bus.Insert(~0ull - 1, 4, dev).ok());
  ASSERT_TRUE(bus.Insert(0x100, 0x10, dev).ok());
  EXPECT_FALSE(bus.Insert(0x10f, 1, dev).ok());
  EXPECT_FALSE(bus.Insert(0xf8, 0x9, dev).ok());
  EXPECT_FALSE(bus.Insert(0x0, 0x1000, dev).ok());
  EXPECT_TRUE(bus.Insert(0x110, 1, dev).ok());
  EXPECT_TRUE(bus.Insert(0xf0, 0x10, dev).ok());
}

}  // namespace
}  // namespace memory
