// SPDX-License-Identifier: MIT
// devices::Net: virtio-net (device id 1; virtio 1.2, 5.1) on a tap device.
// One receive and one transmit queue, no control queue. Offered: MAC,
// STATUS (link always up), VERSION_1, and where the tap takes them the
// checksum and TSO offloads both ways (CSUM, GUEST_CSUM, HOST_TSO4/6,
// GUEST_TSO4/6), which the tap is told with TUNSETOFFLOAD.
//
// No mergeable receive buffers (VIRTIO_NET_F_MRG_RXBUF): each received
// frame goes into one chain of any number of descriptors, which Linux
// sizes for the largest frame it negotiated (a page list of 64 KiB with
// GUEST_TSO, 1518 bytes without). A frame larger than the chain is
// dropped and the chain returned with nothing in it.
//
// Threading: the device's own worker thread does all the I/O. It polls the
// tap (frames for the guest) and an eventfd that ProcessQueue writes on a
// queue notification (ioeventfd or MMIO exit alike), and serves at most
// kBudget frames each way per pass, so a flood on either side cannot
// starve the other or a Reset. A received frame is read into the device's
// buffer first (as QEMU's tap backend does) and copied into the guest's
// chain with GuestMemory::WriteBytes, which marks the pages dirty for
// migration; transmitted frames go from guest RAM to the tap with one
// writev, behind a copy of their header that was checked
// (net_header.h). One mutex guards the queues; the worker holds it for a
// pass, ProcessQueue never takes it.
//
// Pausing: Drain() (the VMM calls it once the vCPUs are paused; Save calls
// it too) sends every frame the guest offered and stops the receive side,
// so guest memory stays still while a migration copies it; Resume() lets
// frames in again.
//
// Trust boundary: every chain comes from the guest: its direction, sizes
// and header are checked and a bad one is logged and returned unused (a
// transmitted frame is then not sent). A corrupt ring stops that queue
// until the driver resets the device.
#ifndef DEVICES_NET_NET_H_
#define DEVICES_NET_NET_H_

#include <cstdint>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "devices/net/mac_address.h"
#include "devices/net/net_header.h"
#include "devices/net/tap.h"
#include "devices/net/virtio_net_uapi.h"
#include "memory/guest_memory.h"
#include "virtio/queue.h"
#include "virtio/virtio_device.h"

namespace devices {

struct NetOptions {
  MacAddress mac{};
  // The user named the MAC: a restore or migration keeps the source's only
  // if it is the same (else the saved one replaces a generated one).
  bool mac_given = false;
};

class Net : public virtio::VirtioDevice {
 public:
  static constexpr uint16_t kQueueSize = 256;
  static constexpr uint16_t kRxQueue = 0;
  static constexpr uint16_t kTxQueue = 1;
  // Frames served each way per pass of the worker.
  static constexpr uint32_t kBudget = 64;
  // Announce frames after a move, and the gap between them.
  static constexpr int kAnnounceRounds = 3;
  static constexpr absl::Duration kAnnounceGap = absl::Milliseconds(100);

  struct Counters {
    uint64_t rx_frames = 0;
    uint64_t rx_bytes = 0;
    uint64_t rx_dropped = 0;  // no room in the chain, bad header, bad chain
    uint64_t tx_frames = 0;
    uint64_t tx_bytes = 0;
    uint64_t tx_dropped = 0;  // bad chain or header, or the tap refused it
    uint64_t announces = 0;
  };

  // Opens the tap (Tap::Open's errors). The worker starts with StartWorker.
  static absl::StatusOr<std::shared_ptr<Net>> Create(const std::string& tap_name, const NetOptions& options);
  static absl::StatusOr<std::shared_ptr<Net>> CreateOnTap(Tap tap, const NetOptions& options);
  ~Net() override;  // stops and joins the worker

  // Starts the worker, which first runs `on_start` (the VMM confines it
  // with seccomp there).
  void StartWorker(std::function<void()> on_start = nullptr);
  // Returns once every frame the guest offered for sending is sent (or
  // dropped) and on the used ring; from then on no frame is received until
  // Resume.
  void Drain();
  void Resume();
  // For a harness that never starts the worker (the fuzz target): what the
  // worker does when woken, on the calling thread: takes the guest's
  // notifications, then transmits and receives (frames already on the
  // tap) pass by pass until nothing is left to do now. Does nothing once
  // the worker is started.
  void ServeOnThisThread();
  // Queues kAnnounceRounds announce frames from the guest's MAC
  // (announce.h), sent by the worker while the device is not paused.
  void Announce();

  // virtio::VirtioDevice
  uint32_t device_type() const override;
  uint64_t device_features() const override;
  std::vector<uint16_t> queue_max_sizes() const override;
  void ReadConfig(uint64_t offset, std::span<uint8_t> data) override;
  void WriteConfig(uint64_t offset, std::span<const uint8_t> data) override;
  absl::Status Activate(virtio::ActivateArgs args) override;
  absl::Status ProcessQueue(uint16_t index) override;
  void Reset() override;

  const std::string& tap_name() const { return tap_.name(); }
  MacAddress mac() const;
  Counters counters() const;
  // The tap's offload flags as last set (TUN_F_*).
  unsigned tap_offloads() const;

  // state::Migratable: the MAC, the negotiated features and both queues'
  // ring positions. Save drains first. The tap is the destination's own
  // (--net tap=...), as a disk image is.
  absl::Status Save(state::StateWriter& out) override;
  absl::Status Load(const state::StateNode& in) override;

 private:
  Net(Tap tap, base::UniqueFd kick, const NetOptions& options);
  void Kick();
  void WorkerLoop(std::function<void()> on_start);
  // One pass: offloads, transmit, receive, announce; returns whether work
  // is left for another pass right away.
  bool Pass() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a wake-up: a kick frees receiving to wait for buffers again, a
  // transmit notification marks the ring for a pass, and the tap's
  // offloads follow the negotiated features (one try per wanted set).
  void TakeNotifications(bool kicked) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Up to `budget` frames; true when the ring may hold more.
  bool Transmit(uint32_t budget) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Receive(uint32_t budget) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends one chain's frame; false when it was dropped.
  bool SendChain(const virtio::DescriptorChain& chain) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Copies the held frame into `chain`; returns the used length (0: the
  // frame or the chain was bad and is dropped).
  uint32_t FillChain(const virtio::DescriptorChain& chain) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendAnnounce() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // TUN_F_* for the negotiated features (0 when inactive).
  unsigned WantedOffloads() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pops the next chain of `queue`; nullopt when none or the ring is
  // corrupt (then `broken` is set).
  std::optional<virtio::DescriptorChain> Pop(virtio::Queue& queue, bool& broken, const char* which)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Used(virtio::Queue& queue, bool& broken, uint16_t head, uint32_t len, const char* which)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Tap tap_;
  base::UniqueFd kick_;  // eventfd: notifications and control requests
  const bool mac_given_;

  mutable absl::Mutex mu_;
  absl::CondVar drained_cv_;
  virtio_net_config config_ ABSL_GUARDED_BY(mu_) = {};
  bool active_ ABSL_GUARDED_BY(mu_) = false;
  memory::GuestMemory* mem_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint64_t features_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<virtio::Queue> rxq_ ABSL_GUARDED_BY(mu_);
  std::optional<virtio::Queue> txq_ ABSL_GUARDED_BY(mu_);
  bool rx_broken_ ABSL_GUARDED_BY(mu_) = false;
  bool tx_broken_ ABSL_GUARDED_BY(mu_) = false;
  virtio::InterruptCallback signal_used_ ABSL_GUARDED_BY(mu_);
  // The driver notified the transmit queue since the worker last looked
  // (set without the lock, by ProcessQueue).
  std::atomic<bool> tx_notified_{false};
  // The transmit ring may hold chains not yet sent: set by a notification,
  // kept while a pass ends with its budget spent. Never set by Activate or
  // Load: a new driver's ring is empty, and a restored one was drained on
  // the source before it was saved, so the device looks at the ring only
  // when the guest has added to it since.
  bool tx_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool rx_used_ ABSL_GUARDED_BY(mu_) = false;  // used entries added this pass
  bool tx_used_ ABSL_GUARDED_BY(mu_) = false;
  // A frame read from the tap and not yet in the guest: frame_[0,
  // held_bytes_) is its header and frame. Held while the guest has no
  // receive chain, which stops the tap's polling until a notification.
  std::vector<uint8_t> frame_ ABSL_GUARDED_BY(mu_);
  size_t held_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool rx_waits_for_buffers_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t drain_requested_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t drain_done_ ABSL_GUARDED_BY(mu_) = 0;
  int announce_left_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_announce_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  Counters counters_ ABSL_GUARDED_BY(mu_);
  std::optional<unsigned> offloads_tried_ ABSL_GUARDED_BY(mu_);  // the last set asked of the tap
  std::thread worker_;
};

}  // namespace devices

#endif  // DEVICES_NET_NET_H_
