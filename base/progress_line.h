// SPDX-License-Identifier: MIT
// ProgressLine: one line of progress redrawn in place on a terminal, the
// way `vmm ctl migrate`, `vmm ctl snapshot` and `vmm run --restore` show
// long work. Nothing is drawn when the stream is not a terminal: a log
// file or a pipe gets only the summary line the caller prints at the end,
// not hundreds of carriage returns.
#ifndef BASE_PROGRESS_LINE_H_
#define BASE_PROGRESS_LINE_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace base {

// "[#####.........]": `done` of `total` as a bar `width` characters wide
// between the brackets. Full only once done reaches total (rounding never
// shows unfinished work as finished); empty when total is 0.
std::string ProgressBar(uint64_t done, uint64_t total, int width = 30);

class ProgressLine {
 public:
  // Draws on `out` only if it is a terminal (decided here, once).
  explicit ProgressLine(FILE* out);
  // Draws on `out` if `draw`, whatever it is (tests, callers that know).
  ProgressLine(FILE* out, bool draw) : out_(out), draw_(draw) {}
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  ~ProgressLine() { Finish(); }

  bool drawing() const { return draw_; }
  // Replaces the line with `text` (no newline in it).
  void Draw(std::string_view text);
  // Ends a drawn line with a newline, so what is printed next starts on a
  // line of its own; a no-op if nothing was drawn since the last Finish.
  void Finish();

 private:
  FILE* const out_;
  const bool draw_;
  bool open_ = false;  // a line is drawn and not yet ended
};

}  // namespace base

#endif  // BASE_PROGRESS_LINE_H_
