// SPDX-License-Identifier: MIT
// WriteSnapshotFile with the real Sender and Receiver and a plain memory
// stand-in for the VM: the file at the path is replaced whole or not at all.
#include "migration/snapshot_file.h"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

// What a progress bar is drawn from: the snapshot's figures as the pages
// go out. The bar's two ends must hold: done never above total, total
// fixed once known, and done equal to total when the file is written.
TEST_F(SnapshotFileTest, ProgressCountsEveryPageOnceAndEndsAtTheTotal) {
  const std::string path = dir_ + "/vm.snap";
  PlainSource source(Layout());
  constexpr uint64_t kPopulated = 600;  // of 1024
  for (uint64_t i = 0; i < kPopulated; ++i) source.FillPage(i * memory::kPageSize, static_cast<uint8_t>(i % 3 == 0 ? 0 : 0x5a));
  for (uint64_t i = 0; i < kPopulated; i += 3) {
    ASSERT_TRUE(source.mem_.WriteBytes(i * memory::kPageSize, std::vector<uint8_t>(memory::kPageSize, 0)).ok());
  }
  std::vector<MigrationStats> seen;
  absl::StatusOr<MigrationStats> stats =
      WriteSnapshotFile(source, path, {}, [&](const MigrationStats& s) { seen.push_back(s); });
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_GE(seen.size(), 2u);
  const uint64_t total = kPopulated * memory::kPageSize;
  uint64_t last_done = 0;
  bool counted = false;
  for (const MigrationStats& s : seen) {
    EXPECT_LE(s.snapshot_done_bytes, s.snapshot_total_bytes);
    EXPECT_GE(s.snapshot_done_bytes, last_done);
    last_done = s.snapshot_done_bytes;
    if (s.snapshot_total_bytes != 0) {
      EXPECT_EQ(s.snapshot_total_bytes, total);  // known before the first page, never revised
      counted = true;
    } else {
      EXPECT_FALSE(counted) << "the total went back to 0";
    }
  }
  EXPECT_EQ(seen.front().snapshot_done_bytes, 0u);
  EXPECT_EQ(seen.back().phase, kPhaseCompleted);
  EXPECT_EQ(seen.back().snapshot_done_bytes, total);
  EXPECT_EQ(stats->snapshot_done_bytes, total);
  // Every page once: those with data and the zero runs add up to it.
  EXPECT_EQ((stats->pages_sent + stats->zero_pages) * memory::kPageSize, total);
  EXPECT_GT(stats->zero_pages, 0u);
}

absl::StatusOr<std::vector<ReadProgress>> RestoreWithProgress(const std::string& path, uint64_t total,
                                                              PlainTarget& target) {
  absl::StatusOr<Channel> ch = Channel::OpenFile(path);
  if (!ch.ok()) return ch.status();
  std::vector<ReadProgress> seen;
  Receiver receiver(target, *ch);
  receiver.ReportProgress(total, [&](const ReadProgress& p) { seen.push_back(p); });
  if (absl::Status st = receiver.Run().status(); !st.ok()) return st;
  return seen;
}

TEST_F(SnapshotFileTest, RestoreProgressNeverPassesTheFileSizeAndEndsAtIt) {
  const std::string path = dir_ + "/vm.snap";
  PlainSource source(Layout());
  for (memory::Gpa gpa = 0; gpa < (3 << 20); gpa += memory::kPageSize) source.FillPage(gpa, 0x42);
  ASSERT_TRUE(WriteSnapshotFile(source, path, {}).ok());
  const uint64_t size = ReadAll(path).size();

  PlainTarget target(Layout());
  absl::StatusOr<std::vector<ReadProgress>> seen = RestoreWithProgress(path, size, target);
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_FALSE(seen->empty());
  uint64_t last_done = 0;
  for (const ReadProgress& p : *seen) {
    EXPECT_EQ(p.total_bytes, size);
    EXPECT_LE(p.done_bytes, p.total_bytes);
    EXPECT_GE(p.done_bytes, last_done);
    last_done = p.done_bytes;
  }
  EXPECT_EQ(seen->back().done_bytes, size);
  // Reported whole only once, at the end.
  EXPECT_EQ(std::count_if(seen->begin(), seen->end(), [&](const ReadProgress& p) { return p.done_bytes == size; }),
            1);

  // A total below the real length (a file that grew after it was measured)
  // still never shows more than all of it.
  PlainTarget again(Layout());
  seen = RestoreWithProgress(path, size / 2, again);
  ASSERT_TRUE(seen.ok()) << seen.status();
  for (const ReadProgress& p : *seen) EXPECT_LE(p.done_bytes, size / 2);
  EXPECT_EQ(seen->back().done_bytes, size / 2);
}

TEST_F(SnapshotFileTest, TruncatedRestoreNeverReportsItselfDone) {
  const std::string path = dir_ + "/vm.snap";
  PlainSource source(Layout());
  for (memory::Gpa gpa = 0; gpa < (1 << 20); gpa += memory::kPageSize) source.FillPage(gpa, 0x42);
  ASSERT_TRUE(WriteSnapshotFile(source, path, {}).ok());
  const uint64_t size = ReadAll(path).size();
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size / 2)), 0);

  absl::StatusOr<Channel> ch = Channel::OpenFile(path);
  ASSERT_TRUE(ch.ok()) << ch.status();
  PlainTarget target(Layout());
  std::vector<ReadProgress> seen;
  Receiver receiver(target, *ch);
  receiver.ReportProgress(size, [&](const ReadProgress& p) { seen.push_back(p); });
  EXPECT_FALSE(receiver.Run().ok());
  for (const ReadProgress& p : seen) EXPECT_LT(p.done_bytes, size);
}

}  // namespace
}  // namespace migration
