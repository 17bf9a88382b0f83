// SPDX-License-Identifier: MIT
#include "devices/balloon/balloon.h"
#include "devices/balloon/chunk_format.h"

#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "virtio/testing/fake_driver.h"
#include "virtio/mmio_transport.h"
#include "virtio/virtio_ring_uapi.h"

namespace devices {
namespace {

using memory::GuestMemory;
using memory::kMiB;
using memory::kPageSize;
using virtio::FakeDriver;
using Role = Balloon::QueueRole;

constexpr uint64_t Bit(unsigned n) { return 1ull << n; }
constexpr uint64_t kVersion1 = Bit(VIRTIO_F_VERSION_1);
constexpr uint64_t kAllFeatures =
    kVersion1 | Bit(VIRTIO_RING_F_EVENT_IDX) | Bit(VIRTIO_BALLOON_F_MUST_TELL_HOST) |
    Bit(VIRTIO_BALLOON_F_STATS_VQ) | Bit(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
    Bit(VIRTIO_BALLOON_F_FREE_PAGE_HINT) | Bit(VIRTIO_BALLOON_F_PAGE_POISON) |
    Bit(VIRTIO_BALLOON_F_REPORTING);

// Guest RAM: [0, 16 MiB) and [32 MiB, 48 MiB). Rings from 1 MiB, driver
// buffers from 2 MiB, pages to balloon from 4 MiB (PFN 1024).
constexpr memory::Gpa kRings = 1 * kMiB;
constexpr memory::Gpa kBuffers = 2 * kMiB;
constexpr uint32_t kFirstDataPfn = 1024;
constexpr uint32_t kLowEndPfn = 4096;      // 16 MiB
constexpr uint32_t kHighStartPfn = 8192;   // 32 MiB
constexpr uint64_t kHighEndPfn = 12288;    // 48 MiB

class BalloonTest : public ::testing::Test {
 protected:
  BalloonTest()
      : mem_(std::move(*GuestMemory::Create({{0, 16 * kMiB}, {32 * kMiB, 16 * kMiB}}))),
        balloon_(std::make_unique<Balloon>(mem_)) {
    balloon_->SetConfigChangeCallback([this] { ++config_changes_; });
  }

  // What the transport does at DRIVER_OK, with one FakeDriver per queue.
  void Activate(uint64_t features, bool event_idx = false,
                virtio::InterruptCallback signal_used = nullptr) {
    if (!signal_used) signal_used = [this] { ++irqs_; };
    const size_t n = Balloon::QueueRoles(features).size();
    std::vector<virtio::Queue> queues;
    for (size_t i = 0; i < n; ++i) {
      drivers_.push_back(std::make_unique<FakeDriver>(
          mem_, kRings + i * FakeDriver::Footprint(Balloon::kQueueSize), Balloon::kQueueSize));
      queues.emplace_back(Balloon::kQueueSize);
      drivers_.back()->Configure(queues.back(), event_idx);
    }
    ASSERT_TRUE(balloon_
                    ->Activate({.mem = &mem_,
                                .queues = std::move(queues),
                                .features = features,
                                .signal_used = std::move(signal_used)})
                    .ok());
  }

  // A fresh driver buffer holding `pfns`.
  memory::Gpa PutPfns(const std::vector<uint32_t>& pfns) {
    memory::Gpa gpa = NextBuffer(pfns.size() * 4);
    EXPECT_TRUE(mem_.WriteBytes(gpa, {reinterpret_cast<const uint8_t*>(pfns.data()),
                                      pfns.size() * 4})
                    .ok());
    return gpa;
  }
  memory::Gpa NextBuffer(uint64_t len) {
    memory::Gpa gpa = next_buffer_;
    next_buffer_ += (len + kPageSize - 1) / kPageSize * kPageSize + kPageSize;
    return gpa;
  }
  void OfferPfns(uint16_t queue, const std::vector<uint32_t>& pfns, bool writable = false) {
    FakeDriver::Buffer buf[] = {{PutPfns(pfns), static_cast<uint32_t>(pfns.size() * 4), writable}};
    drivers_[queue]->AddChain(buf);
  }
  void Touch(uint64_t first_pfn, uint64_t count) {
    std::vector<uint8_t> ones(count * kPageSize, 0x5a);
    ASSERT_TRUE(mem_.WriteBytes(first_pfn * kPageSize, ones).ok());
  }
  blkcnt_t Blocks() {
    struct stat st;
    EXPECT_EQ(fstat(mem_.memfd(), &st), 0);
    return st.st_blocks;
  }
  uint8_t ByteAtPfn(uint64_t pfn) { return *mem_.Read<uint8_t>(pfn * kPageSize); }
  uint32_t ConfigField(size_t offset) {
    uint32_t v;
    balloon_->ReadConfig(offset, {reinterpret_cast<uint8_t*>(&v), 4});
    return v;
  }
  void WriteConfigField(size_t offset, uint32_t v) {
    balloon_->WriteConfig(offset, {reinterpret_cast<const uint8_t*>(&v), 4});
  }

  GuestMemory mem_;
  std::unique_ptr<Balloon> balloon_;
  std::vector<std::unique_ptr<FakeDriver>> drivers_;
  memory::Gpa next_buffer_ = kBuffers;
  int irqs_ = 0;
  int config_changes_ = 0;
};

TEST(BalloonQueueRoles, FollowNegotiatedFeatures) {
  EXPECT_EQ(Balloon::QueueRoles(kVersion1), (std::vector<Role>{Role::kInflate, Role::kDeflate}));
  EXPECT_EQ(Balloon::QueueRoles(kAllFeatures),
            (std::vector<Role>{Role::kInflate, Role::kDeflate, Role::kStats, Role::kFreePageHint,
                               Role::kReporting}));
  EXPECT_EQ(Balloon::QueueRoles(kVersion1 | Bit(VIRTIO_BALLOON_F_REPORTING)),
            (std::vector<Role>{Role::kInflate, Role::kDeflate, Role::kReporting}));
  EXPECT_EQ(Balloon::QueueRoles(kVersion1 | Bit(VIRTIO_BALLOON_F_FREE_PAGE_HINT) |
                                Bit(VIRTIO_BALLOON_F_REPORTING)),
            (std::vector<Role>{Role::kInflate, Role::kDeflate, Role::kFreePageHint,
                               Role::kReporting}));
  EXPECT_EQ(Balloon::QueueRoles(kVersion1 | Bit(VIRTIO_BALLOON_F_STATS_VQ)),
            (std::vector<Role>{Role::kInflate, Role::kDeflate, Role::kStats}));
}

TEST_F(BalloonTest, OffersFeaturesAndQueues) {
  EXPECT_EQ(balloon_->device_type(), 5u);
  EXPECT_EQ(balloon_->device_features(), kAllFeatures | Bit(kBalloonFChunks));
  std::vector<uint16_t> sizes = balloon_->queue_max_sizes();
  EXPECT_EQ(sizes.size(), 5u);
  for (uint16_t s : sizes) EXPECT_GE(s, 128);  // reporting needs >= 32
  Balloon minimal(mem_, {.stats = false, .free_page_hint = false, .reporting = false});
  EXPECT_EQ(minimal.queue_max_sizes().size(), 2u);
}

TEST_F(BalloonTest, InflateDiscardsEachCompactedRangeOnce) {
  Activate(kAllFeatures);
  Touch(kFirstDataPfn, 64);
  // Two chains in one notification, shuffled, with duplicates.
  std::vector<uint32_t> pfns;
  for (uint32_t p = kFirstDataPfn; p < kFirstDataPfn + 64; ++p) pfns.push_back(p);
  std::shuffle(pfns.begin(), pfns.end(), std::mt19937(5));
  OfferPfns(0, std::vector<uint32_t>(pfns.begin(), pfns.begin() + 40));
  std::vector<uint32_t> second(pfns.begin() + 30, pfns.end());
  OfferPfns(0, second);
  const blkcnt_t before = Blocks();  // after the PFN buffers were written

  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  Balloon::Counters c = balloon_->counters();
  EXPECT_EQ(c.requests, 2u);
  EXPECT_EQ(c.pages_inflated, 64u);
  EXPECT_EQ(c.ranges, 1u);
  EXPECT_EQ(c.discard_calls, 1u);
  EXPECT_EQ(c.bytes_returned, 64 * kPageSize);
  EXPECT_LE(Blocks(), before - static_cast<blkcnt_t>(64 * kPageSize / 512));
  EXPECT_EQ(ByteAtPfn(kFirstDataPfn), 0);
  EXPECT_EQ(ByteAtPfn(kFirstDataPfn + 63), 0);
  // Both chains returned, one interrupt.
  EXPECT_EQ(drivers_[0]->UsedIdx(), 2);
  EXPECT_EQ(irqs_, 1);
  EXPECT_EQ(balloon_->ballooned_pages(), 64u);
  EXPECT_EQ(balloon_->BalloonedRanges(), (std::vector<memory::GpaRange>{{kFirstDataPfn * kPageSize, 64 * kPageSize}}));
}

TEST_F(BalloonTest, InflateSplitsRangesAtRegionBoundaries) {
  Activate(kVersion1);
  Touch(kLowEndPfn - 2, 2);
  Touch(kHighStartPfn, 2);
  OfferPfns(0, {kLowEndPfn - 2, kLowEndPfn - 1, kLowEndPfn, kHighStartPfn - 1, kHighStartPfn,
                kHighStartPfn + 1});
  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  Balloon::Counters c = balloon_->counters();
  EXPECT_EQ(c.ranges, 2u);
  EXPECT_EQ(c.discard_calls, 2u);
  EXPECT_EQ(c.pfns_out_of_range, 2u);
  EXPECT_EQ(c.pages_inflated, 4u);
  EXPECT_EQ(ByteAtPfn(kLowEndPfn - 1), 0);
  EXPECT_EQ(ByteAtPfn(kHighStartPfn + 1), 0);
}

TEST_F(BalloonTest, OutOfRangePfnsAreCountedAndIgnored) {
  Activate(kVersion1);
  OfferPfns(0, {0xffffffff, 5000, 5001, static_cast<uint32_t>(kHighEndPfn)});
  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  Balloon::Counters c = balloon_->counters();
  EXPECT_EQ(c.pfns_out_of_range, 4u);
  EXPECT_EQ(c.discard_calls, 0u);
  EXPECT_EQ(drivers_[0]->UsedIdx(), 1);  // still returned
}

TEST_F(BalloonTest, InflateSkipsWriteOnlyDescriptor) {
  Activate(kVersion1);
  Touch(kFirstDataPfn, 1);
  OfferPfns(0, {kFirstDataPfn}, /*writable=*/true);
  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  EXPECT_EQ(balloon_->counters().discard_calls, 0u);
  EXPECT_EQ(ByteAtPfn(kFirstDataPfn), 0x5a);
  EXPECT_EQ(drivers_[0]->UsedIdx(), 1);
}

TEST_F(BalloonTest, InflateSkipsOversizedOrRaggedBuffer) {
  Activate(kVersion1);
  Touch(kFirstDataPfn, 1);
  std::vector<uint32_t> too_many(Balloon::kMaxPfnsPerBuffer + 1, kFirstDataPfn);
  OfferPfns(0, too_many);
  FakeDriver::Buffer ragged[] = {{PutPfns({kFirstDataPfn}), 3, false}};
  drivers_[0]->AddChain(ragged);
  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  EXPECT_EQ(balloon_->counters().discard_calls, 0u);
  EXPECT_EQ(drivers_[0]->UsedIdx(), 2);
}

// Found by fuzz/balloon_fuzzer: a zero-length buffer made ReadPfns copy
// from a null pointer.
TEST_F(BalloonTest, InflateSkipsEmptyBuffer) {
  Activate(kVersion1);
  FakeDriver::Buffer empty[] = {{kBuffers, 0, false}};
  drivers_[0]->AddChain(empty);
  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  EXPECT_EQ(balloon_->counters().pages_inflated, 0u);
  EXPECT_EQ(drivers_[0]->UsedIdx(), 1);
}

TEST_F(BalloonTest, DeflateIsBookkeepingOnly) {
  Activate(kVersion1);
  std::vector<uint32_t> pfns;
  for (uint32_t p = 0; p < 10; ++p) pfns.push_back(kFirstDataPfn + p);
  OfferPfns(0, pfns);
  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  const uint64_t discards = balloon_->counters().discard_calls;
  OfferPfns(1, {kFirstDataPfn + 2, kFirstDataPfn + 3, kFirstDataPfn + 4, kFirstDataPfn + 9});
  ASSERT_TRUE(balloon_->ProcessQueue(1).ok());
  Balloon::Counters c = balloon_->counters();
  EXPECT_EQ(c.pages_deflated, 4u);
  EXPECT_EQ(c.discard_calls, discards);
  EXPECT_EQ(balloon_->ballooned_pages(), 6u);
  EXPECT_FALSE(balloon_->IsBallooned(kFirstDataPfn + 3));
  EXPECT_TRUE(balloon_->IsBallooned(kFirstDataPfn + 5));
  EXPECT_EQ(drivers_[1]->UsedIdx(), 1);
}

TEST_F(BalloonTest, CorruptRingIsAnError) {
  Activate(kVersion1);
  drivers_[0]->WriteDesc(0, kBuffers, 4, VRING_DESC_F_NEXT, 0);  // loops onto itself
  drivers_[0]->PublishHead(0);
  EXPECT_FALSE(balloon_->ProcessQueue(0).ok());
}

TEST_F(BalloonTest, ReportingQueueIsIndexTwoWhenOnlyReportingNegotiated) {
  Activate(kVersion1 | Bit(VIRTIO_BALLOON_F_REPORTING));
  Touch(kFirstDataPfn, 512);  // 2 MiB
  const blkcnt_t before = Blocks();
  FakeDriver::Buffer block[] = {{kFirstDataPfn * kPageSize, 2 * kMiB, true}};
  drivers_[2]->AddChain(block);
  ASSERT_TRUE(balloon_->ProcessQueue(2).ok());
  Balloon::Counters c = balloon_->counters();
  EXPECT_EQ(c.reported_ranges, 1u);
  EXPECT_EQ(c.discard_calls, 1u);
  EXPECT_LT(Blocks(), before);
  EXPECT_EQ(ByteAtPfn(kFirstDataPfn + 511), 0);
  EXPECT_EQ(drivers_[2]->UsedIdx(), 1);
  // Reported pages stay the guest's: not in the ballooned bitmap.
  EXPECT_EQ(balloon_->ballooned_pages(), 0u);
}

TEST_F(BalloonTest, ReportedRangeIsDiscardedBeforeTheBufferReturns) {
  // Look at guest memory from the interrupt, i.e. as soon as the guest
  // could see the returned buffer.
  bool checked = false;
  Activate(kAllFeatures, /*event_idx=*/false, [&] {
    EXPECT_EQ(drivers_[4]->UsedIdx(), 1);
    EXPECT_EQ(ByteAtPfn(kFirstDataPfn), 0);
    EXPECT_EQ(ByteAtPfn(kFirstDataPfn + 511), 0);
    checked = true;
  });
  Touch(kFirstDataPfn, 512);
  FakeDriver::Buffer blocks[] = {{kFirstDataPfn * kPageSize, kMiB, true},
                                 {(kFirstDataPfn + 256) * kPageSize, kMiB, true}};
  drivers_[4]->AddChain(blocks);
  ASSERT_TRUE(balloon_->ProcessQueue(4).ok());
  EXPECT_TRUE(checked);
  EXPECT_EQ(balloon_->counters().reported_ranges, 2u);
  EXPECT_EQ(balloon_->counters().discard_calls, 2u);
}

TEST_F(BalloonTest, ReportingSkipsUnalignedRanges) {
  Activate(kAllFeatures);
  FakeDriver::Buffer blocks[] = {{kFirstDataPfn * kPageSize + 8, 4096, true}};
  drivers_[4]->AddChain(blocks);
  ASSERT_TRUE(balloon_->ProcessQueue(4).ok());
  EXPECT_EQ(balloon_->counters().discard_calls, 0u);
  EXPECT_EQ(drivers_[4]->UsedIdx(), 1);
}

TEST_F(BalloonTest, NonZeroPoisonPreventsDiscard) {
  Activate(kAllFeatures);
  WriteConfigField(offsetof(virtio_balloon_config, poison_val), 0xaaaaaaaa);
  Touch(kFirstDataPfn, 600);
  OfferPfns(0, {kFirstDataPfn, kFirstDataPfn + 1});
  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  FakeDriver::Buffer block[] = {{(kFirstDataPfn + 8) * kPageSize, 2 * kMiB, true}};
  drivers_[4]->AddChain(block);
  ASSERT_TRUE(balloon_->ProcessQueue(4).ok());
  Balloon::Counters c = balloon_->counters();
  EXPECT_EQ(c.discard_calls, 0u);
  EXPECT_EQ(c.pages_inflated, 2u);  // still bookkept
  EXPECT_EQ(balloon_->ballooned_pages(), 2u);
  EXPECT_EQ(ByteAtPfn(kFirstDataPfn), 0x5a);
  EXPECT_EQ(ByteAtPfn(kFirstDataPfn + 8), 0x5a);
  EXPECT_EQ(drivers_[0]->UsedIdx(), 1);
  EXPECT_EQ(drivers_[4]->UsedIdx(), 1);
}

TEST_F(BalloonTest, ZeroPoisonStillDiscards) {
  Activate(kAllFeatures);  // init_on_free guests negotiate PAGE_POISON with 0
  WriteConfigField(offsetof(virtio_balloon_config, poison_val), 0);
  Touch(kFirstDataPfn, 1);
  OfferPfns(0, {kFirstDataPfn});
  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  EXPECT_EQ(balloon_->counters().discard_calls, 1u);
  EXPECT_EQ(ByteAtPfn(kFirstDataPfn), 0);
}

std::vector<uint8_t> StatRecords(std::initializer_list<std::pair<uint16_t, uint64_t>> stats) {
  // Sized once and written in place (growing it with insert() trips a false
  // -Wstringop-overflow in GCC 12's optimised builds).
  constexpr size_t kRecordBytes = 10;
  std::vector<uint8_t> out(stats.size() * kRecordBytes);
  uint8_t* rec = out.data();
  for (auto [tag, value] : stats) {
    std::memcpy(rec, &tag, 2);
    std::memcpy(rec + 2, &value, 8);
    rec += kRecordBytes;
  }
  return out;
}

TEST_F(BalloonTest, StatsAreParsedAndBufferHeldUntilRequested) {
  Activate(kVersion1 | Bit(VIRTIO_BALLOON_F_STATS_VQ));
  EXPECT_FALSE(balloon_->RequestStats().ok());  // no buffer yet
  std::vector<uint8_t> recs = StatRecords({{VIRTIO_BALLOON_S_MEMFREE, 100 * kMiB},
                                           {VIRTIO_BALLOON_S_MEMTOT, 512 * kMiB},
                                           {VIRTIO_BALLOON_S_MAJFLT, 7}});
  memory::Gpa buf = NextBuffer(recs.size());
  ASSERT_TRUE(mem_.WriteBytes(buf, recs).ok());
  FakeDriver::Buffer b[] = {{buf, static_cast<uint32_t>(recs.size()), false}};
  drivers_[2]->AddChain(b);
  ASSERT_TRUE(balloon_->ProcessQueue(2).ok());
  BalloonStats stats = balloon_->Stats();
  EXPECT_EQ(stats.Get(VIRTIO_BALLOON_S_MEMFREE), 100 * kMiB);
  EXPECT_EQ(stats.Get(VIRTIO_BALLOON_S_MEMTOT), 512 * kMiB);
  EXPECT_EQ(stats.Get(VIRTIO_BALLOON_S_MAJFLT), 7u);
  EXPECT_EQ(stats.updates, 1u);
  EXPECT_EQ(drivers_[2]->UsedIdx(), 0);  // held
  EXPECT_EQ(irqs_, 0);
  ASSERT_TRUE(balloon_->RequestStats().ok());
  EXPECT_EQ(drivers_[2]->UsedIdx(), 1);
  EXPECT_EQ(irqs_, 1);
  EXPECT_FALSE(balloon_->RequestStats().ok());  // until the guest refills
}

TEST_F(BalloonTest, RequestStatsWithoutStatsQueueFails) {
  Activate(kVersion1);
  EXPECT_EQ(balloon_->RequestStats().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(BalloonTest, ConfigSpace) {
  balloon_->SetTargetPages(1000);
  EXPECT_EQ(config_changes_, 1);
  EXPECT_EQ(ConfigField(offsetof(virtio_balloon_config, num_pages)), 1000u);
  EXPECT_EQ(balloon_->target_pages(), 1000u);
  WriteConfigField(offsetof(virtio_balloon_config, actual), 500);
  EXPECT_EQ(balloon_->actual_pages(), 500u);
  WriteConfigField(offsetof(virtio_balloon_config, num_pages), 1);  // host-owned: ignored
  EXPECT_EQ(balloon_->target_pages(), 1000u);
  WriteConfigField(offsetof(virtio_balloon_config, free_page_hint_cmd_id), 9);  // ignored
  EXPECT_EQ(ConfigField(offsetof(virtio_balloon_config, free_page_hint_cmd_id)), 0u);
  uint8_t past_end[4] = {1, 1, 1, 1};
  balloon_->ReadConfig(14, past_end);  // straddles the end: zeros
  EXPECT_EQ(past_end[0], 0);
  // Reset keeps the host target, drops the guest's figures.
  balloon_->Reset();
  EXPECT_EQ(balloon_->target_pages(), 1000u);
  EXPECT_EQ(balloon_->actual_pages(), 0u);
}

// Found by fuzz/balloon_fuzzer: Load refuses an `actual` beyond guest RAM,
// so the device must not keep one either.
TEST_F(BalloonTest, ActualIsClampedToGuestRam) {
  WriteConfigField(offsetof(virtio_balloon_config, actual), 0xffffffff);
  EXPECT_EQ(balloon_->actual_pages(), kHighEndPfn);
  state::StateWriter w;
  w.BeginNode("b");
  ASSERT_TRUE(balloon_->Save(w).ok());
  w.EndNode();
  auto reader = state::StateReader::Parse(*w.Finish());
  ASSERT_TRUE(reader.ok());
  Balloon fresh(mem_);
  EXPECT_TRUE(fresh.Load(*reader->Node("b")).ok());
}

TEST_F(BalloonTest, HintCommandIdsAreNewToTheGuestAcrossSaveAndRestore) {
  Activate(kVersion1 | Bit(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
  EXPECT_EQ(balloon_->NextHintCommandId(), 0x80000000u);
  ASSERT_TRUE(balloon_->StartHinting(balloon_->NextHintCommandId()).ok());
  EXPECT_EQ(balloon_->NextHintCommandId(), 0x80000001u);
  ASSERT_TRUE(balloon_->DoneHinting().ok());

  // The guest remembers 0x80000000 as its last report; a VMM restoring
  // this state (another process, another host) must not ask under it again.
  state::StateWriter w;
  w.BeginNode("b");
  ASSERT_TRUE(balloon_->Save(w).ok());
  w.EndNode();
  auto saved = state::StateReader::Parse(*w.Finish());
  ASSERT_TRUE(saved.ok()) << saved.status();
  ASSERT_TRUE(balloon_->StartHinting(0xfffffffeu).ok());
  EXPECT_EQ(balloon_->NextHintCommandId(), 0xffffffffu);
  ASSERT_TRUE(balloon_->StartHinting(0xffffffffu).ok());
  EXPECT_EQ(balloon_->NextHintCommandId(), 0x80000000u);  // wraps past STOP and DONE
  ASSERT_TRUE(balloon_->Load(*saved->Node("b")).ok());
  EXPECT_EQ(balloon_->NextHintCommandId(), 0x80000001u);
}

TEST_F(BalloonTest, FreePageHintingIsBookkeepingOnly) {
  const uint64_t features = kVersion1 | Bit(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
  EXPECT_FALSE(balloon_->StartHinting(7).ok());  // not active
  Activate(features);
  EXPECT_FALSE(balloon_->StartHinting(VIRTIO_BALLOON_CMD_ID_DONE).ok());
  ASSERT_TRUE(balloon_->StartHinting(7).ok());
  EXPECT_EQ(config_changes_, 1);
  EXPECT_EQ(ConfigField(offsetof(virtio_balloon_config, free_page_hint_cmd_id)), 7u);

  auto send_id = [&](uint32_t id) {
    memory::Gpa gpa = NextBuffer(4);
    ASSERT_TRUE(mem_.Write<uint32_t>(gpa, id).ok());
    FakeDriver::Buffer b[] = {{gpa, 4, false}};
    drivers_[2]->AddChain(b);
  };
  auto send_block = [&](uint64_t pfn) {
    FakeDriver::Buffer b[] = {{pfn * kPageSize, 4 * static_cast<uint32_t>(kMiB), true}};
    drivers_[2]->AddChain(b);
  };
  Touch(kFirstDataPfn, 1);
  send_block(kFirstDataPfn);  // before the id: ignored
  send_id(7);
  send_block(kFirstDataPfn);
  send_block(kFirstDataPfn + 1024);
  {
    // One buffer of several blocks, a descriptor each (the project's guest
    // batches 8 per buffer): every one is hinted.
    FakeDriver::Buffer batch[] = {{kHighStartPfn * kPageSize, 4 * static_cast<uint32_t>(kMiB), true},
                                  {(kHighStartPfn + 1024) * kPageSize, 4 * static_cast<uint32_t>(kMiB), true}};
    drivers_[2]->AddChain(batch);
  }
  send_id(VIRTIO_BALLOON_CMD_ID_STOP);
  send_block(kFirstDataPfn + 2048);  // after STOP: ignored
  ASSERT_TRUE(balloon_->ProcessQueue(2).ok());
  EXPECT_FALSE(balloon_->hinting_in_progress());
  EXPECT_EQ(balloon_->TakeHintedRanges(),
            (std::vector<memory::GpaRange>{{kFirstDataPfn * kPageSize, 4 * kMiB},
                                   {(kFirstDataPfn + 1024) * kPageSize, 4 * kMiB},
                                   {kHighStartPfn * kPageSize, 4 * kMiB},
                                   {(kHighStartPfn + 1024) * kPageSize, 4 * kMiB}}));
  EXPECT_TRUE(balloon_->TakeHintedRanges().empty());
  EXPECT_EQ(balloon_->counters().hinted_ranges, 4u);
  EXPECT_EQ(balloon_->counters().discard_calls, 0u);
  EXPECT_EQ(ByteAtPfn(kFirstDataPfn), 0x5a);  // never discarded
  EXPECT_EQ(drivers_[2]->UsedIdx(), 7);       // every buffer returned

  // A stale id does not reopen hinting.
  send_id(6);
  send_block(kFirstDataPfn);
  ASSERT_TRUE(balloon_->ProcessQueue(2).ok());
  EXPECT_TRUE(balloon_->TakeHintedRanges().empty());

  ASSERT_TRUE(balloon_->DoneHinting().ok());
  EXPECT_EQ(ConfigField(offsetof(virtio_balloon_config, free_page_hint_cmd_id)),
            uint32_t{VIRTIO_BALLOON_CMD_ID_DONE});
  ASSERT_TRUE(balloon_->StopHinting().ok());
  EXPECT_EQ(ConfigField(offsetof(virtio_balloon_config, free_page_hint_cmd_id)),
            uint32_t{VIRTIO_BALLOON_CMD_ID_STOP});
}

// What the migrator sees: the balloon through memory::PageHints only.
TEST_F(BalloonTest, ServesTheMigratorAsPageHints) {
  memory::PageHints& hints = *balloon_;
  EXPECT_FALSE(hints.CanHint());  // not active
  EXPECT_FALSE(hints.StartHinting().ok());
  Activate(kVersion1);
  EXPECT_FALSE(hints.CanHint());  // FREE_PAGE_HINT not accepted
  balloon_->Reset();
  drivers_.clear();
  const uint64_t features = kVersion1 | Bit(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
  Activate(features);  // queues: inflate, deflate, hint
  EXPECT_TRUE(hints.CanHint());

  // Ballooned pages on both sides of the gap between the regions come back
  // as guest-physical ranges, one per region.
  OfferPfns(0, {kLowEndPfn - 1, kHighStartPfn});
  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  EXPECT_EQ(hints.BalloonedRanges(), (std::vector<memory::GpaRange>{{(kLowEndPfn - 1) * kPageSize, kPageSize},
                                                                     {kHighStartPfn * kPageSize, kPageSize}}));

  // StartHinting picks the id; the report under it counts once STOP comes.
  ASSERT_TRUE(hints.StartHinting().ok());
  const uint32_t id = ConfigField(offsetof(virtio_balloon_config, free_page_hint_cmd_id));
  EXPECT_EQ(id, 0x80000000u);
  EXPECT_EQ(hints.HintReportsCompleted(), 0u);
  auto send_id = [&](uint32_t value) {
    memory::Gpa gpa = NextBuffer(4);
    ASSERT_TRUE(mem_.Write<uint32_t>(gpa, value).ok());
    FakeDriver::Buffer b[] = {{gpa, 4, false}};
    drivers_[2]->AddChain(b);
  };
  send_id(id);
  FakeDriver::Buffer block[] = {{kFirstDataPfn * kPageSize, 16 * static_cast<uint32_t>(kPageSize), true}};
  drivers_[2]->AddChain(block);
  send_id(VIRTIO_BALLOON_CMD_ID_STOP);
  ASSERT_TRUE(balloon_->ProcessQueue(2).ok());
  EXPECT_EQ(hints.HintReportsCompleted(), 1u);
  EXPECT_EQ(hints.TakeHintedRanges(), (std::vector<memory::GpaRange>{{kFirstDataPfn * kPageSize, 16 * kPageSize}}));
  ASSERT_TRUE(hints.StopHinting().ok());
  ASSERT_TRUE(hints.DoneHinting().ok());
  EXPECT_EQ(ConfigField(offsetof(virtio_balloon_config, free_page_hint_cmd_id)),
            uint32_t{VIRTIO_BALLOON_CMD_ID_DONE});
  // The next report asks under a new id.
  ASSERT_TRUE(hints.StartHinting().ok());
  EXPECT_EQ(ConfigField(offsetof(virtio_balloon_config, free_page_hint_cmd_id)), id + 1);

  balloon_->Reset();  // the driver went away
  EXPECT_FALSE(hints.CanHint());
  EXPECT_TRUE(hints.BalloonedRanges().empty());
}

TEST_F(BalloonTest, ResetClearsBallooningAndStopsProcessing) {
  Activate(kVersion1);
  OfferPfns(0, {kFirstDataPfn});
  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  EXPECT_EQ(balloon_->ballooned_pages(), 1u);
  balloon_->Reset();
  EXPECT_EQ(balloon_->ballooned_pages(), 0u);
  OfferPfns(0, {kFirstDataPfn + 1});
  EXPECT_TRUE(balloon_->ProcessQueue(0).ok());  // ignored: not active
  EXPECT_EQ(balloon_->counters().requests, 1u);
}

TEST_F(BalloonTest, ActivateRequiresInflateAndDeflateQueues) {
  std::vector<virtio::Queue> queues(2, virtio::Queue(Balloon::kQueueSize));
  EXPECT_FALSE(balloon_
                   ->Activate({.mem = &mem_,
                               .queues = std::move(queues),
                               .features = kVersion1,
                               .signal_used = [] {}})
                   .ok());
}

// The whole path through the register file, as the Linux driver drives it,
// with event-idx on and only REPORTING among the optional queues.
TEST_F(BalloonTest, EndToEndThroughMmioTransport) {
  auto balloon = std::make_shared<Balloon>(mem_);
  int irqs = 0;
  virtio::MmioTransport transport(mem_, balloon, [&] { ++irqs; });
  auto write = [&](uint64_t off, uint32_t v) {
    transport.Write(off, {reinterpret_cast<const uint8_t*>(&v), 4});
  };
  auto read = [&](uint64_t off) {
    uint32_t v;
    transport.Read(off, {reinterpret_cast<uint8_t*>(&v), 4});
    return v;
  };
  const uint64_t features =
      kVersion1 | Bit(VIRTIO_RING_F_EVENT_IDX) | Bit(VIRTIO_BALLOON_F_REPORTING);
  EXPECT_EQ(read(VIRTIO_MMIO_DEVICE_ID), 5u);
  write(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  write(VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features));
  write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  write(VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features >> 32));
  const uint32_t feat_ok =
      VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
  write(VIRTIO_MMIO_STATUS, feat_ok);
  ASSERT_EQ(read(VIRTIO_MMIO_STATUS), feat_ok);
  std::vector<std::unique_ptr<FakeDriver>> drivers;
  for (uint32_t q = 0; q < 3; ++q) {
    drivers.push_back(std::make_unique<FakeDriver>(
        mem_, kRings + q * FakeDriver::Footprint(Balloon::kQueueSize), Balloon::kQueueSize));
    write(VIRTIO_MMIO_QUEUE_SEL, q);
    ASSERT_GE(read(VIRTIO_MMIO_QUEUE_NUM_MAX), 32u);
    write(VIRTIO_MMIO_QUEUE_NUM, Balloon::kQueueSize);
    write(VIRTIO_MMIO_QUEUE_DESC_LOW, static_cast<uint32_t>(drivers[q]->desc_table()));
    write(VIRTIO_MMIO_QUEUE_AVAIL_LOW, static_cast<uint32_t>(drivers[q]->avail_ring()));
    write(VIRTIO_MMIO_QUEUE_USED_LOW, static_cast<uint32_t>(drivers[q]->used_ring()));
    write(VIRTIO_MMIO_QUEUE_READY, 1);
    ASSERT_EQ(read(VIRTIO_MMIO_QUEUE_READY), 1u);
  }
  write(VIRTIO_MMIO_STATUS, feat_ok | VIRTIO_CONFIG_S_DRIVER_OK);
  ASSERT_EQ(read(VIRTIO_MMIO_STATUS), feat_ok | VIRTIO_CONFIG_S_DRIVER_OK);

  // Host asks for 16 pages: config interrupt, generation bump.
  const uint32_t gen = read(VIRTIO_MMIO_CONFIG_GENERATION);
  balloon->SetTargetPages(16);
  EXPECT_EQ(read(VIRTIO_MMIO_CONFIG + offsetof(virtio_balloon_config, num_pages)), 16u);
  EXPECT_TRUE(read(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
  EXPECT_EQ(read(VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
  write(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);

  // Guest inflates 16 pages.
  Touch(kFirstDataPfn, 16);
  std::vector<uint32_t> pfns;
  for (uint32_t p = 0; p < 16; ++p) pfns.push_back(kFirstDataPfn + p);
  memory::Gpa buf = PutPfns(pfns);
  FakeDriver::Buffer b[] = {{buf, 64, false}};
  drivers[0]->SetUsedEvent(0);
  drivers[0]->AddChain(b);
  const int irqs_before = irqs;
  write(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  EXPECT_EQ(drivers[0]->UsedIdx(), 1);
  EXPECT_EQ(irqs, irqs_before + 1);
  EXPECT_EQ(read(VIRTIO_MMIO_INTERRUPT_STATUS), uint32_t{VIRTIO_MMIO_INT_VRING});
  EXPECT_EQ(drivers[0]->AvailEvent(), 1);  // event-idx: notify me at the next one
  EXPECT_EQ(ByteAtPfn(kFirstDataPfn + 15), 0);
  uint32_t actual = 16;
  transport.Write(VIRTIO_MMIO_CONFIG + offsetof(virtio_balloon_config, actual),
                  {reinterpret_cast<const uint8_t*>(&actual), 4});
  EXPECT_EQ(balloon->actual_pages(), 16u);
  EXPECT_EQ(balloon->counters().discard_calls, 1u);

  // Reporting is queue 2 here.
  Touch(kFirstDataPfn + 512, 512);
  FakeDriver::Buffer block[] = {{(kFirstDataPfn + 512) * kPageSize, 2 * kMiB, true}};
  drivers[2]->AddChain(block);
  write(VIRTIO_MMIO_QUEUE_NOTIFY, 2);
  EXPECT_EQ(balloon->counters().reported_ranges, 1u);
  EXPECT_EQ(drivers[2]->UsedIdx(), 1);

  // A corrupt ring puts the device in NEEDS_RESET.
  drivers[1]->WriteDesc(0, ~0ull, 4, 0, 0);
  drivers[1]->PublishHead(0);
  write(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
  EXPECT_TRUE(read(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
  write(VIRTIO_MMIO_STATUS, 0);
  EXPECT_EQ(balloon->ballooned_pages(), 0u);
}


// The balloon behind its transport survives save/load into a fresh pair:
// config, ballooned pages, counters and the ring positions.
TEST_F(BalloonTest, TransportAndBalloonStateRoundTrip) {
  auto balloon = std::make_shared<Balloon>(mem_);
  virtio::MmioTransport transport(mem_, balloon, [] {});
  auto write = [](virtio::MmioTransport& t, uint64_t off, uint32_t v) {
    t.Write(off, {reinterpret_cast<const uint8_t*>(&v), 4});
  };
  auto read = [](virtio::MmioTransport& t, uint64_t off) {
    uint32_t v;
    t.Read(off, {reinterpret_cast<uint8_t*>(&v), 4});
    return v;
  };
  const uint64_t features = kVersion1 | Bit(VIRTIO_BALLOON_F_STATS_VQ);
  const uint32_t ok = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
  write(transport, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  write(transport, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  write(transport, VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features));
  write(transport, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  write(transport, VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features >> 32));
  write(transport, VIRTIO_MMIO_STATUS, ok);
  std::vector<std::unique_ptr<FakeDriver>> drivers;
  for (uint32_t q = 0; q < 3; ++q) {
    drivers.push_back(std::make_unique<FakeDriver>(
        mem_, kRings + q * FakeDriver::Footprint(Balloon::kQueueSize), Balloon::kQueueSize));
    write(transport, VIRTIO_MMIO_QUEUE_SEL, q);
    write(transport, VIRTIO_MMIO_QUEUE_NUM, Balloon::kQueueSize);
    write(transport, VIRTIO_MMIO_QUEUE_DESC_LOW, static_cast<uint32_t>(drivers[q]->desc_table()));
    write(transport, VIRTIO_MMIO_QUEUE_AVAIL_LOW, static_cast<uint32_t>(drivers[q]->avail_ring()));
    write(transport, VIRTIO_MMIO_QUEUE_USED_LOW, static_cast<uint32_t>(drivers[q]->used_ring()));
    write(transport, VIRTIO_MMIO_QUEUE_READY, 1);
  }
  write(transport, VIRTIO_MMIO_STATUS, ok | VIRTIO_CONFIG_S_DRIVER_OK);
  balloon->SetTargetPages(24);
  Touch(kFirstDataPfn, 24);
  std::vector<uint32_t> pfns;
  for (uint32_t p = 0; p < 16; ++p) pfns.push_back(kFirstDataPfn + p);
  FakeDriver::Buffer b1[] = {{PutPfns(pfns), 64, false}};
  drivers[0]->AddChain(b1);
  write(transport, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  ASSERT_EQ(balloon->ballooned_pages(), 16u);

  state::StateWriter w;
  w.BeginNode("t");
  ASSERT_TRUE(transport.Save(w).ok());
  w.EndNode();
  auto reader = state::StateReader::Parse(*w.Finish());
  ASSERT_TRUE(reader.ok());

  auto balloon2 = std::make_shared<Balloon>(mem_);
  virtio::MmioTransport transport2(mem_, balloon2, [] {});
  ASSERT_TRUE(transport2.Load(*reader->Node("t")).ok());
  EXPECT_EQ(read(transport2, VIRTIO_MMIO_STATUS), ok | VIRTIO_CONFIG_S_DRIVER_OK);
  EXPECT_EQ(transport2.driver_features(), features);
  EXPECT_EQ(balloon2->ballooned_pages(), 16u);
  EXPECT_EQ(balloon2->target_pages(), 24u);
  EXPECT_EQ(balloon2->counters().discard_calls, balloon->counters().discard_calls);
  // The next request continues where the source left off.
  pfns.clear();
  for (uint32_t p = 16; p < 24; ++p) pfns.push_back(kFirstDataPfn + p);
  FakeDriver::Buffer b2[] = {{PutPfns(pfns), 32, false}};
  drivers[0]->AddChain(b2);
  write(transport2, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  EXPECT_EQ(drivers[0]->UsedIdx(), 2);
  EXPECT_EQ(balloon2->ballooned_pages(), 24u);
}

TEST_F(BalloonTest, TransportStateWithoutDeviceNodeIsRefusedAndLeavesItReset) {
  auto balloon = std::make_shared<Balloon>(mem_);
  virtio::MmioTransport transport(mem_, balloon, [] {});
  state::StateWriter w;
  w.BeginNode("t");
  w.PutU32("status", 0xf);
  w.EndNode();
  auto reader = state::StateReader::Parse(*w.Finish());
  EXPECT_FALSE(transport.Load(*reader->Node("t")).ok());
  EXPECT_EQ(transport.status(), 0u);
}

}  // namespace
}  // namespace devices

namespace devices {
namespace {

// A guest that chains every descriptor the ring allows, all at one full
// PFN buffer, in chain after chain (indirect tables of the ring's size),
// makes the device hold no more than one bounded batch of PFNs at a time,
// and the pages it names are still ballooned and discarded.
TEST_F(BalloonTest, ChainsOfDescriptorsAtOneBufferAreServedInBoundedBatches) {
  Activate(kVersion1);
  Touch(kFirstDataPfn, Balloon::kMaxPfnsPerBuffer);
  std::vector<uint32_t> pfns;
  for (uint32_t p = 0; p < Balloon::kMaxPfnsPerBuffer; ++p) pfns.push_back(kFirstDataPfn + p);
  const memory::Gpa buffer = PutPfns(pfns);
  const std::vector<FakeDriver::Buffer> same(Balloon::kQueueSize,
                                             {buffer, Balloon::kMaxPfnsPerBuffer * 4, false});
  constexpr int kChains = 16;
  for (int i = 0; i < kChains; ++i) {
    drivers_[0]->AddIndirectChain(same, NextBuffer(same.size() * sizeof(vring_desc)));
  }
  // The last chain names other pages after a full batch of repeats: they
  // must be applied too, from the batch that follows.
  const uint32_t other_first = kFirstDataPfn + 1024;
  Touch(other_first, Balloon::kMaxPfnsPerBuffer);
  std::vector<uint32_t> others;
  for (uint32_t p = 0; p < Balloon::kMaxPfnsPerBuffer; ++p) others.push_back(other_first + p);
  std::vector<FakeDriver::Buffer> mixed(Balloon::kMaxBatchPfns / Balloon::kMaxPfnsPerBuffer + 1,
                                        {buffer, Balloon::kMaxPfnsPerBuffer * 4, false});
  mixed.push_back({PutPfns(others), Balloon::kMaxPfnsPerBuffer * 4, false});
  drivers_[0]->AddIndirectChain(mixed, NextBuffer(mixed.size() * sizeof(vring_desc)));

  ASSERT_TRUE(balloon_->ProcessQueue(0).ok());
  // Collected all at once, this would be kChains * kQueueSize full buffers.
  EXPECT_GT(balloon_->peak_batch_pfns(), 0u);
  EXPECT_LE(balloon_->peak_batch_pfns(), Balloon::kMaxBatchPfns);
  EXPECT_EQ(balloon_->counters().requests, kChains + 1u);
  EXPECT_EQ(drivers_[0]->UsedIdx(), kChains + 1);
  EXPECT_EQ(balloon_->ballooned_pages(), 2u * Balloon::kMaxPfnsPerBuffer);
  EXPECT_EQ(balloon_->BalloonedRanges(),
            (std::vector<memory::GpaRange>{{kFirstDataPfn * kPageSize, Balloon::kMaxPfnsPerBuffer * kPageSize},
                                           {other_first * kPageSize, Balloon::kMaxPfnsPerBuffer * kPageSize}}));
  EXPECT_EQ(ByteAtPfn(kFirstDataPfn), 0);
  EXPECT_EQ(ByteAtPfn(other_first + Balloon::kMaxPfnsPerBuffer - 1), 0);
}

}  // namespace
}  // namespace devices
