// SPDX-License-Identifier: MIT
// ProgressLine: how `vmm ctl migrate`, `vmm ctl snapshot` and `vmm run
// --restore` show long work. On a terminal, one line redrawn in place with a
// bar; on anything else (a log file, a pipe, the journal) a plain line of
// its own at most every few seconds, so a log shows the work moving without
// hundreds of carriage returns; or nothing (--json, where the caller's
// summary is the output). The text helpers below word the figures the same
// way for every caller and for the API (bytes done of total, rate, time left).
#ifndef BASE_PROGRESS_LINE_H_
#define BASE_PROGRESS_LINE_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace base {

// "[#####.........]": `done` of `total` as a bar `width` characters wide
// between the brackets. Full only once done reaches total (rounding never
// shows unfinished work as finished); empty when total is 0.
std::string ProgressBar(uint64_t done, uint64_t total, int width = 30);

// Seconds until `total` is reached at `bytes_per_second`: nullopt while no
// rate is known (0, or not a finite positive number); 0 once done.
std::optional<double> SecondsLeft(uint64_t done, uint64_t total, double bytes_per_second);

// "45 s", "3 min 05 s", "2 h 10 min": whole seconds, rounded up, so a
// remaining fraction of a second never reads as nothing left.
std::string FormatDuration(double seconds);

// "400.0 of 1000.0 MiB (40%), 50 MiB/s, 12 s left": the percentage rounds
// down (100% only when done), "? left" while no rate is known.
std::string TransferText(uint64_t done, uint64_t total, double bytes_per_second);

// The rate of a count that grows (bytes received) over the last `window`:
// what a transfer does now, which an average since its start hides when it
// waited first (a migration's destination, idle until the source sends).
class RecentRate {
 public:
  explicit RecentRate(absl::Duration window = absl::Seconds(3)) : window_(window) {}
  // `total` so far at `now`; a total below the last one is taken as the
  // last one (a count never goes back), a time before the last is ignored.
  void Add(absl::Time now, uint64_t total);
  // Per second, over the samples within the window of the latest; 0 until
  // they span half a second (a first burst alone would promise too much).
  double PerSecond() const;

 private:
  struct Sample {
    absl::Time time;
    uint64_t total;
  };
  const absl::Duration window_;
  std::vector<Sample> samples_;  // oldest first, within the window of the last
};

enum class ProgressStyle {
  kTerminal,  // redrawn in place, with a bar
  kPlain,     // a line of its own at most every plain interval
  kOff,       // nothing
};

class ProgressLine {
 public:
  // Where a plain line goes (default: `out`, with a newline).
  using PlainSink = std::function<void(std::string_view)>;
  struct Options {
    absl::Duration plain_interval = absl::Seconds(5);
    PlainSink plain_sink;
    absl::Time start = absl::Now();  // a plain line first at start + interval
  };
  // kTerminal if `out` is a terminal, else kPlain.
  static ProgressStyle StyleOf(FILE* out);

  ProgressLine(FILE* out, ProgressStyle style) : ProgressLine(out, style, Options()) {}
  ProgressLine(FILE* out, ProgressStyle style, Options options);
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  ~ProgressLine() { Finish(); }

  ProgressStyle style() const { return style_; }
  bool active() const { return style_ != ProgressStyle::kOff; }

  // `done` of `total` with `text` (no newline in it): on a terminal the bar
  // and the text replace the line; in plain style the text is a line of its
  // own if the last one (or the start) is an interval ago.
  void Show(uint64_t done, uint64_t total, std::string_view text, absl::Time now = absl::Now());
  // Ends a drawn line with a newline, so what is printed next starts on a
  // line of its own; a no-op if nothing was drawn since the last Finish.
  void Finish();

 private:
  FILE* const out_;
  const ProgressStyle style_;
  const absl::Duration plain_interval_;
  PlainSink plain_sink_;
  absl::Time next_plain_;
  bool open_ = false;  // a line is drawn on the terminal and not yet ended
};

}  // namespace base

#endif  // BASE_PROGRESS_LINE_H_
