// SPDX-License-Identifier: MIT
#include "devices/balloon/balloon_stats.h"

#include <cstring>

namespace devices {
namespace {

// The guest reports sizes in bytes (it converts pages) and events as counts.
constexpr StatDescription kStats[] = {
    {VIRTIO_BALLOON_S_SWAP_IN, "swap_in", "bytes"},
    {VIRTIO_BALLOON_S_SWAP_OUT, "swap_out", "bytes"},
    {VIRTIO_BALLOON_S_MAJFLT, "major_faults", "count"},
    {VIRTIO_BALLOON_S_MINFLT, "minor_faults", "count"},
    {VIRTIO_BALLOON_S_MEMFREE, "free_memory", "bytes"},
    {VIRTIO_BALLOON_S_MEMTOT, "total_memory", "bytes"},
    {VIRTIO_BALLOON_S_AVAIL, "available_memory", "bytes"},
    {VIRTIO_BALLOON_S_CACHES, "disk_caches", "bytes"},
    {VIRTIO_BALLOON_S_HTLB_PGALLOC, "hugetlb_allocations", "count"},
    {VIRTIO_BALLOON_S_HTLB_PGFAIL, "hugetlb_failures", "count"},
};
static_assert(std::size(kStats) == VIRTIO_BALLOON_S_NR);

// sizeof(struct virtio_balloon_stat): packed, no padding.
constexpr size_t kRecordSize = 10;
static_assert(sizeof(virtio_balloon_stat) == kRecordSize);

}  // namespace

std::span<const StatDescription> StatDescriptions() { return kStats; }

size_t ParseStats(std::span<const uint8_t> bytes, BalloonStats& stats) {
  size_t known = 0;
  for (size_t off = 0; off + kRecordSize <= bytes.size(); off += kRecordSize) {
    uint16_t tag;
    uint64_t value;
    std::memcpy(&tag, bytes.data() + off, 2);  // little-endian host
    std::memcpy(&value, bytes.data() + off + 2, 8);
    if (tag >= stats.values.size()) continue;
    stats.values[tag] = value;
    ++known;
  }
  ++stats.updates;
  return known;
}

}  // namespace devices
