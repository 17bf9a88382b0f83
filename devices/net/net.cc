// SPDX-License-Identifier: MIT
#include "devices/net/net.h"

#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "devices/net/announce.h"

namespace devices {
namespace {

constexpr uint64_t Bit(unsigned n) { return 1ull << n; }

constexpr uint64_t kOffloadFeatures = Bit(VIRTIO_NET_F_CSUM) | Bit(VIRTIO_NET_F_GUEST_CSUM) |
                                      Bit(VIRTIO_NET_F_HOST_TSO4) | Bit(VIRTIO_NET_F_HOST_TSO6) |
                                      Bit(VIRTIO_NET_F_GUEST_TSO4) | Bit(VIRTIO_NET_F_GUEST_TSO6);

uint64_t PackMac(const MacAddress& mac) {
  uint64_t v = 0;
  for (uint8_t b : mac) v = v << 8 | b;
  return v;
}

MacAddress UnpackMac(uint64_t v) {
  MacAddress mac;
  for (int i = 5; i >= 0; --i, v >>= 8) mac[i] = static_cast<uint8_t>(v);
  return mac;
}

// Copies `out.size()` bytes from the start of `descriptors` (as one byte
// stream); false when they hold fewer.
bool ReadPrefix(const memory::GuestMemory& mem, const std::vector<virtio::Descriptor>& descriptors,
                std::span<uint8_t> out) {
  size_t done = 0;
  for (const virtio::Descriptor& d : descriptors) {
    if (done == out.size()) break;
    const size_t n = std::min<size_t>(d.len, out.size() - done);
    if (!mem.ReadBytes(d.gpa, out.subspan(done, n)).ok()) return false;
    done += n;
  }
  return done == out.size();
}

}  // namespace

absl::StatusOr<std::shared_ptr<Net>> Net::Create(const std::string& tap_name, const NetOptions& options) {
  ASSIGN_OR_RETURN(Tap tap, Tap::Open(tap_name));
  return CreateOnTap(std::move(tap), options);
}

absl::StatusOr<std::shared_ptr<Net>> Net::CreateOnTap(Tap tap, const NetOptions& options) {
  base::UniqueFd kick(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!kick.valid()) return absl::ErrnoToStatus(errno, "eventfd for virtio-net");
  return std::shared_ptr<Net>(new Net(std::move(tap), std::move(kick), options));
}

Net::Net(Tap tap, base::UniqueFd kick, const NetOptions& options)
    : tap_(std::move(tap)), kick_(std::move(kick)), mac_given_(options.mac_given) {
  absl::MutexLock lock(&mu_);
  std::memcpy(config_.mac, options.mac.data(), sizeof(config_.mac));
  config_.status = VIRTIO_NET_S_LINK_UP;
  config_.max_virtqueue_pairs = 1;
  // One byte more than the largest frame: a longer one shows as too long.
  frame_.resize(kNetHeaderBytes + kMaxFrameBytes + 1);
}

Net::~Net() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    drained_cv_.SignalAll();
    Kick();
  }
  if (worker_.joinable()) worker_.join();
}

void Net::Kick() {
  const uint64_t one = 1;
  // A full counter (never in practice) still wakes the worker.
  ssize_t unused = ::write(kick_.get(), &one, sizeof(one));
  (void)unused;
}

void Net::StartWorker(std::function<void()> on_start) {
  absl::MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  worker_ = std::thread([this, on_start = std::move(on_start)] { WorkerLoop(on_start); });
  ::pthread_setname_np(worker_.native_handle(), "vmm-net");
}

uint32_t Net::device_type() const { return VIRTIO_ID_NET; }

uint64_t Net::device_features() const {
  uint64_t f = Bit(VIRTIO_F_VERSION_1) | Bit(VIRTIO_NET_F_MAC) | Bit(VIRTIO_NET_F_STATUS);
  if (tap_.offloads_supported()) f |= kOffloadFeatures;
  return f;
}

std::vector<uint16_t> Net::queue_max_sizes() const { return {kQueueSize, kQueueSize}; }

void Net::ReadConfig(uint64_t offset, std::span<uint8_t> data) {
  absl::MutexLock lock(&mu_);
  if (offset > sizeof(config_) || data.size() > sizeof(config_) - offset) {
    LOG_GUEST_ERROR("net: config read of %u bytes at 0x%x", data.size(), offset);
    std::fill(data.begin(), data.end(), 0);
    return;
  }
  std::memcpy(data.data(), reinterpret_cast<const uint8_t*>(&config_) + offset, data.size());
}

void Net::WriteConfig(uint64_t offset, std::span<const uint8_t> data) {
  // With VIRTIO_NET_F_MAC the address is the device's; nothing else is
  // writable.
  LOG_GUEST_ERROR("net: config write of %u bytes at 0x%x ignored", data.size(), offset);
}

absl::Status Net::Activate(virtio::ActivateArgs args) {
  absl::MutexLock lock(&mu_);
  if (args.queues.size() < 2 || !args.queues[kRxQueue].ready() || !args.queues[kTxQueue].ready()) {
    return absl::InvalidArgumentError("net: the receive and transmit queues must both be set up");
  }
  const uint64_t f = args.features;
  if (!(f & Bit(VIRTIO_F_VERSION_1))) return absl::InvalidArgumentError("net: driver without VIRTIO_F_VERSION_1");
  // The spec's feature dependencies (5.1.3.1): segmentation needs the
  // checksum offload of the same direction.
  if ((f & (Bit(VIRTIO_NET_F_GUEST_TSO4) | Bit(VIRTIO_NET_F_GUEST_TSO6))) && !(f & Bit(VIRTIO_NET_F_GUEST_CSUM))) {
    return absl::InvalidArgumentError("net: driver took GUEST_TSO without GUEST_CSUM");
  }
  if ((f & (Bit(VIRTIO_NET_F_HOST_TSO4) | Bit(VIRTIO_NET_F_HOST_TSO6))) && !(f & Bit(VIRTIO_NET_F_CSUM))) {
    return absl::InvalidArgumentError("net: driver took HOST_TSO without CSUM");
  }
  mem_ = args.mem;
  features_ = f;
  rxq_ = std::move(args.queues[kRxQueue]);
  txq_ = std::move(args.queues[kTxQueue]);
  signal_used_ = std::move(args.signal_used);
  rx_broken_ = tx_broken_ = false;
  rx_waits_for_buffers_ = false;
  active_ = true;
  Kick();  // the offloads, and frames that waited for a driver
  return absl::OkStatus();
}

absl::Status Net::ProcessQueue(uint16_t index) {
  if (index > kTxQueue) {
    LOG_GUEST_ERROR("net: notify of unused queue %u", index);
    return absl::OkStatus();
  }
  // Either queue: receive buffers end a wait for them, frames to send
  // are sent. No lock: the worker looks at the rings itself.
  if (index == kTxQueue) tx_notified_.store(true);
  Kick();
  return absl::OkStatus();
}

void Net::Reset() {
  // Waits for the worker's pass: what it serves lands in the rings that go
  // away now, never in a reset driver's.
  absl::MutexLock lock(&mu_);
  active_ = false;
  mem_ = nullptr;
  features_ = 0;
  rxq_.reset();
  txq_.reset();
  signal_used_ = nullptr;
  rx_broken_ = tx_broken_ = false;
  rx_waits_for_buffers_ = false;
  tx_pending_ = false;
  held_bytes_ = 0;  // it was for the driver that reset
  Kick();           // offloads off
}

void Net::Drain() {
  absl::MutexLock lock(&mu_);
  if (!started_) {
    paused_ = true;
    return;
  }
  const uint64_t want = ++drain_requested_;
  Kick();
  while (!stopping_ && drain_done_ < want) drained_cv_.Wait(&mu_);
}

void Net::Resume() {
  absl::MutexLock lock(&mu_);
  paused_ = false;
  Kick();
}

void Net::Announce() {
  absl::MutexLock lock(&mu_);
  announce_left_ = kAnnounceRounds;
  next_announce_ = absl::Now();
  Kick();
}

MacAddress Net::mac() const {
  absl::MutexLock lock(&mu_);
  MacAddress mac;
  std::memcpy(mac.data(), config_.mac, mac.size());
  return mac;
}

Net::Counters Net::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

unsigned Net::tap_offloads() const {
  absl::MutexLock lock(&mu_);
  return tap_.offloads();
}

unsigned Net::WantedOffloads() const {
  if (!active_) return 0;
  unsigned want = 0;
  if (features_ & Bit(VIRTIO_NET_F_GUEST_CSUM)) want |= TUN_F_CSUM;
  if (features_ & Bit(VIRTIO_NET_F_GUEST_TSO4)) want |= TUN_F_TSO4;
  if (features_ & Bit(VIRTIO_NET_F_GUEST_TSO6)) want |= TUN_F_TSO6;
  return want;
}

void Net::WorkerLoop(std::function<void()> on_start) {
  if (on_start) on_start();
  absl::MutexLock lock(&mu_);
  bool more = true;  // a first pass for what came before the start
  while (!stopping_) {
    // The tap is watched only while a frame could go somewhere.
    const bool watch_tap = active_ && !paused_ && !rx_broken_ && !rx_waits_for_buffers_ && held_bytes_ == 0;
    int timeout_ms = more ? 0 : -1;
    if (announce_left_ > 0 && !paused_ && !more) {
      const absl::Duration wait = std::max(absl::ZeroDuration(), next_announce_ - absl::Now());
      timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1))));
    }
    pollfd fds[2] = {{.fd = kick_.get(), .events = POLLIN, .revents = 0},
                     {.fd = tap_.fd(), .events = static_cast<short>(watch_tap ? POLLIN : 0), .revents = 0}};
    mu_.Unlock();
    const int ready = ::poll(fds, 2, timeout_ms);
    if (ready > 0 && (fds[0].revents & POLLIN)) {
      uint64_t count;
      ssize_t unused = ::read(kick_.get(), &count, sizeof(count));
      (void)unused;
    }
    mu_.Lock();
    if (stopping_) break;
    TakeNotifications(ready > 0 && (fds[0].revents & POLLIN));
    more = Pass();
  }
}

void Net::TakeNotifications(bool kicked) {
  if (kicked) rx_waits_for_buffers_ = false;
  if (tx_notified_.exchange(false)) tx_pending_ = true;
  if (!offloads_tried_.has_value()) offloads_tried_ = tap_.offloads();
  if (const unsigned want = WantedOffloads(); want != tap_.offloads() && want != *offloads_tried_) {
    offloads_tried_ = want;
    if (absl::Status st = tap_.SetOffloads(want); !st.ok()) LOG_ERROR("net: %s", st.ToString());
  }
}

void Net::ServeOnThisThread() {
  absl::MutexLock lock(&mu_);
  if (started_) return;  // the worker serves
  uint64_t count;
  TakeNotifications(::read(kick_.get(), &count, sizeof(count)) == sizeof(count));
  // Pass by pass as the worker would with nothing else to wait for; the cap
  // only keeps a device bug from looping its caller forever.
  constexpr int kMaxPasses = 1024;
  for (int pass = 0; pass < kMaxPasses && Pass(); ++pass) {
  }
}

bool Net::Pass() {
  const bool draining = drain_requested_ > drain_done_;
  bool more = false;
  if (active_ && draining) {
    // The vCPUs are paused: the ring holds what it holds, and all of it
    // goes out before the pause is final.
    while (tx_pending_) tx_pending_ = Transmit(kBudget);
  } else if (active_ && !paused_ && tx_pending_) {
    tx_pending_ = Transmit(kBudget);
    more |= tx_pending_;
  }
  if (active_ && !paused_ && !draining) more |= Receive(kBudget);
  if (active_) {
    // Both asked, so that each queue's record of what it signalled moves on.
    const bool rx_irq = rx_used_ && !rx_broken_ && rxq_->NeedsInterrupt(*mem_);
    const bool tx_irq = tx_used_ && !tx_broken_ && txq_->NeedsInterrupt(*mem_);
    if ((rx_irq || tx_irq) && signal_used_) signal_used_();
  }
  rx_used_ = tx_used_ = false;
  if (draining) {
    paused_ = true;
    drain_done_ = drain_requested_;
    drained_cv_.SignalAll();
  }
  if (announce_left_ > 0 && !paused_ && absl::Now() >= next_announce_) SendAnnounce();
  return more;
}

std::optional<virtio::DescriptorChain> Net::Pop(virtio::Queue& queue, bool& broken, const char* which) {
  absl::StatusOr<std::optional<virtio::DescriptorChain>> next = queue.PopChain(*mem_);
  if (!next.ok()) {
    LOG_GUEST_ERROR("net: corrupt %s queue, stopped until reset: %s", which, std::string(next.status().message()));
    broken = true;
    return std::nullopt;
  }
  return std::move(*next);
}

void Net::Used(virtio::Queue& queue, bool& broken, uint16_t head, uint32_t len, const char* which) {
  if (absl::Status st = queue.AddUsed(*mem_, head, len); !st.ok()) {
    LOG_GUEST_ERROR("net: %s used ring: %s", which, std::string(st.message()));
    broken = true;
    return;
  }
  (&queue == &*rxq_ ? rx_used_ : tx_used_) = true;
}

bool Net::Transmit(uint32_t budget) {
  for (uint32_t i = 0; i < budget; ++i) {
    if (tx_broken_) return false;
    std::optional<virtio::DescriptorChain> chain = Pop(*txq_, tx_broken_, "transmit");
    if (!chain.has_value()) return false;
    if (!SendChain(*chain)) ++counters_.tx_dropped;
    // Transmit buffers are only read: the used length is 0.
    Used(*txq_, tx_broken_, chain->head, 0, "transmit");
  }
  return !tx_broken_;
}

bool Net::SendChain(const virtio::DescriptorChain& chain) {
  uint64_t total = 0;
  for (const virtio::Descriptor& d : chain.descriptors) {
    if (d.writable) {
      LOG_GUEST_ERROR("net: transmit chain with a device-writable buffer; frame dropped");
      return false;
    }
    total += d.len;
  }
  virtio_net_hdr_v1 hdr;
  if (total < kNetHeaderBytes ||
      !ReadPrefix(*mem_, chain.descriptors, {reinterpret_cast<uint8_t*>(&hdr), sizeof(hdr)})) {
    LOG_GUEST_ERROR("net: transmit chain of %u bytes has no %u-byte header; dropped", total, kNetHeaderBytes);
    return false;
  }
  const uint64_t frame_bytes = total - kNetHeaderBytes;
  if (std::optional<std::string> why = CheckTxHeader(hdr, frame_bytes, features_)) {
    LOG_GUEST_ERROR("net: transmitted frame dropped: %s", *why);
    return false;
  }
  hdr.num_buffers = 0;  // the driver's to leave alone; the tap ignores it
  // The checked copy of the header goes out, the frame straight from guest
  // RAM: a guest that changes its header after the check changes nothing.
  std::vector<iovec> iov;
  iov.reserve(chain.descriptors.size() + 1);
  iov.push_back({&hdr, sizeof(hdr)});
  uint64_t skip = kNetHeaderBytes;
  for (const virtio::Descriptor& d : chain.descriptors) {
    const uint64_t s = std::min<uint64_t>(skip, d.len);
    skip -= s;
    if (s == d.len) continue;
    absl::StatusOr<std::span<uint8_t>> slice = mem_->Slice(d.gpa + s, d.len - s);
    if (!slice.ok()) return false;  // Queue checked it: not reached
    iov.push_back({slice->data(), slice->size()});
  }
  if (iov.size() > IOV_MAX) {
    LOG_GUEST_ERROR("net: transmit chain of %u buffers; dropped", chain.descriptors.size());
    return false;
  }
  const ssize_t n = ::writev(tap_.fd(), iov.data(), static_cast<int>(iov.size()));
  if (n < 0) {
    // The tap refuses frames while it is down, and drops them when its
    // queue is full: a network that loses a frame, as any does.
    LOG_GUEST_ERROR("net: tap %s: %s", tap_.name(), std::strerror(errno));
    return false;
  }
  ++counters_.tx_frames;
  counters_.tx_bytes += frame_bytes;
  return true;
}

bool Net::Receive(uint32_t budget) {
  for (uint32_t i = 0; i < budget; ++i) {
    if (rx_broken_) return false;
    if (held_bytes_ == 0) {
      const ssize_t n = ::read(tap_.fd(), frame_.data(), frame_.size());
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return false;
        // The tap consumed a frame it could not give (none is too big for
        // frame_): counted, and the next one is tried.
        LOG_GUEST_ERROR("net: reading tap %s: %s", tap_.name(), std::strerror(errno));
        ++counters_.rx_dropped;
        continue;
      }
      virtio_net_hdr_v1 hdr;
      const size_t bytes = static_cast<size_t>(n);
      std::optional<std::string> why =
          bytes < kNetHeaderBytes ? std::optional<std::string>("no header")
                                  : (std::memcpy(&hdr, frame_.data(), sizeof(hdr)),
                                     CheckRxHeader(hdr, bytes - kNetHeaderBytes, features_));
      if (why.has_value()) {
        LOG_GUEST_ERROR("net: frame from tap %s dropped: %s", tap_.name(), *why);
        ++counters_.rx_dropped;
        continue;
      }
      if (!(features_ & Bit(VIRTIO_NET_F_GUEST_CSUM))) hdr.flags &= ~VIRTIO_NET_HDR_F_DATA_VALID;
      // One chain per frame (no MRG_RXBUF): the spec's value for that.
      hdr.num_buffers = 1;
      std::memcpy(frame_.data(), &hdr, sizeof(hdr));
      held_bytes_ = bytes;
    }
    std::optional<virtio::DescriptorChain> chain = Pop(*rxq_, rx_broken_, "receive");
    if (!chain.has_value()) {
      // Held until the driver adds buffers and notifies.
      if (!rx_broken_) rx_waits_for_buffers_ = true;
      return false;
    }
    Used(*rxq_, rx_broken_, chain->head, FillChain(*chain), "receive");
  }
  return !rx_broken_;
}

uint32_t Net::FillChain(const virtio::DescriptorChain& chain) {
  uint64_t room = 0;
  for (const virtio::Descriptor& d : chain.descriptors) {
    if (!d.writable) {
      // The frame stays held for the next chain.
      LOG_GUEST_ERROR("net: receive chain with a device-readable buffer; returned unused");
      return 0;
    }
    room += d.len;
  }
  if (room < held_bytes_) {
    LOG_GUEST_ERROR("net: %u-byte frame dropped: the receive chain holds %u bytes", held_bytes_ - kNetHeaderBytes,
                    room);
    held_bytes_ = 0;
    ++counters_.rx_dropped;
    return 0;
  }
  // WriteBytes marks the pages dirty for a running migration.
  size_t done = 0;
  for (const virtio::Descriptor& d : chain.descriptors) {
    if (done == held_bytes_) break;
    const size_t n = std::min<size_t>(d.len, held_bytes_ - done);
    if (!mem_->WriteBytes(d.gpa, {frame_.data() + done, n}).ok()) return 0;  // Queue checked it: not reached
    done += n;
  }
  const uint32_t used = static_cast<uint32_t>(held_bytes_);
  ++counters_.rx_frames;
  counters_.rx_bytes += held_bytes_ - kNetHeaderBytes;
  held_bytes_ = 0;
  return used;
}

void Net::SendAnnounce() {
  MacAddress mac;
  std::memcpy(mac.data(), config_.mac, mac.size());
  const std::array<uint8_t, kAnnounceFrameBytes> frame = AnnounceFrame(mac);
  virtio_net_hdr_v1 hdr = {};  // no offload asked
  iovec iov[2] = {{&hdr, sizeof(hdr)}, {const_cast<uint8_t*>(frame.data()), frame.size()}};
  if (::writev(tap_.fd(), iov, 2) < 0) {
    LOG_WARNING("net: announce on tap %s: %s", tap_.name(), std::strerror(errno));
  } else {
    ++counters_.announces;
  }
  --announce_left_;
  next_announce_ = absl::Now() + kAnnounceGap;
}

absl::Status Net::Save(state::StateWriter& out) {
  bool was_paused;
  {
    absl::MutexLock lock(&mu_);
    was_paused = paused_;
  }
  Drain();
  absl::MutexLock lock(&mu_);
  MacAddress mac;
  std::memcpy(mac.data(), config_.mac, mac.size());
  out.PutU64("mac", PackMac(mac));
  out.PutU32("active", active_ ? 1 : 0);
  out.PutU64("features", features_);
  out.PutStruct("rx_queue", active_ ? rxq_->Save() : virtio::Queue::Snapshot{});
  out.PutStruct("tx_queue", active_ ? txq_->Save() : virtio::Queue::Snapshot{});
  out.PutU32("rx_broken", rx_broken_ ? 1 : 0);
  out.PutU32("tx_broken", tx_broken_ ? 1 : 0);
  // A save while running (a test's, never the VMM's: it pauses first)
  // leaves the device running.
  if (!was_paused) {
    paused_ = false;
    Kick();
  }
  return absl::OkStatus();
}

absl::Status Net::Load(const state::StateNode& in) {
  auto fail = [this](const std::string& what) {
    return absl::DataLossError(absl::StrFormat("saved virtio-net state for tap %s: %s", tap_.name(), what));
  };
  ASSIGN_OR_RETURN(uint64_t packed_mac, in.U64("mac"));
  ASSIGN_OR_RETURN(uint32_t active, in.U32("active"));
  ASSIGN_OR_RETURN(uint64_t features, in.U64("features"));
  ASSIGN_OR_RETURN(virtio::Queue::Snapshot rx, in.Struct<virtio::Queue::Snapshot>("rx_queue"));
  ASSIGN_OR_RETURN(virtio::Queue::Snapshot tx, in.Struct<virtio::Queue::Snapshot>("tx_queue"));
  ASSIGN_OR_RETURN(uint32_t rx_broken, in.U32("rx_broken"));
  ASSIGN_OR_RETURN(uint32_t tx_broken, in.U32("tx_broken"));

  if (active > 1 || rx_broken > 1 || tx_broken > 1) return fail("a flag (active, rx_broken, tx_broken) is not 0 or 1");
  const MacAddress mac = UnpackMac(packed_mac);
  if (packed_mac >> 48 != 0 || (mac[0] & 1) != 0) {
    return fail(absl::StrFormat("MAC 0x%x is not a unicast Ethernet address", packed_mac));
  }
  absl::MutexLock lock(&mu_);
  MacAddress ours;
  std::memcpy(ours.data(), config_.mac, ours.size());
  if (mac_given_ && mac != ours) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the guest's NIC on tap %s has MAC %s on the source but mac=%s here; give the source's MAC or none",
        tap_.name(), FormatMacAddress(mac), FormatMacAddress(ours)));
  }
  if (!active && features != 0) return fail("negotiated features on a device that is not active");
  if ((active != 0) != active_) {
    return fail(active ? "the device was active but the restored driver state is not" : "the device was not active");
  }
  if (active_ && features != features_) return fail("negotiated features differ from the transport's");
  std::optional<virtio::Queue> new_rx = rxq_;
  std::optional<virtio::Queue> new_tx = txq_;
  if (active_) {
    // The transport restored (and checked) the configuration; the device's
    // copies add the ring positions. Both are checked before either is
    // kept.
    if (absl::Status st = new_rx->Restore(rx, *mem_); !st.ok()) return fail(absl::StrCat("receive queue: ", st.message()));
    if (absl::Status st = new_tx->Restore(tx, *mem_); !st.ok()) return fail(absl::StrCat("transmit queue: ", st.message()));
  }
  rxq_ = std::move(new_rx);
  txq_ = std::move(new_tx);
  std::memcpy(config_.mac, mac.data(), mac.size());
  rx_broken_ = rx_broken != 0;
  tx_broken_ = tx_broken != 0;
  rx_waits_for_buffers_ = false;
  tx_pending_ = false;
  held_bytes_ = 0;
  // Frames the guest offered were sent on the source (Save drains): the
  // transmit ring is looked at again after the guest's next notification.
  // Buffers it offered get frames once this side runs.
  Kick();
  return absl::OkStatus();
}

}  // namespace devices
