// SPDX-License-Identifier: MIT
// Balloon's inflate and deflate queues in the range ("chunk") format
// (VIRTIO_BALLOON_F_CHUNKS; chunk_format.h and CHUNKS.md). Kept apart from
// balloon.cc: the PFN path there is untouched and serves every driver that
// does not negotiate the feature.
//
// Work and memory per notification are bounded: one buffer of at most
// kMaxChunksPerBuffer entries is held at a time, chains are bounded by the
// queue, and one entry costs at most one discard call and bitmap work
// proportional to 4 KiB << kMaxChunkOrder.
#include <string>
#include <vector>

#include "base/logging.h"
#include "base/status_macros.h"
#include "devices/balloon/balloon.h"
#include "devices/balloon/chunk_format.h"

namespace devices {

absl::Status Balloon::HandleChunkQueue(virtio::Queue& queue, bool inflate) {
  absl::Status result;
  bool returned = false;
  std::vector<uint64_t> entries;
  entries.reserve(kMaxChunksPerBuffer);
  while (true) {
    ASSIGN_OR_RETURN(std::optional<virtio::DescriptorChain> chain, queue.PopChain(*mem_));
    if (!chain.has_value()) break;
    ++counters_.requests;
    for (const virtio::Descriptor& desc : chain->descriptors) {
      if (absl::Status st = ReadChunkBuffer(desc, *mem_, entries); !st.ok()) {
        // Skipping is safe: an entry the device never saw is simply not
        // ballooned (inflate) or stays ballooned (deflate).
        LOG_GUEST_ERROR("balloon: %s; skipped", std::string(st.message()));
        ++chunk_counters_.refused;
        continue;
      }
      for (uint64_t entry : entries) {
        // Keep going on a host failure so the bitmap and the used ring
        // stay consistent; report the first failure at the end.
        absl::Status st = ApplyChunk(entry, inflate);
        if (result.ok()) result = st;
      }
    }
    RETURN_IF_ERROR(queue.AddUsed(*mem_, chain->head, 0));
    returned = true;
  }
  if (returned) SignalIfNeeded(queue);
  return result;
}

absl::Status Balloon::ApplyChunk(uint64_t entry, bool inflate) {
  absl::StatusOr<PfnRange> block = DecodeChunk(entry, *mem_);
  absl::Status valid = !block.ok() ? block.status()
                       : inflate   ? CheckInflatable(ballooned_, *block)
                                   : CheckDeflatable(ballooned_, *block);
  if (!valid.ok()) {
    LOG_GUEST_ERROR("balloon: %s; ignored", std::string(valid.message()));
    ++chunk_counters_.refused;
    return absl::OkStatus();
  }
  ++chunk_counters_.entries;
  if (!inflate) {
    // Nothing to do for the memory itself: the next guest touch of a
    // discarded page faults in a zero page.
    ballooned_.Clear(block->first_pfn, block->count);
    counters_.pages_deflated += block->count;
    return absl::OkStatus();
  }
  counters_.pages_inflated += block->count;
  ++counters_.ranges;
  const std::vector<PfnRange> now = discard_tracker_.Inflate(ballooned_, *block);
  if (PoisonForbidsDiscard()) return absl::OkStatus();
  absl::Status result;
  for (const PfnRange& d : now) {
    absl::Status st = DiscardRange(d.first_pfn << kBalloonPfnShift, d.count << kBalloonPfnShift);
    if (result.ok()) result = st;
  }
  return result;
}

Balloon::ChunkCounters Balloon::chunk_counters() const {
  absl::MutexLock lock(&mu_);
  return chunk_counters_;
}

uint64_t Balloon::pages_waiting_for_huge_page() const {
  absl::MutexLock lock(&mu_);
  return discard_tracker_.PagesWaitingForTheirHugePage(ballooned_);
}

}  // namespace devices
