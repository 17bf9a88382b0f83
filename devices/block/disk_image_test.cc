// SPDX-License-Identifier: MIT
#include "devices/block/disk_image.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "devices/block/testing/block_harness.h"

namespace devices {
namespace {

using testing::TempImage;

bool Mentions(const absl::Status& st, const std::string& text) {
  return std::string(st.message()).find(text) != std::string::npos;
}

TEST(DiskImageTest, OpensWithItsSize) {
  TempImage image(3 * 512 + 100);
  absl::StatusOr<DiskImage> disk = DiskImage::Open({.path = image.path()});
  ASSERT_TRUE(disk.ok()) << disk.status();
  EXPECT_EQ(disk->size_bytes(), 3 * 512 + 100u);
  EXPECT_FALSE(disk->readonly());
}

TEST(DiskImageTest, SecondReadWriteOpenIsRefusedNamingThePath) {
  TempImage image(4096);
  absl::StatusOr<DiskImage> first = DiskImage::Open({.path = image.path()});
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<DiskImage> second = DiskImage::Open({.path = image.path()});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Mentions(second.status(), image.path())) << second.status();
  EXPECT_TRUE(Mentions(second.status(), "in use")) << second.status();
  // Nor may a reader share it with a writer.
  EXPECT_FALSE(DiskImage::Open({.path = image.path(), .readonly = true}).ok());
}

TEST(DiskImageTest, ReadonlyUsersShareButExcludeAWriter) {
  TempImage image(4096);
  absl::StatusOr<DiskImage> a = DiskImage::Open({.path = image.path(), .readonly = true});
  absl::StatusOr<DiskImage> b = DiskImage::Open({.path = image.path(), .readonly = true});
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(DiskImage::Open({.path = image.path()}).ok());
}

TEST(DiskImageTest, DeferredLockIsTakenOnceTheHolderIsGone) {
  TempImage image(4096);
  std::optional<absl::StatusOr<DiskImage>> source(DiskImage::Open({.path = image.path()}));
  ASSERT_TRUE(source->ok());
  // A migration destination opens the image while the source holds it...
  absl::StatusOr<DiskImage> destination = DiskImage::Open({.path = image.path(), .lock = false});
  ASSERT_TRUE(destination.ok()) << destination.status();
  absl::Status early = destination->Lock();
  EXPECT_EQ(early.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Mentions(early, image.path())) << early;
  // ...and locks it once the source has exited.
  source.reset();
  EXPECT_TRUE(destination->Lock().ok());
  EXPECT_TRUE(destination->Lock().ok());  // idempotent
  EXPECT_FALSE(DiskImage::Open({.path = image.path()}).ok());
}

TEST(DiskImageTest, LockGoesAwayWithTheImage) {
  TempImage image(4096);
  {
    absl::StatusOr<DiskImage> first = DiskImage::Open({.path = image.path()});
    ASSERT_TRUE(first.ok()) << first.status();
  }
  EXPECT_TRUE(DiskImage::Open({.path = image.path()}).ok());
}

TEST(DiskImageTest, RefusesMissingEmptyAndNonFiles) {
  absl::StatusOr<DiskImage> missing = DiskImage::Open({.path = "/nonexistent/x.img"});
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Mentions(missing.status(), "/nonexistent/x.img"));
  TempImage empty(0);
  absl::StatusOr<DiskImage> e = DiskImage::Open({.path = empty.path()});
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(Mentions(e.status(), "less than one 512-byte sector")) << e.status();
  EXPECT_FALSE(DiskImage::Open({.path = "/tmp"}).ok());
}

TEST(DiskImageTest, VectoredReadWriteAndEndOfFile) {
  TempImage image(8192);
  absl::StatusOr<DiskImage> disk = DiskImage::Open({.path = image.path()});
  ASSERT_TRUE(disk.ok());
  std::vector<uint8_t> a(1000, 1), b(3000, 2);
  const iovec out[] = {{a.data(), a.size()}, {nullptr, 0}, {b.data(), b.size()}};
  ASSERT_TRUE(disk->WriteAt(100, out).ok());
  std::vector<uint8_t> back(4000);
  const iovec in[] = {{back.data(), back.size()}};
  ASSERT_TRUE(disk->ReadAt(100, in).ok());
  EXPECT_EQ(back[999], 1);
  EXPECT_EQ(back[1000], 2);
  EXPECT_EQ(back[3999], 2);
  // Reading across the end of the file is an error, not a short success.
  EXPECT_FALSE(disk->ReadAt(8192 - 10, in).ok());
  EXPECT_TRUE(disk->Flush().ok());
}

}  // namespace
}  // namespace devices
