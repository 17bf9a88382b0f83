// SPDX-License-Identifier: MIT
#include "vmm/balloon_info.h"

#include <linux/virtio_balloon.h>

#include <optional>
#include <utility>

#include "absl/time/clock.h"
#include "devices/balloon/chunk_format.h"
#include "memory/layout.h"

namespace vmm {

std::vector<std::string> BalloonFeatureNames(uint64_t features) {
  const std::pair<int, const char*> kNames[] = {
      {VIRTIO_BALLOON_F_MUST_TELL_HOST, "MUST_TELL_HOST"}, {VIRTIO_BALLOON_F_STATS_VQ, "STATS_VQ"},
      {VIRTIO_BALLOON_F_DEFLATE_ON_OOM, "DEFLATE_ON_OOM"}, {VIRTIO_BALLOON_F_FREE_PAGE_HINT, "FREE_PAGE_HINT"},
      {VIRTIO_BALLOON_F_PAGE_POISON, "PAGE_POISON"},       {VIRTIO_BALLOON_F_REPORTING, "REPORTING"},
      {devices::kBalloonFChunks, "CHUNKS"},
  };
  std::vector<std::string> names;
  for (const auto& [bit, name] : kNames) {
    if (features & (1ull << bit)) names.push_back(name);
  }
  return names;
}

api::BalloonInfo DescribeBalloon(const devices::Balloon& balloon, uint64_t driver_features) {
  api::BalloonInfo info;
  info.target_bytes = uint64_t{balloon.target_pages()} * memory::kPageSize;
  info.actual_bytes = uint64_t{balloon.actual_pages()} * memory::kPageSize;
  info.features = BalloonFeatureNames(driver_features);
  devices::Balloon::Counters c = balloon.counters();
  info.counters = {{"requests", c.requests},
                   {"pages_inflated", c.pages_inflated},
                   {"pages_deflated", c.pages_deflated},
                   {"ranges", c.ranges},
                   {"discard_calls", c.discard_calls},
                   {"bytes_returned", c.bytes_returned},
                   {"pfns_out_of_range", c.pfns_out_of_range},
                   {"reported_ranges", c.reported_ranges},
                   {"hinted_ranges", c.hinted_ranges},
                   {"ballooned_pages", balloon.ballooned_pages()},
                   {"service_cpu_ns", c.service_cpu_ns}};
  // The range format's entries (VIRTIO_BALLOON_F_CHUNKS): applied and refused.
  devices::Balloon::ChunkCounters chunks = balloon.chunk_counters();
  info.counters.push_back({"chunk_entries", chunks.entries});
  info.counters.push_back({"chunk_refused", chunks.refused});
  devices::Balloon::ServiceTimes service = balloon.service_times();
  info.counters.push_back({"service_samples", service.samples});
  info.counters.push_back({"service_p50_ns", service.p50_ns});
  info.counters.push_back({"service_p99_ns", service.p99_ns});
  return info;
}

std::vector<api::BalloonStat> FreshBalloonStats(devices::Balloon& balloon) {
  uint64_t before = balloon.Stats().updates;
  if (balloon.RequestStats().ok()) {
    absl::Time deadline = absl::Now() + absl::Seconds(2);
    while (balloon.Stats().updates == before && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  }
  devices::BalloonStats stats = balloon.Stats();
  std::vector<api::BalloonStat> out;
  for (const devices::StatDescription& d : devices::StatDescriptions()) {
    if (std::optional<uint64_t> v = stats.Get(d.tag)) {
      out.push_back({std::string(d.name), *v, std::string(d.unit)});
    }
  }
  return out;
}

}  // namespace vmm
