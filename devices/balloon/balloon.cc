// SPDX-License-Identifier: MIT
#include "devices/balloon/balloon.h"

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include <time.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "devices/balloon/chunk_format.h"
#include "virtio/virtio_ring_uapi.h"

namespace devices {
namespace {

constexpr uint64_t Bit(unsigned n) { return 1ull << n; }
constexpr uint64_t kPageSize = memory::kPageSize;
// Largest stats buffer parsed; the driver sends VIRTIO_BALLOON_S_NR records.
constexpr uint64_t kMaxStatsBytes = 4096;

uint64_t MaxPfn(const memory::GuestMemory& mem) {
  uint64_t end = 0;
  for (const memory::MappedRegion& r : mem.Regions()) end = std::max(end, r.end());
  return end >> kBalloonPfnShift;
}

}  // namespace

Balloon::Balloon(const memory::GuestMemory& mem, BalloonOptions options)
    : options_(options), discard_tracker_(mem.backing_page_size()), ballooned_(MaxPfn(mem)) {}

uint32_t Balloon::device_type() const { return VIRTIO_ID_BALLOON; }

uint64_t Balloon::device_features() const {
  uint64_t f = Bit(VIRTIO_F_VERSION_1) | Bit(VIRTIO_RING_F_EVENT_IDX);
  if (options_.must_tell_host) f |= Bit(VIRTIO_BALLOON_F_MUST_TELL_HOST);
  if (options_.stats) f |= Bit(VIRTIO_BALLOON_F_STATS_VQ);
  if (options_.deflate_on_oom) f |= Bit(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
  if (options_.free_page_hint) f |= Bit(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
  if (options_.page_poison) f |= Bit(VIRTIO_BALLOON_F_PAGE_POISON);
  if (options_.reporting) f |= Bit(VIRTIO_BALLOON_F_REPORTING);
  if (options_.chunks) f |= Bit(kBalloonFChunks);
  return f;
}

std::vector<uint16_t> Balloon::queue_max_sizes() const {
  // Which queue is which depends on the features the driver accepts, which
  // are not known yet: offer the most queues, all of a size fit for any
  // role.
  return std::vector<uint16_t>(QueueRoles(device_features()).size(), kQueueSize);
}

std::vector<Balloon::QueueRole> Balloon::QueueRoles(uint64_t negotiated) {
  std::vector<QueueRole> roles = {QueueRole::kInflate, QueueRole::kDeflate};
  if (negotiated & Bit(VIRTIO_BALLOON_F_STATS_VQ)) roles.push_back(QueueRole::kStats);
  if (negotiated & Bit(VIRTIO_BALLOON_F_FREE_PAGE_HINT)) roles.push_back(QueueRole::kFreePageHint);
  if (negotiated & Bit(VIRTIO_BALLOON_F_REPORTING)) roles.push_back(QueueRole::kReporting);
  return roles;
}

void Balloon::ReadConfig(uint64_t offset, std::span<uint8_t> data) {
  absl::MutexLock lock(&mu_);
  const auto* bytes = reinterpret_cast<const uint8_t*>(&config_);
  if (offset > sizeof(config_) || data.size() > sizeof(config_) - offset) {
    LOG_GUEST_ERROR("balloon: config read of %u bytes at 0x%x", data.size(), offset);
    std::fill(data.begin(), data.end(), 0);
    return;
  }
  std::memcpy(data.data(), bytes + offset, data.size());
}

void Balloon::WriteConfig(uint64_t offset, std::span<const uint8_t> data) {
  absl::MutexLock lock(&mu_);
  // The driver owns `actual` and `poison_val`; num_pages and the hint
  // command are the host's.
  auto inside = [&](size_t field_offset) {
    return offset >= field_offset && offset - field_offset <= 4 &&
           data.size() <= 4 - (offset - field_offset);
  };
  if (!inside(offsetof(virtio_balloon_config, actual)) &&
      !inside(offsetof(virtio_balloon_config, poison_val))) {
    LOG_GUEST_ERROR("balloon: config write of %u bytes at 0x%x", data.size(), offset);
    return;
  }
  std::memcpy(reinterpret_cast<uint8_t*>(&config_) + offset, data.data(), data.size());
  // No more pages than the VM has can be in the balloon; Load refuses more.
  if (config_.actual > ballooned_.num_pages()) {
    LOG_GUEST_ERROR("balloon: actual %u pages is beyond guest RAM", config_.actual);
    config_.actual = static_cast<uint32_t>(ballooned_.num_pages());
  }
}

absl::Status Balloon::Activate(virtio::ActivateArgs args) {
  absl::MutexLock lock(&mu_);
  std::vector<QueueRole> roles = QueueRoles(args.features);
  if (args.queues.size() < roles.size()) {
    return absl::InvalidArgumentError("balloon: fewer queues than negotiated features need");
  }
  // Inflate and deflate are the device; the optional queues just stay idle
  // if a driver leaves them unconfigured.
  if (!args.queues[0].ready() || !args.queues[1].ready()) {
    return absl::InvalidArgumentError("balloon: inflate or deflate queue not ready");
  }
  // The transport only lets offered features through; checked again here
  // because Load refuses a state with the range format not offered, and the
  // device must never hold a value its Load would refuse.
  if ((args.features & Bit(kBalloonFChunks)) && !options_.chunks) {
    return absl::InvalidArgumentError("balloon: range format negotiated but not offered");
  }
  args.queues.resize(roles.size(), virtio::Queue(kQueueSize));
  mem_ = args.mem;
  features_ = args.features;
  queues_ = std::move(args.queues);
  roles_ = std::move(roles);
  signal_used_ = std::move(args.signal_used);
  stats_queue_.reset();
  for (size_t i = 0; i < roles_.size(); ++i) {
    if (roles_[i] == QueueRole::kStats) stats_queue_ = static_cast<uint16_t>(i);
  }
  pending_stats_head_.reset();
  active_ = true;
  return absl::OkStatus();
}

void Balloon::Reset() {
  absl::MutexLock lock(&mu_);
  active_ = false;
  mem_ = nullptr;
  features_ = 0;
  queues_.clear();
  roles_.clear();
  signal_used_ = nullptr;
  stats_queue_.reset();
  pending_stats_head_.reset();
  // A reset driver (reboot, module reload) owns all its memory again.
  ballooned_.ClearAll();
  hint_receiving_ = false;
  hinted_.clear();
  // The host's target and hint command survive; the guest's fields do not.
  config_.actual = 0;
  config_.poison_val = 0;
}

void Balloon::SetConfigChangeCallback(virtio::InterruptCallback callback) {
  absl::MutexLock lock(&mu_);
  config_change_ = std::move(callback);
}

namespace {
uint64_t NowNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}
}  // namespace

Balloon::ServiceClock::ServiceClock()
    : wall_ns(NowNs(CLOCK_MONOTONIC)), cpu_ns(NowNs(CLOCK_THREAD_CPUTIME_ID)) {}

void Balloon::RecordService(const ServiceClock& start) {
  counters_.service_cpu_ns += NowNs(CLOCK_THREAD_CPUTIME_ID) - start.cpu_ns;
  uint64_t wall = NowNs(CLOCK_MONOTONIC) - start.wall_ns;
  uint32_t sample = static_cast<uint32_t>(std::min<uint64_t>(wall, UINT32_MAX));
  if (service_ns_.size() < kMaxServiceSamples) {
    service_ns_.push_back(sample);
  } else {
    service_ns_[service_next_] = sample;
    service_next_ = (service_next_ + 1) % kMaxServiceSamples;
  }
}

Balloon::ServiceTimes Balloon::service_times() const {
  absl::MutexLock lock(&mu_);
  std::vector<uint32_t> sorted = service_ns_;
  if (sorted.empty()) return {};
  std::sort(sorted.begin(), sorted.end());
  return {.samples = sorted.size(),
          .p50_ns = sorted[sorted.size() / 2],
          .p99_ns = sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)]};
}

absl::Status Balloon::ProcessQueue(uint16_t index) {
  absl::MutexLock lock(&mu_);
  if (!active_) return absl::OkStatus();  // raced with a reset
  if (index >= queues_.size() || !queues_[index].ready()) {
    LOG_GUEST_ERROR("balloon: notify of unused queue %u", index);
    return absl::OkStatus();
  }
  virtio::Queue& queue = queues_[index];
  switch (roles_[index]) {
    case QueueRole::kInflate:
    case QueueRole::kDeflate: {
      ServiceClock clock;
      const bool inflate = roles_[index] == QueueRole::kInflate;
      // [chunks] The range format replaces the PFN arrays when negotiated.
      absl::Status st = (features_ & Bit(kBalloonFChunks)) ? HandleChunkQueue(queue, inflate)
                                                            : HandlePfnQueue(queue, inflate);
      RecordService(clock);
      return st;
    }
    case QueueRole::kStats: return HandleStats(queue);
    case QueueRole::kFreePageHint: return HandleFreePageHint(queue);
    case QueueRole::kReporting: return HandleReporting(queue);
  }
  return absl::OkStatus();
}

void Balloon::SignalIfNeeded(virtio::Queue& queue) {
  if (queue.NeedsInterrupt(*mem_) && signal_used_) signal_used_();
}

bool Balloon::PoisonForbidsDiscard() const {
  // A guest with page poisoning checks that free pages still hold
  // poison_val; a discarded page reads back as zeros, which it would take
  // for corruption. Zero (init_on_free) is what a discard produces anyway.
  return (features_ & Bit(VIRTIO_BALLOON_F_PAGE_POISON)) && config_.poison_val != 0;
}

absl::Status Balloon::DiscardRange(memory::Gpa gpa, uint64_t length) {
  ++counters_.discard_calls;
  absl::Status st = mem_->Discard(gpa, length);
  if (!st.ok()) {
    LOG_ERROR("balloon: discard of [0x%x, +0x%x) failed: %s", gpa, length,
              std::string(st.message()));
    return st;
  }
  counters_.bytes_returned += length;
  return absl::OkStatus();
}

void Balloon::ReadPfns(const virtio::Descriptor& desc, std::vector<uint32_t>& pfns) {
  if (desc.writable) {
    LOG_GUEST_ERROR("balloon: PFN buffer is device-writable; skipped");
    return;
  }
  if (desc.len == 0) return;  // nothing to read, and the slice may be null
  if (desc.len % sizeof(uint32_t) != 0 || desc.len / sizeof(uint32_t) > kMaxPfnsPerBuffer) {
    // Skipping is safe: an unlisted page is simply not reclaimed.
    LOG_GUEST_ERROR("balloon: PFN buffer of %u bytes; skipped", desc.len);
    return;
  }
  // The queue validated [gpa, gpa + len) against RAM.
  auto slice = mem_->Slice(desc.gpa, desc.len);
  if (!slice.ok()) return;
  const size_t old_size = pfns.size();
  pfns.resize(old_size + desc.len / sizeof(uint32_t));
  std::memcpy(pfns.data() + old_size, slice->data(), desc.len);  // le32, little-endian host
}

absl::Status Balloon::HandlePfnQueue(virtio::Queue& queue, bool inflate) {
  // The PFNs of the chains offered at this notification are compacted
  // together, so that each range costs one discard, but in batches of at
  // most kMaxBatchPfns: a guest may chain the ring's every descriptor, each
  // naming a full buffer (or all the same one), in every chain it offers,
  // and the memory spent on one notification must not grow with that. A
  // chain's buffer goes back once all of its PFNs are applied.
  std::vector<uint32_t> pfns;
  pfns.reserve(kMaxBatchPfns);
  std::vector<uint16_t> done_heads;  // chains whose PFNs are all in `pfns` or applied
  absl::Status result;
  auto apply = [&] {
    peak_batch_pfns_ = std::max<uint64_t>(peak_batch_pfns_, pfns.size());
    absl::Status st = ApplyPfns(pfns, inflate);
    if (result.ok()) result = st;
    pfns.clear();
  };
  auto give_back = [&]() -> absl::Status {
    apply();
    for (uint16_t head : done_heads) RETURN_IF_ERROR(queue.AddUsed(*mem_, head, 0));
    done_heads.clear();
    return absl::OkStatus();
  };
  bool any = false;
  while (true) {
    ASSIGN_OR_RETURN(std::optional<virtio::DescriptorChain> chain, queue.PopChain(*mem_));
    if (!chain.has_value()) break;
    any = true;
    ++counters_.requests;
    for (const virtio::Descriptor& desc : chain->descriptors) {
      if (pfns.size() + kMaxPfnsPerBuffer > kMaxBatchPfns) apply();
      ReadPfns(desc, pfns);
    }
    done_heads.push_back(chain->head);
    if (done_heads.size() >= kQueueSize) RETURN_IF_ERROR(give_back());
  }
  if (!any) return absl::OkStatus();
  RETURN_IF_ERROR(give_back());
  SignalIfNeeded(queue);
  return result;
}

absl::Status Balloon::ApplyPfns(std::span<const uint32_t> pfns, bool inflate) {
  if (pfns.empty()) return absl::OkStatus();
  const std::vector<PfnRange> ranges = CompactPfns(pfns);
  const SplitResult split = SplitAtRegions(ranges, *mem_);
  if (split.pages_outside > 0) {
    LOG_GUEST_ERROR("balloon: %u PFNs outside RAM ignored", split.pages_outside);
  }
  counters_.pfns_out_of_range += split.pages_outside;

  absl::Status result;
  const bool discard = inflate && !PoisonForbidsDiscard();
  for (const memory::GpaRange& r : split.in_ram) {
    const uint64_t first = r.start >> kBalloonPfnShift;
    const uint64_t count = r.length >> kBalloonPfnShift;
    if (inflate) {
      counters_.pages_inflated += count;
      ++counters_.ranges;
      // [chunks] The tracker marks the range ballooned and says what may go
      // back now: the range itself, or on huge pages the ones it completed.
      for (const PfnRange& d : discard_tracker_.Inflate(ballooned_, {first, count})) {
        if (!discard) break;
        // Keep going on a host failure so the bitmap and the used ring stay
        // consistent; report the first failure at the end.
        absl::Status st = DiscardRange(d.first_pfn << kBalloonPfnShift, d.count << kBalloonPfnShift);
        if (result.ok()) result = st;
      }
    } else {
      // Nothing to do for the memory itself: the next guest touch of a
      // discarded page faults in a zero page.
      ballooned_.Clear(first, count);
      counters_.pages_deflated += count;
    }
  }
  return result;
}

uint64_t Balloon::peak_batch_pfns() const {
  absl::MutexLock lock(&mu_);
  return peak_batch_pfns_;
}

absl::Status Balloon::HandleReporting(virtio::Queue& queue) {
  absl::Status result;
  bool returned = false;
  while (true) {
    ASSIGN_OR_RETURN(std::optional<virtio::DescriptorChain> chain, queue.PopChain(*mem_));
    if (!chain.has_value()) break;
    // Linux adds the reported blocks as device-writable buffers although
    // the device writes nothing; either direction is accepted.
    for (const virtio::Descriptor& desc : chain->descriptors) {
      if (desc.gpa % kPageSize != 0 || desc.len % kPageSize != 0 || desc.len == 0) {
        LOG_GUEST_ERROR("balloon: reported range [0x%x, +0x%x) not page aligned", desc.gpa,
                        desc.len);
        continue;
      }
      ++counters_.reported_ranges;
      // The discard must happen before the buffer goes back: from then on
      // the guest may reuse the pages.
      if (!PoisonForbidsDiscard()) {
        // [chunks] Only whole host pages: a huge page stays whole.
        const PfnRange reported{desc.gpa >> kBalloonPfnShift, desc.len >> kBalloonPfnShift};
        for (const PfnRange& d : discard_tracker_.WholeHostPagesWithin(reported)) {
          absl::Status st = DiscardRange(d.first_pfn << kBalloonPfnShift, d.count << kBalloonPfnShift);
          if (result.ok()) result = st;
        }
      }
    }
    RETURN_IF_ERROR(queue.AddUsed(*mem_, chain->head, 0));
    returned = true;
  }
  if (returned) SignalIfNeeded(queue);
  return result;
}

absl::Status Balloon::HandleStats(virtio::Queue& queue) {
  bool returned = false;
  while (true) {
    ASSIGN_OR_RETURN(std::optional<virtio::DescriptorChain> chain, queue.PopChain(*mem_));
    if (!chain.has_value()) break;
    std::vector<uint8_t> bytes;
    for (const virtio::Descriptor& desc : chain->descriptors) {
      if (desc.writable) continue;
      const uint64_t n = std::min<uint64_t>(desc.len, kMaxStatsBytes - bytes.size());
      const size_t old_size = bytes.size();
      bytes.resize(old_size + n);
      RETURN_IF_ERROR(mem_->ReadBytes(desc.gpa, std::span(bytes).subspan(old_size)));
      if (bytes.size() == kMaxStatsBytes) break;
    }
    ParseStats(bytes, stats_);
    // The driver keeps one buffer here; holding it is how the device asks
    // for the next update later (RequestStats). A second buffer would be a
    // driver quirk: give the older one back rather than leak it.
    if (pending_stats_head_.has_value()) {
      RETURN_IF_ERROR(queue.AddUsed(*mem_, *pending_stats_head_, 0));
      returned = true;
    }
    pending_stats_head_ = chain->head;
  }
  if (returned) SignalIfNeeded(queue);
  return absl::OkStatus();
}

absl::Status Balloon::HandleFreePageHint(virtio::Queue& queue) {
  bool returned = false;
  while (true) {
    ASSIGN_OR_RETURN(std::optional<virtio::DescriptorChain> chain, queue.PopChain(*mem_));
    if (!chain.has_value()) break;
    for (const virtio::Descriptor& desc : chain->descriptors) {
      if (!desc.writable) {
        // A command id from the driver: the one we asked for starts a
        // report, STOP (or a stale id) ends it.
        if (desc.len != sizeof(uint32_t)) {
          LOG_GUEST_ERROR("balloon: hint command of %u bytes", desc.len);
          continue;
        }
        ASSIGN_OR_RETURN(uint32_t id, mem_->Read<uint32_t>(desc.gpa));
        const uint32_t current = config_.free_page_hint_cmd_id;
        if (hint_receiving_ && id == VIRTIO_BALLOON_CMD_ID_STOP) ++hint_reports_completed_;
        hint_receiving_ = id != VIRTIO_BALLOON_CMD_ID_STOP && id == current &&
                          current > VIRTIO_BALLOON_CMD_ID_DONE;
        continue;
      }
      if (!hint_receiving_) continue;  // late block from an old command
      if (desc.gpa % kPageSize != 0 || desc.len % kPageSize != 0 || desc.len == 0) {
        LOG_GUEST_ERROR("balloon: hinted block [0x%x, +0x%x) not page aligned", desc.gpa,
                        desc.len);
        continue;
      }
      ++counters_.hinted_ranges;
      hinted_.push_back({desc.gpa, desc.len});
    }
    // The driver keeps hinted pages until DONE; the buffers themselves can
    // go back at once, and must, or the driver runs out of descriptors.
    RETURN_IF_ERROR(queue.AddUsed(*mem_, chain->head, 0));
    returned = true;
  }
  if (returned) SignalIfNeeded(queue);
  return absl::OkStatus();
}

void Balloon::SetTargetPages(uint32_t pages) {
  virtio::InterruptCallback notify;
  {
    absl::MutexLock lock(&mu_);
    config_.num_pages = pages;
    notify = config_change_;
  }
  // Outside the lock: the transport's callback takes its own lock, and the
  // transport calls into us with that lock held.
  if (notify) notify();
}

uint32_t Balloon::target_pages() const {
  absl::MutexLock lock(&mu_);
  return config_.num_pages;
}

uint32_t Balloon::actual_pages() const {
  absl::MutexLock lock(&mu_);
  return config_.actual;
}

Balloon::Counters Balloon::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

BalloonStats Balloon::Stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::Status Balloon::RequestStats() {
  absl::MutexLock lock(&mu_);
  if (!active_ || !stats_queue_.has_value() || !queues_[*stats_queue_].ready()) {
    return absl::FailedPreconditionError("balloon stats queue is not active");
  }
  if (!pending_stats_head_.has_value()) {
    return absl::FailedPreconditionError("guest has no stats buffer outstanding");
  }
  virtio::Queue& queue = queues_[*stats_queue_];
  RETURN_IF_ERROR(queue.AddUsed(*mem_, *pending_stats_head_, 0));
  pending_stats_head_.reset();
  SignalIfNeeded(queue);
  return absl::OkStatus();
}

std::vector<memory::GpaRange> Balloon::BalloonedRanges() const {
  std::vector<PfnRange> pfns;
  {
    absl::MutexLock lock(&mu_);
    pfns = ballooned_.Ranges();
  }
  std::vector<memory::GpaRange> ranges;
  ranges.reserve(pfns.size());
  for (const PfnRange& r : pfns) ranges.push_back(ToGpaRange(r));
  return ranges;
}

uint64_t Balloon::ballooned_pages() const {
  absl::MutexLock lock(&mu_);
  return ballooned_.CountSet();
}

bool Balloon::IsBallooned(uint64_t pfn) const {
  absl::MutexLock lock(&mu_);
  return ballooned_.Test(pfn);
}

absl::Status Balloon::SetHintCommand(uint32_t cmd_id) {
  virtio::InterruptCallback notify;
  {
    absl::MutexLock lock(&mu_);
    if (!active_ || !(features_ & Bit(VIRTIO_BALLOON_F_FREE_PAGE_HINT))) {
      return absl::FailedPreconditionError("free page hinting not negotiated");
    }
    if (cmd_id > VIRTIO_BALLOON_CMD_ID_DONE) {
      if (cmd_id == config_.free_page_hint_cmd_id) {
        return absl::InvalidArgumentError("hint command id must differ from the previous one");
      }
      hinted_.clear();
      last_hint_cmd_id_ = cmd_id;
    }
    if (cmd_id != config_.free_page_hint_cmd_id) hint_receiving_ = false;
    config_.free_page_hint_cmd_id = cmd_id;
    notify = config_change_;
  }
  if (notify) notify();
  return absl::OkStatus();
}

absl::Status Balloon::StartHinting(uint32_t cmd_id) {
  if (cmd_id <= VIRTIO_BALLOON_CMD_ID_DONE) {
    return absl::InvalidArgumentError(absl::StrFormat("hint command id %u is reserved", cmd_id));
  }
  return SetHintCommand(cmd_id);
}

absl::Status Balloon::StartHinting() { return StartHinting(NextHintCommandId()); }

bool Balloon::CanHint() const {
  absl::MutexLock lock(&mu_);
  return active_ && (features_ & Bit(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
}

uint32_t Balloon::NextHintCommandId() const {
  constexpr uint32_t kFirstHintCommandId = 0x80000000u;
  absl::MutexLock lock(&mu_);
  const uint32_t next = last_hint_cmd_id_ + 1;
  return last_hint_cmd_id_ == 0 || next <= VIRTIO_BALLOON_CMD_ID_DONE ? kFirstHintCommandId : next;
}

absl::Status Balloon::StopHinting() { return SetHintCommand(VIRTIO_BALLOON_CMD_ID_STOP); }

absl::Status Balloon::DoneHinting() { return SetHintCommand(VIRTIO_BALLOON_CMD_ID_DONE); }

std::vector<memory::GpaRange> Balloon::TakeHintedRanges() {
  absl::MutexLock lock(&mu_);
  return std::exchange(hinted_, {});
}

bool Balloon::hinting_in_progress() const {
  absl::MutexLock lock(&mu_);
  return hint_receiving_;
}

uint64_t Balloon::HintReportsCompleted() const {
  absl::MutexLock lock(&mu_);
  return hint_reports_completed_;
}

absl::Status Balloon::Save(state::StateWriter& out) {
  absl::MutexLock lock(&mu_);
  out.PutStruct("config", config_);
  out.PutU32("active", active_ ? 1 : 0);
  out.PutU64("features", features_);
  std::vector<virtio::Queue::Snapshot> queues;
  for (const virtio::Queue& q : queues_) queues.push_back(q.Save());
  out.PutBytes("queues", {reinterpret_cast<const uint8_t*>(queues.data()), queues.size() * sizeof(queues[0])});
  out.PutU32("pending_stats_head", pending_stats_head_.has_value() ? *pending_stats_head_ : 0xffffffffu);
  out.PutU64("ballooned_pages", ballooned_.num_pages());
  const std::vector<uint64_t>& words = ballooned_.words();
  out.PutBytes("ballooned", {reinterpret_cast<const uint8_t*>(words.data()), words.size() * sizeof(uint64_t)});
  out.PutU32("hint_receiving", hint_receiving_ ? 1 : 0);
  out.PutU32("last_hint_cmd_id", last_hint_cmd_id_);
  out.PutStruct("counters", counters_);
  return absl::OkStatus();
}

absl::Status Balloon::Load(const state::StateNode& in) {
  auto fail = [](const std::string& what) { return absl::DataLossError("saved balloon state: " + what); };
  ASSIGN_OR_RETURN(virtio_balloon_config config, in.Struct<virtio_balloon_config>("config"));
  ASSIGN_OR_RETURN(uint32_t active, in.U32("active"));
  ASSIGN_OR_RETURN(uint64_t features, in.U64("features"));
  ASSIGN_OR_RETURN(std::span<const uint8_t> raw_queues, in.Bytes("queues"));
  ASSIGN_OR_RETURN(uint32_t stats_head, in.U32("pending_stats_head"));
  ASSIGN_OR_RETURN(uint64_t pages, in.U64("ballooned_pages"));
  ASSIGN_OR_RETURN(std::span<const uint8_t> raw_bitmap, in.Bytes("ballooned"));
  ASSIGN_OR_RETURN(uint32_t hint_receiving, in.U32("hint_receiving"));
  ASSIGN_OR_RETURN(Counters counters, in.Struct<Counters>("counters"));
  // Absent from streams of VMMs before it was saved: the next id then
  // starts over, as it did.
  uint32_t last_hint_cmd_id = 0;
  if (in.Has("last_hint_cmd_id")) {
    ASSIGN_OR_RETURN(last_hint_cmd_id, in.U32("last_hint_cmd_id"));
  }

  absl::MutexLock lock(&mu_);
  if ((features & Bit(kBalloonFChunks)) && !options_.chunks) {
    return fail("the driver negotiated the range format (chunks), which this device does not offer (--balloon-chunks)");
  }
  if (!active && features != 0) return fail("negotiated features on a device that is not active");
  if ((active != 0) != active_) {
    return fail(active ? "the device was active but the restored driver state is not" : "the device was not active");
  }
  if (active_ && features != features_) return fail("negotiated features differ from the transport's");
  if (config.num_pages > pages || config.actual > pages) return fail("balloon size beyond guest RAM");
  if (pages != ballooned_.num_pages() || raw_bitmap.size() != ballooned_.words().size() * sizeof(uint64_t)) {
    return fail("the ballooned-page bitmap does not match this VM's RAM");
  }
  std::vector<uint64_t> words(raw_bitmap.size() / sizeof(uint64_t));
  std::memcpy(words.data(), raw_bitmap.data(), raw_bitmap.size());
  if (raw_queues.size() != queues_.size() * sizeof(virtio::Queue::Snapshot)) {
    return fail(absl::StrFormat("%u bytes of queue state for %u active queues", raw_queues.size(), queues_.size()));
  }
  if (stats_head != 0xffffffffu && (!stats_queue_.has_value() || stats_head >= queues_[*stats_queue_].size())) {
    return fail("pending stats buffer outside the stats queue");
  }
  for (size_t i = 0; i < queues_.size(); ++i) {
    virtio::Queue::Snapshot s;
    std::memcpy(&s, raw_queues.data() + i * sizeof(s), sizeof(s));
    // The transport already restored (and checked) the configuration; the
    // device's copy adds its ring position.
    if (absl::Status st = queues_[i].Restore(s, *mem_); !st.ok()) return fail(std::string(st.message()));
  }
  if (!ballooned_.Assign(words)) return fail("ballooned-page bitmap has bits beyond guest RAM");
  config_ = config;
  if (stats_head != 0xffffffffu) pending_stats_head_ = static_cast<uint16_t>(stats_head);
  hint_receiving_ = hint_receiving != 0;
  last_hint_cmd_id_ = last_hint_cmd_id;
  counters_ = counters;
  return absl::OkStatus();
}

}  // namespace devices
