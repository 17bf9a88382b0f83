// SPDX-License-Identifier: MIT
// The virtio-net device end to end on a real tap, in a network namespace
// of the test's own (root only: skipped without the privilege), and on a
// socket pair without its worker thread (the fuzz target's harness). A
// FakeDriver pair over plain guest memory plays the guest's driver through
// the virtio-mmio transport; a packet socket on the tap plays the host's
// network.
#include "devices/net/net.h"

#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/virtio_mmio.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "devices/net/announce.h"
#include "devices/net/testing/net_harness.h"

namespace devices {
namespace {

using testing::HostPort;
using testing::NetHarness;
using testing::TestFrame;
using Buffer = virtio::FakeDriver::Buffer;

constexpr uint64_t Bit(unsigned n) { return 1ull << n; }
constexpr memory::Gpa kRxBuf = NetHarness::kData;
constexpr memory::Gpa kTxBuf = NetHarness::kData + (2 << 20);
constexpr char kTap[] = "vmmnet0";

class NetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::EnterFreshNetns()) GTEST_SKIP() << "no network namespace of our own (not root?)";
    absl::StatusOr<Tap> tap = Tap::Open(kTap);
    ASSERT_TRUE(tap.ok()) << tap.status();
    h_ = NetHarness::Make(std::move(*tap));
    ASSERT_NE(h_, nullptr);
    ASSERT_TRUE(testing::SetLinkUp(kTap));
    std::optional<HostPort> host = HostPort::Open(kTap);
    ASSERT_TRUE(host.has_value());
    host_.emplace(std::move(*host));
  }
  void Ready(uint64_t accept = ~0ull) {
    const uint32_t status = h_->Negotiate(accept);
    ASSERT_TRUE(status & VIRTIO_CONFIG_S_DRIVER_OK) << status;
  }
  // One receive chain of `lens` writable buffers from `at`, notified.
  void OfferRx(std::vector<uint32_t> lens, memory::Gpa at = kRxBuf) {
    std::vector<Buffer> chain;
    for (uint32_t len : lens) {
      chain.push_back({at, len, true});
      at += len;
    }
    h_->rx->AddChain(chain);
    h_->Notify(Net::kRxQueue);
  }
  std::vector<uint8_t> GuestMac() { return {NetHarness::kMac.begin(), NetHarness::kMac.end()}; }

  std::unique_ptr<NetHarness> h_;
  std::optional<HostPort> host_;
};

TEST_F(NetTest, HostFrameLandsInAGuestChainOfSeveralBuffers) {
  Ready();
  OfferRx({100, 60, 4000});
  const std::vector<uint8_t> frame = TestFrame(300, 7, NetHarness::kMac);
  ASSERT_TRUE(host_->Send(frame));
  ASSERT_TRUE(h_->WaitRxUsed(1));
  EXPECT_EQ(h_->rx->UsedAt(0).len, kNetHeaderBytes + frame.size());
  virtio_net_hdr_v1 hdr;
  ASSERT_TRUE(h_->mem.Read<virtio_net_hdr_v1>(kRxBuf).ok());
  hdr = *h_->mem.Read<virtio_net_hdr_v1>(kRxBuf);
  EXPECT_EQ(hdr.num_buffers, 1);
  EXPECT_EQ(hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);
  // The buffers are contiguous here, so the frame reads back in one piece.
  EXPECT_EQ(h_->Guest(kRxBuf + kNetHeaderBytes, frame.size()), frame);
  EXPECT_GT(*h_->irqs, 0);
  EXPECT_EQ(h_->net->counters().rx_frames, 1u);
}

// Without a worker (the fuzz target's harness) nothing moves until the
// caller serves, and then frames go both ways on the calling thread.
TEST(NetWithoutWorkerTest, FramesMoveBothWaysOnlyWhenTheCallerServes) {
  base::UniqueFd host;
  std::unique_ptr<NetHarness> h = NetHarness::MakeOnSocketPairWithoutWorker(host);
  ASSERT_NE(h, nullptr);
  ASSERT_TRUE(h->Negotiate() & VIRTIO_CONFIG_S_DRIVER_OK);

  const std::vector<uint8_t> out = TestFrame(200, 4, {0x02, 0, 0, 0, 0, 0x42});
  h->Transmit({}, out, kTxBuf);  // notifies, then serves here
  std::vector<uint8_t> got(4096);
  const ssize_t n = ::recv(host.get(), got.data(), got.size(), MSG_DONTWAIT);
  ASSERT_EQ(n, static_cast<ssize_t>(kNetHeaderBytes + out.size()));
  EXPECT_TRUE(std::equal(out.begin(), out.end(), got.begin() + kNetHeaderBytes));
  EXPECT_EQ(h->tx->UsedIdx(), 1);

  const std::vector<uint8_t> in = TestFrame(300, 5, NetHarness::kMac);
  std::vector<uint8_t> wire(kNetHeaderBytes, 0);
  wire.insert(wire.end(), in.begin(), in.end());
  ASSERT_EQ(::send(host.get(), wire.data(), wire.size(), MSG_DONTWAIT), static_cast<ssize_t>(wire.size()));
  const std::vector<Buffer> chain = {{kRxBuf, 4096, true}};
  h->rx->AddChain(chain);
  h->Notify(Net::kRxQueue);
  EXPECT_EQ(h->rx->UsedIdx(), 0);  // no worker took it
  h->Serve();
  ASSERT_EQ(h->rx->UsedIdx(), 1);
  EXPECT_EQ(h->rx->UsedAt(0).len, kNetHeaderBytes + in.size());
  EXPECT_EQ(h->Guest(kRxBuf + kNetHeaderBytes, in.size()), in);
  EXPECT_EQ(h->net->counters().rx_frames, 1u);
}

TEST_F(NetTest, GuestFrameInSeveralBuffersReachesTheHost) {
  Ready();
  const std::vector<uint8_t> frame = TestFrame(1000, 3, {0x02, 0, 0, 0, 0, 0x99});
  h_->Transmit({}, frame, kTxBuf, {5, 20, 300});
  std::optional<std::vector<uint8_t>> got = host_->Receive();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, frame);
  EXPECT_EQ(h_->tx->UsedIdx(), 1);
  EXPECT_EQ(h_->tx->UsedAt(0).len, 0u);
  EXPECT_EQ(h_->net->counters().tx_frames, 1u);
}

TEST_F(NetTest, ManyFramesInOneNotificationAllGoOutOverSeveralPasses) {
  Ready();
  constexpr int kFrames = 3 * Net::kBudget + 5;
  for (int i = 0; i < kFrames; ++i) {
    const std::vector<uint8_t> frame = TestFrame(64, static_cast<uint8_t>(i), {0x02, 0, 0, 0, 0, 0x99});
    std::vector<uint8_t> bytes(kNetHeaderBytes, 0);
    bytes.insert(bytes.end(), frame.begin(), frame.end());
    const memory::Gpa at = kTxBuf + static_cast<uint64_t>(i) * 256;
    ASSERT_TRUE(h_->mem.WriteBytes(at, bytes).ok());
    const Buffer b{at, static_cast<uint32_t>(bytes.size()), false};
    h_->tx->AddChain({&b, 1});
  }
  h_->Notify(Net::kTxQueue);
  h_->SyncTx();
  EXPECT_EQ(h_->tx->UsedIdx(), kFrames);
  int seen = 0;
  while (host_->Receive(500).has_value()) ++seen;
  EXPECT_EQ(seen, kFrames);
}

TEST_F(NetTest, OffloadsFollowTheDriversFeatures) {
  ASSERT_TRUE(h_->OfferedFeatures() & Bit(VIRTIO_NET_F_GUEST_TSO4));
  Ready();
  h_->SyncTx();  // a pass of the worker, which sets them
  EXPECT_EQ(h_->net->tap_offloads(), unsigned{TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6});
  h_->WriteReg(VIRTIO_MMIO_STATUS, 0);
  h_->SyncTx();
  EXPECT_EQ(h_->net->tap_offloads(), 0u);
  Ready(~(Bit(VIRTIO_NET_F_GUEST_TSO4) | Bit(VIRTIO_NET_F_GUEST_TSO6)));
  h_->SyncTx();
  EXPECT_EQ(h_->net->tap_offloads(), unsigned{TUN_F_CSUM});
}

TEST_F(NetTest, SegmentationWithoutItsChecksumFeatureIsRefusedAtDriverOk) {
  const uint32_t status = h_->Negotiate(~Bit(VIRTIO_NET_F_GUEST_CSUM));
  EXPECT_TRUE(status & VIRTIO_CONFIG_S_NEEDS_RESET) << status;
}

TEST_F(NetTest, ConfigSpaceHoldsTheMacAndLinkUp) {
  Ready();
  std::vector<uint8_t> mac(6);
  for (size_t i = 0; i < 6; ++i) {
    h_->transport->Read(VIRTIO_MMIO_CONFIG + i, {&mac[i], 1});
  }
  EXPECT_EQ(mac, GuestMac());
  uint16_t status = 0;
  h_->transport->Read(VIRTIO_MMIO_CONFIG + offsetof(virtio_net_config, status),
                      {reinterpret_cast<uint8_t*>(&status), 2});
  EXPECT_EQ(status, VIRTIO_NET_S_LINK_UP);
}

TEST_F(NetTest, OversizedGuestFrameIsDroppedAndTheNextOneGoes) {
  Ready();
  const std::vector<uint8_t> big = TestFrame(kMaxFrameBytes + 1 - 14, 1, {0x02, 0, 0, 0, 0, 0x99});
  h_->Transmit({}, big, kTxBuf, {4096, 4096});
  EXPECT_EQ(h_->tx->UsedIdx(), 1);
  EXPECT_EQ(h_->net->counters().tx_dropped, 1u);
  EXPECT_FALSE(host_->Receive(200).has_value());
  const std::vector<uint8_t> small = TestFrame(50, 2, {0x02, 0, 0, 0, 0, 0x99});
  h_->Transmit({}, small, kTxBuf);
  std::optional<std::vector<uint8_t>> got = host_->Receive();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, small);
}

TEST_F(NetTest, BadTransmitChainsAreDroppedNotSent) {
  Ready(~Bit(VIRTIO_NET_F_CSUM) & ~Bit(VIRTIO_NET_F_HOST_TSO4) & ~Bit(VIRTIO_NET_F_HOST_TSO6));
  // A writable buffer in a transmit chain.
  std::vector<uint8_t> bytes(kNetHeaderBytes, 0);
  const std::vector<uint8_t> frame = TestFrame(50, 2, {0x02, 0, 0, 0, 0, 0x99});
  bytes.insert(bytes.end(), frame.begin(), frame.end());
  ASSERT_TRUE(h_->mem.WriteBytes(kTxBuf, bytes).ok());
  const Buffer writable[] = {{kTxBuf, static_cast<uint32_t>(bytes.size()), false}, {kTxBuf + 4096, 10, true}};
  h_->tx->AddChain(writable);
  // Shorter than the header.
  const Buffer short_chain{kTxBuf, kNetHeaderBytes - 1, false};
  h_->tx->AddChain({&short_chain, 1});
  h_->Notify(Net::kTxQueue);
  h_->SyncTx();
  // A checksum request the driver did not negotiate.
  virtio_net_hdr_v1 csum = {};
  csum.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  csum.csum_start = 14;
  csum.csum_offset = 6;
  h_->Transmit(csum, frame, kTxBuf);
  EXPECT_EQ(h_->tx->UsedIdx(), 3);
  EXPECT_EQ(h_->net->counters().tx_dropped, 3u);
  EXPECT_EQ(h_->net->counters().tx_frames, 0u);
  EXPECT_FALSE(host_->Receive(200).has_value());
}

TEST_F(NetTest, TooSmallReceiveChainDropsTheFrameAndComesBackEmpty) {
  Ready();
  OfferRx({100});
  ASSERT_TRUE(host_->Send(TestFrame(500, 1, NetHarness::kMac)));
  ASSERT_TRUE(h_->WaitRxUsed(1));
  EXPECT_EQ(h_->rx->UsedAt(0).len, 0u);
  EXPECT_EQ(h_->net->counters().rx_dropped, 1u);
  OfferRx({2000}, kRxBuf + 8192);
  const std::vector<uint8_t> next = TestFrame(600, 9, NetHarness::kMac);
  ASSERT_TRUE(host_->Send(next));
  ASSERT_TRUE(h_->WaitRxUsed(2));
  EXPECT_EQ(h_->rx->UsedAt(1).len, kNetHeaderBytes + next.size());
  EXPECT_EQ(h_->Guest(kRxBuf + 8192 + kNetHeaderBytes, next.size()), next);
}

TEST_F(NetTest, ReadableReceiveBufferIsReturnedUnusedAndTheFrameWaits) {
  Ready();
  const Buffer readable{kRxBuf, 2000, false};
  h_->rx->AddChain({&readable, 1});
  h_->Notify(Net::kRxQueue);
  const std::vector<uint8_t> frame = TestFrame(100, 4, NetHarness::kMac);
  ASSERT_TRUE(host_->Send(frame));
  ASSERT_TRUE(h_->WaitRxUsed(1));
  EXPECT_EQ(h_->rx->UsedAt(0).len, 0u);
  OfferRx({2000}, kRxBuf + 8192);
  ASSERT_TRUE(h_->WaitRxUsed(2));
  EXPECT_EQ(h_->Guest(kRxBuf + 8192 + kNetHeaderBytes, frame.size()), frame);
}

TEST_F(NetTest, FrameWaitsForTheGuestsBuffers) {
  Ready();
  const std::vector<uint8_t> frame = TestFrame(100, 5, NetHarness::kMac);
  ASSERT_TRUE(host_->Send(frame));
  EXPECT_FALSE(h_->WaitRxUsed(1, 200));
  OfferRx({2000});
  ASSERT_TRUE(h_->WaitRxUsed(1));
  EXPECT_EQ(h_->Guest(kRxBuf + kNetHeaderBytes, frame.size()), frame);
}

TEST_F(NetTest, DrainedDeviceWritesNoGuestMemoryUntilResumed) {
  Ready();
  OfferRx({2000});
  h_->net->Drain();
  ASSERT_TRUE(host_->Send(TestFrame(100, 6, NetHarness::kMac)));
  EXPECT_FALSE(h_->WaitRxUsed(1, 300));
  h_->net->Resume();
  EXPECT_TRUE(h_->WaitRxUsed(1));
}

TEST_F(NetTest, ReceivedFramesMarkTheirPagesDirty) {
  Ready();
  OfferRx({2000}, kRxBuf + 5 * 4096);
  h_->mem.SetDirtyTracking(true);
  (void)h_->mem.TakeDirtyPages(0);
  ASSERT_TRUE(host_->Send(TestFrame(100, 6, NetHarness::kMac)));
  ASSERT_TRUE(h_->WaitRxUsed(1));
  const std::vector<uint64_t> dirty = h_->mem.TakeDirtyPages(0);
  const uint64_t page = (kRxBuf + 5 * 4096) / 4096;
  ASSERT_GT(dirty.size(), page / 64);
  EXPECT_TRUE(dirty[page / 64] >> (page % 64) & 1);
}

TEST_F(NetTest, AnnounceSendsRarpFromTheGuestsMac) {
  std::optional<HostPort> rarp = HostPort::Open(kTap, ETH_P_RARP);
  ASSERT_TRUE(rarp.has_value());
  Ready();
  h_->net->Announce();
  const std::array<uint8_t, kAnnounceFrameBytes> expected = AnnounceFrame(NetHarness::kMac);
  for (int i = 0; i < Net::kAnnounceRounds; ++i) {
    std::optional<std::vector<uint8_t>> got = rarp->Receive();
    ASSERT_TRUE(got.has_value()) << "announce " << i;
    EXPECT_EQ(*got, std::vector<uint8_t>(expected.begin(), expected.end()));
  }
  EXPECT_FALSE(rarp->Receive(300).has_value());
  EXPECT_EQ(h_->net->counters().announces, unsigned{Net::kAnnounceRounds});
}

TEST_F(NetTest, CorruptTransmitRingStopsItUntilReset) {
  Ready();
  h_->tx->PublishHead(Net::kQueueSize + 3);  // no such descriptor
  h_->Notify(Net::kTxQueue);
  h_->SyncTx();
  const std::vector<uint8_t> frame = TestFrame(50, 8, {0x02, 0, 0, 0, 0, 0x99});
  h_->Transmit({}, frame, kTxBuf);
  EXPECT_FALSE(host_->Receive(200).has_value());
  // Receiving still works.
  OfferRx({2000});
  ASSERT_TRUE(host_->Send(TestFrame(100, 6, NetHarness::kMac)));
  EXPECT_TRUE(h_->WaitRxUsed(1));
  h_->WriteReg(VIRTIO_MMIO_STATUS, 0);
  Ready();
  h_->Transmit({}, frame, kTxBuf);
  std::optional<std::vector<uint8_t>> got = host_->Receive();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, frame);
}

TEST(NetCreateTest, ATapThatCannotBeOpenedIsNamed) {
  absl::StatusOr<std::shared_ptr<Net>> net = Net::Create("no/such:tap", {});
  ASSERT_FALSE(net.ok());
  EXPECT_NE(std::string(net.status().message()).find("no/such:tap"), std::string::npos) << net.status();
}

}  // namespace
}  // namespace devices
