// SPDX-License-Identifier: MIT
#include "base/progress_line.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace base {

std::string ProgressBar(uint64_t done, uint64_t total, int width) {
  width = std::max(width, 1);
  uint64_t filled = 0;
  if (total > 0) {
    // In long double: done * width may not fit 64 bits for a large total.
    filled = static_cast<uint64_t>(static_cast<long double>(std::min(done, total)) * width / total);
    if (done < total) filled = std::min<uint64_t>(filled, static_cast<uint64_t>(width - 1));
  }
  std::string bar = "[";
  bar.append(filled, '#');
  bar.append(static_cast<size_t>(width) - filled, '.');
  bar += ']';
  return bar;
}

std::optional<double> SecondsLeft(uint64_t done, uint64_t total, double bytes_per_second) {
  if (done >= total) return 0.0;
  if (!std::isfinite(bytes_per_second) || bytes_per_second <= 0) return std::nullopt;
  return static_cast<double>(total - done) / bytes_per_second;
}

std::string FormatDuration(double seconds) {
  // Clamped at 100 days: a rate near zero must not overflow the cast.
  const uint64_t s = static_cast<uint64_t>(std::ceil(std::clamp(seconds, 0.0, 100.0 * 86400)));
  if (s < 60) return absl::StrFormat("%d s", s);
  if (s < 3600) return absl::StrFormat("%d min %02d s", s / 60, s % 60);
  return absl::StrFormat("%d h %02d min", s / 3600, s / 60 % 60);
}

std::string TransferText(uint64_t done, uint64_t total, double bytes_per_second) {
  constexpr double kMib = 1 << 20;
  // Rounded down, as the bar is: 100% only when it is all there.
  const int percent =
      total == 0 ? 0 : static_cast<int>(static_cast<long double>(std::min(done, total)) * 100 / total);
  const std::optional<double> left = SecondsLeft(done, total, bytes_per_second);
  return absl::StrFormat("%.1f of %.1f MiB (%d%%), %.0f MiB/s, %s left", done / kMib, total / kMib, percent,
                         std::max(bytes_per_second, 0.0) / kMib, left ? FormatDuration(*left) : "?");
}

void RecentRate::Add(absl::Time now, uint64_t total) {
  if (!samples_.empty()) {
    if (now < samples_.back().time) return;
    total = std::max(total, samples_.back().total);
  }
  samples_.push_back({now, total});
  // Keep one sample at or before the window's start, so the rate covers
  // the whole window rather than whatever samples happen to lie inside it.
  size_t first = 0;
  while (first + 1 < samples_.size() && samples_[first + 1].time <= now - window_) ++first;
  samples_.erase(samples_.begin(), samples_.begin() + static_cast<ptrdiff_t>(first));
}

double RecentRate::PerSecond() const {
  if (samples_.size() < 2) return 0;
  const double seconds = absl::ToDoubleSeconds(samples_.back().time - samples_.front().time);
  if (seconds < 0.5) return 0;
  return static_cast<double>(samples_.back().total - samples_.front().total) / seconds;
}

ProgressStyle ProgressLine::StyleOf(FILE* out) {
  return ::isatty(::fileno(out)) == 1 ? ProgressStyle::kTerminal : ProgressStyle::kPlain;
}

ProgressLine::ProgressLine(FILE* out, ProgressStyle style, Options options)
    : out_(out),
      style_(style),
      plain_interval_(options.plain_interval),
      plain_sink_(std::move(options.plain_sink)),
      next_plain_(options.start + options.plain_interval) {}

void ProgressLine::Show(uint64_t done, uint64_t total, std::string_view text, absl::Time now) {
  switch (style_) {
    case ProgressStyle::kOff:
      return;
    case ProgressStyle::kTerminal:
      // Back to the start of the line and clear it: a shorter text leaves
      // none of the longer one behind.
      std::fprintf(out_, "\r\033[K%s %.*s", ProgressBar(done, total).c_str(), static_cast<int>(text.size()),
                   text.data());
      std::fflush(out_);
      open_ = true;
      return;
    case ProgressStyle::kPlain:
      if (now < next_plain_) return;
      next_plain_ = now + plain_interval_;
      if (plain_sink_) {
        plain_sink_(text);
      } else {
        std::fprintf(out_, "%.*s\n", static_cast<int>(text.size()), text.data());
        std::fflush(out_);
      }
      return;
  }
}

void ProgressLine::Finish() {
  if (!open_) return;
  std::fputc('\n', out_);
  std::fflush(out_);
  open_ = false;
}

}  // namespace base
