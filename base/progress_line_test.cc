// SPDX-License-Identifier: MIT
#include "base/progress_line.h"

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace base {
namespace {

TEST(ProgressBar, FillsInProportionAndIsFullOnlyAtTheEnd) {
  EXPECT_EQ(ProgressBar(0, 100, 10), "[..........]");
  EXPECT_EQ(ProgressBar(50, 100, 10), "[#####.....]");
  EXPECT_EQ(ProgressBar(99, 100, 10), "[#########.]");   // 9.9 rounds down
  EXPECT_EQ(ProgressBar(999, 1000, 4), "[###.]");        // never full before the end
  EXPECT_EQ(ProgressBar(100, 100, 10), "[##########]");
}

TEST(ProgressBar, ClampsDoneAboveTotalAndHandlesNothingToDo) {
  EXPECT_EQ(ProgressBar(250, 100, 10), "[##########]");
  EXPECT_EQ(ProgressBar(5, 0, 4), "[....]");
  EXPECT_EQ(ProgressBar(0, 0, 0), "[.]");
}

TEST(ProgressBar, LargeTotalsDoNotOverflow) {
  const uint64_t total = ~0ull - 1;
  EXPECT_EQ(ProgressBar(total / 2, total, 10), "[#####.....]");
  EXPECT_EQ(ProgressBar(total, total, 10), "[##########]");
}

std::string Contents(FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s.push_back(static_cast<char>(c));
  return s;
}

TEST(ProgressLine, RedrawsInPlaceAndEndsTheLineOnce) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressLine line(f, /*draw=*/true);
    line.Draw("one");
    line.Draw("two");
    line.Finish();
    line.Finish();  // nothing drawn since: no second newline
  }  // nor from the destructor
  EXPECT_EQ(Contents(f), "\r\033[Kone\r\033[Ktwo\n");
  std::fclose(f);
}

TEST(ProgressLine, DestructorEndsAnOpenLine) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  { ProgressLine(f, true).Draw("half"); }
  EXPECT_EQ(Contents(f), "\r\033[Khalf\n");
  std::fclose(f);
}

TEST(ProgressLine, DrawsNothingOnAFileThatIsNotATerminal) {
  FILE* f = std::tmpfile();  // a regular file: isatty says no
  ASSERT_NE(f, nullptr);
  {
    ProgressLine line(f);
    EXPECT_FALSE(line.drawing());
    line.Draw("invisible");
  }
  EXPECT_EQ(Contents(f), "");
  std::fclose(f);
}

}  // namespace
}  // namespace base
