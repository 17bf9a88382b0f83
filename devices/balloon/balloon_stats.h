// SPDX-License-Identifier: MIT
// The memory statistics a virtio-balloon driver reports on the stats queue
// (virtio 1.2, 5.5.6.3): packed {le16 tag, le64 value} records. Parsing is
// pure and tolerant: unknown tags and a trailing partial record are skipped,
// since the driver may be newer than this table.
#ifndef DEVICES_BALLOON_BALLOON_STATS_H_
#define DEVICES_BALLOON_BALLOON_STATS_H_

#include <linux/virtio_balloon.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace devices {

struct StatDescription {
  uint16_t tag;           // VIRTIO_BALLOON_S_*
  std::string_view name;  // API name, e.g. "free_memory"
  std::string_view unit;  // "bytes" or "count"
};

// All known stats, indexed by tag.
std::span<const StatDescription> StatDescriptions();

struct BalloonStats {
  // The latest value of each stat the guest has reported, by tag.
  std::array<std::optional<uint64_t>, VIRTIO_BALLOON_S_NR> values;
  uint64_t updates = 0;  // stats buffers received
  std::optional<uint64_t> Get(uint16_t tag) const {
    return tag < values.size() ? values[tag] : std::nullopt;
  }
};

// Applies the records in `bytes` to `stats`; returns how many were known.
size_t ParseStats(std::span<const uint8_t> bytes, BalloonStats& stats);

}  // namespace devices

#endif  // DEVICES_BALLOON_BALLOON_STATS_H_
