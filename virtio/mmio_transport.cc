// SPDX-License-Identifier: MIT
#include "virtio/mmio_transport.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "base/logging.h"
#include "virtio/virtio_ring_uapi.h"

namespace virtio {
namespace {

constexpr uint64_t kVersion1 = 1ull << VIRTIO_F_VERSION_1;
constexpr uint64_t kEventIdx = 1ull << VIRTIO_RING_F_EVENT_IDX;
// The status bits of virtio 1.2, 2.1; Load refuses others, so the running
// transport never keeps them either.
constexpr uint32_t kKnownStatus = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK |
                                  VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED;

}  // namespace

MmioTransport::MmioTransport(memory::GuestMemory& mem, std::shared_ptr<VirtioDevice> device,
                             std::function<void()> raise_irq)
    : mem_(mem), device_(std::move(device)), raise_irq_(std::move(raise_irq)) {
  for (uint16_t max : device_->queue_max_sizes()) queues_.emplace_back(max);
  device_->SetConfigChangeCallback([this] { NotifyConfigChange(); });
}

MmioTransport::~MmioTransport() {
  // The device may outlive us (the VMM keeps it for its API): take back
  // every callback that points here.
  device_->SetConfigChangeCallback(nullptr);
  absl::MutexLock lock(&mu_);
  device_->Reset();
}

uint64_t MmioTransport::OfferedFeatures() const { return device_->device_features() | kVersion1; }

uint32_t MmioTransport::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

uint64_t MmioTransport::driver_features() const {
  absl::MutexLock lock(&mu_);
  return driver_features_;
}

void MmioTransport::SignalUsed() {
  interrupt_status_.fetch_or(VIRTIO_MMIO_INT_VRING);
  raise_irq_();
}

void MmioTransport::NotifyConfigChange() {
  // Generation first: a driver that sees the interrupt and rereads the
  // config must also see a new generation.
  config_generation_.fetch_add(1);
  interrupt_status_.fetch_or(VIRTIO_MMIO_INT_CONFIG);
  raise_irq_();
}

void MmioTransport::RaiseRestoredInterrupt() {
  if (interrupt_status_.load() != 0) raise_irq_();
}

void MmioTransport::Read(uint64_t offset, std::span<uint8_t> data) {
  std::memset(data.data(), 0, data.size());
  absl::MutexLock lock(&mu_);
  if (offset >= VIRTIO_MMIO_CONFIG) {
    device_->ReadConfig(offset - VIRTIO_MMIO_CONFIG, data);
    return;
  }
  if (data.size() != 4 || offset % 4 != 0) {
    LOG_GUEST_ERROR("virtio-mmio: %u-byte read at 0x%x (registers are 32-bit)", data.size(),
                    offset);
    return;
  }
  uint32_t value = ReadRegister(offset);
  std::memcpy(data.data(), &value, 4);
}

uint32_t MmioTransport::ReadRegister(uint64_t offset) {
  const uint64_t offered = OfferedFeatures();
  switch (offset) {
    case VIRTIO_MMIO_MAGIC_VALUE: return kMagic;
    case VIRTIO_MMIO_VERSION: return kVersion;
    case VIRTIO_MMIO_DEVICE_ID: return device_->device_type();
    case VIRTIO_MMIO_VENDOR_ID: return kVendorId;
    case VIRTIO_MMIO_DEVICE_FEATURES:
      if (device_features_sel_ > 1) return 0;
      return static_cast<uint32_t>(offered >> (32 * device_features_sel_));
    case VIRTIO_MMIO_QUEUE_NUM_MAX:
      return queue_sel_ < queues_.size() ? queues_[queue_sel_].max_size() : 0;
    case VIRTIO_MMIO_QUEUE_READY:
      return queue_sel_ < queues_.size() && queues_[queue_sel_].ready() ? 1 : 0;
    case VIRTIO_MMIO_INTERRUPT_STATUS: return interrupt_status_.load();
    case VIRTIO_MMIO_STATUS: return status_;
    case VIRTIO_MMIO_CONFIG_GENERATION: return config_generation_.load();
    // No shared memory regions: a length of all ones says so (Linux
    // vm_get_shm_region()).
    case VIRTIO_MMIO_SHM_LEN_LOW:
    case VIRTIO_MMIO_SHM_LEN_HIGH:
    case VIRTIO_MMIO_SHM_BASE_LOW:
    case VIRTIO_MMIO_SHM_BASE_HIGH: return 0xffffffff;
    default:
      LOG_GUEST_ERROR("virtio-mmio: read of unknown or write-only register 0x%x", offset);
      return 0;
  }
}

void MmioTransport::Write(uint64_t offset, std::span<const uint8_t> data) {
  int notify = -1;
  std::vector<uint16_t> pending;
  {
    absl::MutexLock lock(&mu_);
    if (offset >= VIRTIO_MMIO_CONFIG) {
      device_->WriteConfig(offset - VIRTIO_MMIO_CONFIG, data);
      return;
    }
    if (data.size() != 4 || offset % 4 != 0) {
      LOG_GUEST_ERROR("virtio-mmio: %u-byte write at 0x%x (registers are 32-bit)", data.size(),
                      offset);
      return;
    }
    uint32_t value;
    std::memcpy(&value, data.data(), 4);
    notify = WriteRegister(offset, value);
    if (!to_process_.empty()) pending.swap(to_process_);
  }
  if (notify >= 0) ProcessNotify(static_cast<uint16_t>(notify));
  for (uint16_t queue : pending) ProcessNotify(queue);
}

void MmioTransport::ProcessNotify(uint16_t notify) {
  // Outside the transport lock: processing may be long (discards) and must
  // not block config reads from other vCPUs. The device serialises itself,
  // and a concurrent reset waits for it in Reset().
  absl::Status st = device_->ProcessQueue(static_cast<uint16_t>(notify));
  if (!st.ok()) {
    LOG_GUEST_ERROR("virtio-mmio: device %u queue %d failed: %s", device_->device_type(), notify,
                    std::string(st.message()));
    absl::MutexLock lock(&mu_);
    DeviceError();
  }
}

Queue* MmioTransport::ConfigurableQueue(const char* what) {
  if (queue_sel_ >= queues_.size()) {
    LOG_GUEST_ERROR("virtio-mmio: %s for nonexistent queue %u", what, queue_sel_);
    return nullptr;
  }
  if (!(status_ & VIRTIO_CONFIG_S_FEATURES_OK) || (status_ & VIRTIO_CONFIG_S_DRIVER_OK)) {
    LOG_GUEST_ERROR("virtio-mmio: %s in status 0x%x", what, status_);
    return nullptr;
  }
  Queue& q = queues_[queue_sel_];
  if (q.ready()) {
    LOG_GUEST_ERROR("virtio-mmio: %s while queue %u is ready", what, queue_sel_);
    return nullptr;
  }
  return &q;
}

void MmioTransport::SetQueueAddressHalf(uint64_t offset, uint32_t value) {
  Queue* q = ConfigurableQueue("queue address write");
  if (q == nullptr) return;
  auto set_half = [&](memory::Gpa old, bool high) -> memory::Gpa {
    return high ? (old & 0xffffffffull) | (uint64_t{value} << 32)
                : (old & ~0xffffffffull) | value;
  };
  switch (offset) {
    case VIRTIO_MMIO_QUEUE_DESC_LOW: q->set_desc_table(set_half(q->desc_table(), false)); break;
    case VIRTIO_MMIO_QUEUE_DESC_HIGH: q->set_desc_table(set_half(q->desc_table(), true)); break;
    case VIRTIO_MMIO_QUEUE_AVAIL_LOW: q->set_avail_ring(set_half(q->avail_ring(), false)); break;
    case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: q->set_avail_ring(set_half(q->avail_ring(), true)); break;
    case VIRTIO_MMIO_QUEUE_USED_LOW: q->set_used_ring(set_half(q->used_ring(), false)); break;
    case VIRTIO_MMIO_QUEUE_USED_HIGH: q->set_used_ring(set_half(q->used_ring(), true)); break;
  }
}

int MmioTransport::WriteRegister(uint64_t offset, uint32_t value) {
  switch (offset) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL: device_features_sel_ = value; break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL: driver_features_sel_ = value; break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
      if (!(status_ & VIRTIO_CONFIG_S_DRIVER) || (status_ & VIRTIO_CONFIG_S_FEATURES_OK)) {
        LOG_GUEST_ERROR("virtio-mmio: driver features written in status 0x%x", status_);
      } else if (driver_features_sel_ > 1) {
        if (value != 0) LOG_GUEST_ERROR("virtio-mmio: driver features word %u", driver_features_sel_);
      } else {
        const unsigned shift = 32 * driver_features_sel_;
        driver_features_ = (driver_features_ & ~(0xffffffffull << shift)) | (uint64_t{value} << shift);
      }
      break;
    case VIRTIO_MMIO_QUEUE_SEL: queue_sel_ = value; break;
    case VIRTIO_MMIO_QUEUE_NUM:
      if (Queue* q = ConfigurableQueue("QueueNum write")) {
        // Validated against max and power of two when made ready.
        q->set_size(value > Queue::kMaxSize ? 0 : static_cast<uint16_t>(value));
      }
      break;
    case VIRTIO_MMIO_QUEUE_READY:
      if (value == 0) {
        // Linux writes 0 while tearing queues down after a reset; only a
        // running device cannot lose a queue (no VIRTIO_F_RING_RESET).
        if (status_ & VIRTIO_CONFIG_S_DRIVER_OK) {
          LOG_GUEST_ERROR("virtio-mmio: queue disabled while DRIVER_OK");
        } else if (queue_sel_ < queues_.size()) {
          queues_[queue_sel_].Disable();
        }
      } else if (Queue* q = ConfigurableQueue("QueueReady write")) {
        if (absl::Status st = q->MakeReady(mem_); !st.ok()) {
          LOG_GUEST_ERROR("virtio-mmio: queue %u not made ready: %s", queue_sel_,
                          std::string(st.message()));
        }
      }
      break;
    case VIRTIO_MMIO_QUEUE_NOTIFY:
      if ((status_ & VIRTIO_CONFIG_S_DRIVER_OK) && !(status_ & VIRTIO_CONFIG_S_NEEDS_RESET) &&
          value < queues_.size()) {
        return static_cast<int>(value);
      }
      if ((status_ & VIRTIO_CONFIG_S_FEATURES_OK) && !(status_ & VIRTIO_CONFIG_S_DRIVER_OK) &&
          value < queues_.size() && queues_[value].ready()) {
        if (std::find(early_notified_.begin(), early_notified_.end(), value) == early_notified_.end()) {
          early_notified_.push_back(static_cast<uint16_t>(value));
        }
        break;
      }
      LOG_GUEST_ERROR("virtio-mmio: notify of queue %u in status 0x%x", value, status_);
      break;
    case VIRTIO_MMIO_INTERRUPT_ACK: interrupt_status_.fetch_and(~value); break;
    case VIRTIO_MMIO_STATUS: WriteStatus(value); break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW:
    case VIRTIO_MMIO_QUEUE_DESC_HIGH:
    case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
    case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
    case VIRTIO_MMIO_QUEUE_USED_LOW:
    case VIRTIO_MMIO_QUEUE_USED_HIGH: SetQueueAddressHalf(offset, value); break;
    case VIRTIO_MMIO_SHM_SEL: break;  // no regions; reads say so
    default: LOG_GUEST_ERROR("virtio-mmio: write of 0x%x to unknown or read-only register 0x%x",
                             value, offset);
  }
  return -1;
}

void MmioTransport::WriteStatus(uint32_t value) {
  if (value == 0) {
    ResetLocked();
    return;
  }
  if (value & ~kKnownStatus) {
    LOG_GUEST_ERROR("virtio-mmio: unknown status bits 0x%x ignored", value & ~kKnownStatus);
    value &= kKnownStatus;
  }
  // The driver only ever adds bits (virtio 1.2, 3.1.1); NEEDS_RESET is the
  // device's to set.
  value |= status_ & VIRTIO_CONFIG_S_NEEDS_RESET;
  if ((status_ & ~value) != 0) {
    LOG_GUEST_ERROR("virtio-mmio: status 0x%x -> 0x%x clears bits", status_, value);
    return;
  }
  const uint32_t added = value & ~status_;
  if (added & VIRTIO_CONFIG_S_NEEDS_RESET) value &= ~VIRTIO_CONFIG_S_NEEDS_RESET;

  if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
    const uint64_t offered = OfferedFeatures();
    const bool subset = (driver_features_ & ~offered) == 0;
    if (!(value & VIRTIO_CONFIG_S_DRIVER) || !subset || !(driver_features_ & kVersion1)) {
      // Leaving the bit clear is how the device refuses (3.1.1 step 6).
      LOG_GUEST_ERROR("virtio-mmio: refusing features 0x%x (offered 0x%x)", driver_features_,
                      offered);
      value &= ~VIRTIO_CONFIG_S_FEATURES_OK;
    }
  }
  if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && !(value & VIRTIO_CONFIG_S_FEATURES_OK)) {
    LOG_GUEST_ERROR("virtio-mmio: DRIVER_OK without FEATURES_OK");
    value &= ~VIRTIO_CONFIG_S_DRIVER_OK;
  }
  status_ = value;

  if ((status_ & VIRTIO_CONFIG_S_DRIVER_OK) && (added & VIRTIO_CONFIG_S_DRIVER_OK)) {
    std::vector<Queue> queues = queues_;
    for (Queue& q : queues) q.set_event_idx(driver_features_ & kEventIdx);
    absl::Status st = device_->Activate({.mem = &mem_,
                                         .queues = std::move(queues),
                                         .features = driver_features_,
                                         .signal_used = [this] { SignalUsed(); }});
    if (!st.ok()) {
      LOG_GUEST_ERROR("virtio-mmio: device %u activation failed: %s", device_->device_type(),
                      std::string(st.message()));
      DeviceError();
    } else {
      device_active_ = true;
      to_process_ = std::move(early_notified_);
    }
    early_notified_.clear();
  }
}

void MmioTransport::DeviceError() {
  if (!(status_ & VIRTIO_CONFIG_S_DRIVER_OK) || (status_ & VIRTIO_CONFIG_S_NEEDS_RESET)) return;
  status_ |= VIRTIO_CONFIG_S_NEEDS_RESET;
  // Required once DRIVER_OK is set (virtio 1.2, 2.1.2).
  NotifyConfigChange();
}

void MmioTransport::ResetLocked() {
  device_->Reset();
  device_active_ = false;
  status_ = 0;
  device_features_sel_ = 0;
  driver_features_sel_ = 0;
  driver_features_ = 0;
  queue_sel_ = 0;
  early_notified_.clear();
  to_process_.clear();
  for (Queue& q : queues_) q.Reset();
  interrupt_status_.store(0);
}

absl::Status MmioTransport::Save(state::StateWriter& out) {
  absl::MutexLock lock(&mu_);
  out.PutU32("status", status_);
  out.PutU32("device_features_sel", device_features_sel_);
  out.PutU32("driver_features_sel", driver_features_sel_);
  out.PutU64("driver_features", driver_features_);
  out.PutU32("queue_sel", queue_sel_);
  out.PutU32("interrupt_status", interrupt_status_.load());
  out.PutU32("config_generation", config_generation_.load());
  out.PutU32("device_active", device_active_ ? 1 : 0);
  std::vector<Queue::Snapshot> queues;
  for (const Queue& q : queues_) queues.push_back(q.Save());
  out.PutBytes("queues", {reinterpret_cast<const uint8_t*>(queues.data()), queues.size() * sizeof(Queue::Snapshot)});
  std::vector<uint16_t> early(early_notified_.begin(), early_notified_.end());
  early.insert(early.end(), to_process_.begin(), to_process_.end());
  out.PutBytes("early_notified", {reinterpret_cast<const uint8_t*>(early.data()), early.size() * sizeof(uint16_t)});
  out.BeginNode("device");
  absl::Status st = device_->Save(out);
  out.EndNode();
  return st;
}

absl::Status MmioTransport::Load(const state::StateNode& in) {
  auto u32 = [&](const char* name) { return in.U32(name); };
  absl::StatusOr<uint32_t> status = u32("status"), dfs = u32("device_features_sel"), drfs = u32("driver_features_sel"),
                           qsel = u32("queue_sel"), isr = u32("interrupt_status"), gen = u32("config_generation");
  for (const auto* v : {&status, &dfs, &drfs, &qsel, &isr, &gen}) {
    if (!v->ok()) return v->status();
  }
  absl::StatusOr<uint64_t> features = in.U64("driver_features");
  if (!features.ok()) return features.status();
  absl::StatusOr<std::span<const uint8_t>> raw_queues = in.Bytes("queues");
  if (!raw_queues.ok()) return raw_queues.status();
  absl::StatusOr<std::span<const uint8_t>> raw_early = in.Bytes("early_notified");
  if (!raw_early.ok()) return raw_early.status();
  absl::StatusOr<state::StateNode> device_node = in.Child("device");
  if (!device_node.ok()) return device_node.status();

  absl::MutexLock lock(&mu_);
  ResetLocked();
  auto fail = [&](const std::string& what) {
    ResetLocked();
    return absl::DataLossError(absl::StrCat("saved virtio-mmio state: ", what));
  };
  if (*status & ~kKnownStatus) return fail(absl::StrFormat("unknown status bits 0x%x", *status));
  // Before FEATURES_OK the driver may still be writing features the device
  // then refuses (WriteStatus), so only an accepted set must be offered.
  if ((*status & VIRTIO_CONFIG_S_FEATURES_OK) && (*features & ~OfferedFeatures())) {
    return fail(absl::StrFormat("driver features 0x%x include ones not offered (0x%x)", *features, OfferedFeatures()));
  }
  if (*isr > 3) return fail(absl::StrFormat("interrupt status 0x%x", *isr));
  if (raw_queues->size() != queues_.size() * sizeof(Queue::Snapshot)) {
    return fail(absl::StrFormat("%u bytes of queues for %u queues", raw_queues->size(), queues_.size()));
  }
  if (raw_early->size() % sizeof(uint16_t) != 0 || raw_early->size() / sizeof(uint16_t) > queues_.size()) {
    return fail("bad early notification list");
  }
  for (size_t i = 0; i < queues_.size(); ++i) {
    Queue::Snapshot s;
    std::memcpy(&s, raw_queues->data() + i * sizeof(s), sizeof(s));
    if (absl::Status st = queues_[i].Restore(s, mem_); !st.ok()) {
      return fail(absl::StrFormat("queue %u: %s", i, st.message()));
    }
  }
  std::vector<uint16_t> early(raw_early->size() / sizeof(uint16_t));
  // An empty list is the common case, and memcpy from or to the null data()
  // of an empty vector is undefined, even for zero bytes.
  if (!early.empty()) std::memcpy(early.data(), raw_early->data(), raw_early->size());
  for (uint16_t q : early) {
    if (q >= queues_.size()) return fail(absl::StrFormat("early notification of queue %u", q));
  }
  status_ = *status;
  device_features_sel_ = *dfs;
  driver_features_sel_ = *drfs;
  driver_features_ = *features;
  queue_sel_ = *qsel;
  // Whether the device was active on the source: after DRIVER_OK it is,
  // unless its activation failed; a device that failed later (NEEDS_RESET)
  // still is. Streams from before "device_active" was saved lack the
  // second case.
  bool live = (status_ & VIRTIO_CONFIG_S_DRIVER_OK) && !(status_ & VIRTIO_CONFIG_S_NEEDS_RESET);
  if (in.Has("device_active")) {
    absl::StatusOr<uint32_t> active = in.U32("device_active");
    if (!active.ok()) return fail(std::string(active.status().message()));
    if (*active > 1 || (*active == 1 && !(status_ & VIRTIO_CONFIG_S_DRIVER_OK))) {
      return fail(absl::StrFormat("device_active %u in status 0x%x", *active, status_));
    }
    live = *active == 1;
  }
  if (live) {
    std::vector<Queue> queues = queues_;
    for (Queue& q : queues) q.set_event_idx(driver_features_ & kEventIdx);
    absl::Status st = device_->Activate({.mem = &mem_,
                                         .queues = std::move(queues),
                                         .features = driver_features_,
                                         .signal_used = [this] { SignalUsed(); }});
    if (!st.ok()) return fail(absl::StrCat("re-activating the device: ", st.message()));
    device_active_ = true;
    // Kicks that were waiting for DRIVER_OK on the source are served on
    // the next notification; the driver notifies again anyway.
    (void)early;
  } else {
    early_notified_ = std::move(early);
  }
  if (absl::Status st = device_->Load(*device_node); !st.ok()) return fail(std::string(st.message()));
  // Last, with the interrupt status: a reset (the failure path) keeps the
  // generation, so an earlier store would outlive a refused load.
  config_generation_.store(*gen);
  interrupt_status_.store(*isr);
  return absl::OkStatus();
}

}  // namespace virtio
