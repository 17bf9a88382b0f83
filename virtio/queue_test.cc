// SPDX-License-Identifier: MIT
#include "virtio/queue.h"

#include "virtio/virtio_ring_uapi.h"

#include <gtest/gtest.h>

#include "virtio/testing/fake_driver.h"

namespace virtio {
namespace {

using memory::GuestMemory;
using memory::kPageSize;

constexpr uint16_t kSize = 8;
constexpr memory::Gpa kRings = 0x10000;
constexpr memory::Gpa kData = 0x40000;
constexpr memory::Gpa kTable = 0x80000;
constexpr uint64_t kRamSize = 1 << 20;  // [0, 1 MiB); a second region at 2 MiB
constexpr memory::Gpa kHighRegion = 2 << 20;

class QueueTest : public ::testing::Test {
 protected:
  QueueTest()
      : mem_(std::move(*GuestMemory::Create({{0, kRamSize}, {kHighRegion, kRamSize}}))),
        driver_(mem_, kRings, kSize),
        queue_(kSize) {
    driver_.Configure(queue_);
  }

  absl::StatusOr<std::optional<DescriptorChain>> Pop() { return queue_.PopChain(mem_); }

  GuestMemory mem_;
  FakeDriver driver_;
  Queue queue_;
};

TEST_F(QueueTest, EmptyQueuePopsNothing) {
  auto chain = Pop();
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_FALSE(chain->has_value());
}

TEST_F(QueueTest, PopsDirectChainInOrder) {
  FakeDriver::Buffer bufs[] = {{kData, 100, false}, {kData + 0x1000, 200, false},
                               {kData + 0x2000, 300, true}};
  uint16_t head = driver_.AddChain(bufs);
  auto chain = Pop();
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_TRUE(chain->has_value());
  const DescriptorChain& c = **chain;
  EXPECT_EQ(c.head, head);
  ASSERT_EQ(c.descriptors.size(), 3u);
  EXPECT_EQ(c.descriptors[0].gpa, kData);
  EXPECT_EQ(c.descriptors[0].len, 100u);
  EXPECT_FALSE(c.descriptors[0].writable);
  EXPECT_EQ(c.descriptors[2].len, 300u);
  EXPECT_TRUE(c.descriptors[2].writable);
  EXPECT_EQ(queue_.last_avail_idx(), 1);
  EXPECT_FALSE(Pop()->has_value());
}

TEST_F(QueueTest, PopsIndirectChain) {
  FakeDriver::Buffer bufs[] = {{kData, 16, false}, {kData + 0x100, 32, true}};
  uint16_t head = driver_.AddIndirectChain(bufs, kTable);
  auto chain = Pop();
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_TRUE(chain->has_value());
  EXPECT_EQ((*chain)->head, head);
  ASSERT_EQ((*chain)->descriptors.size(), 2u);
  EXPECT_EQ((*chain)->descriptors[1].gpa, kData + 0x100);
  EXPECT_TRUE((*chain)->descriptors[1].writable);
}

TEST_F(QueueTest, IndicesWrapAround16Bits) {
  queue_.set_indices(0xfffe, 0xfffe);
  driver_.SetAvailIdx(0xfffe);
  for (int i = 0; i < 4; ++i) {
    FakeDriver::Buffer buf[] = {{kData, 8, false}};
    driver_.AddChain(buf);
    auto chain = Pop();
    ASSERT_TRUE(chain.ok()) << chain.status();
    ASSERT_TRUE(chain->has_value());
    ASSERT_TRUE(queue_.AddUsed(mem_, (*chain)->head, 0).ok());
  }
  EXPECT_EQ(queue_.last_avail_idx(), 2);
  EXPECT_EQ(driver_.UsedIdx(), 2);
}

TEST_F(QueueTest, AddUsedWritesElementAndIdx) {
  FakeDriver::Buffer buf[] = {{kData, 8, true}};
  uint16_t head = driver_.AddChain(buf);
  ASSERT_TRUE(Pop()->has_value());
  ASSERT_TRUE(queue_.AddUsed(mem_, head, 5).ok());
  EXPECT_EQ(driver_.UsedIdx(), 1);
  EXPECT_EQ(driver_.UsedAt(0).id, head);
  EXPECT_EQ(driver_.UsedAt(0).len, 5u);
  EXPECT_FALSE(queue_.AddUsed(mem_, kSize, 0).ok());
}

TEST_F(QueueTest, RejectsDescriptorIndexOutOfRange) {
  driver_.PublishHead(kSize);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsNextIndexOutOfRange) {
  driver_.WriteDesc(0, kData, 8, VRING_DESC_F_NEXT, kSize + 3);
  driver_.PublishHead(0);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsAddressOutsideRam) {
  driver_.WriteDesc(0, kRamSize + 0x1000, 8, 0, 0);  // in the gap between regions
  driver_.PublishHead(0);
  EXPECT_EQ(Pop().status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(QueueTest, RejectsBufferStraddlingRegionEnd) {
  driver_.WriteDesc(0, kRamSize - 4, 8, 0, 0);
  driver_.PublishHead(0);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsLengthOverflow) {
  driver_.WriteDesc(0, ~0ull - 8, 0xffffffff, 0, 0);
  driver_.PublishHead(0);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsLoopingChain) {
  driver_.WriteDesc(0, kData, 8, VRING_DESC_F_NEXT, 1);
  driver_.WriteDesc(1, kData, 8, VRING_DESC_F_NEXT, 0);
  driver_.PublishHead(0);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsSelfLoop) {
  driver_.WriteDesc(3, kData, 8, VRING_DESC_F_NEXT, 3);
  driver_.PublishHead(3);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, AcceptsChainOfQueueSizeButNotLonger) {
  for (uint16_t i = 0; i < kSize; ++i) {
    bool last = i + 1 == kSize;
    driver_.WriteDesc(i, kData, 8, last ? 0 : VRING_DESC_F_NEXT, last ? 0 : i + 1);
  }
  driver_.PublishHead(0);
  auto chain = Pop();
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ((*chain)->descriptors.size(), kSize);
  // Same chain, but the last one points back: one too many.
  driver_.WriteDesc(kSize - 1, kData, 8, VRING_DESC_F_NEXT, 0);
  driver_.PublishHead(0);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsNestedIndirect) {
  driver_.WriteDescAt(kTable, kTable + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
  driver_.WriteDescAt(kTable + 0x100, kData, 8, 0, 0);
  driver_.WriteDesc(0, kTable, 16, VRING_DESC_F_INDIRECT, 0);
  driver_.PublishHead(0);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsIndirectLengthNotMultipleOf16) {
  driver_.WriteDescAt(kTable, kData, 8, 0, 0);
  driver_.WriteDesc(0, kTable, 24, VRING_DESC_F_INDIRECT, 0);
  driver_.PublishHead(0);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsEmptyIndirectTable) {
  driver_.WriteDesc(0, kTable, 0, VRING_DESC_F_INDIRECT, 0);
  driver_.PublishHead(0);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsIndirectTableOutsideRam) {
  driver_.WriteDesc(0, kRamSize - 16, 32, VRING_DESC_F_INDIRECT, 0);
  driver_.PublishHead(0);
  EXPECT_EQ(Pop().status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(QueueTest, RejectsIndirectNextOutsideTable) {
  driver_.WriteDescAt(kTable, kData, 8, VRING_DESC_F_NEXT, 2);  // table has 2 entries
  driver_.WriteDescAt(kTable + 16, kData, 8, 0, 0);
  driver_.WriteDesc(0, kTable, 32, VRING_DESC_F_INDIRECT, 0);
  driver_.PublishHead(0);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsLoopInsideIndirectTable) {
  driver_.WriteDescAt(kTable, kData, 8, VRING_DESC_F_NEXT, 1);
  driver_.WriteDescAt(kTable + 16, kData, 8, VRING_DESC_F_NEXT, 0);
  driver_.WriteDesc(0, kTable, 32, VRING_DESC_F_INDIRECT, 0);
  driver_.PublishHead(0);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsIndirectWithNext) {
  driver_.WriteDescAt(kTable, kData, 8, 0, 0);
  driver_.WriteDesc(0, kTable, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
  driver_.WriteDesc(1, kData, 8, 0, 0);
  driver_.PublishHead(0);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsReadableAfterWritable) {
  FakeDriver::Buffer bufs[] = {{kData, 8, true}, {kData, 8, false}};
  driver_.AddChain(bufs);
  EXPECT_FALSE(Pop().ok());
}

TEST_F(QueueTest, RejectsAvailIdxJumpBeyondSize) {
  driver_.SetAvailIdx(kSize + 1);
  EXPECT_EQ(Pop().status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(QueueTest, AcceptsAvailIdxJumpOfExactlySize) {
  for (int i = 0; i < kSize; ++i) {
    FakeDriver::Buffer buf[] = {{kData, 8, false}};
    driver_.AddChain(buf);
  }
  for (int i = 0; i < kSize; ++i) ASSERT_TRUE(Pop()->has_value());
  EXPECT_FALSE(Pop()->has_value());
}

TEST_F(QueueTest, DescriptorIsReadOnce) {
  // The copy is what matters: rewriting the table after the pop changes
  // nothing in the chain already returned.
  FakeDriver::Buffer buf[] = {{kData, 8, false}};
  driver_.AddChain(buf);
  auto chain = Pop();
  ASSERT_TRUE(chain.ok());
  driver_.WriteDesc(0, ~0ull, 8, 0, 0);
  EXPECT_EQ((*chain)->descriptors[0].gpa, kData);
}

TEST(QueueReady, ValidatesSizeAlignmentAndPlacement) {
  GuestMemory mem = std::move(*GuestMemory::Create({{0, kRamSize}}));
  Queue q(16);
  q.set_desc_table(0x1000);
  q.set_avail_ring(0x2000);
  q.set_used_ring(0x3000);
  q.set_size(12);  // not a power of two
  EXPECT_FALSE(q.MakeReady(mem).ok());
  q.set_size(32);  // above max
  EXPECT_FALSE(q.MakeReady(mem).ok());
  q.set_size(0);
  EXPECT_FALSE(q.MakeReady(mem).ok());
  q.set_size(16);
  q.set_desc_table(0x1008);  // not 16-aligned
  EXPECT_FALSE(q.MakeReady(mem).ok());
  q.set_desc_table(0x1000);
  q.set_used_ring(0x3002);  // not 4-aligned
  EXPECT_FALSE(q.MakeReady(mem).ok());
  q.set_used_ring(kRamSize - 8);  // runs off the end of RAM
  EXPECT_FALSE(q.MakeReady(mem).ok());
  EXPECT_FALSE(q.ready());
  q.set_used_ring(0x3000);
  EXPECT_TRUE(q.MakeReady(mem).ok());
  EXPECT_TRUE(q.ready());
  q.Reset();
  EXPECT_FALSE(q.ready());
  EXPECT_EQ(q.size(), 16);
}

TEST_F(QueueTest, PopOnNotReadyQueueFails) {
  Queue q(kSize);
  EXPECT_FALSE(q.PopChain(mem_).ok());
}

TEST_F(QueueTest, NoInterruptFlagSuppresses) {
  FakeDriver::Buffer buf[] = {{kData, 8, false}};
  uint16_t head = driver_.AddChain(buf);
  ASSERT_TRUE(Pop()->has_value());
  ASSERT_TRUE(queue_.AddUsed(mem_, head, 0).ok());
  EXPECT_TRUE(queue_.NeedsInterrupt(mem_));
  driver_.SetAvailFlags(VRING_AVAIL_F_NO_INTERRUPT);
  EXPECT_FALSE(queue_.NeedsInterrupt(mem_));
}

class EventIdxTest : public QueueTest {
 protected:
  EventIdxTest() { driver_.Configure(queue_, /*event_idx=*/true); }
  void Complete() {
    FakeDriver::Buffer buf[] = {{kData, 8, false}};
    uint16_t head = driver_.AddChain(buf);
    auto chain = Pop();
    ASSERT_TRUE(chain.ok() && chain->has_value());
    ASSERT_TRUE(queue_.AddUsed(mem_, head, 0).ok());
  }
};

TEST_F(EventIdxTest, InterruptsOnlyWhenUsedEventIsCrossed) {
  driver_.SetAvailFlags(VRING_AVAIL_F_NO_INTERRUPT);  // ignored with EVENT_IDX
  driver_.SetUsedEvent(0);
  Complete();  // used idx 0 -> 1 crosses used_event 0
  EXPECT_TRUE(queue_.NeedsInterrupt(mem_));
  Complete();  // 1 -> 2, used_event still 0
  EXPECT_FALSE(queue_.NeedsInterrupt(mem_));
  driver_.SetUsedEvent(3);
  Complete();  // 2 -> 3: event 3 not crossed yet (wants the 4th)
  EXPECT_FALSE(queue_.NeedsInterrupt(mem_));
  Complete();  // 3 -> 4 crosses 3
  EXPECT_TRUE(queue_.NeedsInterrupt(mem_));
}

TEST_F(EventIdxTest, BatchCrossingEventInterruptsOnce) {
  driver_.SetUsedEvent(0);
  Complete();
  EXPECT_TRUE(queue_.NeedsInterrupt(mem_));
  driver_.SetUsedEvent(2);
  Complete();
  Complete();
  Complete();  // 1 -> 4 in one batch, crosses 2
  EXPECT_TRUE(queue_.NeedsInterrupt(mem_));
  EXPECT_FALSE(queue_.NeedsInterrupt(mem_));  // nothing new
}

TEST_F(EventIdxTest, WritesAvailEventWhenDrained) {
  Complete();
  Complete();
  EXPECT_FALSE(Pop()->has_value());
  EXPECT_EQ(driver_.AvailEvent(), 2);
}


TEST_F(QueueTest, SnapshotRestoresThePositionInTheRing) {
  FakeDriver::Buffer b[] = {{kData, 16, false}};
  driver_.AddChain(b);
  driver_.AddChain(b);
  auto first = Pop();
  ASSERT_TRUE(first.ok() && first->has_value());
  ASSERT_TRUE(queue_.AddUsed(mem_, (*first)->head, 0).ok());
  Queue restored(kSize);
  ASSERT_TRUE(restored.Restore(queue_.Save(), mem_).ok());
  EXPECT_TRUE(restored.ready());
  auto second = restored.PopChain(mem_);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->head, 1);
  ASSERT_TRUE(restored.AddUsed(mem_, (*second)->head, 0).ok());
  EXPECT_EQ(driver_.UsedIdx(), 2);
}

// A queue the driver never made ready keeps whatever QueueNum it wrote;
// its saved state must load (found by fuzz/mmio_transport_fuzzer).
TEST_F(QueueTest, SnapshotOfQueueNotMadeReadyKeepsAnySize) {
  Queue unready(kSize);
  unready.set_size(3);
  Queue restored(kSize);
  ASSERT_TRUE(restored.Restore(unready.Save(), mem_).ok());
  EXPECT_EQ(restored.size(), 3);
  EXPECT_FALSE(restored.ready());
  EXPECT_FALSE(restored.MakeReady(mem_).ok());  // checked when made ready
}

// QueueNum 0 (or one above the largest size, which the transport stores as
// 0) stays 0: restoring it as the maximum size would let the driver enable
// a queue on the destination that the source refused, and the restored
// queue would save different bytes (found by save_what_loads_test).
TEST_F(QueueTest, SnapshotOfQueueNumZeroKeepsZero) {
  Queue unready(kSize);
  unready.set_size(0);
  Queue restored(kSize);
  ASSERT_TRUE(restored.Restore(unready.Save(), mem_).ok());
  EXPECT_EQ(restored.size(), 0);
  EXPECT_FALSE(restored.MakeReady(mem_).ok());
}

TEST_F(QueueTest, SnapshotWithBadSizeOrRingsIsRefused) {
  Queue::Snapshot s = queue_.Save();
  Queue restored(kSize);
  Queue::Snapshot bad_size = s;
  bad_size.size = 3;
  EXPECT_FALSE(restored.Restore(bad_size, mem_).ok());
  EXPECT_FALSE(restored.ready());
  Queue::Snapshot outside = s;
  outside.used_ring = kHighRegion + kRamSize + 4096;  // beyond RAM
  EXPECT_FALSE(restored.Restore(outside, mem_).ok());
  EXPECT_FALSE(restored.ready());
  Queue::Snapshot too_big = s;
  too_big.size = kSize * 2;
  EXPECT_FALSE(restored.Restore(too_big, mem_).ok());
}

}  // namespace
}  // namespace virtio
