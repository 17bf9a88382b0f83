// SPDX-License-Identifier: MIT
#include "devices/block/block.h"

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "base/status_macros.h"

namespace devices {
namespace {

constexpr uint64_t Bit(unsigned n) { return 1ull << n; }
constexpr uint64_t kRangeBytes = sizeof(virtio_blk_discard_write_zeroes);
static_assert(kRangeBytes == 16);

std::string DefaultSerial(const std::string& path) {
  const size_t slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return base.size() > VIRTIO_BLK_ID_BYTES ? base.substr(base.size() - VIRTIO_BLK_ID_BYTES) : base;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Block>> Block::Create(const BlockOptions& options) {
  ASSIGN_OR_RETURN(DiskImage image, DiskImage::Open(
                                       {.path = options.path,
                                        .readonly = options.readonly,
                                        .lock = !options.defer_lock,
                                        .direct = options.direct}));
  return std::shared_ptr<Block>(new Block(std::move(image), options));
}

Block::Block(DiskImage image, const BlockOptions& options)
    : image_(std::move(image)), serial_(options.serial.empty() ? DefaultSerial(options.path) : options.serial) {
  // A tail shorter than a sector cannot be addressed and stays unused.
  config_.capacity = image_.size_bytes() / kSectorSize;
  // Two of the queue's descriptors carry the header and the status.
  config_.seg_max = kQueueSize - 2;
  config_.blk_size = kSectorSize;
  config_.num_queues = 1;
  config_.max_discard_sectors = kMaxRangeSectors;
  config_.max_discard_seg = kMaxRangeSegments;
  // Hole punching works in file system blocks; 4 KiB is the common one.
  config_.discard_sector_alignment = 4096 / kSectorSize;
  config_.max_write_zeroes_sectors = kMaxRangeSectors;
  config_.max_write_zeroes_seg = kMaxRangeSegments;
  config_.write_zeroes_may_unmap = 1;
}

Block::~Block() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    work_cv_.SignalAll();
    idle_cv_.SignalAll();
  }
  if (worker_.joinable()) worker_.join();
}

void Block::StartWorker(std::function<void()> on_start) {
  absl::MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  worker_ = std::thread([this, on_start = std::move(on_start)] { WorkerLoop(on_start); });
  ::pthread_setname_np(worker_.native_handle(), "vmm-blk");
}

uint32_t Block::device_type() const { return VIRTIO_ID_BLOCK; }

uint64_t Block::device_features() const {
  uint64_t f = Bit(VIRTIO_F_VERSION_1) | Bit(VIRTIO_BLK_F_FLUSH) | Bit(VIRTIO_BLK_F_SEG_MAX) |
               Bit(VIRTIO_BLK_F_BLK_SIZE);
  if (image_.readonly()) {
    f |= Bit(VIRTIO_BLK_F_RO);
  } else {
    f |= Bit(VIRTIO_BLK_F_DISCARD) | Bit(VIRTIO_BLK_F_WRITE_ZEROES);
  }
  return f;
}

std::vector<uint16_t> Block::queue_max_sizes() const { return {kQueueSize}; }

void Block::ReadConfig(uint64_t offset, std::span<uint8_t> data) {
  // Fixed after Create: no lock needed.
  if (offset > sizeof(config_) || data.size() > sizeof(config_) - offset) {
    LOG_GUEST_ERROR("block: config read of %u bytes at 0x%x", data.size(), offset);
    std::fill(data.begin(), data.end(), 0);
    return;
  }
  std::memcpy(data.data(), reinterpret_cast<const uint8_t*>(&config_) + offset, data.size());
}

void Block::WriteConfig(uint64_t offset, std::span<const uint8_t> data) {
  // Only `wce` is writable, and only under CONFIG_WCE, which is not offered.
  LOG_GUEST_ERROR("block: config write of %u bytes at 0x%x ignored", data.size(), offset);
}

absl::Status Block::Activate(virtio::ActivateArgs args) {
  absl::MutexLock lock(&mu_);
  if (args.queues.empty() || !args.queues[0].ready()) {
    return absl::InvalidArgumentError("block: request queue not ready");
  }
  mem_ = args.mem;
  features_ = args.features;
  queue_ = std::move(args.queues[0]);
  signal_used_ = std::move(args.signal_used);
  broken_ = false;
  active_ = true;
  return absl::OkStatus();
}

absl::Status Block::ProcessQueue(uint16_t index) {
  absl::MutexLock lock(&mu_);
  if (!active_) return absl::OkStatus();  // raced with a reset
  if (index != 0) {
    LOG_GUEST_ERROR("block: notify of unused queue %u", index);
    return absl::OkStatus();
  }
  kick_ = true;
  work_cv_.Signal();
  return absl::OkStatus();
}

void Block::Reset() {
  absl::MutexLock lock(&mu_);
  // The chains being served were popped from the queue that goes away now;
  // their completion must not land in a reset driver's rings.
  while (busy_) idle_cv_.Wait(&mu_);
  active_ = false;
  broken_ = false;
  kick_ = false;
  mem_ = nullptr;
  features_ = 0;
  queue_.reset();
  signal_used_ = nullptr;
}

void Block::Drain() {
  absl::MutexLock lock(&mu_);
  if (!started_) return;  // nothing has been served, nothing is in flight
  while (!stopping_ && (kick_ || busy_)) idle_cv_.Wait(&mu_);
}

Block::Counters Block::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

void Block::WorkerLoop(std::function<void()> on_start) {
  if (on_start) on_start();
  std::vector<virtio::DescriptorChain> chains;
  std::vector<uint32_t> used_lengths;
  absl::MutexLock lock(&mu_);
  while (true) {
    // Each pass ends here: Drain and Reset wait for that.
    idle_cv_.SignalAll();
    while (!stopping_ && !(kick_ && active_)) work_cv_.Wait(&mu_);
    if (stopping_) return;
    RunPass(chains, used_lengths);
  }
}

void Block::ServeOnThisThread() {
  std::vector<virtio::DescriptorChain> chains;
  std::vector<uint32_t> used_lengths;
  absl::MutexLock lock(&mu_);
  if (started_) return;  // the worker serves
  while (kick_ && active_) RunPass(chains, used_lengths);
}

void Block::RunPass(std::vector<virtio::DescriptorChain>& chains, std::vector<uint32_t>& used_lengths) {
  kick_ = false;
  if (broken_ || !PopBatch(chains)) return;
  // A full batch may have left more on the ring: look again next pass
  // (after Reset or stop had a chance to get in).
  if (chains.size() == kMaxChainsPerPass) kick_ = true;
  if (chains.empty()) return;
  busy_ = true;
  memory::GuestMemory& mem = *mem_;
  const uint64_t features = features_;
  used_lengths.clear();
  mu_.Unlock();
  for (const virtio::DescriptorChain& chain : chains) used_lengths.push_back(Serve(mem, features, chain));
  mu_.Lock();
  busy_ = false;
  counters_.requests += chains.size();
  for (size_t i = 0; i < chains.size(); ++i) {
    if (absl::Status st = queue_->AddUsed(mem, chains[i].head, used_lengths[i]); !st.ok()) {
      LOG_GUEST_ERROR("block: used ring: %s", std::string(st.message()));
      broken_ = true;
      break;
    }
  }
  if (!broken_ && queue_->NeedsInterrupt(mem) && signal_used_) signal_used_();
}

bool Block::PopBatch(std::vector<virtio::DescriptorChain>& chains) {
  chains.clear();
  while (chains.size() < kMaxChainsPerPass) {
    absl::StatusOr<std::optional<virtio::DescriptorChain>> next = queue_->PopChain(*mem_);
    if (!next.ok()) {
      // The chain is lost with the ring's consistency; serving the ones
      // popped before it would still be right, but a driver that corrupts
      // its ring gets nothing more until it resets the device.
      LOG_GUEST_ERROR("block: corrupt request queue, stopped until reset: %s", std::string(next.status().message()));
      broken_ = true;
      chains.clear();
      return false;
    }
    if (!next->has_value()) break;
    chains.push_back(std::move(**next));
  }
  return true;
}

uint32_t Block::Serve(memory::GuestMemory& mem, uint64_t features, const virtio::DescriptorChain& chain) {
  std::optional<BlockRequest> req = ParseBlockRequest(chain, mem);
  if (!req.has_value()) {
    LOG_GUEST_ERROR("block: request without a writable status byte; returned unused");
    return 0;
  }
  uint32_t written = 0;  // data bytes put in the guest's buffers
  uint8_t status = VIRTIO_BLK_S_IOERR;
  if (!req->has_header) {
    LOG_GUEST_ERROR("block: request shorter than its 16-byte header");
  } else {
    status = Execute(mem, features, *req, written);
  }
  if (status != VIRTIO_BLK_S_OK) {
    absl::MutexLock lock(&mu_);
    ++counters_.errors;
  }
  if (!mem.Write<uint8_t>(req->status_gpa, status).ok()) return written;
  return written + 1;
}

uint8_t Block::Execute(memory::GuestMemory& mem, uint64_t features, const BlockRequest& req, uint32_t& written) {
  const bool writes = req.type == VIRTIO_BLK_T_OUT || req.type == VIRTIO_BLK_T_DISCARD ||
                      req.type == VIRTIO_BLK_T_WRITE_ZEROES;
  if (writes && image_.readonly()) {
    LOG_GUEST_ERROR("block: write request (type %u) to readonly disk %s", req.type, image_.path());
    return VIRTIO_BLK_S_IOERR;
  }
  switch (req.type) {
    case VIRTIO_BLK_T_IN: {
      const uint8_t st = MoveData(mem, req, /*read=*/true);
      // The used length counts what the device wrote; on an error the
      // buffers may hold part of it, which the driver does not look at.
      if (st == VIRTIO_BLK_S_OK) written = static_cast<uint32_t>(req.in_len);
      return st;
    }
    case VIRTIO_BLK_T_OUT: return MoveData(mem, req, /*read=*/false);
    case VIRTIO_BLK_T_FLUSH: {
      if (!(features & Bit(VIRTIO_BLK_F_FLUSH))) return VIRTIO_BLK_S_UNSUPP;
      absl::Status st = image_.Flush();
      if (!st.ok()) {
        LOG_ERROR("block: %s", st.ToString());
        return VIRTIO_BLK_S_IOERR;
      }
      absl::MutexLock lock(&mu_);
      ++counters_.flushes;
      return VIRTIO_BLK_S_OK;
    }
    case VIRTIO_BLK_T_GET_ID: return GetId(mem, req, written);
    case VIRTIO_BLK_T_DISCARD:
      if (!(features & Bit(VIRTIO_BLK_F_DISCARD))) return VIRTIO_BLK_S_UNSUPP;
      return ApplyRanges(mem, req, /*discard=*/true);
    case VIRTIO_BLK_T_WRITE_ZEROES:
      if (!(features & Bit(VIRTIO_BLK_F_WRITE_ZEROES))) return VIRTIO_BLK_S_UNSUPP;
      return ApplyRanges(mem, req, /*discard=*/false);
    default:
      LOG_GUEST_ERROR("block: unsupported request type %u", req.type);
      return VIRTIO_BLK_S_UNSUPP;
  }
}

bool Block::InsideDisk(uint64_t sector, uint64_t count) const {
  return sector <= config_.capacity && count <= config_.capacity - sector;
}

uint8_t Block::MoveData(memory::GuestMemory& mem, const BlockRequest& req, bool read) {
  // A read fills the writable buffers and has no readable data; a write
  // the other way round.
  const uint64_t len = read ? req.in_len : req.out_len;
  const uint64_t wrong_way = read ? req.out_len : req.in_len;
  const std::vector<GuestSegment>& data = read ? req.in_data : req.out_data;
  if (wrong_way != 0 || len % kSectorSize != 0 || !InsideDisk(req.sector, len / kSectorSize)) {
    LOG_GUEST_ERROR("block: bad %s of %u bytes at sector %u (%u data bytes the other way)", read ? "read" : "write",
                    len, req.sector, wrong_way);
    return VIRTIO_BLK_S_IOERR;
  }
  absl::StatusOr<std::vector<iovec>> iov = SegmentIovecs(mem, data);
  if (!iov.ok()) return VIRTIO_BLK_S_IOERR;
  absl::Status st;
  if (read) {
    // Marked before and after the read (GuestMemory::MarkWritten).
    for (const GuestSegment& s : data) (void)mem.MarkWritten(s.gpa, s.len);
    st = image_.ReadAt(req.sector * kSectorSize, *iov);
    for (const GuestSegment& s : data) (void)mem.MarkWritten(s.gpa, s.len);
  } else {
    st = image_.WriteAt(req.sector * kSectorSize, *iov);
  }
  if (!st.ok()) {
    LOG_ERROR("block: %s", st.ToString());
    return VIRTIO_BLK_S_IOERR;
  }
  absl::MutexLock lock(&mu_);
  (read ? counters_.bytes_read : counters_.bytes_written) += len;
  return VIRTIO_BLK_S_OK;
}

uint8_t Block::GetId(memory::GuestMemory& mem, const BlockRequest& req, uint32_t& written) {
  if (req.out_len != 0) {
    LOG_GUEST_ERROR("block: get-id with %u readable data bytes", req.out_len);
    return VIRTIO_BLK_S_IOERR;
  }
  // Up to 20 bytes, NUL-padded when shorter (not terminated at 20).
  uint8_t id[VIRTIO_BLK_ID_BYTES] = {};
  std::memcpy(id, serial_.data(), std::min<size_t>(serial_.size(), sizeof(id)));
  uint64_t left = std::min<uint64_t>(req.in_len, sizeof(id));
  uint64_t done = 0;
  for (const GuestSegment& s : req.in_data) {
    if (done == left) break;
    const uint64_t n = std::min(s.len, left - done);
    if (!mem.WriteBytes(s.gpa, {id + done, static_cast<size_t>(n)}).ok()) return VIRTIO_BLK_S_IOERR;
    done += n;
  }
  written = static_cast<uint32_t>(done);
  return VIRTIO_BLK_S_OK;
}

uint8_t Block::ApplyRanges(memory::GuestMemory& mem, const BlockRequest& req, bool discard) {
  const char* what = discard ? "discard" : "write-zeroes";
  if (req.in_len != 0 || req.out_len == 0 || req.out_len % kRangeBytes != 0 ||
      req.out_len / kRangeBytes > kMaxRangeSegments) {
    LOG_GUEST_ERROR("block: %s with %u bytes of ranges (%u writable data bytes)", what, req.out_len, req.in_len);
    return VIRTIO_BLK_S_IOERR;
  }
  std::vector<virtio_blk_discard_write_zeroes> ranges(req.out_len / kRangeBytes);
  if (!ReadSegments(mem, req.out_data, {reinterpret_cast<uint8_t*>(ranges.data()), req.out_len}).ok()) {
    return VIRTIO_BLK_S_IOERR;
  }
  // Every range is checked before any is applied, so a bad request
  // changes nothing.
  for (const virtio_blk_discard_write_zeroes& r : ranges) {
    const uint32_t allowed_flags = discard ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
    if (r.flags & ~allowed_flags) {
      // The spec: unmap on a discard, or any reserved flag, is UNSUPP.
      LOG_GUEST_ERROR("block: %s with flags 0x%x", what, r.flags);
      return VIRTIO_BLK_S_UNSUPP;
    }
    if (r.num_sectors > kMaxRangeSectors || !InsideDisk(r.sector, r.num_sectors)) {
      LOG_GUEST_ERROR("block: %s of %u sectors at %u beyond the disk or the limit", what, r.num_sectors, r.sector);
      return VIRTIO_BLK_S_IOERR;
    }
  }
  for (const virtio_blk_discard_write_zeroes& r : ranges) {
    if (r.num_sectors == 0) continue;
    const uint64_t offset = r.sector * kSectorSize;
    const uint64_t length = uint64_t{r.num_sectors} * kSectorSize;
    absl::Status st = discard ? image_.Discard(offset, length)
                              : image_.WriteZeroes(offset, length, r.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
    if (!st.ok()) {
      LOG_ERROR("block: %s", st.ToString());
      return VIRTIO_BLK_S_IOERR;
    }
  }
  absl::MutexLock lock(&mu_);
  counters_.discards += ranges.size();
  return VIRTIO_BLK_S_OK;
}

absl::Status Block::Save(state::StateWriter& out) {
  Drain();
  absl::MutexLock lock(&mu_);
  out.PutU64("capacity", config_.capacity);
  out.PutU32("active", active_ ? 1 : 0);
  out.PutU64("features", features_);
  const virtio::Queue::Snapshot queue = active_ ? queue_->Save() : virtio::Queue::Snapshot{};
  out.PutStruct("queue", queue);
  out.PutU32("broken", broken_ ? 1 : 0);
  return absl::OkStatus();
}

absl::Status Block::Load(const state::StateNode& in) {
  auto fail = [this](const std::string& what) {
    return absl::DataLossError(absl::StrFormat("saved virtio-blk state for disk %s: %s", image_.path(), what));
  };
  ASSIGN_OR_RETURN(uint64_t capacity, in.U64("capacity"));
  ASSIGN_OR_RETURN(uint32_t active, in.U32("active"));
  ASSIGN_OR_RETURN(uint64_t features, in.U64("features"));
  ASSIGN_OR_RETURN(virtio::Queue::Snapshot queue, in.Struct<virtio::Queue::Snapshot>("queue"));
  ASSIGN_OR_RETURN(uint32_t broken, in.U32("broken"));

  absl::MutexLock lock(&mu_);
  if (capacity != config_.capacity) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "disk image %s holds %u sectors here but %u on the source; both VMMs must open the same image",
        image_.path(), config_.capacity, capacity));
  }
  if (!active && features != 0) return fail("negotiated features on a device that is not active");
  if ((active != 0) != active_) {
    return fail(active ? "the device was active but the restored driver state is not" : "the device was not active");
  }
  if (active_ && features != features_) return fail("negotiated features differ from the transport's");
  if (active_) {
    // The transport restored (and checked) the configuration; the device's
    // copy adds its ring position.
    if (absl::Status st = queue_->Restore(queue, *mem_); !st.ok()) return fail(std::string(st.message()));
  }
  // No look at the ring: the source served every request the guest had
  // notified before it saved, and a request offered but not notified yet
  // gets its notification once the guest runs here.
  broken_ = broken != 0;
  return absl::OkStatus();
}

}  // namespace devices
