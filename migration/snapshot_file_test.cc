// SPDX-License-Identifier: MIT
// WriteSnapshotFile with the real Sender and Receiver and a plain memory
// stand-in for the VM: the file at the path is replaced whole or not at all.
#include "migration/snapshot_file.h"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "migration/channel.h"
#include "migration/receiver.h"
#include "migration/testing/plain_vm.h"

namespace migration {
namespace {

std::vector<memory::RamRegion> Layout() { return {{0, 4 << 20}}; }

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// Every name in `dir` but . and ..
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
  }
  ::closedir(d);
  return names;
}

absl::Status Restore(const std::string& path, PlainTarget& target) {
  absl::StatusOr<Channel> ch = Channel::OpenFile(path);
  if (!ch.ok()) return ch.status();
  return Receiver(target, *ch).Run().status();
}

// A fresh directory of its own under the test's temporary directory.
class SnapshotFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/snapshot-file-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
  }
  void TearDown() override {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    for (const std::string& name : Entries(dir_)) ::unlink((dir_ + "/" + name).c_str());
    ::rmdir(dir_.c_str());
  }
  // A filesystem of `size` on the directory; false if this host does not
  // let the test mount one.
  bool MountTmpfs(const char* size) {
    const std::string options = std::string("size=") + size + ",mode=0700";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      mount_error_ = std::strerror(errno);
      return false;
    }
    mounted_ = true;
    return true;
  }
  std::string dir_;
  bool mounted_ = false;
  std::string mount_error_;
};

TEST_F(SnapshotFileTest, ReplacesThePreviousSnapshotWholeWithMode0600) {
  const std::string path = dir_ + "/vm.snap";
  PlainSource first(Layout());
  first.FillPage(0x1000, 0x11);
  ASSERT_TRUE(WriteSnapshotFile(first, path, {}).ok());
  PlainSource second(Layout());
  second.FillPage(0x2000, 0x22);
  absl::StatusOr<MigrationStats> stats = WriteSnapshotFile(second, path, {});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->bytes_sent, ReadAll(path).size());
  EXPECT_EQ(second.resumes, 1);

  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(Entries(dir_), std::vector<std::string>{"vm.snap"});  // no temporary file left
  PlainTarget target(Layout());
  ASSERT_TRUE(Restore(path, target).ok());
  EXPECT_EQ(*target.mem_.Read<uint8_t>(0x2001), 0x22);
  EXPECT_EQ(*target.mem_.Read<uint8_t>(0x1001), 0);
}

TEST_F(SnapshotFileTest, SymbolicLinkAtThePathIsRefusedAndItsTargetUntouched) {
  const std::string victim = dir_ + "/victim";
  std::ofstream(victim) << "precious";
  const std::string link = dir_ + "/vm.snap";
  ASSERT_EQ(::symlink(victim.c_str(), link.c_str()), 0);
  PlainSource source(Layout());
  absl::StatusOr<MigrationStats> stats = WriteSnapshotFile(source, link, {});
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.status().message().find("symbolic link"), absl::string_view::npos) << stats.status();
  EXPECT_EQ(source.resumes, 0);  // refused before the guest was paused
  const std::vector<uint8_t> bytes = ReadAll(victim);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "precious");
}

TEST_F(SnapshotFileTest, FullFilesystemFailsWithItsReasonAndKeepsThePreviousSnapshot) {
  if (!MountTmpfs("1m")) GTEST_SKIP() << "cannot mount a small tmpfs here (" << mount_error_ << "); needs root";
  const std::string path = dir_ + "/vm.snap";
  PlainSource small(Layout());
  small.FillPage(0x3000, 0x33);
  ASSERT_TRUE(WriteSnapshotFile(small, path, {}).ok());
  const std::vector<uint8_t> previous = ReadAll(path);
  ASSERT_FALSE(previous.empty());

  PlainSource big(Layout());
  for (memory::Gpa gpa = 0; gpa < (2 << 20); gpa += memory::kPageSize) big.FillPage(gpa, 0x5a);
  absl::StatusOr<MigrationStats> stats = WriteSnapshotFile(big, path, {});
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.status().message().find("No space left on device"), absl::string_view::npos) << stats.status();
  EXPECT_NE(stats.status().message().find(path), absl::string_view::npos) << stats.status();
  EXPECT_EQ(big.resumes, 1);  // the guest runs on

  EXPECT_EQ(ReadAll(path), previous);
  EXPECT_EQ(Entries(dir_), std::vector<std::string>{"vm.snap"});
  PlainTarget target(Layout());
  ASSERT_TRUE(Restore(path, target).ok());
  EXPECT_EQ(*target.mem_.Read<uint8_t>(0x3001), 0x33);
}

}  // namespace
}  // namespace migration
