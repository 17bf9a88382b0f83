// SPDX-License-Identifier: MIT
#include "migration/guest_pages.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>

namespace migration {
namespace {

constexpr uint64_t kPage = memory::kPageSize;
// Pages read per chunk of a scan: one buffer's worth per thread, small
// enough that the threads share the work out evenly.
constexpr uint64_t kScanChunkPages = 256;

}  // namespace

bool IsZeroPage(const uint8_t* page) {
  const auto* words = reinterpret_cast<const uint64_t*>(page);
  uint64_t acc = 0;
  for (size_t i = 0; i < kPage / 8; i += 8) {
    acc |= words[i] | words[i + 1] | words[i + 2] | words[i + 3] | words[i + 4] | words[i + 5] | words[i + 6] |
           words[i + 7];
    if (acc != 0) return false;
  }
  return true;
}

PageSet PopulatedSet(const memory::GuestMemory& mem, size_t region) {
  PageSet set(mem.Regions()[region].size / kPage);
  for (auto [first, end] : mem.PopulatedPages(region)) set.Set(first, end);
  return set;
}

std::vector<PageSet> PopulatedSets(const memory::GuestMemory& mem) {
  std::vector<PageSet> sets;
  for (size_t i = 0; i < mem.Regions().size(); ++i) sets.push_back(PopulatedSet(mem, i));
  return sets;
}

std::vector<PageSet> RangeSets(const memory::GuestMemory& mem, const std::vector<memory::GpaRange>& ranges) {
  std::vector<PageSet> sets;
  for (const memory::MappedRegion& r : mem.Regions()) sets.emplace_back(r.size / kPage);
  for (const memory::GpaRange& range : ranges) {
    for (const memory::RegionPiece& piece : mem.RegionPieces(range)) {
      sets[piece.region].Set(piece.first_page, piece.first_page + piece.pages());
    }
  }
  return sets;
}

bool AnyPageIn(const memory::GuestMemory& mem, const memory::GpaRange& range, const std::vector<PageSet>& sets) {
  for (const memory::RegionPiece& piece : mem.RegionPieces(range)) {
    if (piece.region < sets.size() && sets[piece.region].AnyIn(piece.first_page, piece.first_page + piece.pages())) {
      return true;
    }
  }
  return false;
}

size_t ScanThreads() { return std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8); }

bool ScanPages(const memory::GuestMemory& mem, size_t region, const PageSet& pages,
               const std::function<void(size_t, uint64_t, const uint8_t*)>& visit, size_t threads) {
  const memory::MappedRegion& r = mem.Regions()[region];
  // Chunks of contiguous pages, each read through the memfd, shared out
  // over the cores: while paused every core is free, and while live the
  // vCPUs get the rest.
  std::vector<std::pair<uint64_t, uint64_t>> chunks;
  pages.ForEachRun([&](uint64_t first, uint64_t end) {
    for (uint64_t p = first; p < end; p += kScanChunkPages) chunks.emplace_back(p, std::min(end, p + kScanChunkPages));
  });
  threads = std::max<size_t>(threads, 1);
  std::atomic<bool> read_failed{false};
  auto scan = [&](size_t t) {
    std::vector<uint8_t> buffer(kScanChunkPages * kPage);
    for (size_t c = t; c < chunks.size() && !read_failed; c += threads) {
      const auto [first, end] = chunks[c];
      if (!mem.ReadBacking(r.gpa + first * kPage, {buffer.data(), (end - first) * kPage}).ok()) {
        read_failed = true;
        return;
      }
      for (uint64_t p = first; p < end; ++p) visit(t, p, buffer.data() + (p - first) * kPage);
    }
  };
  std::vector<std::thread> workers;
  for (size_t t = 1; t < threads; ++t) workers.emplace_back(scan, t);
  scan(0);
  for (std::thread& w : workers) w.join();
  return !read_failed;
}

}  // namespace migration
