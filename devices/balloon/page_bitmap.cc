// SPDX-License-Identifier: MIT
#include "devices/balloon/page_bitmap.h"

#include <algorithm>
#include <bit>

namespace devices {

PageBitmap::PageBitmap(uint64_t num_pages) : num_pages_(num_pages), words_((num_pages + 63) / 64) {}

void PageBitmap::Set(uint64_t first_pfn, uint64_t count) { Update(first_pfn, count, true); }
void PageBitmap::Clear(uint64_t first_pfn, uint64_t count) { Update(first_pfn, count, false); }

void PageBitmap::ClearAll() {
  std::fill(words_.begin(), words_.end(), 0);
  set_ = 0;
}

bool PageBitmap::Test(uint64_t pfn) const {
  return pfn < num_pages_ && (words_[pfn / 64] >> (pfn % 64)) & 1;
}

void PageBitmap::Update(uint64_t first_pfn, uint64_t count, bool value) {
  if (first_pfn >= num_pages_) return;
  const uint64_t end = first_pfn + std::min(count, num_pages_ - first_pfn);
  uint64_t pfn = first_pfn;
  while (pfn < end) {
    // Whole words at a time where the range allows: ranges are often MiBs.
    const uint64_t bit = pfn % 64;
    const uint64_t n = std::min<uint64_t>(64 - bit, end - pfn);
    const uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << bit;
    uint64_t& word = words_[pfn / 64];
    const int before = std::popcount(word);
    word = value ? (word | mask) : (word & ~mask);
    set_ += std::popcount(word) - before;
    pfn += n;
  }
}

uint64_t PageBitmap::CountIn(uint64_t first_pfn, uint64_t count) const {
  if (first_pfn >= num_pages_) return 0;
  const uint64_t end = first_pfn + std::min(count, num_pages_ - first_pfn);
  uint64_t set = 0;
  for (uint64_t pfn = first_pfn; pfn < end;) {
    const uint64_t bit = pfn % 64;
    const uint64_t n = std::min<uint64_t>(64 - bit, end - pfn);
    const uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << bit;
    set += static_cast<uint64_t>(std::popcount(words_[pfn / 64] & mask));
    pfn += n;
  }
  return set;
}

bool PageBitmap::AnySet(uint64_t first_pfn, uint64_t count) const { return CountIn(first_pfn, count) != 0; }

bool PageBitmap::AllSet(uint64_t first_pfn, uint64_t count) const {
  if (count == 0) return true;
  return first_pfn < num_pages_ && count <= num_pages_ - first_pfn && CountIn(first_pfn, count) == count;
}

std::vector<PfnRange> PageBitmap::Ranges() const {
  std::vector<PfnRange> ranges;
  for (uint64_t w = 0; w < words_.size(); ++w) {
    uint64_t word = words_[w];
    while (word != 0) {
      const uint64_t pfn = w * 64 + std::countr_zero(word);
      if (!ranges.empty() && ranges.back().end_pfn() == pfn) {
        ++ranges.back().count;
      } else {
        ranges.push_back({pfn, 1});
      }
      word &= word - 1;
    }
  }
  return ranges;
}

bool PageBitmap::Assign(const std::vector<uint64_t>& words) {
  if (words.size() != words_.size()) return false;
  if (num_pages_ % 64 != 0 && !words.empty() && (words.back() >> (num_pages_ % 64)) != 0) return false;
  words_ = words;
  set_ = 0;
  for (uint64_t w : words_) set_ += static_cast<uint64_t>(std::popcount(w));
  return true;
}

}  // namespace devices
