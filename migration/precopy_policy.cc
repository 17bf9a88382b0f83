// SPDX-License-Identifier: MIT
#include "migration/precopy_policy.h"

#include <limits>

namespace migration {

double ExpectedDowntimeMs(uint64_t remaining_bytes, double rate_bytes_per_s) {
  if (rate_bytes_per_s <= 0) return std::numeric_limits<double>::infinity();
  return static_cast<double>(remaining_bytes) / rate_bytes_per_s * 1000.0;
}

bool ShouldStopAndCopy(uint64_t remaining_bytes, uint64_t last_round_bytes, double rate_bytes_per_s,
                       double downtime_target_ms, uint32_t rounds_done, uint32_t max_rounds) {
  if (rounds_done >= max_rounds) return true;
  if (remaining_bytes == 0) return true;
  if (ExpectedDowntimeMs(remaining_bytes, rate_bytes_per_s) > downtime_target_ms) return false;
  const bool still_halving = remaining_bytes * 2 <= last_round_bytes;
  return remaining_bytes <= kSmallFinalSetBytes || !still_halving;
}

void PrecopyPolicy::RoundSent(uint64_t bytes, double seconds) {
  if (bytes >= kMinRateSampleBytes && seconds > 0) measured_rate_ = static_cast<double>(bytes) / seconds;
}

PrecopyPolicy::Verdict PrecopyPolicy::AfterRound(uint64_t remaining_bytes, uint64_t round_set_bytes,
                                                 uint32_t round, bool another_check) const {
  const double rate = measured_rate_ > 0 ? measured_rate_ : kAssumedRateBytesPerS;
  Verdict verdict;
  verdict.expected_downtime_ms = ExpectedDowntimeMs(remaining_bytes, rate);
  const bool recheck = another_check && round < max_rounds_;
  verdict.stop = !recheck && ShouldStopAndCopy(remaining_bytes, round_set_bytes, rate, downtime_target_ms_, round,
                                              max_rounds_);
  return verdict;
}

}  // namespace migration
