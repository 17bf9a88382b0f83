// SPDX-License-Identifier: MIT
// Fuzzes devices::Net (virtio-net) through virtio::MmioTransport the way a
// guest drives it, with a socket pair standing in for the tap (its other
// end plays the host's network). The guest bytes it parses are the
// virtio-net header in front of every transmitted frame, the transmit and
// receive chains (how many buffers, which direction, how long) and the
// rings; the host side adds frames behind any header, as a tap with
// offloads on would give. The input is a guest script
// (devices/testing/guest_scripts.h's ByteSource, little-endian integers
// from the front): which offload features the driver refuses, then a
// sequence of actions: frames sent in chains of any shape behind any
// header, frames from the host into receive chains of any shape, raw
// writes into the rings, register writes, config reads, resets. After the
// sequence the saved state must load into a fresh device
// (fuzz::CheckSaveLoad).
#include <linux/virtio_mmio.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "devices/net/net.h"
#include "devices/net/testing/net_harness.h"
#include "devices/testing/guest_scripts.h"
#include "fuzz/fuzz_support.h"

namespace {

using devices::Net;
using devices::testing::ByteSource;
using devices::testing::NetHarness;
using Buffer = virtio::FakeDriver::Buffer;

constexpr int kMaxActions = 48;
constexpr memory::Gpa kTxBuf = NetHarness::kData;
constexpr memory::Gpa kRxBuf = NetHarness::kData + (4 << 20);

// A virtio-net header, every field from the input.
virtio_net_hdr_v1 Header(ByteSource& in) {
  virtio_net_hdr_v1 h;
  h.flags = in.ConsumeIntegral<uint8_t>();
  h.gso_type = in.ConsumeIntegral<uint8_t>();
  h.hdr_len = in.ConsumeIntegral<uint16_t>();
  h.gso_size = in.ConsumeIntegral<uint16_t>();
  h.csum_start = in.ConsumeIntegral<uint16_t>();
  h.csum_offset = in.ConsumeIntegral<uint16_t>();
  h.num_buffers = in.ConsumeIntegral<uint16_t>();
  return h;
}

// Mostly Ethernet-sized; sometimes up to and past the largest frame.
uint32_t FrameBytes(ByteSource& in) {
  const uint8_t pick = in.ConsumeIntegral<uint8_t>();
  if (pick < 230) return in.ConsumeIntegralInRange<uint32_t>(0, 1600);
  return in.ConsumeIntegralInRange<uint32_t>(0, devices::kMaxFrameBytes + 64);
}

// Up to four buffers over `bytes` from `at`, each readable or writable;
// sometimes one lies anywhere (in RAM or not).
std::vector<Buffer> Chain(ByteSource& in, memory::Gpa at, uint32_t bytes, bool writable) {
  std::vector<Buffer> chain;
  const int pieces = in.ConsumeIntegralInRange<int>(1, 4);
  uint64_t off = 0;
  for (int i = 0; i < pieces; ++i) {
    const uint8_t shape = in.ConsumeIntegral<uint8_t>();
    const uint32_t len = i + 1 == pieces ? static_cast<uint32_t>(bytes - std::min<uint64_t>(off, bytes))
                                         : in.ConsumeIntegralInRange<uint32_t>(0, bytes);
    const memory::Gpa gpa = shape >= 250 ? in.ConsumeIntegral<uint64_t>() : at + off;
    chain.push_back({gpa, len, shape >= 240 ? !writable : writable});
    off += len;
  }
  return chain;
}

void SendFrames(ByteSource& in, NetHarness& h) {
  const int frames = in.ConsumeIntegralInRange<int>(1, 8);
  for (int i = 0; i < frames; ++i) {
    const memory::Gpa at = kTxBuf + static_cast<uint64_t>(i) * (128 << 10);
    const virtio_net_hdr_v1 header = Header(in);
    const uint32_t bytes = devices::kNetHeaderBytes + FrameBytes(in);
    std::vector<uint8_t> frame(bytes, static_cast<uint8_t>(i));
    std::memcpy(frame.data(), &header, sizeof(header));
    (void)h.mem.WriteBytes(at, frame);
    h.tx->AddChain(Chain(in, at, bytes, /*writable=*/false));
  }
  h.Notify(Net::kTxQueue);
  h.SyncTx();
}

// What the device sent, taken off the host's end so it never fills.
void EmptyHost(int host) {
  std::vector<uint8_t> buf(70000);
  while (::recv(host, buf.data(), buf.size(), MSG_DONTWAIT) >= 0) {
  }
}

void ReceiveFrame(ByteSource& in, NetHarness& h, int host) {
  const virtio_net_hdr_v1 header = Header(in);
  std::vector<uint8_t> frame(devices::kNetHeaderBytes + FrameBytes(in), 0x5a);
  std::memcpy(frame.data(), &header, sizeof(header));
  if (in.ConsumeIntegral<uint8_t>() < 16) frame.resize(in.ConsumeIntegralInRange<size_t>(0, 11));  // no header
  const uint16_t before = h.rx->UsedIdx();
  if (::send(host, frame.data(), frame.size(), MSG_DONTWAIT) < 0) return;
  const uint32_t room = in.ConsumeIntegralInRange<uint32_t>(0, 2 * 1600);
  h.rx->AddChain(Chain(in, kRxBuf + (uint64_t{before} % 16) * (64 << 10), room, /*writable=*/true));
  h.Notify(Net::kRxQueue);
  h.Serve();  // takes the frame off the socket, if the device can
}

void RunNetScript(ByteSource& in, NetHarness& h, int host) {
  // Maybe refuse some of CSUM..GUEST_TSO6 (bits 0-1, 7-8, 11-12).
  const uint8_t refuse = in.ConsumeIntegral<uint8_t>();
  uint64_t accept = ~0ull;
  static constexpr unsigned kBits[] = {VIRTIO_NET_F_CSUM,       VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4,
                                       VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_HOST_TSO4,  VIRTIO_NET_F_HOST_TSO6};
  for (int i = 0; i < 6; ++i) {
    if (refuse >> i & 1) accept &= ~(1ull << kBits[i]);
  }
  h.Negotiate(accept);
  for (int action = 0; action < kMaxActions && in.remaining_bytes() > 0; ++action) {
    switch (in.ConsumeIntegralInRange<int>(0, 6)) {
      case 0:
      case 1:
        SendFrames(in, h);
        EmptyHost(host);
        break;
      case 2:
        ReceiveFrame(in, h, host);
        break;
      case 3: {  // the guest scribbles on one of its rings
        const memory::Gpa ring = in.ConsumeIntegral<uint8_t>() & 1 ? NetHarness::kTxRing : NetHarness::kRxRing;
        const uint64_t offset =
            in.ConsumeIntegralInRange<uint64_t>(0, virtio::FakeDriver::Footprint(Net::kQueueSize) - 2);
        (void)h.mem.Write<uint16_t>(ring + offset, in.ConsumeIntegral<uint16_t>());
        h.Notify(in.ConsumeIntegralInRange<uint16_t>(0, 2));
        h.SyncTx();
        EmptyHost(host);
        break;
      }
      case 4:
        h.WriteReg(in.ConsumeIntegralInRange<uint64_t>(0, 0x100) & ~3ull, in.ConsumeIntegral<uint32_t>());
        h.SyncTx();
        EmptyHost(host);
        break;
      case 5: {  // config reads of any width and offset
        std::vector<uint8_t> bytes(in.ConsumeIntegralInRange<size_t>(1, 8));
        h.net->ReadConfig(in.ConsumeIntegralInRange<uint64_t>(0, 40), bytes);
        break;
      }
      case 6:  // reset and probe again
        h.WriteReg(VIRTIO_MMIO_STATUS, 0);
        h.Negotiate(accept);
        break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  base::UniqueFd host, fresh_host;
  // No worker threads: the device's work is done on this thread (the
  // parsing is the same; a thread per device and a hand-off per
  // notification would cost more than the frames).
  std::unique_ptr<NetHarness> h = NetHarness::MakeOnSocketPairWithoutWorker(host);
  std::unique_ptr<NetHarness> fresh = NetHarness::MakeOnSocketPairWithoutWorker(fresh_host);
  if (h == nullptr || fresh == nullptr) __builtin_trap();  // socket pairs and eventfds: must open
  ByteSource in({data, size});
  RunNetScript(in, *h, host.get());
  fuzz::CheckSaveLoad(*h->transport, *fresh->transport, "virtio-net behind virtio-mmio");
  return 0;
}
