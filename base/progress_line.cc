// SPDX-License-Identifier: MIT
#include "base/progress_line.h"

#include <unistd.h>

#include <algorithm>

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

ProgressLine::ProgressLine(FILE* out) : out_(out), draw_(::isatty(::fileno(out)) == 1) {}

void ProgressLine::Draw(std::string_view text) {
  if (!draw_) return;
  // Back to the start of the line and clear it: a shorter text leaves none
  // of the longer one behind.
  std::fprintf(out_, "\r\033[K%.*s", static_cast<int>(text.size()), text.data());
  std::fflush(out_);
  open_ = true;
}

void ProgressLine::Finish() {
  if (!open_) return;
  std::fputc('\n', out_);
  std::fflush(out_);
  open_ = false;
}

}  // namespace base
