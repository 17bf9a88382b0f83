// SPDX-License-Identifier: MIT
// A directory of one test's own for its sockets, snapshots and
// certificates: under GoogleTest's TempDir, named after the test and the
// process (so two runs at once never share one), and removed with all it
// holds when the test ends. Header-only: only the guest tests use it and
// they all link GoogleTest.
#ifndef TESTS_SCRATCH_DIR_H_
#define TESTS_SCRATCH_DIR_H_

#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "gtest/gtest.h"

namespace tests {

class ScratchDir {
 public:
  explicit ScratchDir(std::string_view name)
      : path_(::testing::TempDir() + "/" + std::string(name) + "-" + std::to_string(::getpid())) {
    std::filesystem::create_directories(path_, error_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // False when the directory could not be made; why() says why.
  bool ok() const { return !error_; }
  std::string why() const { return path_ + ": " + error_.message(); }
  const std::string& path() const { return path_; }
  std::string Path(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
  std::error_code error_;
};

}  // namespace tests

#endif  // TESTS_SCRATCH_DIR_H_
