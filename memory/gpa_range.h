// SPDX-License-Identifier: MIT
// GpaRange: a span of guest-physical addresses, the one range type that
// memory/, devices/ and migration/ pass between them (RAM regions, ballooned
// and hinted ranges, clipped pieces). Plain arithmetic, no memory access;
// a range may come from the guest, so nothing here may overflow on any
// input: end() is only used where the caller knows the range is sane, and
// Contains/Overlap are written without sums that could wrap.
#ifndef MEMORY_GPA_RANGE_H_
#define MEMORY_GPA_RANGE_H_

#include <algorithm>
#include <cstdint>

namespace memory {

using Gpa = uint64_t;

struct GpaRange {
  Gpa start = 0;
  uint64_t length = 0;

  Gpa end() const { return start + length; }
  bool empty() const { return length == 0; }
  bool Contains(Gpa gpa) const { return gpa >= start && gpa - start < length; }
  // The part of this range that is also in `other` (empty if none). Both
  // ends are clamped to 2^64 - 1, so a range the guest made up that would
  // wrap is cut short instead.
  GpaRange Overlap(const GpaRange& other) const {
    const Gpa lo = std::max(start, other.start);
    const Gpa hi = std::min(SaturatedEnd(), other.SaturatedEnd());
    return lo < hi ? GpaRange{lo, hi - lo} : GpaRange{};
  }
  bool operator==(const GpaRange&) const = default;

 private:
  Gpa SaturatedEnd() const { return length > ~start ? ~Gpa{0} : start + length; }
};

}  // namespace memory

#endif  // MEMORY_GPA_RANGE_H_
