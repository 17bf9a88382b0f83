// SPDX-License-Identifier: MIT
// The Migratable conformance suite (state/testing) for virtio-net behind
// its virtio-mmio transport, on a socket pair standing in for the tap (no
// privilege needed): each instance has its own guest memory and "tap", as
// a destination with its own --net tap=... has. The driver negotiates,
// sends a frame and receives one.
#include <linux/virtio_mmio.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "devices/net/net.h"
#include "devices/net/testing/net_harness.h"
#include "state/testing/migratable_conformance.h"

namespace devices {
namespace {

using testing::NetHarness;

constexpr memory::Gpa kRxBuf = NetHarness::kData;
constexpr memory::Gpa kTxBuf = NetHarness::kData + (1 << 20);

// What the host end of the pair has, without waiting.
std::vector<std::vector<uint8_t>> HostFrames(int fd) {
  std::vector<std::vector<uint8_t>> frames;
  std::vector<uint8_t> buf(70000);
  ssize_t n;
  while ((n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT)) >= 0) frames.emplace_back(buf.begin(), buf.begin() + n);
  return frames;
}

struct NetCase : state::testing::CaseDefaults {
  struct Instance {
    base::UniqueFd host;
    std::unique_ptr<NetHarness> h = NetHarness::MakeOnSocketPair(host);
  };

  static std::unique_ptr<Instance> Make() { return std::make_unique<Instance>(); }
  static state::Migratable& Part(Instance& i) { return *i.h->transport; }

  static void Change(Instance& i) {
    ASSERT_NE(i.h, nullptr);
    ASSERT_TRUE(i.h->Negotiate() & VIRTIO_CONFIG_S_DRIVER_OK);
    i.h->Transmit({}, testing::TestFrame(100, 1, NetHarness::kMac), kTxBuf);
    const virtio::FakeDriver::Buffer rx{kRxBuf, 2000, true};
    i.h->rx->AddChain({&rx, 1});
    i.h->rx->AddChain({&rx, 1});
    i.h->Notify(Net::kRxQueue);
    i.h->WriteReg(VIRTIO_MMIO_QUEUE_SEL, 1);
  }

  static void ChangeAgain(Instance& i) {
    std::vector<uint8_t> frame(kNetHeaderBytes, 0);
    const std::vector<uint8_t> eth = testing::TestFrame(200, 2, NetHarness::kMac);
    frame.insert(frame.end(), eth.begin(), eth.end());
    ASSERT_EQ(::send(i.host.get(), frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
    ASSERT_TRUE(i.h->WaitRxUsed(1));
    i.h->WriteReg(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
    i.h->WriteReg(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  }

  static state::testing::Observed Observe(Instance& i) {
    state::testing::Observed o;
    NetHarness& h = *i.h;
    o["status"] = h.ReadReg(VIRTIO_MMIO_STATUS);
    o["interrupt_status"] = h.ReadReg(VIRTIO_MMIO_INTERRUPT_STATUS);
    o["driver_features"] = h.transport->driver_features();
    o["device_features"] = h.ReadReg(VIRTIO_MMIO_DEVICE_FEATURES);
    o["queue_ready"] = h.ReadReg(VIRTIO_MMIO_QUEUE_READY);
    o["queue_num"] = h.ReadReg(VIRTIO_MMIO_QUEUE_NUM);
    o["config.mac_low"] = h.ReadReg(VIRTIO_MMIO_CONFIG);
    o["config.status"] = h.ReadReg(VIRTIO_MMIO_CONFIG + 4) & 0xffff0000u;
    MacAddress mac = h.net->mac();
    o["mac"] = uint64_t{mac[0]} << 40 | uint64_t{mac[1]} << 32 | uint64_t{mac[2]} << 24 | uint64_t{mac[3]} << 16 |
               uint64_t{mac[4]} << 8 | mac[5];
    return o;
  }

  static std::vector<std::string> Optional() { return {"device_active"}; }
};

// The destination's copy of the source's RAM, as the migrator sends it.
void CopyRam(NetHarness& from, NetHarness& to) {
  std::vector<uint8_t> ram(NetHarness::kRamBytes);
  ASSERT_TRUE(from.mem.ReadBytes(0, ram).ok());
  ASSERT_TRUE(to.mem.WriteBytes(0, ram).ok());
}

TEST(NetLoadTest, LoadedDeviceReceivesIntoTheNextSavedBufferAndKeepsTheSourcesMac) {
  NetCase::Instance source;
  NetCase::Change(source);
  const std::vector<uint8_t> saved = state::testing::SaveTree(*source.h->transport);
  // The destination generated another MAC; the guest knows the source's.
  base::UniqueFd host;
  std::unique_ptr<NetHarness> dest =
      NetHarness::MakeOnSocketPair(host, nullptr, {.mac = {0x02, 1, 2, 3, 4, 5}, .mac_given = false});
  ASSERT_NE(dest, nullptr);
  // The source's drivers go on in the destination's memory: two receive
  // buffers offered, none used; one frame sent. (A FakeDriver clears its
  // rings when made: made before the copy.)
  dest->rx = std::make_unique<virtio::FakeDriver>(dest->mem, NetHarness::kRxRing, Net::kQueueSize);
  dest->tx = std::make_unique<virtio::FakeDriver>(dest->mem, NetHarness::kTxRing, Net::kQueueSize);
  CopyRam(*source.h, *dest);
  dest->rx->SetAvailIdx(2);
  dest->tx->SetAvailIdx(1);
  ASSERT_TRUE(state::testing::LoadTree(*dest->transport, saved).ok());
  EXPECT_EQ(dest->net->mac(), NetHarness::kMac);
  std::vector<uint8_t> frame(kNetHeaderBytes, 0);
  const std::vector<uint8_t> eth = testing::TestFrame(300, 3, NetHarness::kMac);
  frame.insert(frame.end(), eth.begin(), eth.end());
  ASSERT_EQ(::send(host.get(), frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
  ASSERT_TRUE(dest->WaitRxUsed(1));
  EXPECT_EQ(dest->rx->UsedAt(0).len, frame.size());
  EXPECT_EQ(dest->Guest(kRxBuf + kNetHeaderBytes, eth.size()), eth);
  // Nothing was sent twice: the source sent its frame before saving.
  EXPECT_EQ(HostFrames(source.host.get()).size(), 1u);
  EXPECT_TRUE(HostFrames(host.get()).empty());
}

TEST(NetLoadTest, RefusesAnotherMacGivenOnTheDestinationNamingBoth) {
  NetCase::Instance source;
  NetCase::Change(source);
  const std::vector<uint8_t> saved = state::testing::SaveTree(*source.h->transport);
  base::UniqueFd host;
  std::unique_ptr<NetHarness> dest =
      NetHarness::MakeOnSocketPair(host, nullptr, {.mac = {0x02, 1, 2, 3, 4, 5}, .mac_given = true});
  ASSERT_NE(dest, nullptr);
  CopyRam(*source.h, *dest);
  absl::Status st = state::testing::LoadTree(*dest->transport, saved);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(std::string(st.message()).find("52:54:00:12:34:56"), std::string::npos) << st;
  EXPECT_NE(std::string(st.message()).find("02:01:02:03:04:05"), std::string::npos) << st;
}

// A saved state with these values, as a hostile or damaged stream could
// carry, for the device on its own (inactive: no driver yet).
std::vector<uint8_t> NetState(uint64_t mac, uint32_t active, uint64_t features, uint32_t rx_broken = 0) {
  state::StateWriter out;
  out.BeginNode(state::testing::kPartNode);
  out.PutU64("mac", mac);
  out.PutU32("active", active);
  out.PutU64("features", features);
  out.PutStruct("rx_queue", virtio::Queue::Snapshot{});
  out.PutStruct("tx_queue", virtio::Queue::Snapshot{});
  out.PutU32("rx_broken", rx_broken);
  out.PutU32("tx_broken", 0);
  out.EndNode();
  absl::StatusOr<std::vector<uint8_t>> blob = out.Finish();
  EXPECT_TRUE(blob.ok());
  return blob.ok() ? *blob : std::vector<uint8_t>{};
}

TEST(NetLoadTest, RefusesValuesTheDeviceNeverKeeps) {
  NetCase::Instance fresh;
  ASSERT_NE(fresh.h, nullptr);
  Net& net = *fresh.h->net;
  constexpr uint64_t kGood = 0x525400123456;
  ASSERT_TRUE(state::testing::LoadTree(net, NetState(kGood, 0, 0)).ok());
  const struct {
    std::vector<uint8_t> tree;
    const char* why;
  } bad[] = {
      {NetState(0x015400123456, 0, 0), "not a unicast"},        // multicast bit
      {NetState(uint64_t{1} << 48 | kGood, 0, 0), "not a unicast"},  // more than 48 bits
      {NetState(kGood, 2, 0), "not 0 or 1"},
      {NetState(kGood, 0, 0, 7), "not 0 or 1"},
      {NetState(kGood, 0, 1ull << VIRTIO_F_VERSION_1), "not active"},
      {NetState(kGood, 1, 1ull << VIRTIO_F_VERSION_1), "was active"},
  };
  for (const auto& b : bad) {
    absl::Status st = state::testing::LoadTree(net, b.tree);
    ASSERT_FALSE(st.ok()) << b.why;
    EXPECT_NE(std::string(st.message()).find(b.why), std::string::npos) << st;
  }
  EXPECT_EQ(net.mac(), NetHarness::kMac);
}

}  // namespace
}  // namespace devices

namespace state::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(NetBehindMmioTransport, MigratableConformance, devices::NetCase);
}  // namespace state::testing
