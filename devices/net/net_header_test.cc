// SPDX-License-Identifier: MIT
#include "devices/net/net_header.h"

#include <gtest/gtest.h>

namespace devices {
namespace {

constexpr uint64_t Bit(unsigned n) { return 1ull << n; }
constexpr uint64_t kAllTx = Bit(VIRTIO_NET_F_CSUM) | Bit(VIRTIO_NET_F_HOST_TSO4) | Bit(VIRTIO_NET_F_HOST_TSO6);
constexpr uint64_t kAllRx = Bit(VIRTIO_NET_F_GUEST_CSUM) | Bit(VIRTIO_NET_F_GUEST_TSO4) | Bit(VIRTIO_NET_F_GUEST_TSO6);

virtio_net_hdr_v1 Tso4(uint16_t csum_start = 34, uint16_t csum_offset = 16) {
  virtio_net_hdr_v1 h = {};
  h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
  h.hdr_len = 66;
  h.gso_size = 1448;
  h.csum_start = csum_start;
  h.csum_offset = csum_offset;
  return h;
}

TEST(NetHeaderTest, PlainFramesOfEthernetSizesPass) {
  const virtio_net_hdr_v1 h = {};
  EXPECT_EQ(CheckTxHeader(h, 14, 0), std::nullopt);
  EXPECT_EQ(CheckTxHeader(h, kMaxFrameBytes, 0), std::nullopt);
  EXPECT_NE(CheckTxHeader(h, 13, 0), std::nullopt);
  EXPECT_NE(CheckTxHeader(h, kMaxFrameBytes + 1, 0), std::nullopt);
}

TEST(NetHeaderTest, OffloadsNeedTheirFeatures) {
  EXPECT_EQ(CheckTxHeader(Tso4(), 9000, kAllTx), std::nullopt);
  EXPECT_NE(CheckTxHeader(Tso4(), 9000, kAllTx & ~Bit(VIRTIO_NET_F_HOST_TSO4)), std::nullopt);
  EXPECT_NE(CheckTxHeader(Tso4(), 9000, 0), std::nullopt);
  virtio_net_hdr_v1 v6 = Tso4();
  v6.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
  EXPECT_EQ(CheckTxHeader(v6, 9000, kAllTx), std::nullopt);
  EXPECT_NE(CheckTxHeader(v6, 9000, Bit(VIRTIO_NET_F_CSUM)), std::nullopt);
  // The receive side judges by the guest's features.
  EXPECT_EQ(CheckRxHeader(Tso4(), 9000, kAllRx), std::nullopt);
  EXPECT_NE(CheckRxHeader(Tso4(), 9000, kAllTx), std::nullopt);
}

TEST(NetHeaderTest, ChecksumMustLieInTheFrame) {
  virtio_net_hdr_v1 h = {};
  h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.csum_start = 34;
  h.csum_offset = 16;
  EXPECT_EQ(CheckTxHeader(h, 52, kAllTx), std::nullopt);
  EXPECT_NE(CheckTxHeader(h, 51, kAllTx), std::nullopt);
  h.csum_start = 0xffff;
  h.csum_offset = 0xffff;
  EXPECT_NE(CheckTxHeader(h, kMaxFrameBytes, kAllTx), std::nullopt);
}

TEST(NetHeaderTest, RefusesWhatIsNeverOffered) {
  virtio_net_hdr_v1 h = Tso4();
  h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
  EXPECT_NE(CheckTxHeader(h, 9000, kAllTx), std::nullopt);
  h = Tso4();
  h.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
  EXPECT_NE(CheckTxHeader(h, 9000, kAllTx), std::nullopt);
  h = {};
  h.flags = VIRTIO_NET_HDR_F_DATA_VALID;  // the device's flag
  EXPECT_NE(CheckTxHeader(h, 60, kAllTx), std::nullopt);
  EXPECT_EQ(CheckRxHeader(h, 60, 0), std::nullopt);  // the tap's mark, cleared by the device
  h.flags = 0x80;
  EXPECT_NE(CheckRxHeader(h, 60, kAllRx), std::nullopt);
}

TEST(NetHeaderTest, SegmentationNeedsChecksumSizeAndHeaderInside) {
  virtio_net_hdr_v1 h = Tso4();
  h.flags = 0;
  EXPECT_NE(CheckTxHeader(h, 9000, kAllTx), std::nullopt);
  h = Tso4();
  h.gso_size = 0;
  EXPECT_NE(CheckTxHeader(h, 9000, kAllTx), std::nullopt);
  h = Tso4();
  h.hdr_len = 9001;
  EXPECT_NE(CheckTxHeader(h, 9000, kAllTx), std::nullopt);
}

}  // namespace
}  // namespace devices
