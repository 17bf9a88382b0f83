// SPDX-License-Identifier: MIT
#include "base/atomic_file.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace base {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void WriteString(const AtomicFile& file, const std::string& text) {
  ASSERT_EQ(::write(file.fd(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/atomic-file-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
    path_ = dir_ + "/target";
  }
  void TearDown() override {
    for (const std::string& name : Entries()) ::unlink((dir_ + "/" + name).c_str());
    ::rmdir(dir_.c_str());
  }
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir_.c_str());
    while (dirent* e = d ? ::readdir(d) : nullptr) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
    }
    if (d) ::closedir(d);
    return names;
  }
  std::string dir_, path_;
};

TEST_F(AtomicFileTest, TargetChangesOnlyAtCommit) {
  std::ofstream(path_) << "old";
  absl::StatusOr<AtomicFile> file = AtomicFile::Create(path_);
  ASSERT_TRUE(file.ok()) << file.status();
  WriteString(*file, "new contents");
  EXPECT_EQ(ReadAll(path_), "old");
  EXPECT_EQ(Entries().size(), 2u);  // the target and the temporary file beside it
  ASSERT_TRUE(file->Commit().ok());
  EXPECT_EQ(ReadAll(path_), "new contents");
  EXPECT_EQ(Entries(), std::vector<std::string>{"target"});
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_FALSE(file->Commit().ok());  // once only
}

TEST_F(AtomicFileTest, UncommittedFileLeavesNothingBehind) {
  std::ofstream(path_) << "old";
  {
    absl::StatusOr<AtomicFile> file = AtomicFile::Create(path_);
    ASSERT_TRUE(file.ok()) << file.status();
    WriteString(*file, "half a snapshot");
    AtomicFile moved = std::move(*file);  // the moved-from one must not remove it twice
  }
  EXPECT_EQ(ReadAll(path_), "old");
  EXPECT_EQ(Entries(), std::vector<std::string>{"target"});
}

TEST_F(AtomicFileTest, CreatesAFileThatDidNotExist) {
  absl::StatusOr<AtomicFile> file = AtomicFile::Create(path_);
  ASSERT_TRUE(file.ok()) << file.status();
  WriteString(*file, "x");
  ASSERT_TRUE(file->Commit().ok());
  EXPECT_EQ(ReadAll(path_), "x");
}

TEST_F(AtomicFileTest, SymbolicLinkAsFinalComponentIsRefused) {
  const std::string victim = dir_ + "/victim";
  std::ofstream(victim) << "precious";
  ASSERT_EQ(::symlink(victim.c_str(), path_.c_str()), 0);
  absl::StatusOr<AtomicFile> file = AtomicFile::Create(path_);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("symbolic link"), absl::string_view::npos) << file.status();
  EXPECT_NE(file.status().message().find(path_), absl::string_view::npos) << file.status();
  EXPECT_EQ(ReadAll(victim), "precious");
  // A dangling link too: it would otherwise create the file it names.
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  ASSERT_EQ(::symlink((dir_ + "/elsewhere").c_str(), path_.c_str()), 0);
  EXPECT_FALSE(AtomicFile::Create(path_).ok());
  EXPECT_EQ(::access((dir_ + "/elsewhere").c_str(), F_OK), -1);
}

TEST_F(AtomicFileTest, DirectoriesAndMissingParentsAreRefused) {
  EXPECT_FALSE(AtomicFile::Create(dir_).ok());
  EXPECT_FALSE(AtomicFile::Create(dir_ + "/").ok());
  EXPECT_FALSE(AtomicFile::Create(dir_ + "/no-such-dir/file").ok());
  ASSERT_EQ(::mkdir(path_.c_str(), 0700), 0);
  absl::StatusOr<AtomicFile> file = AtomicFile::Create(path_);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("not a regular file"), absl::string_view::npos) << file.status();
  ::rmdir(path_.c_str());
}

}  // namespace
}  // namespace base
