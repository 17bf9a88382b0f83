// SPDX-License-Identifier: MIT
#include "migration/page_set.h"

#include <algorithm>
#include <bit>
#include <limits>

namespace migration {

void PageSet::SetAll() {
  std::fill(words_.begin(), words_.end(), ~0ull);
  MaskTail();
}

void PageSet::MaskTail() {
  if (pages_ % 64 != 0 && !words_.empty()) words_.back() &= (1ull << (pages_ % 64)) - 1;
}

namespace {

// Calls fn(word, mask) for each word that pages [first, end) touch, with the
// bits of those pages in it, until fn returns false; false if one did.
template <typename Fn>
bool ForEachWordOf(uint64_t first, uint64_t end, Fn&& fn) {
  for (uint64_t p = first; p < end;) {
    const uint64_t bit = p % 64, n = std::min<uint64_t>(64 - bit, end - p);
    if (!fn(p / 64, (n == 64 ? ~0ull : ((1ull << n) - 1)) << bit)) return false;
    p += n;
  }
  return true;
}

}  // namespace

void PageSet::Set(uint64_t first, uint64_t end) {
  ForEachWordOf(first, std::min(end, pages_), [&](size_t w, uint64_t mask) {
    words_[w] |= mask;
    return true;
  });
}

void PageSet::Clear(uint64_t first, uint64_t end) {
  ForEachWordOf(first, std::min(end, pages_), [&](size_t w, uint64_t mask) {
    words_[w] &= ~mask;
    return true;
  });
}

bool PageSet::AnyIn(uint64_t first, uint64_t end) const {
  return !ForEachWordOf(first, std::min(end, pages_), [&](size_t w, uint64_t mask) { return (words_[w] & mask) == 0; });
}

void PageSet::Or(std::span<const uint64_t> words) {
  const size_t n = std::min(words.size(), words_.size());
  for (size_t i = 0; i < n; ++i) words_[i] |= words[i];
  MaskTail();
}

void PageSet::Subtract(const PageSet& other) {
  const size_t n = std::min(other.words_.size(), words_.size());
  for (size_t i = 0; i < n; ++i) words_[i] &= ~other.words_[i];
}

void PageSet::Intersect(const PageSet& other) {
  const size_t n = std::min(other.words_.size(), words_.size());
  for (size_t i = 0; i < n; ++i) words_[i] &= other.words_[i];
  std::fill(words_.begin() + static_cast<ptrdiff_t>(n), words_.end(), 0);
}

PageSet PageSet::Sample64(unsigned offset) const {
  PageSet sample(pages_);
  const uint64_t bit = 1ull << (offset % 64);
  for (size_t i = 0; i < words_.size(); ++i) sample.words_[i] = words_[i] & bit;
  return sample;
}

uint64_t PageSet::CountCommon(const PageSet& other) const {
  uint64_t count = 0;
  const size_t n = std::min(other.words_.size(), words_.size());
  for (size_t i = 0; i < n; ++i) count += static_cast<uint64_t>(std::popcount(words_[i] & other.words_[i]));
  return count;
}

uint64_t PageSet::Count() const {
  uint64_t count = 0;
  for (uint64_t w : words_) count += static_cast<uint64_t>(std::popcount(w));
  return count;
}

void PageSet::ClearAll() { std::fill(words_.begin(), words_.end(), 0); }

void PageSet::ForEachRun(const std::function<void(uint64_t, uint64_t)>& fn) const {
  uint64_t p = 0;
  while (p < pages_) {
    // Skip clear words whole; then find the run's end a word at a time.
    size_t w = p / 64;
    uint64_t word = words_[w] & (~0ull << (p % 64));
    while (word == 0 && ++w < words_.size()) word = words_[w];
    if (word == 0) return;
    const uint64_t first = w * 64 + static_cast<uint64_t>(std::countr_zero(word));
    if (first >= pages_) return;
    uint64_t end = first;
    size_t ew = end / 64;
    uint64_t inverted = ~words_[ew] & (~0ull << (end % 64));
    while (inverted == 0 && ++ew < words_.size()) inverted = ~words_[ew];
    end = inverted == 0 ? pages_ : std::min<uint64_t>(pages_, ew * 64 + std::countr_zero(inverted));
    fn(first, end);
    p = end;
  }
}

}  // namespace migration
