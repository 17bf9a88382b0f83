// SPDX-License-Identifier: MIT
// PrecopyPolicy: when live pre-copy stops iterating and the sender pauses
// the guest for the stop-and-copy round. Pure decisions over figures the
// sender measures (bytes left, bytes sent, time, rounds); no I/O.
//
// The downtime target is a ceiling, not an aim: rounds cost no downtime, so
// while the dirty set still halves from one round to the next (an idle
// guest after its first round) and is above kSmallFinalSetBytes, one more
// live round is cheaper than sending it all while paused.
#ifndef MIGRATION_PRECOPY_POLICY_H_
#define MIGRATION_PRECOPY_POLICY_H_

#include <cstdint>

namespace migration {

// Below this, a last set goes out while paused in well under a millisecond.
inline constexpr uint64_t kSmallFinalSetBytes = 256 << 10;

// How long sending `remaining_bytes` at `rate_bytes_per_s` takes; infinite
// for a rate of zero.
double ExpectedDowntimeMs(uint64_t remaining_bytes, double rate_bytes_per_s);

// When to stop iterating and do the stop-and-copy round: after the last
// allowed round, or once what is left would go out within the downtime
// target at the measured rate and another live round would not shrink it
// much more. A rate of zero (nothing measured yet) never converges on its
// own.
bool ShouldStopAndCopy(uint64_t remaining_bytes, uint64_t last_round_bytes, double rate_bytes_per_s,
                       double downtime_target_ms, uint32_t rounds_done, uint32_t max_rounds);

class PrecopyPolicy {
 public:
  PrecopyPolicy(double downtime_target_ms, uint32_t max_rounds)
      : downtime_target_ms_(downtime_target_ms), max_rounds_(max_rounds) {}

  // A live round wrote `bytes` to the stream in `seconds`. Only rounds of at
  // least kMinRateSampleBytes measure the link: a tiny round says nothing
  // about it.
  void RoundSent(uint64_t bytes, double seconds);
  static constexpr uint64_t kMinRateSampleBytes = 1 << 20;
  // The last measured rate; 0 until a round measured one.
  double measured_rate_bytes_per_s() const { return measured_rate_; }

  struct Verdict {
    bool stop = false;                // pause now: this was the last live round
    double expected_downtime_ms = 0;  // of sending what is left, at the rate used
  };
  // After live round `round` (1-based), which began with `round_set_bytes`
  // to send, with `remaining_bytes` dirty now. Until a rate is measured
  // the link is assumed to move kAssumedRateBytesPerS. `another_check`:
  // the write check wants one more round and check before the pause
  // (WriteCheck::WantsAnotherCheck); granted while rounds are left.
  Verdict AfterRound(uint64_t remaining_bytes, uint64_t round_set_bytes, uint32_t round,
                     bool another_check = false) const;
  static constexpr double kAssumedRateBytesPerS = double(1ull << 30);

 private:
  const double downtime_target_ms_;
  const uint32_t max_rounds_;
  double measured_rate_ = 0;
};

}  // namespace migration

#endif  // MIGRATION_PRECOPY_POLICY_H_
