// SPDX-License-Identifier: MIT
#include "devices/block/direct_io.h"

#include <fcntl.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "devices/block/disk_image.h"
#include "devices/block/testing/block_harness.h"

namespace devices {
namespace {

using testing::TempImage;

bool Mentions(const absl::Status& st, const std::string& text) {
  return std::string(st.message()).find(text) != std::string::npos;
}

// A disk in memory behind the two Transfers, which refuse what O_DIRECT
// would refuse, so every transfer the bounce makes is checked.
class AlignedModelDisk {
 public:
  AlignedModelDisk(DirectIoAlignment align, size_t bytes) : align_(align), bytes_(bytes, 0) {}
  DirectIoBounce::Transfer Reader() {
    return [this](uint64_t offset, std::span<const iovec> iov) { return Move(offset, iov, true); };
  }
  DirectIoBounce::Transfer Writer() {
    return [this](uint64_t offset, std::span<const iovec> iov) { return Move(offset, iov, false); };
  }
  std::vector<uint8_t>& bytes() { return bytes_; }
  int transfers() const { return transfers_; }

 private:
  absl::Status Move(uint64_t offset, std::span<const iovec> iov, bool read) {
    ++transfers_;
    if (!FitsDirectIo(align_, offset, iov)) return absl::InvalidArgumentError("unaligned transfer");
    for (const iovec& v : iov) {
      if (offset + v.iov_len > bytes_.size()) return absl::OutOfRangeError("past the end");
      if (read) std::memcpy(v.iov_base, bytes_.data() + offset, v.iov_len);
      else std::memcpy(bytes_.data() + offset, v.iov_base, v.iov_len);
      offset += v.iov_len;
    }
    return absl::OkStatus();
  }
  DirectIoAlignment align_;
  std::vector<uint8_t> bytes_;
  int transfers_ = 0;
};

// Splits `buffer` into iovecs of odd sizes at odd addresses.
std::vector<iovec> OddIovecs(uint8_t* buffer, size_t length, std::mt19937& rng) {
  std::vector<iovec> iov;
  while (length > 0) {
    const size_t take = std::min<size_t>(length, 1 + rng() % 70000);
    iov.push_back({buffer, take});
    buffer += take;
    length -= take;
  }
  return iov;
}

TEST(DirectIoBounceTest, UnalignedWritesAndReadsMatchAPlainModelThroughAlignedTransfersOnly) {
  const DirectIoAlignment align{.memory = 512, .offset = 4096};
  constexpr size_t kDisk = 4 * DirectIoBounce::kBufferBytes;
  AlignedModelDisk disk(align, kDisk);
  std::vector<uint8_t> model(kDisk, 0);
  absl::StatusOr<std::unique_ptr<DirectIoBounce>> bounce = DirectIoBounce::Create(align);
  ASSERT_TRUE(bounce.ok()) << bounce.status();
  std::mt19937 rng(7);
  // Offsets and lengths at every kind of edge: inside one block, across
  // two, across the bounce buffer's pieces, aligned at one end only.
  for (int round = 0; round < 300; ++round) {
    const size_t length = round % 3 == 0 ? 1 + rng() % 600 : 1 + rng() % (2 * DirectIoBounce::kBufferBytes + 5000);
    const size_t offset = round % 5 == 0 ? (rng() % (kDisk / 4096)) * 4096 : rng() % (kDisk - length);
    if (offset + length > kDisk) continue;
    std::vector<uint8_t> data(length + 1);
    for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
    // +1: the guest's buffer starts at an odd address.
    std::vector<iovec> iov = OddIovecs(data.data() + 1, length, rng);
    ASSERT_TRUE((*bounce)->Write(offset, iov, disk.Reader(), disk.Writer()).ok()) << offset << " " << length;
    std::memcpy(model.data() + offset, data.data() + 1, length);
    ASSERT_EQ(disk.bytes(), model) << "after writing " << length << " bytes at " << offset;

    const size_t read_length = 1 + rng() % (DirectIoBounce::kBufferBytes + 9000);
    const size_t read_offset = rng() % (kDisk - read_length);
    std::vector<uint8_t> got(read_length + 3, 0xee);
    std::vector<iovec> read_iov = OddIovecs(got.data() + 3, read_length, rng);
    ASSERT_TRUE((*bounce)->Read(read_offset, read_iov, disk.Reader()).ok());
    ASSERT_EQ(0, std::memcmp(got.data() + 3, model.data() + read_offset, read_length))
        << read_length << " bytes at " << read_offset;
  }
}

TEST(DirectIoBounceTest, ATransferThatFailsFailsTheRequest) {
  const DirectIoAlignment align{.memory = 512, .offset = 512};
  absl::StatusOr<std::unique_ptr<DirectIoBounce>> bounce = DirectIoBounce::Create(align);
  ASSERT_TRUE(bounce.ok());
  uint8_t byte = 1;
  const iovec one = {&byte, 1};
  auto fails = [](uint64_t, std::span<const iovec>) { return absl::DataLossError("the disk broke"); };
  EXPECT_EQ((*bounce)->Write(100, {&one, 1}, fails, fails).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*bounce)->Read(100, {&one, 1}, fails).code(), absl::StatusCode::kDataLoss);
}

TEST(DirectIoTest, FitsOnlyWhenOffsetLengthsAndAddressesAreAligned) {
  const DirectIoAlignment align{.memory = 512, .offset = 4096};
  alignas(4096) static uint8_t buffer[3 * 4096];
  const iovec aligned[2] = {{buffer, 4096}, {buffer + 4096, 8192}};
  EXPECT_TRUE(FitsDirectIo(align, 8192, aligned));
  EXPECT_FALSE(FitsDirectIo(align, 512, aligned));
  const iovec short_segment[2] = {{buffer, 512}, {buffer + 512, 3584}};
  EXPECT_FALSE(FitsDirectIo(align, 0, short_segment));
  const iovec odd_address = {buffer + 8, 4096};
  EXPECT_FALSE(FitsDirectIo(align, 0, {&odd_address, 1}));
  const iovec memory_aligned = {buffer + 512, 4096};
  EXPECT_TRUE(FitsDirectIo(align, 0, {&memory_aligned, 1}));
}

// A direct image on the local file system ($TMPDIR or /tmp); skipped where
// that file system has no direct I/O (the error is tested below).
absl::StatusOr<DiskImage> OpenDirect(const TempImage& image) {
  return DiskImage::Open({.path = image.path(), .direct = true});
}

TEST(DirectDiskImageTest, UnalignedRequestsReadBackAndReachTheFile) {
  constexpr size_t kBytes = 3 << 20;
  TempImage image(kBytes);
  ASSERT_TRUE(image.ok());
  absl::StatusOr<DiskImage> disk = OpenDirect(image);
  if (!disk.ok() && Mentions(disk.status(), "direct")) GTEST_SKIP() << disk.status();
  ASSERT_TRUE(disk.ok()) << disk.status();
  EXPECT_TRUE(disk->direct());
  std::vector<uint8_t> model(kBytes, 0);
  std::mt19937 rng(11);
  for (int round = 0; round < 40; ++round) {
    // Sector-sized requests (what the device passes on) at sector offsets,
    // from buffers at odd addresses, and page-aligned ones that go straight.
    const size_t sectors = 1 + rng() % 3000;
    const size_t offset = (rng() % (kBytes / 512 - sectors)) * 512;
    std::vector<uint8_t> data(sectors * 512 + 4096);
    uint8_t* start = round % 2 == 0 ? data.data() + 3 : reinterpret_cast<uint8_t*>(
                                                            (reinterpret_cast<uintptr_t>(data.data()) + 4095) & ~4095ul);
    for (size_t i = 0; i < sectors * 512; ++i) start[i] = static_cast<uint8_t>(rng());
    std::vector<iovec> iov = OddIovecs(start, sectors * 512, rng);
    ASSERT_TRUE(disk->WriteAt(offset, iov).ok()) << offset;
    std::memcpy(model.data() + offset, start, sectors * 512);
    std::vector<uint8_t> got(sectors * 512 + 1);
    const iovec back = {got.data() + 1, sectors * 512};
    ASSERT_TRUE(disk->ReadAt(offset, {&back, 1}).ok());
    ASSERT_EQ(0, std::memcmp(got.data() + 1, model.data() + offset, sectors * 512)) << offset;
  }
  ASSERT_TRUE(disk->Flush().ok());
  // The file itself, read without O_DIRECT, holds the same bytes.
  std::vector<uint8_t> file(kBytes);
  const int fd = ::open(image.path().c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pread(fd, file.data(), kBytes, 0), static_cast<ssize_t>(kBytes));
  ::close(fd);
  EXPECT_EQ(file, model);
}

TEST(DirectDiskImageTest, KeepsTheExclusiveLock) {
  TempImage image(1 << 20);
  absl::StatusOr<DiskImage> disk = OpenDirect(image);
  if (!disk.ok() && Mentions(disk.status(), "direct")) GTEST_SKIP() << disk.status();
  ASSERT_TRUE(disk.ok()) << disk.status();
  absl::StatusOr<DiskImage> second = DiskImage::Open({.path = image.path()});
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(Mentions(second.status(), "in use")) << second.status();
}

TEST(DirectDiskImageTest, SizeThatIsNotAWholeDirectBlockIsRefusedNamingThePath) {
  TempImage image(3 * 512 + 100);
  absl::StatusOr<DiskImage> disk = OpenDirect(image);
  ASSERT_FALSE(disk.ok());
  EXPECT_EQ(disk.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(disk.status(), image.path())) << disk.status();
  EXPECT_TRUE(Mentions(disk.status(), "direct")) << disk.status();
}

TEST(DirectDiskImageTest, TmpfsIsRefusedNamingThePath) {
  struct statfs fs;
  if (::statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) GTEST_SKIP() << "no tmpfs at /dev/shm";
  std::string path = "/dev/shm/vmm-direct-XXXXXX";
  const int fd = ::mkstemp(path.data());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);
  ::close(fd);
  absl::StatusOr<DiskImage> disk = DiskImage::Open({.path = path, .direct = true});
  ::unlink(path.c_str());
  ASSERT_FALSE(disk.ok());
  EXPECT_EQ(disk.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(disk.status(), path)) << disk.status();
  EXPECT_TRUE(Mentions(disk.status(), "tmpfs")) << disk.status();
  EXPECT_TRUE(Mentions(disk.status(), "drop ',direct'")) << disk.status();
}

}  // namespace
}  // namespace devices
