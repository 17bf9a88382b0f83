// SPDX-License-Identifier: MIT
// devices::Block: virtio-blk (device id 2; virtio 1.2, 5.2) on a raw disk
// image. One request queue; read, write, flush, get-id, discard and
// write-zeroes (the last two punch holes in the image file).
//
// Requests are served off the vCPU thread: ProcessQueue only wakes the
// device's worker thread, which pops the chains, moves the data with
// preadv/pwritev straight between the image and the guest's buffers, and
// returns them on the used ring. Several requests can be on the ring at
// once; the worker takes them in order, a bounded batch per pass. A
// synchronous worker rather than io_uring: it needs no new dependency or
// seccomp surface (io_uring's submissions bypass syscall filters), and on
// this VMM's hosts the guest, not the host's submission cost, bounds disk
// throughput; io_uring is the step to take when a benchmark shows the
// host side is what limits.
//
// Trust boundary: every request comes from the guest. Its framing goes
// through ParseBlockRequest, its sectors are checked against the capacity
// with overflow-safe arithmetic, and anything malformed gets the status
// the spec names (IOERR for a bad request, UNSUPP for an unknown type or
// flag), never a crash. A chain with no writable byte for the status is
// returned unused. A corrupt ring stops the queue until the driver resets.
//
// Threading: one mutex guards the queue and the worker's hand-off; the
// disk I/O runs without it. Drain() (the VMM calls it once the vCPUs are
// paused, and Save calls it again) waits until every request the guest has
// made visible is served, so a saved state never has a request in flight.
// Reset waits for the request being served.
#ifndef DEVICES_BLOCK_BLOCK_H_
#define DEVICES_BLOCK_BLOCK_H_

#include <linux/virtio_blk.h>

#include <cstdint>
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
#include "devices/block/block_request.h"
#include "devices/block/disk_image.h"
#include "memory/guest_memory.h"
#include "virtio/queue.h"
#include "virtio/virtio_device.h"

namespace devices {

struct BlockOptions {
  std::string path;
  bool readonly = false;
  // The GET_ID answer (at most 20 bytes are sent); empty: the image file's
  // name (its last 20 bytes).
  std::string serial;
  // Open without the image lock; TakeLock() takes it (DiskImageOptions).
  bool defer_lock = false;
  // O_DIRECT on the image (DiskImageOptions::direct).
  bool direct = false;
};

class Block : public virtio::VirtioDevice {
 public:
  static constexpr uint16_t kQueueSize = 256;
  static constexpr uint32_t kSectorSize = 512;
  // Chains the worker serves before it looks at Drain/Reset/stop again.
  static constexpr uint32_t kMaxChainsPerPass = kQueueSize;
  // Discard and write-zeroes limits offered in the config space: ranges
  // per request and sectors per range (1 GiB).
  static constexpr uint32_t kMaxRangeSegments = 16;
  static constexpr uint32_t kMaxRangeSectors = (1u << 30) / kSectorSize;

  struct Counters {
    uint64_t requests = 0;
    uint64_t bytes_read = 0;
    uint64_t bytes_written = 0;
    uint64_t flushes = 0;
    uint64_t discards = 0;  // discard and write-zeroes ranges applied
    uint64_t errors = 0;    // requests answered IOERR or UNSUPP
  };

  // Opens and locks the image (DiskImage::Open's errors). The worker
  // thread starts with StartWorker.
  static absl::StatusOr<std::shared_ptr<Block>> Create(const BlockOptions& options);
  ~Block() override;  // stops and joins the worker

  // The image lock, when Create deferred it.
  absl::Status TakeLock() const { return image_.Lock(); }

  // Starts the worker thread, which first runs `on_start` (the VMM
  // confines it with seccomp there). Requests notified before wait.
  void StartWorker(std::function<void()> on_start = nullptr);
  // Returns once every request the guest has offered so far is served and
  // on the used ring (or the queue is stopped). With no new notification
  // (vCPUs paused) the device then stays quiet.
  void Drain();
  // For a harness that never starts the worker (the fuzz target): serves
  // what the guest has notified on the calling thread, pass by pass as the
  // worker would, so a request needs no hand-off between threads. Does
  // nothing once the worker is started.
  void ServeOnThisThread();

  // virtio::VirtioDevice
  uint32_t device_type() const override;
  uint64_t device_features() const override;
  std::vector<uint16_t> queue_max_sizes() const override;
  void ReadConfig(uint64_t offset, std::span<uint8_t> data) override;
  void WriteConfig(uint64_t offset, std::span<const uint8_t> data) override;
  absl::Status Activate(virtio::ActivateArgs args) override;
  absl::Status ProcessQueue(uint16_t index) override;
  void Reset() override;

  const std::string& path() const { return image_.path(); }
  bool readonly() const { return image_.readonly(); }
  uint64_t capacity_sectors() const { return config_.capacity; }
  Counters counters() const;

  // state::Migratable: negotiated features, the queue's ring position and
  // the capacity, which Load checks against this image (the destination
  // opens the same image: shared storage). Save drains first.
  absl::Status Save(state::StateWriter& out) override;
  absl::Status Load(const state::StateNode& in) override;

 private:
  Block(DiskImage image, const BlockOptions& options);
  void WorkerLoop(std::function<void()> on_start);
  // One worker pass: pops up to kMaxChainsPerPass chains and serves them
  // (mu_ released meanwhile, busy_ set), then returns them used.
  void RunPass(std::vector<virtio::DescriptorChain>& chains, std::vector<uint32_t>& used_lengths)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pops up to kMaxChainsPerPass chains; false when the ring is corrupt.
  bool PopBatch(std::vector<virtio::DescriptorChain>& chains) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Serves one request; returns the bytes written into its buffers (the
  // used length), 0 when it could not be answered.
  uint32_t Serve(memory::GuestMemory& mem, uint64_t features, const virtio::DescriptorChain& chain);
  uint8_t Execute(memory::GuestMemory& mem, uint64_t features, const BlockRequest& req, uint32_t& written);
  // VIRTIO_BLK_T_IN (`read`) or T_OUT: preadv/pwritev straight between
  // the image and the guest's buffers.
  uint8_t MoveData(memory::GuestMemory& mem, const BlockRequest& req, bool read);
  uint8_t GetId(memory::GuestMemory& mem, const BlockRequest& req, uint32_t& written);
  uint8_t ApplyRanges(memory::GuestMemory& mem, const BlockRequest& req, bool discard);
  // [sector, sector + count) lies inside the disk (overflow-safe).
  bool InsideDisk(uint64_t sector, uint64_t count) const;

  DiskImage image_;
  const std::string serial_;
  virtio_blk_config config_ = {};  // fixed at Create

  mutable absl::Mutex mu_;
  absl::CondVar work_cv_;  // kick_ or stopping_ set
  absl::CondVar idle_cv_;  // a pass ended, or stopping_
  bool active_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;  // corrupt ring: no more until reset
  memory::GuestMemory* mem_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint64_t features_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<virtio::Queue> queue_ ABSL_GUARDED_BY(mu_);
  virtio::InterruptCallback signal_used_ ABSL_GUARDED_BY(mu_);
  bool kick_ ABSL_GUARDED_BY(mu_) = false;  // the ring may hold unserved chains
  bool busy_ ABSL_GUARDED_BY(mu_) = false;  // a pass is serving popped chains
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  Counters counters_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
};

}  // namespace devices

#endif  // DEVICES_BLOCK_BLOCK_H_
