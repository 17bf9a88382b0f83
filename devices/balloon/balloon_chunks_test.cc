// SPDX-License-Identifier: MIT
// The balloon device with the range format (VIRTIO_BALLOON_F_CHUNKS) and
// with huge-page-backed RAM, driven through FakeDriver rings.
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "devices/balloon/balloon.h"
#include "devices/balloon/chunk_format.h"
#include "virtio/testing/fake_driver.h"

namespace devices {
namespace {

using memory::GuestMemory;
using memory::kMiB;
using memory::kPageSize;
using virtio::FakeDriver;

constexpr uint64_t Bit(unsigned n) { return 1ull << n; }
constexpr uint64_t kVersion1 = Bit(VIRTIO_F_VERSION_1);
constexpr uint64_t kChunks = kVersion1 | Bit(kBalloonFChunks);
constexpr uint64_t kHugePfns = 512;

// RAM: [0, 16 MiB) and [32 MiB, 48 MiB). Rings at 1 MiB, buffers from
// 2 MiB, ballooned memory from 4 MiB.
constexpr memory::Gpa kRings = 1 * kMiB;
constexpr memory::Gpa kBuffers = 2 * kMiB;

class BalloonChunksTest : public ::testing::Test {
 protected:
  explicit BalloonChunksTest(memory::MemoryBackend backend = memory::MemoryBackend::kMemfd,
                             BalloonOptions options = {})
      : mem_(std::move(*GuestMemory::Create({{0, 16 * kMiB}, {32 * kMiB, 16 * kMiB}}, backend))),
        balloon_(std::make_unique<Balloon>(mem_, options)) {}

  // What the transport does at DRIVER_OK, inflate and deflate queues only.
  absl::Status Activate(Balloon& balloon, uint64_t features) {
    std::vector<virtio::Queue> queues;
    for (size_t i = 0; i < 2; ++i) {
      if (drivers_.size() <= i) {
        drivers_.push_back(std::make_unique<FakeDriver>(
            mem_, kRings + i * FakeDriver::Footprint(Balloon::kQueueSize), Balloon::kQueueSize));
      }
      queues.emplace_back(Balloon::kQueueSize);
      drivers_[i]->Configure(queues.back());
    }
    return balloon.Activate(
        {.mem = &mem_, .queues = std::move(queues), .features = features, .signal_used = [this] { ++irqs_; }});
  }

  memory::Gpa Put(const void* data, uint64_t len) {
    const memory::Gpa gpa = next_buffer_;
    next_buffer_ += (len + kPageSize - 1) / kPageSize * kPageSize + kPageSize;
    EXPECT_TRUE(mem_.WriteBytes(gpa, {static_cast<const uint8_t*>(data), len}).ok());
    return gpa;
  }
  // One buffer of entries on queue 0 (inflate) or 1 (deflate), notified.
  void Send(uint16_t queue, const std::vector<uint64_t>& entries) {
    FakeDriver::Buffer buf[] = {{Put(entries.data(), entries.size() * 8), static_cast<uint32_t>(entries.size() * 8), false}};
    drivers_[queue]->AddChain(buf);
    ASSERT_TRUE(balloon_->ProcessQueue(queue).ok());
  }
  void SendPfns(uint16_t queue, const std::vector<uint32_t>& pfns) {
    FakeDriver::Buffer buf[] = {{Put(pfns.data(), pfns.size() * 4), static_cast<uint32_t>(pfns.size() * 4), false}};
    drivers_[queue]->AddChain(buf);
    ASSERT_TRUE(balloon_->ProcessQueue(queue).ok());
  }
  void Touch(memory::Gpa gpa, uint64_t len) {
    std::vector<uint8_t> bytes(len, 0x5a);
    ASSERT_TRUE(mem_.WriteBytes(gpa, bytes).ok());
  }
  uint8_t ByteAt(memory::Gpa gpa) { return *mem_.Read<uint8_t>(gpa); }
  uint64_t BackedBytes() {
    struct stat st;
    EXPECT_EQ(fstat(mem_.memfd(), &st), 0);
    return uint64_t(st.st_blocks) * 512;
  }
  uint64_t Discards() { return balloon_->counters().discard_calls; }

  GuestMemory mem_;
  std::unique_ptr<Balloon> balloon_;
  std::vector<std::unique_ptr<FakeDriver>> drivers_;
  memory::Gpa next_buffer_ = kBuffers;
  int irqs_ = 0;
};

TEST_F(BalloonChunksTest, FeatureIsOfferedByDefaultAndNeverWithChunksOff) {
  EXPECT_TRUE(balloon_->device_features() & Bit(kBalloonFChunks));
  Balloon off(mem_, {.chunks = false});
  EXPECT_FALSE(off.device_features() & Bit(kBalloonFChunks));
  // And a device that does not offer it does not take it.
  absl::Status st = Activate(off, kChunks);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(Activate(off, kVersion1).ok());
}

TEST_F(BalloonChunksTest, InflateDiscardsEachRangeWithOneCall) {
  ASSERT_TRUE(Activate(*balloon_, kChunks).ok());
  Touch(4 * kMiB, 8 * kMiB);
  // + the page the driver's buffer of entries is written to.
  const uint64_t backed = BackedBytes() + kPageSize;
  Send(0, {EncodeChunk(4 * kMiB, 9), EncodeChunk(8 * kMiB, 10), EncodeChunk(6 * kMiB, 0),
           EncodeChunk(6 * kMiB + 8 * kPageSize, 3)});
  EXPECT_EQ(Discards(), 4u);
  EXPECT_EQ(balloon_->chunk_counters().entries, 4u);
  EXPECT_EQ(balloon_->chunk_counters().refused, 0u);
  const uint64_t pages = 512 + 1024 + 1 + 8;
  EXPECT_EQ(balloon_->ballooned_pages(), pages);
  EXPECT_EQ(balloon_->counters().pages_inflated, pages);
  EXPECT_EQ(balloon_->counters().bytes_returned, pages * kPageSize);
  EXPECT_EQ(backed - BackedBytes(), pages * kPageSize);
  EXPECT_EQ(ByteAt(4 * kMiB), 0);
  EXPECT_EQ(ByteAt(12 * kMiB - 1), 0);
  EXPECT_EQ(ByteAt(6 * kMiB + kPageSize), 0x5a);  // between two chunks: kept
  EXPECT_TRUE(balloon_->IsBallooned((6 * kMiB + 15 * kPageSize) / kPageSize));
  EXPECT_EQ(drivers_[0]->UsedIdx(), 1);
  EXPECT_EQ(irqs_, 1);
  // What the migrator skips.
  EXPECT_EQ(balloon_->BalloonedRanges(),
            (std::vector<memory::GpaRange>{{4 * kMiB, 2 * kMiB + kPageSize},  // adjacent blocks merge
                                           {6 * kMiB + 8 * kPageSize, 8 * kPageSize},
                                           {8 * kMiB, 4 * kMiB}}));
}

TEST_F(BalloonChunksTest, DeflateGivesBackWholeBalloonedBlocks) {
  ASSERT_TRUE(Activate(*balloon_, kChunks).ok());
  Send(0, {EncodeChunk(4 * kMiB, 9), EncodeChunk(32 * kMiB, 11)});
  Send(1, {EncodeChunk(4 * kMiB, 9), EncodeChunk(32 * kMiB + 4 * kMiB, 9)});  // the second: part of a block
  EXPECT_EQ(balloon_->ballooned_pages(), 2048u - 512u);
  EXPECT_EQ(balloon_->counters().pages_deflated, 1024u);
  EXPECT_FALSE(balloon_->IsBallooned(4 * kMiB / kPageSize));
  EXPECT_FALSE(balloon_->IsBallooned((36 * kMiB) / kPageSize));
  EXPECT_TRUE(balloon_->IsBallooned((38 * kMiB) / kPageSize));
  EXPECT_EQ(Discards(), 2u);  // deflate discards nothing
  EXPECT_EQ(drivers_[1]->UsedIdx(), 1);
}

TEST_F(BalloonChunksTest, OverlapWithBalloonedPagesIsRefused) {
  ASSERT_TRUE(Activate(*balloon_, kChunks).ok());
  Send(0, {EncodeChunk(4 * kMiB, 9)});
  // Inside, covering, and the same block twice in one buffer.
  Send(0, {EncodeChunk(4 * kMiB + kPageSize, 0), EncodeChunk(4 * kMiB, 10), EncodeChunk(8 * kMiB, 9),
           EncodeChunk(8 * kMiB, 9), EncodeChunk(8 * kMiB + kPageSize, 0)});
  EXPECT_EQ(balloon_->chunk_counters().entries, 2u);
  EXPECT_EQ(balloon_->chunk_counters().refused, 4u);
  EXPECT_EQ(Discards(), 2u);
  EXPECT_EQ(balloon_->ballooned_pages(), 1024u);
  EXPECT_EQ(balloon_->counters().pages_inflated, 1024u);
}

TEST_F(BalloonChunksTest, DeflateOfPagesNotBalloonedIsRefused) {
  ASSERT_TRUE(Activate(*balloon_, kChunks).ok());
  Send(0, {EncodeChunk(4 * kMiB, 8)});
  Send(1, {EncodeChunk(4 * kMiB, 9),                  // half of it is not ballooned
           EncodeChunk(10 * kMiB, 0),                 // never ballooned
           EncodeChunk(4 * kMiB + kPageSize, 0)});    // fine
  EXPECT_EQ(balloon_->chunk_counters().refused, 2u);
  EXPECT_EQ(balloon_->ballooned_pages(), 255u);
  EXPECT_EQ(balloon_->counters().pages_deflated, 1u);
}

TEST_F(BalloonChunksTest, InvalidEntriesAndBuffersAreSkippedAndTheRestApplied) {
  ASSERT_TRUE(Activate(*balloon_, kChunks).ok());
  Send(0, {EncodeChunk(4 * kMiB, 0) | 0x40, EncodeChunk(4 * kMiB, 40), EncodeChunk(4 * kMiB + kPageSize, 9),
           EncodeChunk(16 * kMiB, 0), EncodeChunk(5 * kMiB, 0)});
  EXPECT_EQ(balloon_->chunk_counters().refused, 4u);
  EXPECT_EQ(balloon_->ballooned_pages(), 1u);
  // A chain with malformed buffers (an odd length; a device-writable one,
  // last as the ring requires) still has its valid buffer applied and
  // comes back used.
  const uint64_t good = EncodeChunk(6 * kMiB, 0);
  FakeDriver::Buffer bufs[] = {{Put(&good, 8), 7, false}, {Put(&good, 8), 8, false}, {Put(&good, 8), 8, true}};
  drivers_[0]->AddChain(bufs);
  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  EXPECT_EQ(balloon_->chunk_counters().refused, 6u);
  EXPECT_TRUE(balloon_->IsBallooned(6 * kMiB / kPageSize));
  EXPECT_EQ(drivers_[0]->UsedIdx(), 2);
}

TEST_F(BalloonChunksTest, PfnArraysAreServedAsBeforeWhenTheFeatureIsNotNegotiated) {
  ASSERT_TRUE(Activate(*balloon_, kVersion1).ok());
  Touch(4 * kMiB, 16 * kPageSize);
  SendPfns(0, {1024, 1025, 1026, 1030});
  EXPECT_EQ(balloon_->ballooned_pages(), 4u);
  EXPECT_EQ(Discards(), 2u);  // two compacted ranges, one call each
  EXPECT_EQ(balloon_->chunk_counters().entries, 0u);
  EXPECT_EQ(ByteAt(4 * kMiB), 0);
  EXPECT_EQ(ByteAt(4 * kMiB + 3 * kPageSize), 0x5a);
  SendPfns(1, {1025});
  EXPECT_EQ(balloon_->ballooned_pages(), 3u);
}

TEST_F(BalloonChunksTest, NegotiatedFeatureIsSavedAndRefusedByADeviceThatDoesNotOfferIt) {
  ASSERT_TRUE(Activate(*balloon_, kChunks).ok());
  Send(0, {EncodeChunk(4 * kMiB, 9)});
  state::StateWriter w;
  w.BeginNode("b");
  ASSERT_TRUE(balloon_->Save(w).ok());
  w.EndNode();
  auto saved = state::StateReader::Parse(*w.Finish());
  ASSERT_TRUE(saved.ok());

  Balloon same(mem_);
  ASSERT_TRUE(Activate(same, kChunks).ok());
  ASSERT_TRUE(same.Load(*saved->Node("b")).ok());
  EXPECT_EQ(same.ballooned_pages(), 512u);

  Balloon off(mem_, {.chunks = false});
  absl::Status st = off.Load(*saved->Node("b"));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("chunks"), std::string::npos) << st;
  ASSERT_TRUE(Activate(off, kVersion1).ok());
  EXPECT_FALSE(off.Load(*saved->Node("b")).ok());
}

// --- Huge-page-backed RAM (thp: runs on any host; the device only sees the
// backing page size, which hugetlb shares). ---
class BalloonOnHugePagesTest : public BalloonChunksTest {
 protected:
  BalloonOnHugePagesTest() : BalloonChunksTest(memory::MemoryBackend::kThp) {}
};

TEST_F(BalloonOnHugePagesTest, StockGuestPagesGoBackOnlyAsWholeHugePagesInAnyOrder) {
  ASSERT_TRUE(Activate(*balloon_, kVersion1).ok());
  Touch(4 * kMiB, 2 * kMiB);
  std::vector<uint32_t> pfns(kHugePfns);
  std::iota(pfns.begin(), pfns.end(), 1024);
  std::shuffle(pfns.begin(), pfns.end(), std::mt19937(7));
  // 256 PFNs per request as Linux sends them, minus the last page.
  SendPfns(0, std::vector<uint32_t>(pfns.begin(), pfns.begin() + 256));
  SendPfns(0, std::vector<uint32_t>(pfns.begin() + 256, pfns.end() - 1));
  EXPECT_EQ(Discards(), 0u);
  EXPECT_EQ(balloon_->ballooned_pages(), kHugePfns - 1);
  EXPECT_EQ(balloon_->pages_waiting_for_huge_page(), kHugePfns - 1);
  EXPECT_EQ(ByteAt(uint64_t{pfns[0]} * kPageSize), 0x5a);  // still backed
  SendPfns(0, {pfns.back()});
  EXPECT_EQ(Discards(), 1u);
  EXPECT_EQ(balloon_->counters().bytes_returned, 2 * kMiB);
  EXPECT_EQ(balloon_->pages_waiting_for_huge_page(), 0u);
  EXPECT_EQ(ByteAt(4 * kMiB), 0);
  EXPECT_EQ(ByteAt(6 * kMiB - 1), 0);
}

TEST_F(BalloonOnHugePagesTest, ChunksOfHugePagesGoBackAtOnceAndSmallChunksWaitForTheirHugePage) {
  ASSERT_TRUE(Activate(*balloon_, kChunks).ok());
  Send(0, {EncodeChunk(4 * kMiB, 10)});  // two huge pages, one range
  EXPECT_EQ(Discards(), 1u);
  EXPECT_EQ(balloon_->counters().bytes_returned, 4 * kMiB);
  std::vector<uint64_t> quarters;
  for (int i = 0; i < 4; ++i) quarters.push_back(EncodeChunk(8 * kMiB + i * 512 * 1024, 7));
  Send(0, {quarters[2], quarters[0], quarters[3]});
  EXPECT_EQ(Discards(), 1u);
  Send(0, {quarters[1]});
  EXPECT_EQ(Discards(), 2u);
  EXPECT_EQ(balloon_->counters().bytes_returned, 6 * kMiB);
}

TEST_F(BalloonOnHugePagesTest, HalfCompleteHugePagesAreFinishedAfterSaveAndRestore) {
  ASSERT_TRUE(Activate(*balloon_, kVersion1).ok());
  std::vector<uint32_t> first_half(256), second_half(256);
  std::iota(first_half.begin(), first_half.end(), 1024);
  std::iota(second_half.begin(), second_half.end(), 1024 + 256);
  SendPfns(0, first_half);
  state::StateWriter w;
  w.BeginNode("b");
  ASSERT_TRUE(balloon_->Save(w).ok());
  w.EndNode();
  auto saved = state::StateReader::Parse(*w.Finish());
  ASSERT_TRUE(saved.ok());

  // The destination: a fresh device on the same rings.
  balloon_ = std::make_unique<Balloon>(mem_);
  ASSERT_TRUE(Activate(*balloon_, kVersion1).ok());
  ASSERT_TRUE(balloon_->Load(*saved->Node("b")).ok());
  const uint64_t discards = Discards();
  EXPECT_EQ(balloon_->pages_waiting_for_huge_page(), 256u);
  SendPfns(0, std::vector<uint32_t>(second_half.begin(), second_half.end() - 1));
  EXPECT_EQ(Discards(), discards);
  SendPfns(0, {second_half.back()});
  EXPECT_EQ(Discards(), discards + 1);
  EXPECT_EQ(balloon_->pages_waiting_for_huge_page(), 0u);
}

TEST_F(BalloonOnHugePagesTest, ReportedFreeRangesGiveBackOnlyWholeHugePages) {
  Balloon reporting(mem_);
  std::vector<virtio::Queue> queues;
  const uint64_t features = kVersion1 | Bit(VIRTIO_BALLOON_F_REPORTING);
  const size_t n = Balloon::QueueRoles(features).size();
  for (size_t i = 0; i < n; ++i) {
    drivers_.push_back(std::make_unique<FakeDriver>(
        mem_, kRings + i * FakeDriver::Footprint(Balloon::kQueueSize), Balloon::kQueueSize));
    queues.emplace_back(Balloon::kQueueSize);
    drivers_.back()->Configure(queues.back());
  }
  ASSERT_TRUE(reporting.Activate({.mem = &mem_, .queues = std::move(queues), .features = features}).ok());
  Touch(4 * kMiB, 6 * kMiB);
  // [5 MiB, 9 MiB): only [6, 8) is a whole huge page.
  FakeDriver::Buffer buf[] = {{5 * kMiB, static_cast<uint32_t>(4 * kMiB), true}};
  drivers_[n - 1]->AddChain(buf);
  ASSERT_TRUE(reporting.ProcessQueue(static_cast<uint16_t>(n - 1)).ok());
  EXPECT_EQ(reporting.counters().discard_calls, 1u);
  EXPECT_EQ(reporting.counters().bytes_returned, 2 * kMiB);
  EXPECT_EQ(ByteAt(5 * kMiB), 0x5a);
  EXPECT_EQ(ByteAt(6 * kMiB), 0);
  EXPECT_EQ(ByteAt(8 * kMiB), 0x5a);
}

}  // namespace
}  // namespace devices
