// SPDX-License-Identifier: MIT
#include "base/version.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

#include <gtest/gtest.h>

namespace base {
namespace {

// (No std::regex here: GCC 12 warns inside <regex> under ASan, and the
// sanitizer build treats warnings as errors.)
TEST(Version, IsThreeNumbersAsInProjectVersion) {
  std::vector<std::string> parts = absl::StrSplit(std::string(Version()), '.');
  ASSERT_EQ(parts.size(), 3u) << Version();
  for (const std::string& part : parts) {
    uint32_t number;
    EXPECT_TRUE(!part.empty() && part.find_first_not_of("0123456789") == std::string::npos &&
                absl::SimpleAtoi(part, &number))
        << Version();
  }
}

TEST(Version, LineNamesTheProgramTheVersionAndAnyCommit) {
  std::string expected = "vmm " + std::string(Version());
  if (!GitCommit().empty()) expected += " (git " + std::string(GitCommit()) + ")";
  EXPECT_EQ(VersionLine(), expected);
}

TEST(Version, CommitIsEmptyOrShortHex) {
  const std::string commit(GitCommit());
  EXPECT_TRUE(commit.empty() || (commit.size() >= 7 && commit.size() <= 40 &&
                                 commit.find_first_not_of("0123456789abcdef") == std::string::npos))
      << commit;
}

}  // namespace
}  // namespace base
